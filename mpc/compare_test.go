package mpc

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func TestA2BAndBack(t *testing.T) {
	x := tensor.RandN(20, 3, 5).MulScalar(100)
	for _, n := range []int{2, 3, 4} {
		outs := run(t, n, func(p *Party) *tensor.Tensor {
			b := p.Encrypt(x, 0).ToBinary()
			plain, err := b.GetPlainText()
			if err != nil {
				panic(err)
			}
			back := reveal(b.ToArithmetic())
			assertClose(t, "A2B then B2A", back, x, ulp)
			return plain
		})
		assertClose(t, fmt.Sprintf("%d parties A2B", n), outs[0], x, ulp)
	}
}

func TestBinaryOps(t *testing.T) {
	x := tensor.FromSlice([]float64{1.5, -2, 3.25, 0})
	y := tensor.FromSlice([]float64{0.5, 7, -1, 2})
	enc := func(v float64) uint64 { u, _ := encodeValue(v, 16); return u }
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			bx, by := p.Encrypt(x, 0).ToBinary(), p.Encrypt(y, 1).ToBinary()
			check := func(name string, b *BinTensor, f func(a, c uint64) uint64) {
				got, _ := b.GetPlainText()
				for i := range x.Data() {
					want := decodeValue(f(enc(x.Data()[i]), enc(y.Data()[i])), 16)
					if got.Data()[i] != want {
						t.Errorf("%d parties %s element %d: %v, want %v", n, name, i, got.Data()[i], want)
					}
				}
			}
			check("xor", bx.Xor(by), func(a, c uint64) uint64 { return a ^ c })
			check("and", bx.And(by), func(a, c uint64) uint64 { return a & c })
			check("and public", bx.And(y), func(a, c uint64) uint64 { return a & c })
			check("xor public", bx.Xor(y), func(a, c uint64) uint64 { return a ^ c })
			check("shl", bx.LeftShift(3), func(a, c uint64) uint64 { return a << 3 })
			check("shr", bx.RightShift(5), func(a, c uint64) uint64 { return a >> 5 })
			return nil
		})
	}
}

func TestComparisons(t *testing.T) {
	a := tensor.RandN(21, 4, 5).MulScalar(3)
	b := tensor.RandN(22, 4, 5).MulScalar(3)
	// Force some ties and exact zeros.
	a.Data()[0], b.Data()[0] = 1.25, 1.25
	a.Data()[1] = 0
	pub := tensor.RandN(23, 5)
	for _, n := range parties {
		cases := []struct {
			name string
			f    func(x, y *CrypTensor) *CrypTensor
			want *tensor.Tensor
		}{
			{"lt", func(x, y *CrypTensor) *CrypTensor { return x.Lt(y) }, a.Lt(b)},
			{"le", func(x, y *CrypTensor) *CrypTensor { return x.Le(y) }, a.Le(b)},
			{"gt", func(x, y *CrypTensor) *CrypTensor { return x.Gt(y) }, a.Gt(b)},
			{"ge", func(x, y *CrypTensor) *CrypTensor { return x.Ge(y) }, a.Ge(b)},
			{"eq", func(x, y *CrypTensor) *CrypTensor { return x.Eq(y) }, a.Eq(b)},
			{"ne", func(x, y *CrypTensor) *CrypTensor { return x.Ne(y) }, a.Ne(b)},
			{"gt 0", func(x, y *CrypTensor) *CrypTensor { return x.Gt(0) }, a.Gt(tensor.Scalar(0))},
			{"public lt enc", func(x, y *CrypTensor) *CrypTensor { return Lt(pub, x) }, pub.Lt(a)},
			{"enc gt public", func(x, y *CrypTensor) *CrypTensor { return Gt(x, pub) }, a.Gt(pub)},
			{"public ge enc", func(x, y *CrypTensor) *CrypTensor { return Ge(pub, x) }, pub.Ge(a)},
			{"relu", func(x, y *CrypTensor) *CrypTensor { return x.Relu() }, a.Relu()},
			{"abs", func(x, y *CrypTensor) *CrypTensor { return x.Abs() }, a.Abs()},
			{"sign", func(x, y *CrypTensor) *CrypTensor { return x.Sign() }, a.Apply(func(v float64) float64 {
				if v < 0 {
					return -1
				}
				return 1
			})},
			{"where", func(x, y *CrypTensor) *CrypTensor { return Where(x.Gt(y), x, y) }, a.Maximum(b)},
			{"where public", func(x, y *CrypTensor) *CrypTensor { return Where(a.Gt(b), x, 2.0) },
				tensor.Where(a.Gt(b), a, tensor.Full(2, 4, 5))},
		}
		for _, c := range cases {
			outs := run(t, n, func(p *Party) *tensor.Tensor {
				return reveal(c.f(p.Encrypt(a, 0), p.Encrypt(b, 1)))
			})
			assertClose(t, fmt.Sprintf("%d parties %s", n, c.name), outs[0], c.want, 5*ulp) // where multiplies: N units of truncation
		}
	}
}

func TestMaxArgmax(t *testing.T) {
	x := tensor.RandN(24, 3, 7, 2)
	x.Set(x.At(0, 1, 0), 0, 4, 0) // a tie: the first index must win
	long := tensor.RandN(25, 2, 37)
	for _, n := range parties {
		for _, pm := range []int{16, 2} { // pairwise, then the tree
			cfg := Config{PairwiseMax: pm}
			res, err := RunLocal(n, func(p *Party) (any, error) {
				ex := p.Encrypt(x, 0)
				el := p.Encrypt(long, 1)
				check := func(name string, got *CrypTensor, want *tensor.Tensor) {
					assertClose(t, fmt.Sprintf("%d parties pairwise<=%d %s", n, pm, name), reveal(got), want, 2*ulp)
				}
				check("max", ex.Max(1, false), x.Max(1, false))
				check("max keepdim", ex.Max(-1, true), x.Max(-1, true))
				check("min", ex.Min(1, false), x.Min(1, false))
				check("argmax", ex.Argmax(1, false), x.Argmax(1, false))
				check("onehot", ex.ArgmaxOneHot(1), tensor.OneHot(x.Argmax(1, false), 7).Permute(0, 2, 1))
				check("long max", el.Max(1, false), long.Max(1, false))
				check("long argmax", el.Argmax(1, true), long.Argmax(1, true))
				return nil, nil
			}, WithConfig(cfg))
			_ = res
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestMaxPool2d(t *testing.T) {
	x := tensor.RandN(26, 2, 3, 6, 5)
	for _, opt := range []tensor.PoolOpts{
		{Kernel: [2]int{2, 2}},
		{Kernel: [2]int{3, 3}, Stride: [2]int{2, 1}, Padding: [2]int{1, 1}},
		{Kernel: [2]int{2, 2}, CeilMode: true},
	} {
		for _, n := range parties {
			outs := run(t, n, func(p *Party) *tensor.Tensor {
				return reveal(p.Encrypt(x, 0).MaxPool2d(opt))
			})
			assertClose(t, fmt.Sprintf("%d parties maxpool %+v", n, opt), outs[0], tensor.MaxPool2d(x, opt), ulp)
		}
	}
}
