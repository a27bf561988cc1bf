package mpc

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/tensor"
)

// dealerFreeWorkload runs the engine's operations that consume every kind
// of correlated randomness, checking each against plaintext; it returns
// the first mismatch.
func dealerFreeWorkload(label string, p *Party) (err error) {
	a := tensor.RandN(60, 4, 6)
	b := tensor.RandN(61, 6, 3)
	x := tensor.RandN(62, 2, 1, 8, 8)
	w := tensor.RandN(63, 3, 1, 3, 3).MulScalar(0.5)
	ea, eb := p.Encrypt(a, 0), p.Encrypt(b, 1)
	check := func(name string, got *CrypTensor, want *tensor.Tensor, tol float64) {
		g := reveal(got)
		if err != nil {
			return
		}
		if !tensor.SameShape(g.Shape(), want.Shape()) {
			err = fmt.Errorf("%s %s: shape %v, want %v", label, name, g.Shape(), want.Shape())
			return
		}
		for i, v := range g.Data() {
			if d := math.Abs(v - want.Data()[i]); !(d <= tol) {
				err = fmt.Errorf("%s %s: element %d is %g, want %g (error %g > %g)", label, name, i, v, want.Data()[i], d, tol)
				return
			}
		}
	}
	check("mul", ea.Mul(ea), a.Mul(a), 8*ulp)
	check("square", ea.Square(), a.Mul(a), 8*ulp)
	check("matmul", ea.MatMul(eb), tensor.MatMul(a, b), 32*ulp)
	ex, ew := p.Encrypt(x, 0), p.Encrypt(w, 1)
	conv := tensor.Conv2d(x, w, nil, tensor.ConvOpts{Padding: [2]int{1, 1}})
	check("conv2d", ex.Conv2d(ew, nil, tensor.ConvOpts{Padding: [2]int{1, 1}}), conv, 64*ulp)
	check("relu", ea.Relu(), a.Relu(), 2*ulp)
	check("gt", ea.Gt(0.1), a.Gt(tensor.Scalar(0.1)), 0)
	c := tensor.RandN(65, 4, 6)
	check("lt", ea.Lt(p.Encrypt(c, 1)), a.Lt(c), 0)
	check("sigmoid", ea.Sigmoid(), a.Apply(func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }), 2e-3)
	check("exp", ea.Mul(0.5).Exp(), a.MulScalar(0.5).Apply(math.Exp), 2e-2)
	check("argmax", ea.ArgmaxOneHot(1), tensor.OneHot(a.Argmax(1, false), 6), 0)
	// A small LeNet-like inference: conv, relu, max pool, linear.
	pool := tensor.PoolOpts{Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}}
	h := ex.Conv2d(ew, nil, tensor.ConvOpts{Padding: [2]int{1, 1}}).Relu().MaxPool2d(pool)
	fc := tensor.RandN(64, 48, 10).MulScalar(0.2)
	out := h.Reshape(2, 48).MatMul(p.Encrypt(fc, 1))
	ph := tensor.MaxPool2d(conv.Relu(), pool)
	check("lenet", out, tensor.MatMul(ph.Reshape(2, 48), fc), 256*ulp)
	return err
}

// TestDealerFree runs the engine at two parties with the dealer-free
// provider over the in-memory transport, with and without preprocessing,
// and checks that its traffic is counted.
func TestDealerFree(t *testing.T) {
	for _, pre := range []bool{false, true} {
		res, err := RunLocal(2, func(p *Party) (any, error) {
			if pre {
				if err := p.Preprocess(provider.Request{Kind: provider.Mul, N: 200},
					provider.Request{Kind: provider.MatMul, Batch: 1, M: 4, K: 6, Cols: 3}); err != nil {
					return nil, err
				}
			}
			return nil, dealerFreeWorkload(fmt.Sprintf("dealer-free (preprocessed %v)", pre), p)
		}, DealerFree())
		if err != nil {
			t.Fatal(err)
		}
		if pre && res[0].ByOp["Preprocess"].BytesSent == 0 {
			t.Errorf("preprocessing sent nothing: %+v", res[0].ByOp)
		}
	}
	if _, err := RunLocal(3, func(p *Party) (any, error) { return nil, nil }, DealerFree()); err == nil {
		t.Error("three parties accepted the dealer-free provider")
	}
	if _, err := ProviderOption("nope"); err == nil {
		t.Error("an unknown provider name was accepted")
	}
}

func init() {
	RegisterParty("test-dealer-free", func(p *Party) (any, error) {
		if err := dealerFreeWorkload("dealer-free over TCP", p); err != nil {
			return nil, err
		}
		return "ok", nil
	})
}

// TestDealerFreeProcesses runs the workload in two processes over the TCP
// mesh, the provider chosen by name as a launcher does.
func TestDealerFreeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	res, err := RunProcesses(2, "test-dealer-free", ProcessOptions{Provider: ProviderDealerFree})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Value != "ok" {
			t.Fatalf("rank %d: %v", r.Rank, r.Value)
		}
	}
}
