package nn

import (
	"math"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/tensor/layout"
)

// Indexing with public indices, maxima and dims of size 1. Gathers are
// local on encrypted values; their gradients scatter back (the adjoint,
// also local).

// takeFlat returns the elements of v at the flat indices idx, in shape.
func (v *Variable) takeFlat(op string, idx []int, shape []int) *Variable {
	return apply(op, []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		in := x.dims()
		return x.backend().take(x, idx, shape), func(g value) []value {
			return []value{g.backend().put(g, idx, in)}
		}
	})
}

// Gather returns the elements of v along dim at the public indices index,
// as torch.gather: index has v's number of dims (no larger outside dim),
// and out[i][j][k] = v[index[i][j][k]][j][k] for dim 0.
func (v *Variable) Gather(dim int, index *tensor.Tensor) *Variable {
	if v.err != nil {
		return v
	}
	if index == nil {
		return Errorf("Gather: nil index")
	}
	shape := v.val.dims()
	d, err := tensor.NormDim(dim, len(shape))
	if err != nil {
		return Errorf("Gather: %v", err)
	}
	is := index.Shape()
	idx, err := layout.GatherOffsets(shape, d, is, index.Data())
	if err != nil {
		return Errorf("Gather: %v", err)
	}
	return v.takeFlat("Gather", idx, is)
}

// IndexSelect returns the slices of v along dim at the public indices
// index (negative ones count from the end), with dim replaced by index's
// shape: torch.index_select for a 1-D index, ONNX's Gather for any.
func (v *Variable) IndexSelect(dim int, index *tensor.Tensor) *Variable {
	if v.err != nil {
		return v
	}
	if index == nil {
		return Errorf("IndexSelect: nil index")
	}
	shape := v.val.dims()
	d, err := tensor.NormDim(dim, len(shape))
	if err != nil {
		return Errorf("IndexSelect: %v", err)
	}
	outer, n, inner := 1, shape[d], 1
	for _, s := range shape[:d] {
		outer *= s
	}
	for _, s := range shape[d+1:] {
		inner *= s
	}
	sel := make([]int, index.Size())
	for i, f := range index.Data() {
		if f != math.Trunc(f) || f < float64(-n) || f >= float64(n) {
			return Errorf("IndexSelect: index %v out of range for dim %d of shape %v", f, d, shape)
		}
		sel[i] = int(f)
		if sel[i] < 0 {
			sel[i] += n
		}
	}
	idx := make([]int, 0, outer*len(sel)*inner)
	for o := 0; o < outer; o++ {
		for _, j := range sel {
			for k := 0; k < inner; k++ {
				idx = append(idx, (o*n+j)*inner+k)
			}
		}
	}
	out := append(append(append([]int(nil), shape[:d]...), index.Shape()...), shape[d+1:]...)
	return v.takeFlat("IndexSelect", idx, out)
}

// Max returns the maximum along dim. Its gradient goes to the first
// maximum (the one-hot argmax); without gradients, encrypted values use
// the mpc package's max directly.
func (v *Variable) Max(dim int, keepdim bool) *Variable {
	return apply("Max", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		d := normDim(dim, x)
		b := x.backend()
		if !v.requiresGrad {
			return b.max(x, d, keepdim), nil
		}
		oh := b.argmaxOneHot(x, d)
		y := pick(x, oh).sum(pick(x, oh).mul(x, oh), d, keepdim)
		kept := append([]int(nil), x.dims()...)
		kept[d] = 1
		return y, func(g value) []value {
			gb := g.backend()
			return []value{pick(g, oh).mul(gb.expand(gb.reshape(g, kept), x.dims()), oh)}
		}
	})
}

// Squeeze removes the given dims of size 1 (every dim of size 1 when none
// are given), as torch.squeeze.
func (v *Variable) Squeeze(dims ...int) *Variable {
	if v.err != nil {
		return v
	}
	sh := v.val.dims()
	drop := make([]bool, len(sh))
	for i, s := range sh {
		drop[i] = len(dims) == 0 && s == 1
	}
	for _, d := range dims {
		nd, err := tensor.NormDim(d, len(sh))
		if err != nil {
			return Errorf("Squeeze: %v", err)
		}
		if sh[nd] != 1 {
			return Errorf("Squeeze: dim %d of shape %v is not 1", d, sh)
		}
		drop[nd] = true
	}
	out := []int{}
	for i, s := range sh {
		if !drop[i] {
			out = append(out, s)
		}
	}
	return v.Reshape(out...)
}

// Unsqueeze inserts a dim of size 1 at dim (which may equal the number of
// dims; negative counts from the end of the result), as torch.unsqueeze.
func (v *Variable) Unsqueeze(dim int) *Variable {
	if v.err != nil {
		return v
	}
	sh := v.val.dims()
	d, err := tensor.NormDim(dim, len(sh)+1)
	if err != nil {
		return Errorf("Unsqueeze: %v", err)
	}
	out := append(append(append([]int(nil), sh[:d]...), 1), sh[d:]...)
	return v.Reshape(out...)
}
