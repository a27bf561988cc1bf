package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

var (
	weights = tensor.MustNew([]float64{1, -1, 0.5, 2, 0, 1, -0.5, 0.25}, 4, 2)
	bias    = tensor.FromSlice([]float64{0.1, -0.2})
)

func affine(b *Builder, x *Placeholder) *Placeholder {
	w := b.State("w", weights)
	bb := b.State("b", bias)
	return x.MatMul(w).Add(bb).Relu().Mul(2).Sub(0.5)
}

func TestTraceAndRun(t *testing.T) {
	p, err := Trace("affine", affine, []int{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.MustNew([]float64{1, 2, 3, 4, -1, -2, -3, -4, 0.5, 0.5, 0.5, 0.5}, 3, 4)
	got, err := p.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	want := tensor.MatMul(x, weights).Add(bias).Relu().MulScalar(2).SubScalar(0.5)
	if !tensor.AllClose(got[0], want, 0, 1e-12) {
		t.Fatalf("got %v, want %v", got[0], want)
	}
	if s := p.String(); !strings.Contains(s, "matmul(x0, w)") {
		t.Errorf("String:\n%s", s)
	}
	// Round trip through serde.
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(b, serde.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got2, err := q.Run(x)
	if err != nil || !tensor.Equal(got2[0], got[0]) {
		t.Fatalf("decoded plan: %v, %v", got2, err)
	}
}

func TestTraceErrors(t *testing.T) {
	cases := []struct {
		name   string
		fn     any
		shapes [][]int
		msg    string
	}{
		{"shape mismatch", func(b *Builder, x, y *Placeholder) *Placeholder { return x.MatMul(y) },
			[][]int{{2, 3}, {2, 3}}, "matmul"},
		{"bad signature", func(x *Placeholder) *Placeholder { return x }, [][]int{{2}}, "must be func"},
		{"wrong count", func(b *Builder, x *Placeholder) *Placeholder { return x }, [][]int{{2}, {2}}, "takes 1 placeholders"},
		{"tensor operand", func(b *Builder, x *Placeholder) *Placeholder { return x.Add(tensor.Ones(2)) }, [][]int{{2}}, "make tensors state"},
		{"nil state", func(b *Builder, x *Placeholder) *Placeholder { return x.Add(b.State("w", nil)) },
			[][]int{{2}}, "nil tensor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Trace(c.name, c.fn, c.shapes...)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err %v, want one mentioning %q", err, c.msg)
			}
		})
	}
}

func TestVariadicAndOutputs(t *testing.T) {
	p, err := Trace("sums", func(b *Builder, xs ...*Placeholder) []*Placeholder {
		s := xs[0]
		for _, x := range xs[1:] {
			s = s.Add(x)
		}
		return []*Placeholder{s, s.MeanAll(), s.Sum(0, true).Softmax(1)}
	}, []int{2, 2}, []int{2, 2}, []int{2, 2})
	if err != nil {
		t.Fatal(err)
	}
	a := tensor.MustNew([]float64{1, 2, 3, 4}, 2, 2)
	out, err := p.Run(a, a, a)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(out[0], a.MulScalar(3)) || out[1].Item() != 7.5 {
		t.Fatalf("outputs %v", out)
	}
}

