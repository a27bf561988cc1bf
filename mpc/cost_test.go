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
	}
	t.Log("\n" + measureCosts(t, cases))
}
