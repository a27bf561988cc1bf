package mpc

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// TestWideFunctions checks the normalized square root, inverse square root
// and reciprocal over the wide range, on squares of small values and on
// ordinary values converted with Wide, against float64.
func TestWideFunctions(t *testing.T) {
	// Geometric spread over [2^-30, 2^20] for the wide tensors.
	xs := approxInputs(math.Ldexp(1, -30), math.Ldexp(1, 20), 600)
	cases := []struct {
		name   string
		enc    func(w *WideTensor) *CrypTensor
		plain  func(float64) float64
		absTol float64 // error allowed: absTol + relTol·|f(x)|
		relTol float64
	}{
		{"inv_sqrt", (*WideTensor).InvSqrt, func(x float64) float64 { return 1 / math.Sqrt(x) }, 2 * ulp, 1e-4},
		{"sqrt", (*WideTensor).Sqrt, math.Sqrt, 2 * ulp, 1e-4},
		{"reciprocal", (*WideTensor).Reciprocal, func(x float64) float64 { return 1 / x }, 2 * ulp, 1e-4},
	}
	for _, c := range cases {
		for _, n := range parties {
			outs := run(t, n, func(p *Party) *tensor.Tensor {
				// x enters as the square of √x, untruncated.
				w := p.Encrypt(xs.Sqrt(), 0).SquareWide()
				return reveal(c.enc(w))
			})
			worst, at := 0.0, 0.0
			for i, g := range outs[0].Data() {
				x := xs.Data()[i]
				sq := math.Sqrt(x)
				x = math.Pow(math.Round(sq*(1<<16))/(1<<16), 2) // what was encrypted
				want := c.plain(x)
				if want > 1<<40 {
					continue // beyond the fixed-point range
				}
				err := math.Abs(g - want)
				if !(err <= c.absTol+c.relTol*math.Abs(want)) {
					t.Errorf("%d parties wide %s(%g) = %g, want %g", n, c.name, x, g, want)
					break
				}
				if rel := err / math.Abs(want); err > c.absTol && rel > worst {
					worst, at = rel, x
				}
			}
			t.Logf("%d parties wide %-10s: max relative error %.3g (at x=%g) beyond %g absolute", n, c.name, worst, at, c.absTol)
		}
	}
}

func TestWideArithmetic(t *testing.T) {
	q := func(v float64) float64 { return math.Round(v*(1<<16)) / (1 << 16) } // exactly encodable
	a := tensor.RandU(41, -0.01, 0.01, 3, 4).Apply(q)
	b := tensor.RandU(42, -0.01, 0.01, 3, 4).Apply(q)
	for _, n := range parties {
		outs := run(t, n, func(p *Party) *tensor.Tensor {
			x, y := p.Encrypt(a, 0), p.Encrypt(b, 1)
			w := x.SquareWide().MulScalar(0.999).Add(y.SquareWide().MulScalar(1.0 / 1000)).Sub(x.MulWide(y).MulScalar(3))
			v, err := w.Sum(1, true).GetPlainText()
			if err != nil {
				panic(err)
			}
			assertClose(t, "wide then narrow", reveal(x.Wide().Narrow()), a, ulp)
			return v
		})
		want := a.Mul(a).MulScalar(0.999).Add(b.Mul(b).MulScalar(0.001)).Sub(a.Mul(b).MulScalar(3)).Sum(1, true)
		assertClose(t, fmt.Sprintf("%d parties wide arithmetic", n), outs[0], want, 5e-9) // 0.999 is rounded to 16 bits
	}
}

// TestWideQuotients checks m/√v and m/d, Adam's update, with small
// numerators over a wide range of denominators.
func TestWideQuotients(t *testing.T) {
	q := func(v float64) float64 { return math.Round(v*(1<<16)) / (1 << 16) }
	m := tensor.RandU(43, -0.02, 0.02, 400).Apply(q)
	s := approxInputs(1e-4, 30, 400).Apply(q) // √v
	d := approxInputs(1e-3, 500, 400).Apply(q)
	for _, n := range parties {
		outs := run(t, n, func(p *Party) *tensor.Tensor {
			mw := p.Encrypt(m, 0).Wide()
			v := p.Encrypt(s, 1).SquareWide()
			return tensor.Concat(0, reveal(mw.DivSqrt(v, 0)), reveal(mw.DivSqrt(v, 1e-3)), reveal(mw.Div(p.Encrypt(d, 1))))
		})
		want := tensor.Concat(0, m.Div(s), m.Div(s.AddScalar(1e-3)), m.Div(d))
		for i, g := range outs[0].Data() {
			w := want.Data()[i]
			if e := math.Abs(g - w); e > 2*ulp+1e-4*math.Abs(w) {
				t.Fatalf("%d parties quotient %d: %g, want %g", n, i, g, w)
			}
		}
	}
}

// TestFullRangeFunctions checks InvSqrtFull, SqrtFull and ReciprocalFull on
// ordinary tensors over [2^-14, 2^30] (and negative values for the
// reciprocal).
func TestFullRangeFunctions(t *testing.T) {
	q := func(v float64) float64 { return math.Round(v*(1<<16)) / (1 << 16) }
	xs := approxInputs(math.Ldexp(1, -14), math.Ldexp(1, 30), 500).Apply(q)
	neg := xs.MulScalar(-1)
	for _, n := range parties {
		outs := run(t, n, func(p *Party) *tensor.Tensor {
			x := p.Encrypt(xs, 0)
			return tensor.Concat(0, reveal(x.InvSqrtFull()), reveal(x.SqrtFull()), reveal(x.ReciprocalFull()), reveal(p.Encrypt(neg, 1).ReciprocalFull()))
		})
		want := tensor.Concat(0, xs.Sqrt().Reciprocal(), xs.Sqrt(), xs.Reciprocal(), neg.Reciprocal())
		for i, g := range outs[0].Data() {
			w := want.Data()[i]
			if e := math.Abs(g - w); e > 2*ulp+1e-4*math.Abs(w) {
				t.Fatalf("%d parties: element %d (x = %g) is %g, want %g", n, i, xs.Data()[i%500], g, w)
			}
		}
	}
}
