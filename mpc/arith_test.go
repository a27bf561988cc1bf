package mpc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func TestFixedPointRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const f = 16
	for i := 0; i < 1_000_000; i++ {
		var x float64
		switch i % 4 {
		case 0:
			x = r.NormFloat64() * 1000
		case 1:
			x = float64(-r.IntN(1<<20)) - r.Float64()*1e-4 // just below negative integers
		case 2:
			x = (r.Float64()*2 - 1) * (1 << 40)
		default:
			x = -float64(r.IntN(1<<16)) / (1 << 16)
		}
		u, err := encodeValue(x, f)
		if err != nil {
			t.Fatal(err)
		}
		// Share into two random-looking halves and reconstruct.
		s0 := r.Uint64()
		s1 := u - s0
		got := decodeValue(s0+s1, f)
		if math.Abs(got-x) > 1.0/(1<<f) {
			t.Fatalf("x=%v decoded as %v (error %g)", x, got, got-x)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1 << 47, -(1 << 46)} {
		if _, err := encodeValue(bad, f); err == nil {
			t.Errorf("encode(%v) succeeded", bad)
		}
	}
}

func TestEncryptDecrypt(t *testing.T) {
	for _, n := range parties {
		x := tensor.RandN(1, 3, 4)
		outs := run(t, n, func(p *Party) *tensor.Tensor {
			in := tensor.Zeros(3, 4)
			if p.Rank() == n-1 {
				in = x
			}
			return reveal(p.Encrypt(in, n-1))
		})
		for r, o := range outs {
			assertClose(t, fmt.Sprintf("%d parties rank %d", n, r), o, x, ulp)
		}
	}
}

func TestSharesUniform(t *testing.T) {
	// Rank 1's share of a fixed value, over many encryptions, must look
	// uniform: each of the 8 bytes of the share is balanced over 256 values.
	const trials = 20000
	x := tensor.Full(3.25, 1)
	var counts [8][256]int
	run(t, 2, func(p *Party) *tensor.Tensor {
		for i := 0; i < trials; i++ {
			ct := p.Encrypt(x, 0)
			if p.Rank() == 1 {
				s := ShareOf(ct)[0]
				for b := 0; b < 8; b++ {
					counts[b][byte(s>>(8*b))]++
				}
			}
		}
		return nil
	})
	// Chi-square with 255 degrees of freedom: mean 255, sd ~22.6; 400 is
	// beyond 6 standard deviations.
	exp := float64(trials) / 256
	for b := 0; b < 8; b++ {
		chi := 0.0
		for _, c := range counts[b] {
			d := float64(c) - exp
			chi += d * d / exp
		}
		if chi > 400 {
			t.Errorf("byte %d of rank 1's share: chi-square %.1f, not uniform", b, chi)
		}
	}
}