// TestRefusedOnArrival: a plan naming an operation outside the allow-list
// (or otherwise malformed) is refused by Decode, before it runs.
func TestRefusedOnArrival(t *testing.T) {
	p, err := Trace("affine", affine, []int{1, 4})
	if err != nil {
		t.Fatal(err)
	}
	mutate := []struct {
		name string
		f    func(p *Plan)
		msg  string
	}{
		{"unknown op", func(p *Plan) { p.Actions[2].Op = "exec" }, `operation "exec" is not allowed`},
		{"forward reference", func(p *Plan) { p.Actions[2].Args[0].Value = 99 }, "before it exists"},
		{"arity", func(p *Plan) { p.Actions[2].Args = p.Actions[2].Args[:1] }, "operands"},
		{"missing state", func(p *Plan) { p.State = p.State[:1] }, "state 1 does not exist"},
		{"no outputs", func(p *Plan) { p.Outputs = nil }, "no outputs"},
		{"bad output", func(p *Plan) { p.Outputs = []int{1000} }, "does not exist"},
		{"scalar matmul", func(p *Plan) { s := 2.0; p.Actions[2].Args[1] = Arg{Scalar: &s} }, "scalar operand"},
		// Names an owner reads in the review: one printable line each.
		{"name with newlines", func(p *Plan) { p.Name = "affine(x0 [1 4])\n  v1 = add(x0, x0)" }, `unprintable character '\n'`},
		{"long name", func(p *Plan) { p.Name = strings.Repeat("a", MaxName+1) }, "name of 257 bytes"},
		{"state name", func(p *Plan) { p.State[0].Name = "w\rb" }, `state 0 name "w\rb" holds the unprintable character '\r'`},
		{"tag", func(p *Plan) { p.Actions[0] = Action{Op: "load", Ints: []int{0}, Tag: "x\x1b[2J"} }, `unprintable character '\x1b'`},
	}
	for _, m := range mutate {
		t.Run(m.name, func(t *testing.T) {
			b, _ := p.Encode()
			q, _ := Decode(b, serde.Limits{}) // a copy
			m.f(q)
			enc, err := serde.EncodeBody(q)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Decode(enc, serde.Limits{}); err == nil || !strings.Contains(err.Error(), m.msg) {
				t.Fatalf("Decode: %v, want an error mentioning %q", err, m.msg)
			}
		})
	}
}

// mapStore serves party loads in tests.
type mapStore map[string]*tensor.Tensor

func (s mapStore) Load(tag string) (*tensor.Tensor, error) {
	if t, ok := s[tag]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("no tensor tagged %q", tag)
}
func (s mapStore) Save(string, *tensor.Tensor) error { return nil }

// TestRunParty: the same plan runs over CrypTensors at every party, with
// loads by tag, and matches the plaintext run.
func TestRunParty(t *testing.T) {
	p, err := Trace("private affine", func(b *Builder) *Placeholder {
		w := b.State("w", weights)
		bb := b.State("b", bias)
		x := b.Load("data", 1, 3, 4)
		return x.MatMul(w).Add(bb).Relu().Sum(1, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.MustNew([]float64{1, 2, 3, 4, -1, -2, -3, -4, 0.5, 0.5, 0.5, 0.5}, 3, 4)
	want := tensor.MatMul(x, weights).Add(bias).Relu().Sum(1, false)
	stores := []mapStore{{}, {"data": x}}
	res, err := mpc.RunLocal(2, func(party *mpc.Party) (any, error) {
		mpc.SetStore(party, stores[party.Rank()])
		out, err := p.RunParty(party)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if got := r.Value.(*tensor.Tensor); !tensor.AllClose(got, want, 0, 1e-2) {
			t.Fatalf("rank %d: %v, want %v", r.Rank, got, want)
		}
	}
	// Plaintext runs cannot load.
	if _, err := p.Run(); err == nil || !strings.Contains(err.Error(), "only in an MPC job") {
		t.Fatalf("plaintext run of a loading plan: %v", err)
	}
}

// FuzzDecode: decoding and validating any bytes never panics, and a plan
// that passes validation runs without panicking.
func FuzzDecode(f *testing.F) {
	p, err := Trace("affine", affine, []int{1, 4})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := p.Encode()
	f.Add(b)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := Decode(b, serde.Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16})
		if err != nil {
			return
		}
		ins := make([]*tensor.Tensor, len(q.Inputs))
		for i, in := range q.Inputs {
			n := 1
			for _, d := range in.Dims {
				if d < 0 || d > 64 {
					return
				}
				n *= d
			}
			if n > 1<<12 {
				return
			}
			ins[i] = tensor.Ones(in.Dims...)
		}
		q.Run(ins...) // errors are fine; panics are not
	})
}
