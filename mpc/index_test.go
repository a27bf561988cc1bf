package mpc

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// at returns the element of t at multi-index pos.
func at(t *tensor.Tensor, pos []int) float64 { return t.At(pos...) }

// eachPos calls f with every multi-index of shape, row-major.
func eachPos(shape []int, f func(pos []int)) {
	pos := make([]int, len(shape))
	for range tensor.Numel(shape) {
		f(pos)
		for k := len(pos) - 1; k >= 0; k-- {
			if pos[k]++; pos[k] < shape[k] {
				break
			}
			pos[k] = 0
		}
	}
}

func withDim(pos []int, d, v int) []int {
	q := append([]int(nil), pos...)
	q[d] = v
	return q
}

func TestIndexOps(t *testing.T) {
	x := tensor.RandN(51, 3, 4, 5)
	src := tensor.RandN(52, 3, 4, 5)
	idx1 := tensor.MustNew([]float64{2, 0, 1, 1, 0, 2, 2, 2}, 2, 4, 1) // along dim 0
	idx2 := tensor.MustNew([]float64{4, 0, 3, 3, 1, 2}, 3, 1, 2)       // along dim 2
	gatherWant := func(d int, idx *tensor.Tensor) *tensor.Tensor {
		out := tensor.Zeros(idx.Shape()...)
		eachPos(idx.Shape(), func(pos []int) {
			out.Set(at(x, withDim(pos, d, int(at(idx, pos)))), pos...)
		})
		return out
	}
	scatterWant := func(d int, idx *tensor.Tensor, add bool) *tensor.Tensor {
		out := x.Clone()
		eachPos(idx.Shape(), func(pos []int) {
			q := withDim(pos, d, int(at(idx, pos)))
			v := at(src, pos)
			if add {
				v += at(out, q)
			}
			out.Set(v, q...)
		})
		return out
	}
	cum := x.Clone()
	for i := 0; i < 3; i++ {
		for j := 1; j < 4; j++ {
			for k := 0; k < 5; k++ {
				cum.Set(cum.At(i, j, k)+cum.At(i, j-1, k), i, j, k)
			}
		}
	}
	ia := x.Clone()
	part := tensor.RandN(53, 3, 2, 5)
	for i := 0; i < 3; i++ {
		for k, j := range []int{3, 0} {
			for l := 0; l < 5; l++ {
				ia.Set(ia.At(i, j, l)+part.At(i, k, l), i, j, l)
			}
		}
	}
	take := tensor.MustNew([]float64{0, 59, -1, 17, 17}, 5)
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			ex, es := p.Encrypt(x, 0), p.Encrypt(src, 1)
			cases := []struct {
				name string
				got  *CrypTensor
				want *tensor.Tensor
			}{
				{"cumsum", ex.Cumsum(1), cum},
				{"gather dim 0", ex.Gather(0, idx1), gatherWant(0, idx1)},
				{"gather dim 2", ex.Gather(-1, idx2), gatherWant(2, idx2)},
				{"scatter", ex.Scatter(0, idx1, es), scatterWant(0, idx1, false)},
				{"scatter public", ex.Scatter(2, idx2, src), scatterWant(2, idx2, false)},
				{"scatter_add", ex.ScatterAdd(2, idx2, es), scatterWant(2, idx2, true)},
				{"index_add", ex.IndexAdd(1, []int{3, 0}, p.Encrypt(part, 1)), ia},
				{"take", ex.Take(take), tensor.FromSlice([]float64{x.Data()[0], x.Data()[59], x.Data()[59], x.Data()[17], x.Data()[17]})},
			}
			for _, c := range cases {
				assertClose(t, fmt.Sprintf("%d parties %s", n, c.name), reveal(c.got), c.want, 4*ulp) // sums of encodings
			}
			return nil
		})
	}
}

func TestIndexOpsReject(t *testing.T) {
	x := tensor.RandN(54, 3, 4)
	for _, c := range []struct {
		name string
		f    func(x *CrypTensor)
	}{
		{"gather out of range", func(x *CrypTensor) { x.Gather(1, tensor.MustNew([]float64{4}, 1, 1)) }},
		{"gather fraction", func(x *CrypTensor) { x.Gather(1, tensor.MustNew([]float64{0.5}, 1, 1)) }},
		{"gather rank", func(x *CrypTensor) { x.Gather(1, tensor.FromSlice([]float64{0})) }},
		{"scatter small source", func(x *CrypTensor) { x.Scatter(0, tensor.Zeros(2, 2), tensor.Zeros(1, 2)) }},
		{"take", func(x *CrypTensor) { x.Take(tensor.FromSlice([]float64{12})) }},
		{"index_add shape", func(x *CrypTensor) { x.IndexAdd(0, []int{1}, tensor.Zeros(2, 4)) }},
	} {
		_, err := RunLocal(2, func(p *Party) (any, error) {
			c.f(p.Encrypt(x, 0))
			return nil, nil
		})
		if err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestMoreShapeOps(t *testing.T) {
	x := tensor.RandN(55, 3, 4)
	sq := tensor.RandN(56, 4, 4)
	pr := tensor.RandU(57, 0.5, 1.5, 3, 5)
	flip := x.Slice(1, 3, -5, -1)
	roll := tensor.Concat(1, x.Slice(1, 3, 4, 1), x.Slice(1, 0, 3, 1))
	rep := tensor.Concat(0, tensor.Concat(1, x, x), tensor.Concat(1, x, x)).Reshape(1, 6, 8)
	unf := tensor.Zeros(3, 2, 2)
	for i := 0; i < 3; i++ {
		for w := 0; w < 2; w++ {
			for k := 0; k < 2; k++ {
				unf.Set(x.At(i, 2*w+k), i, w, k)
			}
		}
	}
	tr := 0.0
	for i := 0; i < 4; i++ {
		tr += sq.At(i, i)
	}
	variance := x.Sub(x.Mean(1, true)).Apply(func(v float64) float64 { return v * v }).Sum(1, false).MulScalar(1.0 / 3)
	prod := tensor.Ones(3)
	for i := 0; i < 3; i++ {
		for j := 0; j < 5; j++ {
			prod.Set(prod.At(i)*pr.At(i, j), i)
		}
	}
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			ex := p.Encrypt(x, 0)
			ub := ex.Unbind(0)
			for _, c := range []struct {
				name string
				got  *CrypTensor
				want *tensor.Tensor
				tol  float64
			}{
				{"flip", ex.Flip(1), flip, ulp},
				{"roll", ex.Roll(1, 1), roll, ulp},
				{"repeat", ex.Repeat(1, 2, 2), rep, ulp},
				{"narrow", ex.Narrow(1, 1, 2), x.Slice(1, 1, 3, 1), ulp},
				{"unbind", ub[2], x.Slice(0, 2, 3, 1).Reshape(4), ulp},
				{"unfold", ex.Unfold(1, 2, 2), unf, ulp},
				{"trace", p.Encrypt(sq, 0).Trace().Reshape(1), tensor.FromSlice([]float64{tr}), 3 * ulp},
				{"var unbiased", ex.Var(1, false, true), variance, 1e-4},
				{"prod", p.Encrypt(pr, 1).Prod(1, false), prod, 1e-4},
			} {
				assertClose(t, fmt.Sprintf("%d parties %s", n, c.name), reveal(c.got), c.want, c.tol)
			}
			return nil
		})
	}
}
