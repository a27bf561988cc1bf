package syft_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
)

// TestSharedPointers reproduces PySyft 0.2's SMPC tests on pointers
// (test_additive_shared.py: share/get, add, sub, mul, matmul), each
// compared with plaintext, on virtual workers and daemons (parties in
// process and as child processes): each operation is an MPC job among the
// workers' parties, the shares staying on the workers in between.
func TestSharedPointers(t *testing.T) {
	x := tensor.MustNew([]float64{1.5, -2, 3.25, 0.5}, 2, 2)
	y := tensor.MustNew([]float64{-0.5, 4, 2, -1.25}, 2, 2)
	for _, gr := range jobGrids {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 2)
			xs, err := syft.Share(x, g.ws)
			if err != nil {
				t.Fatal(err)
			}
			ys, err := syft.Share(y, g.ws)
			if err != nil {
				t.Fatal(err)
			}
			// Each worker holds one private share, which alone is not x.
			for i, p := range xs.Shares() {
				if !p.Private() || p.Location().ID() != g.ws[i].ID() {
					t.Errorf("share %d: %v, want a private object on %s", i, p, g.ws[i].ID())
				}
			}
			got, err := xs.GetCopy()
			if err != nil || !tensor.AllClose(got, x, 0, 1e-4) {
				t.Fatalf("share/get round trip: %v, %v; want %v", got, err, x)
			}
			unary := func(f func(*syft.SharedPointer) (*syft.SharedPointer, error)) func(a, b *syft.SharedPointer) (*syft.SharedPointer, error) {
				return func(a, _ *syft.SharedPointer) (*syft.SharedPointer, error) { return f(a) }
			}
			pub := func(f func(*syft.SharedPointer, *tensor.Tensor) (*syft.SharedPointer, error), k *tensor.Tensor) func(a, b *syft.SharedPointer) (*syft.SharedPointer, error) {
				return func(a, _ *syft.SharedPointer) (*syft.SharedPointer, error) { return f(a, k) }
			}
			same := func(f func(a, b *syft.SharedPointer) (*syft.SharedPointer, error)) func(a, b *syft.SharedPointer) (*syft.SharedPointer, error) {
				return func(a, _ *syft.SharedPointer) (*syft.SharedPointer, error) { return f(a, a) }
			}
			for _, c := range []struct {
				name string
				op   func(a, b *syft.SharedPointer) (*syft.SharedPointer, error)
				want *tensor.Tensor
				tol  float64
			}{
				{"add", (*syft.SharedPointer).Add, x.Add(y), 1e-3},
				{"sub", (*syft.SharedPointer).Sub, x.Sub(y), 1e-3},
				{"mul", (*syft.SharedPointer).Mul, x.Mul(y), 1e-3},
				{"matmul", (*syft.SharedPointer).MatMul, tensor.MatMul(x, y), 1e-3},
				{"lt", (*syft.SharedPointer).Lt, x.Lt(y), 0},
				{"le", (*syft.SharedPointer).Le, x.Le(y), 0},
				{"gt", (*syft.SharedPointer).Gt, x.Gt(y), 0},
				{"ge", (*syft.SharedPointer).Ge, x.Ge(y), 0},
				{"eq", (*syft.SharedPointer).Eq, x.Eq(y), 0},
				{"eq itself", same((*syft.SharedPointer).Eq), x.Eq(x), 0},
				{"relu", unary((*syft.SharedPointer).Relu), x.Relu(), 1e-3},
				{"add public", pub((*syft.SharedPointer).AddPublic, y), x.Add(y), 1e-3},
				{"sub public", pub((*syft.SharedPointer).SubPublic, y), x.Sub(y), 1e-3},
				{"mul public scalar", pub((*syft.SharedPointer).MulPublic, tensor.Scalar(0.25)), x.Mul(tensor.Scalar(0.25)), 1e-3},
				{"matmul public", pub((*syft.SharedPointer).MatMulPublic, y), tensor.MatMul(x, y), 1e-3},
				{"sigmoid", unary((*syft.SharedPointer).Sigmoid), x.Sigmoid(), 2e-2},
			} {
				z, err := c.op(xs, ys)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if sh := z.Shape(); len(sh) != 2 || sh[0] != 2 || sh[1] != 2 {
					t.Errorf("%s: shape %v", c.name, sh)
				}
				got, err := z.Get()
				if err != nil || !tensor.AllClose(got, c.want, 0, c.tol+1e-9) {
					t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
				}
			}
			// A chain: (x*y)+x, the intermediate shared on the workers.
			xy, err := xs.Mul(ys)
			if err != nil {
				t.Fatal(err)
			}
			z, err := xy.Add(xs)
			if err != nil {
				t.Fatal(err)
			}
			got, err = z.Get()
			if err != nil || !tensor.AllClose(got, x.Mul(y).Add(x), 0, 1e-3) {
				t.Errorf("(x*y)+x: %v, %v", got, err)
			}
			// A pointer shared where it is: its worker secret-shares it.
			px, err := syft.Send(x, g.ws[1], syft.WithTags("#to-share"))
			if err != nil {
				t.Fatal(err)
			}
			ps, err := px.Share(g.ws)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := ps.Add(ys); err != nil {
				t.Fatal(err)
			} else if v, err := got.Get(); err != nil || !tensor.AllClose(v, x.Add(y), 0, 1e-3) {
				t.Errorf("ptr.Share then add: %v, %v", v, err)
			}
			untagged, err := syft.Send(x, g.ws[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := untagged.Share(g.ws); err == nil || !strings.Contains(err.Error(), "WithTags") {
				t.Errorf("sharing an untagged pointer: %v", err)
			}
			if err := xs.Free(); err != nil {
				t.Fatal(err)
			}
			if _, err := xs.Add(ys); err == nil || !strings.Contains(err.Error(), "no object tagged") {
				t.Errorf("add of freed shares: %v", err)
			}
		})
	}
}

