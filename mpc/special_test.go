package mpc

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// specialCases are the functions of special.go over their documented
// ranges, with the error bounds docs/mpc.md states (absolute plus relative
// to the result).
var specialCases = []approxCase{
	{"cos", -100, 100, (*CrypTensor).Cos, math.Cos, 5e-4, 0},
	{"sin", -100, 100, (*CrypTensor).Sin, math.Sin, 5e-4, 0},
	{"cos far", -1e4, 1e4, (*CrypTensor).Cos, math.Cos, 5e-4, 0},
	{"sin near 0", -0.5, 0.5, (*CrypTensor).Sin, math.Sin, 5e-4, 0},
	{"erf", -6, 6, (*CrypTensor).Erf, math.Erf, 1e-4, 0},
	{"erf near 0", -1.2, 1.2, (*CrypTensor).Erf, math.Erf, 1e-4, 0},
	{"erf far", -3e4, 3e4, (*CrypTensor).Erf, math.Erf, 1e-4, 0},
	{"gaussian", -20, 20, (*CrypTensor).Gaussian, func(v float64) float64 { return math.Exp(-v * v) }, 2e-4, 0},
	{"clamp", -5, 5, func(x *CrypTensor) *CrypTensor { return x.Clamp(-1, 2.5) }, func(v float64) float64 { return max(-1, min(v, 2.5)) }, 1e-9, 0},
	{"pow 2", -100, 100, func(x *CrypTensor) *CrypTensor { return x.Pow(2) }, func(v float64) float64 { return v * v }, 2e-4, 1e-5},
	{"pow 3", -20, 20, func(x *CrypTensor) *CrypTensor { return x.Pow(3) }, func(v float64) float64 { return v * v * v }, 2e-4, 1e-5},
	{"pow 7", -3, 3, func(x *CrypTensor) *CrypTensor { return x.Pow(7) }, func(v float64) float64 { return math.Pow(v, 7) }, 2e-4, 1e-4},
	{"pow 0", -5, 5, func(x *CrypTensor) *CrypTensor { return x.Pow(0) }, func(v float64) float64 { return 1 }, 0, 0},
	{"pow -2", 0.05, 20, func(x *CrypTensor) *CrypTensor { return x.Pow(-2) }, func(v float64) float64 { return 1 / (v * v) }, 5e-4, 1e-2},
	{"pos_pow 0.5", 0.05, 200, func(x *CrypTensor) *CrypTensor { return x.PosPow(0.5) }, math.Sqrt, 5e-3, 1e-2},
	{"pos_pow 1.5", 0.05, 20, func(x *CrypTensor) *CrypTensor { return x.PosPow(1.5) }, func(v float64) float64 { return math.Pow(v, 1.5) }, 5e-3, 1.2e-2},
}

func TestSpecialFunctions(t *testing.T) {
	for _, c := range specialCases {
		x := approxInputs(c.lo, c.hi, 1500)
		// Inputs as they are encrypted (rounded to 16 bits).
		x = x.Apply(func(v float64) float64 { return math.Round(v*(1<<16)) / (1 << 16) })
		for _, n := range parties {
			outs := run(t, n, func(p *Party) *tensor.Tensor { return reveal(c.enc(p.Encrypt(x, 0))) })
			worst, at := 0.0, 0.0
			for i, g := range outs[0].Data() {
				xv := x.Data()[i]
				w := c.plain(xv)
				err := math.Abs(g - w)
				if !(err <= c.absTol+c.relTol*math.Abs(w)) {
					t.Errorf("%d parties %s(%g) = %g, want %g (error %g)", n, c.name, xv, g, w, err)
					break
				}
				if err > worst {
					worst, at = err, xv
				}
			}
			t.Logf("%d parties %-12s on [%g, %g]: max abs error %.3g at x=%g", n, c.name, c.lo, c.hi, worst, at)
		}
	}
}

func TestNorm(t *testing.T) {
	x := tensor.RandN(81, 4, 6).MulScalar(3)
	tiny := tensor.RandN(82, 3, 5).MulScalar(1e-3)
	norm := func(t *tensor.Tensor, p float64, d int) *tensor.Tensor {
		s := t.Shape()
		out := tensor.Zeros(s[1-d])
		for i := 0; i < s[1-d]; i++ {
			acc := 0.0
			for j := 0; j < s[d]; j++ {
				var v float64
				if d == 0 {
					v = t.At(j, i)
				} else {
					v = t.At(i, j)
				}
				switch {
				case math.IsInf(p, 1):
					acc = max(acc, math.Abs(v))
				default:
					acc += math.Pow(math.Abs(v), p)
				}
			}
			if !math.IsInf(p, 1) {
				acc = math.Pow(acc, 1/p)
			}
			out.Set(acc, i)
		}
		return out
	}
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			ex, et := p.Encrypt(x, 0), p.Encrypt(tiny, 0)
			for _, c := range []struct {
				name string
				got  *CrypTensor
				want *tensor.Tensor
				tol  float64
			}{
				{"L1", ex.Norm(1, 1, false), norm(x, 1, 1), 1e-4},
				{"L2", ex.Norm(2, 1, false), norm(x, 2, 1), 1e-3},
				{"L2 tiny values", et.Norm(2, 0, false), norm(tiny, 2, 0), 3e-5},
				{"Linf", ex.Norm(math.Inf(1), 0, false), norm(x, math.Inf(1), 0), 1e-4},
				{"L3", ex.Norm(3, 1, false), norm(x, 3, 1), 0.1},
				{"L2 all", ex.NormAll(2).Reshape(1), tensor.FromSlice([]float64{math.Sqrt(x.Mul(x).SumAll())}), 2e-3},
			} {
				e := assertClose(t, fmt.Sprintf("%d parties norm %s", n, c.name), reveal(c.got), c.want, c.tol)
				if p.Rank() == 0 {
					t.Logf("%d parties norm %s: max abs error %.3g", n, c.name, e)
				}
			}
			return nil
		})
	}
}

func TestClampWithMask(t *testing.T) {
	x := tensor.FromSlice([]float64{-3, -1, -0.5, 0, 1.5, 2.5, 2.6, 7})
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			y, m := p.Encrypt(x, 0).ClampWithMask(-1, 2.5)
			assertClose(t, fmt.Sprintf("%d parties clamp", n), reveal(y), tensor.FromSlice([]float64{-1, -1, -0.5, 0, 1.5, 2.5, 2.5, 2.5}), 0)
			assertClose(t, fmt.Sprintf("%d parties clamp mask", n), reveal(m), tensor.FromSlice([]float64{0, 1, 1, 1, 1, 0, 0, 0}), 0)
			return nil
		})
	}
}
