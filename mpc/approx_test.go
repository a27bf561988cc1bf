package mpc

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// approxCase is one approximation over its documented range, with the
// error bound docs/mpc.md states.
type approxCase struct {
	name   string
	lo, hi float64
	enc    func(x *CrypTensor) *CrypTensor
	plain  func(x float64) float64
	absTol float64 // error allowed: absTol + relTol·|f(x)|
	relTol float64
}

var approxCases = []approxCase{
	{"exp", -8, 4, (*CrypTensor).Exp, math.Exp, 2e-4, 1.2e-2},
	{"exp far negative", -240, -8, (*CrypTensor).Exp, math.Exp, 1e-4, 0},
	{"log", 0.05, 200, (*CrypTensor).Log, math.Log, 2e-2, 0},
	{"reciprocal", 0.05, 200, (*CrypTensor).Reciprocal, func(x float64) float64 { return 1 / x }, 5e-4, 4e-3},
	{"reciprocal negative", -200, -0.05, (*CrypTensor).Reciprocal, func(x float64) float64 { return 1 / x }, 5e-4, 4e-3},
	{"sqrt", 0.1, 100, (*CrypTensor).Sqrt, math.Sqrt, 2e-3, 0},
	{"inv_sqrt", 0.1, 100, (*CrypTensor).InvSqrt, func(x float64) float64 { return 1 / math.Sqrt(x) }, 3e-4, 4e-3},
	{"sigmoid", -30, 30, (*CrypTensor).Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, 2e-3, 0},
	{"tanh", -15, 15, (*CrypTensor).Tanh, math.Tanh, 4e-3, 0},
}

// approxInputs spreads n points over [lo, hi], geometrically when the
// range spans decades of one sign.
func approxInputs(lo, hi float64, n int) *tensor.Tensor {
	v := make([]float64, n)
	for i := range v {
		f := float64(i) / float64(n-1)
		if lo > 0 && hi/lo > 20 {
			v[i] = lo * math.Pow(hi/lo, f)
		} else if hi < 0 && lo/hi > 20 {
			v[i] = -(-hi * math.Pow(lo/hi, f))
		} else {
			v[i] = lo + (hi-lo)*f
		}
	}
	return tensor.FromSlice(v)
}

func TestApproximations(t *testing.T) {
	for _, c := range approxCases {
		x := approxInputs(c.lo, c.hi, 1500)
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
			t.Logf("%d parties %-20s on [%g, %g]: max abs error %.3g at x=%g", n, c.name, c.lo, c.hi, worst, at)
		}
	}
}

func TestSoftmax(t *testing.T) {
	x := tensor.RandN(30, 6, 10).MulScalar(3)
	for _, n := range parties {
		outs := run(t, n, func(p *Party) *tensor.Tensor { return reveal(p.Encrypt(x, 0).Softmax(1)) })
		e := assertClose(t, fmt.Sprintf("%d parties softmax", n), outs[0], tensor.Softmax(x, 1), 4e-3)
		outs = run(t, n, func(p *Party) *tensor.Tensor { return reveal(p.Encrypt(x, 0).LogSoftmax(-1)) })
		e2 := assertClose(t, fmt.Sprintf("%d parties log_softmax", n), outs[0], tensor.LogSoftmax(x, -1), 1.5e-2)
		t.Logf("%d parties softmax error %.3g, log_softmax %.3g", n, e, e2)
	}
}

func TestDivEncrypted(t *testing.T) {
	a := tensor.RandN(31, 8)
	b := tensor.RandU(32, 0.5, 20, 8)
	for _, n := range parties {
		outs := run(t, n, func(p *Party) *tensor.Tensor { return reveal(Div(p.Encrypt(a, 0), p.Encrypt(b, 1))) })
		assertClose(t, fmt.Sprintf("%d parties div", n), outs[0], a.Div(b), 2e-3)
		outs = run(t, n, func(p *Party) *tensor.Tensor { return reveal(Div(3.0, p.Encrypt(b, 1))) })
		assertClose(t, fmt.Sprintf("%d parties public/enc", n), outs[0], tensor.Full(3, 8).Div(b), 2e-3)
	}
}

func TestPolynomial(t *testing.T) {
	x := tensor.RandU(33, -1.5, 1.5, 50)
	coef := []float64{0.5, -1, 0.25, 2, -0.75, 0.1}
	want := x.Apply(func(v float64) float64 {
		s := 0.0
		for k := len(coef) - 1; k >= 0; k-- {
			s = s*v + coef[k]
		}
		return s
	})
	for _, n := range parties {
		outs := run(t, n, func(p *Party) *tensor.Tensor { return reveal(p.Encrypt(x, 0).Polynomial(coef)) })
		assertClose(t, fmt.Sprintf("%d parties polynomial", n), outs[0], want, 1e-3)
	}
}