// TestShareRefused: bad input is refused with a clear error before
// anything is sent.
func TestShareRefused(t *testing.T) {
	w0, w1 := syft.NewVirtualWorker("w0"), syft.NewVirtualWorker("w1")
	defer w0.Shutdown()
	defer w1.Shutdown()
	x := tensor.FromSlice([]float64{1})
	for _, c := range []struct {
		name string
		ws   []syft.Worker
		x    *tensor.Tensor
		want string
	}{
		{"one worker", []syft.Worker{w0}, x, "at least two workers"},
		{"twice", []syft.Worker{w0, w0}, x, "given twice"},
		{"nil worker", []syft.Worker{w0, nil}, x, "worker 1 is nil"},
		{"nil tensor", []syft.Worker{w0, w1}, nil, "nil tensor"},
	} {
		if _, err := syft.Share(c.x, c.ws); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

const gateShareSum = `package main

import "github.com/gomplab/gomplab/mpc"

func shareSum() (any, error) {
	a, err := mpc.Load("secret", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("secret", 1)
	if err != nil {
		return nil, err
	}
	return nil, mpc.SaveShare("share/sum", a.Add(b))
}
`

// TestSharedPrivateGated: shares computed from private data follow the
// gate. Saving them needs the owners' approval like any job loading
// private data; once saved they are private data of those owners: the
// requester can neither read them (Get is refused, no canary in any error)
// nor compute on them without a new approval.
func TestSharedPrivateGated(t *testing.T) {
	alice, bob := startGateDaemon(t, "alice", canaries[0]), startGateDaemon(t, "bob", canaries[1])
	me := []syft.Worker{alice.me, bob.me}
	job := &syft.Job{Workers: me, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(gateShareSum, "shareSum"), Timeout: time.Minute}
	_, err := job.Run(t.Context())
	var ae *syft.ApprovalError
	if !errors.As(err, &ae) {
		t.Fatalf("unapproved share of private data: %v", err)
	}
	for _, w := range []*gateDaemon{alice, bob} {
		if _, err := syft.Approve(w.owner, ae.ID, "me"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := job.Run(t.Context()); err != nil {
		t.Fatalf("approved: %v", err)
	}
	sp, err := syft.SharedOf("share/sum", me)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range sp.Shares() {
		in := p.Info()
		if !in.Private || len(in.DataOwners) == 0 || slices.Contains(in.AllowedUsers, "me") {
			t.Errorf("share %d: %+v: want private data of the owners, not readable by me", i, in)
		}
	}
	// The shares themselves are refused to me; Get asks the owners to
	// approve revealing the value to me, and nothing is revealed before.
	if _, err := sp.Shares()[0].GetCopy(); !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("get of a share of private data: %v", err)
	}
	var texts []string
	_, err = sp.GetCopy()
	var reveal *syft.ApprovalError
	if !errors.As(err, &reveal) || !strings.Contains(err.Error(), "approve") {
		t.Fatalf("Get of shares of private data: %v", err)
	}
	texts = append(texts, err.Error())
	_, err = sp.Add(sp)
	if !errors.As(err, &ae) {
		t.Fatalf("computing on shares of private data without approval: %v", err)
	}
	texts = append(texts, err.Error())
	for _, s := range texts {
		noCanary(t, "a refusal", s)
	}
	// The positive control: approved by both owners, Get reveals the sum
	// to me, so the refusals above would have shown it had it leaked.
	for _, w := range []*gateDaemon{alice, bob} {
		if _, err := syft.Approve(w.owner, reveal.ID, "me"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sp.GetCopy()
	want := tensor.FromSlice(canaries[0]).Add(tensor.FromSlice(canaries[1]))
	if err != nil || !tensor.AllClose(got, want, 0, 1e-2) {
		t.Fatalf("approved Get: %v, %v; want %v", got, err, want)
	}
	// Sharing a pointer to private data is a job like any other: it needs
	// the owner's approval.
	secret, err := alice.me.Search("secret")
	if err != nil || len(secret) != 1 {
		t.Fatalf("search secret: %v %v", secret, err)
	}
	if _, err := secret[0].Share(me); !errors.As(err, &ae) {
		t.Fatalf("ptr.Share of private data without approval: %v", err)
	} else {
		noCanary(t, "ptr.Share's refusal", err.Error())
	}
	// The eve session finds nothing: the shares are not in her namespace.
	if found, err := alice.eve.Search("share/sum"); err != nil || len(found) != 0 {
		t.Errorf("eve found %v, %v", found, err)
	}
}

// TestSharedLogisticRegression trains a logistic regression on shared
// pointers (PySyft's tutorial: data, labels and weights shared, every step
// an MPC job), and compares it with the same steps in plaintext.
func TestSharedLogisticRegression(t *testing.T) {
	X := tensor.MustNew([]float64{
		1, 2, 1, 1.5, 1.8, 1, 2, 2.2, 1, 1.2, 1.6, 1,
		-1, -2, 1, -1.5, -1.2, 1, -2, -1.6, 1, -1.3, -2.2, 1,
	}, 8, 3)
	Y := tensor.MustNew([]float64{1, 1, 1, 1, 0, 0, 0, 0}, 8, 1)
	Xt := X.Transpose(1, 0)
	lr := tensor.Scalar(0.1)
	const steps = 4
	// Plaintext reference.
	w := tensor.Zeros(3, 1)
	for range steps {
		p := tensor.MatMul(X, w).Sigmoid()
		w = w.Sub(tensor.MatMul(Xt, p.Sub(Y)).Mul(lr))
	}
	for _, gr := range jobGrids[:2] {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 2)
			share := func(x *tensor.Tensor) *syft.SharedPointer {
				s, err := syft.Share(x, g.ws)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			xs, xts, ys, ws := share(X), share(Xt), share(Y), share(tensor.Zeros(3, 1))
			step := func() error {
				z, err := xs.MatMul(ws)
				if err != nil {
					return err
				}
				p, err := z.Sigmoid()
				if err != nil {
					return err
				}
				e, err := p.Sub(ys)
				if err != nil {
					return err
				}
				gr, err := xts.MatMul(e)
				if err != nil {
					return err
				}
				d, err := gr.MulPublic(lr)
				if err != nil {
					return err
				}
				ws, err = ws.Sub(d)
				return err
			}
			for i := range steps {
				if err := step(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			got, err := ws.Get()
			if err != nil || !tensor.AllClose(got, w, 0, 0.05) {
				t.Fatalf("shared weights %v, %v; plaintext %v", got, err, w)
			}
			pred := tensor.MatMul(X, got).Gt(tensor.Scalar(0))
			if !tensor.Equal(pred, Y) {
				t.Errorf("trained model predicts %v, want %v", pred.Data(), Y.Data())
			}
		})
	}
}