func TestLinearOps(t *testing.T) {
	a := tensor.RandN(2, 2, 3)
	b := tensor.RandN(3, 2, 3)
	row := tensor.RandN(4, 3)
	for _, n := range parties {
		type tc struct {
			name string
			enc  func(x, y *CrypTensor) *CrypTensor
			want *tensor.Tensor
			tol  float64
		}
		cases := []tc{
			{"add", func(x, y *CrypTensor) *CrypTensor { return x.Add(y) }, a.Add(b), 2 * ulp},
			{"sub", func(x, y *CrypTensor) *CrypTensor { return x.Sub(y) }, a.Sub(b), 2 * ulp},
			{"add public row", func(x, y *CrypTensor) *CrypTensor { return x.Add(row) }, a.Add(row), 2 * ulp},
			{"public - enc", func(x, y *CrypTensor) *CrypTensor { return Sub(row, x) }, row.Sub(a), 2 * ulp},
			{"scalar + enc", func(x, y *CrypTensor) *CrypTensor { return Add(1.5, x) }, a.AddScalar(1.5), 2 * ulp},
			{"neg", func(x, y *CrypTensor) *CrypTensor { return x.Neg() }, a.Neg(), 2 * ulp},
			{"mul", func(x, y *CrypTensor) *CrypTensor { return x.Mul(y) }, a.Mul(b), 8 * ulp},
			{"mul int", func(x, y *CrypTensor) *CrypTensor { return Mul(3, x) }, a.MulScalar(3), 4 * ulp},
			{"mul float", func(x, y *CrypTensor) *CrypTensor { return x.Mul(0.3) }, a.MulScalar(0.3), 4 * ulp},
			{"mul public row", func(x, y *CrypTensor) *CrypTensor { return Mul(row, x) }, row.Mul(a), 8 * ulp},
			{"square", func(x, y *CrypTensor) *CrypTensor { return x.Square() }, a.Mul(a), 8 * ulp},
			{"div int", func(x, y *CrypTensor) *CrypTensor { return x.Div(3) }, a.DivScalar(3), 4 * ulp},
			{"div -2", func(x, y *CrypTensor) *CrypTensor { return x.Div(-2) }, a.DivScalar(-2), 4 * ulp},
			{"div float", func(x, y *CrypTensor) *CrypTensor { return x.Div(2.5) }, a.DivScalar(2.5), 4 * ulp},
			{"sum 0", func(x, y *CrypTensor) *CrypTensor { return x.Sum(0, false) }, a.Sum(0, false), 4 * ulp},
			{"sum -1 keep", func(x, y *CrypTensor) *CrypTensor { return x.Sum(-1, true) }, a.Sum(-1, true), 4 * ulp},
			{"mean 1", func(x, y *CrypTensor) *CrypTensor { return x.Mean(1, false) }, a.Mean(1, false), 4 * ulp},
			{"transpose", func(x, y *CrypTensor) *CrypTensor { return x.T() }, a.T(), ulp},
			{"reshape", func(x, y *CrypTensor) *CrypTensor { return x.Reshape(3, -1) }, a.Reshape(3, -1), ulp},
			{"slice", func(x, y *CrypTensor) *CrypTensor { return x.Slice(1, -2, 3, 1) }, a.Slice(1, -2, 3, 1), ulp},
			{"concat", func(x, y *CrypTensor) *CrypTensor { return Concat(0, x, y) }, tensor.Concat(0, a, b), ulp},
			{"stack", func(x, y *CrypTensor) *CrypTensor { return Stack(1, x, y) }, tensor.Stack(1, a, b), ulp},
			{"pad", func(x, y *CrypTensor) *CrypTensor { return x.Pad([][2]int{{1, 0}, {0, 2}}, 0.5) },
				a.Pad([][2]int{{1, 0}, {0, 2}}, 0.5), ulp},
			{"matmul", func(x, y *CrypTensor) *CrypTensor { return x.MatMul(y.T()) }, tensor.MatMul(a, b.T()), 16 * ulp},
			{"public @ enc", func(x, y *CrypTensor) *CrypTensor { return MatMul(b.T(), x) }, tensor.MatMul(b.T(), a), 16 * ulp},
			{"enc @ public", func(x, y *CrypTensor) *CrypTensor { return MatMul(x, b.T()) }, tensor.MatMul(a, b.T()), 16 * ulp},
			{"dot", func(x, y *CrypTensor) *CrypTensor { return Dot(x.Flatten(), y.Flatten()) },
				tensor.Scalar(tensor.Dot(a.Flatten(), b.Flatten())), 16 * ulp},
			{"outer", func(x, y *CrypTensor) *CrypTensor { return Outer(x.Index(0, 0), row) }, tensor.Outer(a.Index(0, 0), row), 8 * ulp},
			{"expand", func(x, y *CrypTensor) *CrypTensor { return x.Index(0, 1).Expand(4, 3) }, a.Index(0, 1).BroadcastTo(4, 3), ulp},
		}
		for _, c := range cases {
			outs := run(t, n, func(p *Party) *tensor.Tensor {
				return reveal(c.enc(p.Encrypt(a, 0), p.Encrypt(b, p.WorldSize()-1)))
			})
			assertClose(t, fmt.Sprintf("%d parties %s", n, c.name), outs[0], c.want, c.tol)
		}
	}
}

