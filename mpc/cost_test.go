package mpc

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// costCase is one operation whose rounds and bytes docs/mpc.md lists: f
// prepares its operands from x (not measured) and returns the operation.
type costCase struct {
	name string
	n    int // elements of the input
	f    func(x *CrypTensor) func()
}

// measureCosts returns, for each case and party count, the rounds and the
// bytes sent per input element by the busiest party (rank 0 receives the
// masked values of truncations with three or more parties, the others
// send them).
func measureCosts(t *testing.T, cases []costCase) string {
	var b strings.Builder
	b.WriteString("| operation | parties | rounds | bytes sent per element (max over parties) |\n|---|---|---|---|\n")
	for _, c := range cases {
		for _, n := range parties {
			x := tensor.RandU(7, 0.5, 2, c.n)
			res, err := RunLocal(n, func(p *Party) (any, error) {
				op := c.f(p.Encrypt(x, 0))
				before := p.Stats().Total()
				op()
				after := p.Stats().Total()
				return [2]int64{after.Rounds - before.Rounds, after.BytesSent - before.BytesSent}, nil
			})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var rounds, bytes int64
			for _, r := range res {
				v := r.Value.([2]int64)
				rounds, bytes = max(rounds, v[0]), max(bytes, v[1])
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %.1f |\n", c.name, n, rounds, float64(bytes)/float64(c.n))
		}
	}
	return b.String()
}

// TestCosts logs the rounds and bytes of the operations docs/mpc.md
// lists beside their errors (GOMPLAB_COSTS=1 to print them).
func TestCosts(t *testing.T) {
	if os.Getenv("GOMPLAB_COSTS") == "" {
		t.Skip("set GOMPLAB_COSTS=1 to measure")
	}
	const n = 4096
	cases := []costCase{
		{"wide inv_sqrt", n, func(x *CrypTensor) func() { w := x.Wide(); return func() { w.InvSqrt() } }},
		{"wide sqrt", n, func(x *CrypTensor) func() { w := x.Wide(); return func() { w.Sqrt() } }},
		{"wide reciprocal", n, func(x *CrypTensor) func() { w := x.Wide(); return func() { w.Reciprocal() } }},
		{"wide m/√v", n, func(x *CrypTensor) func() { w := x.Wide(); return func() { w.DivSqrt(w, 0) } }},
		{"wide m/(√v+eps)", n, func(x *CrypTensor) func() { w := x.Wide(); return func() { w.DivSqrt(w, 1e-3) } }},
		{"pow 2", n, func(x *CrypTensor) func() { return func() { x.Pow(2) } }},
		{"pow 3", n, func(x *CrypTensor) func() { return func() { x.Pow(3) } }},
		{"pow 7", n, func(x *CrypTensor) func() { return func() { x.Pow(7) } }},
		{"pow -2", n, func(x *CrypTensor) func() { return func() { x.Pow(-2) } }},
		{"pos_pow 1.5", n, func(x *CrypTensor) func() { return func() { x.PosPow(1.5) } }},
		{"cos/sin (both)", n, func(x *CrypTensor) func() { return func() { x.CosSin() } }},
		{"erf", n, func(x *CrypTensor) func() { return func() { x.Erf() } }},
		{"gaussian", n, func(x *CrypTensor) func() { return func() { x.Gaussian() } }},
		{"clamp", n, func(x *CrypTensor) func() { return func() { x.Clamp(-1, 1) } }},
		{"norm 2 (rows of 64)", n, func(x *CrypTensor) func() { y := x.Reshape(-1, 64); return func() { y.Norm(2, 1, false) } }},
		{"norm 1 (rows of 64)", n, func(x *CrypTensor) func() { y := x.Reshape(-1, 64); return func() { y.Norm(1, 1, false) } }},
		{"cumsum, gather, scatter, index_add, take", n, func(x *CrypTensor) func() {
			idx := tensor.Zeros(n / 2)
			return func() {
				x.Cumsum(0)
				x.Gather(0, idx)
				x.Scatter(0, idx, 1.0)
				x.IndexAdd(0, []int{0}, tensor.Zeros(1))
				x.Take(idx)
			}
		}},
		{"conv1d 8 ch, k 3 (public kernel)", n, func(x *CrypTensor) func() {
			y := x.Reshape(1, 8, -1)
			return func() { y.Conv1d(tensor.Ones(8, 8, 3), nil, tensor.Conv1dOpts{Padding: 1}) }
		}},
		{"conv1d 8 ch, k 3 (encrypted kernel)", n, func(x *CrypTensor) func() {
			y := x.Reshape(1, 8, -1)
			w := x.Party().Encrypt(tensor.Ones(8, 8, 3), 0)
			return func() { y.Conv1d(w, nil, tensor.Conv1dOpts{Padding: 1}) }
		}},
		{"conv_transpose2d 4 ch, k 3, stride 2 (encrypted kernel)", n, func(x *CrypTensor) func() {
			y := x.Reshape(1, 4, 32, 32)
			w := x.Party().Encrypt(tensor.Ones(4, 4, 3, 3), 0)
			return func() {
				y.ConvTranspose2d(w, nil, tensor.ConvTransposeOpts{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
			}
		}},
		{"avg_pool2d 2x2", n, func(x *CrypTensor) func() {
			y := x.Reshape(1, 4, 32, 32)
			return func() { y.AvgPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}) }
		}},
		{"adaptive_avg_pool2d to 5x5", n, func(x *CrypTensor) func() {
			y := x.Reshape(1, 4, 32, 32)
			return func() { y.AdaptiveAvgPool2d(5, 5) }
		}},
		{"adaptive_max_pool2d to 5x5", n, func(x *CrypTensor) func() {
			y := x.Reshape(1, 4, 32, 32)
			return func() { y.AdaptiveMaxPool2d(5, 5) }
		}},
		{"argmin over 16", n, func(x *CrypTensor) func() { y := x.Reshape(-1, 16); return func() { y.Argmin(1, false) } }},
	}
	t.Log("\n" + measureCosts(t, append(protocolCostCases, cases...)))
}
