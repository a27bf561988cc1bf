package zoo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// TestNetworks runs every architecture on a small batch in plaintext and
// encrypted (model shared by party 1, images by party 0) at 2 and 3
// parties: logits of shape (batch, 10) within 1e-2 of plaintext, the same
// top-1 labels, and the parameter counts of the reference networks.
func TestNetworks(t *testing.T) {
	params := map[string]int{
		"lenet": 33542,
		// fc 784·128+128, 128·128+128, 128·10+10, plus two batch norms (scale, shift, running mean and variance)
		"A":           784*128 + 128 + 128*128 + 128 + 128*10 + 10 + 4*2*128,
		"B":           16*25 + 16 + 16*16*25 + 16 + 256*100 + 100 + 100*10 + 10 + 4*(16+16+100),
		"C":           20*25 + 20 + 50*20*25 + 50 + 800*500 + 500 + 500*10 + 10 + 4*(20+50+500),
		"cifar-lenet": 6*3*25 + 6 + 16*6*25 + 16 + 400*120 + 120 + 120*84 + 84 + 84*10 + 10 + 4*(6+16+120),
	}
	for _, s := range All() {
		for _, parties := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/%d", s.Name, parties), func(t *testing.T) {
				m := s.New(tensor.NewRNG(7))
				if got := m.NumParams(); got != params[s.Name] {
					t.Errorf("%d parameters, want %d", got, params[s.Name])
				}
				// A few training steps give the batch norms running
				// statistics other than 0 and 1.
				rng := tensor.NewRNG(8)
				x := rng.Normal(0, 1, append([]int{4}, s.Input...)...)
				opt := nn.NewSGD(m.Parameters(), 0.01, 0, 0)
				for i := 0; i < 3; i++ {
					opt.ZeroGrad()
					out, err := m.Forward(nn.NewVariable(rng.Normal(0, 1, append([]int{8}, s.Input...)...)))
					if err != nil {
						t.Fatal(err)
					}
					y := tensor.FromSlice([]float64{0, 1, 2, 3, 4, 5, 6, 7})
					if err := nn.CrossEntropyLoss(out, nn.NewVariable(y)).Backward(); err != nil {
						t.Fatal(err)
					}
					if err := opt.Step(); err != nil {
						t.Fatal(err)
					}
				}
				m.Eval()
				plain, err := m.Forward(nn.NewVariable(x))
				if err != nil {
					t.Fatal(err)
				}
				if got := plain.Tensor().Shape(); len(got) != 2 || got[0] != 4 || got[1] != Classes {
					t.Fatalf("logits of shape %v", got)
				}
				res, err := mpc.RunLocal(parties, func(p *mpc.Party) (any, error) {
					var mine *nn.Model
					in := tensor.ZerosLike(x)
					if p.Rank() == 1 {
						mine = m
					}
					if p.Rank() == 0 {
						in = x
					}
					shared, err := nn.ShareModel(p, mine, 1)
					if err != nil {
						return nil, err
					}
					out, err := shared.Forward(nn.NewVariable(in).Encrypt(p, 0))
					if err != nil {
						return nil, err
					}
					return out.PlainText()
				})
				if err != nil {
					t.Fatal(err)
				}
				enc := res[0].Value.(*tensor.Tensor)
				if d := tensor.MaxAbsDiff(enc, plain.Tensor()); d > 1e-2 {
					t.Errorf("encrypted logits differ from plaintext by %.3g", d)
				}
				if !tensor.Equal(enc.Argmax(1, false), plain.Tensor().Argmax(1, false)) {
					t.Errorf("top-1 differs: encrypted %v, plaintext %v", enc.Argmax(1, false).Data(), plain.Tensor().Argmax(1, false).Data())
				}
			})
		}
	}
}

func TestLookup(t *testing.T) {
	s, err := Lookup("C")
	if err != nil || s.Name != "C" {
		t.Fatalf("Lookup(C) = %v, %v", s.Name, err)
	}
	if _, err := Lookup("D"); err == nil || !strings.Contains(err.Error(), "cifar-lenet") {
		t.Errorf("Lookup(D): %v", err)
	}
}