func TestBatchedMatMulAndConv(t *testing.T) {
	a := tensor.RandN(5, 2, 3, 4)
	b := tensor.RandN(6, 4, 5)
	x := tensor.RandN(7, 2, 3, 6, 5)
	w := tensor.RandN(8, 4, 3, 3, 3)
	bias := tensor.RandN(9, 4)
	opt := tensor.ConvOpts{Padding: [2]int{1, 1}, Stride: [2]int{1, 2}}
	for _, n := range parties {
		outs := run(t, n, func(p *Party) *tensor.Tensor {
			return reveal(MatMul(p.Encrypt(a, 0), p.Encrypt(b, 1)))
		})
		assertClose(t, fmt.Sprintf("%d parties batched matmul", n), outs[0], tensor.MatMul(a, b), 32*ulp)
		want := tensor.Conv2d(x, w, bias, opt)
		outs = run(t, n, func(p *Party) *tensor.Tensor {
			return reveal(Conv2d(p.Encrypt(x, 0), p.Encrypt(w, 1), bias, opt))
		})
		assertClose(t, fmt.Sprintf("%d parties conv2d", n), outs[0], want, 64*ulp)
		outs = run(t, n, func(p *Party) *tensor.Tensor {
			return reveal(Conv2d(x, p.Encrypt(w, 1), p.Encrypt(bias, 0), opt))
		})
		assertClose(t, fmt.Sprintf("%d parties conv2d public input", n), outs[0], want, 64*ulp)
		// Grouped, strided and dilated, both operands encrypted.
		xg, wg := tensor.RandN(12, 2, 4, 7, 6), tensor.RandN(13, 6, 2, 3, 2)
		gopt := tensor.ConvOpts{Groups: 2, Stride: [2]int{2, 1}, Dilation: [2]int{1, 2}, Padding: [2]int{1, 0}}
		outs = run(t, n, func(p *Party) *tensor.Tensor {
			return reveal(Conv2d(p.Encrypt(xg, 0), p.Encrypt(wg, 1), nil, gopt))
		})
		assertClose(t, fmt.Sprintf("%d parties grouped conv2d", n), outs[0], tensor.Conv2d(xg, wg, nil, gopt), 64*ulp)
		outs = run(t, n, func(p *Party) *tensor.Tensor {
			return reveal(Conv2d(p.Encrypt(x, 0), w, nil, opt))
		})
		assertClose(t, fmt.Sprintf("%d parties conv2d public kernel", n), outs[0], tensor.Conv2d(x, w, nil, opt), 64*ulp)
	}
}

func TestPublicOperandEitherSide(t *testing.T) {
	a := tensor.RandN(10, 3, 3)
	pub := tensor.RandN(11, 3, 3)
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			x := p.Encrypt(a, 0)
			pairs := []struct {
				name        string
				left, right *CrypTensor
				want        *tensor.Tensor
			}{
				{"add", Add(pub, x), x.Add(pub), a.Add(pub)},
				{"mul", Mul(pub, x), x.Mul(pub), a.Mul(pub)},
				{"mul scalar", Mul(2.5, x), x.Mul(2.5), a.MulScalar(2.5)},
				{"sub", Sub(pub, x), x.Sub(pub).Neg(), pub.Sub(a)},
				{"matmul", MatMul(pub, x), MatMul(x.T(), pub.T()).T(), tensor.MatMul(pub, a)},
			}
			for _, c := range pairs {
				l, r := reveal(c.left), reveal(c.right)
				assertClose(t, fmt.Sprintf("%d parties %s left", n, c.name), l, c.want, 16*ulp)
				assertClose(t, fmt.Sprintf("%d parties %s right", n, c.name), r, c.want, 16*ulp)
			}
			return nil
		})
	}
}

func TestShapeErrorsPanic(t *testing.T) {
	run(t, 2, func(p *Party) *tensor.Tensor {
		x := p.Encrypt(tensor.Zeros(2, 3), 0)
		for name, f := range map[string]func(){
			"add":     func() { x.Add(tensor.Zeros(4)) },
			"matmul":  func() { x.MatMul(tensor.Zeros(2, 3)) },
			"operand": func() { x.Add("three") },
			"reshape": func() { x.Reshape(4, 2) },
		} {
			func() {
				defer func() {
					e, ok := recover().(*Error)
					if !ok || e.Rank != p.Rank() {
						t.Errorf("%s: panic value %v, want *mpc.Error from rank %d", name, e, p.Rank())
					}
				}()
				f()
			}()
		}
		return nil
	})
}

// TestSmallPublicMultipliers: public constants below 1/2 keep 16
// significant bits (encoded at 16 fractional bits, 0.0013 would become
// 85/65536, 0.2% off), so the product's relative error stays about 2^-16.
func TestSmallPublicMultipliers(t *testing.T) {
	x := tensor.FromSlice([]float64{1000, -2500.5, 0.75, 12345})
	for _, n := range parties {
		for _, c := range []float64{0.0013, 3e-5, 0.3, -0.001} {
			want := x.MulScalar(c)
			for _, div := range []bool{false, true} {
				outs := run(t, n, func(p *Party) *tensor.Tensor {
					if div {
						return reveal(p.Encrypt(x, 0).Div(1 / c))
					}
					return reveal(p.Encrypt(x, 0).Mul(c))
				})
				for i, g := range outs[0].Data() {
					w := want.Data()[i]
					if d := math.Abs(g - w); d > 2*ulp+math.Abs(w)*2e-5 {
						t.Errorf("%d parties %g·%g (div %v) = %g, want %g", n, x.Data()[i], c, div, g, w)
					}
				}
			}
		}
	}
}
