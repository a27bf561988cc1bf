package mpc

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// TestTrustedThirdParty runs the protocols that consume every kind of
// correlated randomness with the dealer as a separate party.
func TestTrustedThirdParty(t *testing.T) {
	a := tensor.RandN(50, 4, 6)
	b := tensor.RandN(51, 6, 3)
	x := tensor.RandN(52, 1, 2, 5, 5)
	w := tensor.RandN(53, 3, 2, 3, 3)
	for _, n := range parties {
		res, err := RunLocal(n, func(p *Party) (any, error) {
			ea, eb := p.Encrypt(a, 0), p.Encrypt(b, 1)
			check := func(name string, got *CrypTensor, want *tensor.Tensor, tol float64) {
				assertClose(t, fmt.Sprintf("TTP %d parties %s", n, name), reveal(got), want, tol)
			}
			check("mul", ea.Mul(ea), a.Mul(a), 8*ulp)
			check("square", ea.Square(), a.Mul(a), 8*ulp)
			check("matmul", ea.MatMul(eb), tensor.MatMul(a, b), 32*ulp)
			check("conv", p.Encrypt(x, 0).Conv2d(p.Encrypt(w, 1), nil, tensor.ConvOpts{}),
				tensor.Conv2d(x, w, nil, tensor.ConvOpts{}), 64*ulp)
			check("relu", ea.Relu(), a.Relu(), 2*ulp)
			check("gt", ea.Gt(0.1), a.Gt(tensor.Scalar(0.1)), 0)
			check("sigmoid", ea.Sigmoid(), a.Apply(func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }), 2e-3)
			check("argmax", ea.ArgmaxOneHot(1), tensor.OneHot(a.Argmax(1, false), 6), 0)
			return nil, nil
		}, TrustedThirdParty())
		if err != nil {
			t.Fatal(err)
		}
		if st := res[0].Stats; st.BytesReceived <= res[1].Stats.BytesReceived {
			t.Errorf("%d parties: rank 0 received %d bytes, not more than rank 1's %d: no dealer traffic?", n, st.BytesReceived, res[1].Stats.BytesReceived)
		}
	}
}

func TestRunProcessesTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	res, err := RunProcesses(2, "test-dot", ProcessOptions{TTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Value.(*tensor.Tensor).Item() != 7.5 {
		t.Fatalf("results %+v", res)
	}
}

// TestDealerRounds: once the dealer has seen a workload's requests, it
// deals ahead of them, and the workload costs the rounds it costs with
// the trusted first party.
func TestDealerRounds(t *testing.T) {
	a := tensor.RandN(70, 30, 20)
	b := tensor.RandN(71, 20, 10)
	x := tensor.RandN(72, 2, 1, 6, 6)
	w := tensor.RandN(73, 2, 1, 3, 3)
	work := func(p *Party) {
		ea, eb := p.Encrypt(a, 0), p.Encrypt(b, 1)
		ea.Mul(ea).Relu().MatMul(eb).Sigmoid()
		p.Encrypt(x, 0).Conv2d(p.Encrypt(w, 1), nil, tensor.ConvOpts{}).Relu().ArgmaxOneHot(1)
		ea.Slice(1, 0, 10, 1).ArgmaxOneHot(1) // an AND of 9 bits in one round
	}
	for _, n := range parties {
		rounds := map[string]int64{}
		for name, opt := range map[string]Option{"tfp": TrustedFirstParty(), "dealer": TrustedThirdParty()} {
			res, err := RunLocal(n, func(p *Party) (any, error) {
				work(p) // the dealer learns the requests
				before := p.Stats().Total().Rounds
				work(p)
				return p.Stats().Total().Rounds - before, nil
			}, opt)
			if err != nil {
				t.Fatal(err)
			}
			rounds[name] = res[0].Value.(int64)
		}
		if rounds["dealer"] != rounds["tfp"] {
			t.Errorf("%d parties: the workload took %d rounds with the dealer, %d with the trusted first party", n, rounds["dealer"], rounds["tfp"])
		}
	}
}
