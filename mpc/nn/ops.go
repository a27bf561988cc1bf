package nn

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/tensor/layout"
)

// This file holds the differentiable elementwise, reduction and shape
// operations. Each forward is one backend call; each backward is written with
// backend calls too, so it runs unchanged on encrypted values.

// sumTo reduces a broadcast gradient g back to shape (the inverse of
// broadcasting): leading extra dims are summed away, and dims that were 1
// are summed with keepdim.
func sumTo(g value, shape []int) value {
	gs := g.dims()
	if tensor.SameShape(gs, shape) {
		return g
	}
	b := g.backend()
	for i := 0; i < len(gs)-len(shape); i++ {
		g = b.sum(g, 0, false)
	}
	for i, d := range shape {
		if d == 1 && g.dims()[i] != 1 {
			g = b.sum(g, i, true)
		}
	}
	return g
}

// broadcastShape panics with a ShapeError when a and b do not broadcast.
func broadcastShape(op string, a, b value) []int {
	s, err := tensor.BroadcastShapes(a.dims(), b.dims())
	if err != nil {
		panic(&tensor.ShapeError{Op: op, A: a.dims(), B: b.dims(), Msg: "shapes do not broadcast"})
	}
	return s
}

// Add returns v + o, broadcasting as NumPy does.
func (v *Variable) Add(o *Variable) *Variable {
	return apply("Add", []*Variable{v, o}, func() (value, func(value) []value) {
		a, b := v.val, o.val
		broadcastShape("Add", a, b)
		return pick(a, b).add(a, b), func(g value) []value {
			return []value{sumTo(g, a.dims()), sumTo(g, b.dims())}
		}
	})
}

// Sub returns v - o, broadcasting.
func (v *Variable) Sub(o *Variable) *Variable {
	return apply("Sub", []*Variable{v, o}, func() (value, func(value) []value) {
		a, b := v.val, o.val
		broadcastShape("Sub", a, b)
		return pick(a, b).sub(a, b), func(g value) []value {
			var gb value
			if o.requiresGrad {
				gb = sumTo(g.backend().neg(g), b.dims())
			}
			return []value{sumTo(g, a.dims()), gb}
		}
	})
}

// Mul returns v * o elementwise, broadcasting.
func (v *Variable) Mul(o *Variable) *Variable {
	return apply("Mul", []*Variable{v, o}, func() (value, func(value) []value) {
		a, b := v.val, o.val
		broadcastShape("Mul", a, b)
		return pick(a, b).mul(a, b), func(g value) []value {
			var ga, gb value
			if v.requiresGrad {
				ga = sumTo(pick(g, b).mul(g, b), a.dims())
			}
			if o.requiresGrad {
				gb = sumTo(pick(g, a).mul(g, a), b.dims())
			}
			return []value{ga, gb}
		}
	})
}

// Div returns v / o elementwise, as v * o.Reciprocal() (on encrypted
// divisors an approximation; see the mpc package for its range).
func (v *Variable) Div(o *Variable) *Variable { return v.Mul(o.Reciprocal()) }

// Neg returns -v.
func (v *Variable) Neg() *Variable {
	return unary("Neg", v, func(b backend, a value) value { return b.neg(a) },
		func(b backend, g, _, _ value) value { return b.neg(g) })
}

// AddScalar returns v + s.
func (v *Variable) AddScalar(s float64) *Variable {
	return unary("AddScalar", v, func(b backend, a value) value { return b.shift(a, s) },
		func(_ backend, g, _, _ value) value { return g })
}

// MulScalar returns v * s.
func (v *Variable) MulScalar(s float64) *Variable {
	return unary("MulScalar", v, func(b backend, a value) value { return b.scale(a, s) },
		func(b backend, g, _, _ value) value { return b.scale(g, s) })
}

// DivScalar returns v / s.
func (v *Variable) DivScalar(s float64) *Variable {
	if s == 0 {
		return Errorf("DivScalar: division by zero")
	}
	return v.MulScalar(1 / s)
}

// Square returns v * v.
func (v *Variable) Square() *Variable {
	return unary("Square", v, func(b backend, a value) value { return b.mul(a, a) },
		func(_ backend, g, x, _ value) value { return pick(g, x).scale(pick(g, x).mul(g, x), 2) })
}

// unary builds a one-input operation from its forward and its backward,
// which receives the output gradient g, the input x and the output y.
func unary(op string, v *Variable, fwd func(b backend, a value) value, back func(b backend, g, x, y value) value) *Variable {
	return apply(op, []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		y := fwd(x.backend(), x)
		return y, func(g value) []value {
			return []value{back(pick(g, x, y), g, x, y)}
		}
	})
}

// Sum sums over dims (all when none are given), dropping them.
func (v *Variable) Sum(dims ...int) *Variable { return v.reduce("Sum", dims, false, false) }

// SumKeep is Sum keeping the summed dims with length 1.
func (v *Variable) SumKeep(dims ...int) *Variable { return v.reduce("Sum", dims, true, false) }

// Mean averages over dims (all when none are given), dropping them.
func (v *Variable) Mean(dims ...int) *Variable { return v.reduce("Mean", dims, false, true) }

// MeanKeep is Mean keeping the averaged dims with length 1.
func (v *Variable) MeanKeep(dims ...int) *Variable { return v.reduce("Mean", dims, true, true) }

func (v *Variable) reduce(op string, dims []int, keep, mean bool) *Variable {
	return apply(op, []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		in := x.dims()
		set, err := dimSet(in, dims)
		if err != nil {
			panic(err)
		}
		b := x.backend()
		y, count := x, 1
		for d := len(in) - 1; d >= 0; d-- { // from the back, so indices stay valid
			if set[d] {
				y = b.sum(y, d, keep)
				count *= in[d]
			}
		}
		if mean && count > 0 {
			y = b.scale(y, 1/float64(count))
		}
		kept := make([]int, len(in))
		for d := range in {
			kept[d] = in[d]
			if set[d] {
				kept[d] = 1
			}
		}
		return y, func(g value) []value {
			gb := g.backend()
			g = gb.expand(gb.reshape(g, kept), in)
			if mean && count > 0 {
				g = gb.scale(g, 1/float64(count))
			}
			return []value{g}
		}
	})
}

// dimSet normalizes dims against shape; none means all.
func dimSet(shape, dims []int) ([]bool, error) {
	set := make([]bool, len(shape))
	if len(dims) == 0 {
		for i := range set {
			set[i] = true
		}
		return set, nil
	}
	for _, d := range dims {
		n, err := tensor.NormDim(d, len(shape))
		if err != nil {
			return nil, err
		}
		if set[n] {
			return nil, fmt.Errorf("dim %d repeated in %v", d, dims)
		}
		set[n] = true
	}
	return set, nil
}

// Reshape returns v with a new shape of the same size; one dim may be -1.
func (v *Variable) Reshape(shape ...int) *Variable {
	return apply("Reshape", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		in := x.dims()
		out, err := inferShape(in, shape)
		if err != nil {
			panic(err)
		}
		return x.backend().reshape(x, out), func(g value) []value {
			return []value{g.backend().reshape(g, in)}
		}
	})
}

// inferShape resolves one -1 in shape against the size of in.
func inferShape(in, shape []int) ([]int, error) {
	out, err := layout.Reshape(shape, tensor.Numel(in))
	if err != nil {
		return nil, fmt.Errorf("reshape %v to %v: %v", in, shape, err)
	}
	return out, nil
}

// Flatten flattens dims from startDim on into one (torch.flatten(x, startDim)).
func (v *Variable) Flatten(startDim int) *Variable {
	if v.err != nil {
		return v
	}
	sh := v.val.dims()
	d, err := tensor.NormDim(startDim, max(len(sh), 1))
	if err != nil {
		return Errorf("Flatten: %v", err)
	}
	if len(sh) == 0 {
		return v.Reshape(1)
	}
	return v.Reshape(append(append([]int(nil), sh[:d]...), -1)...)
}

// Permute reorders dims: dim i of the result is dim perm[i] of v.
func (v *Variable) Permute(perm ...int) *Variable {
	return apply("Permute", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		if len(perm) != len(x.dims()) {
			panic(fmt.Errorf("permutation %v for %d dims", perm, len(x.dims())))
		}
		inv := make([]int, len(perm))
		seen := make([]bool, len(perm))
		for i, p := range perm {
			if p < 0 || p >= len(perm) || seen[p] {
				panic(fmt.Errorf("%v is not a permutation", perm))
			}
			seen[p] = true
			inv[p] = i
		}
		return x.backend().permute(x, perm), func(g value) []value {
			return []value{g.backend().permute(g, inv)}
		}
	})
}

// Transpose swaps dims d0 and d1.
func (v *Variable) Transpose(d0, d1 int) *Variable {
	if v.err != nil {
		return v
	}
	n := len(v.val.dims())
	a, err1 := tensor.NormDim(d0, n)
	b, err2 := tensor.NormDim(d1, n)
	if err1 != nil || err2 != nil {
		return Errorf("Transpose(%d, %d) of a %d-dim tensor", d0, d1, n)
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return v.Permute(perm...)
}

// T is the transpose of a 2-D Variable.
func (v *Variable) T() *Variable {
	if v.err == nil && len(v.val.dims()) != 2 {
		return Errorf("T: want 2 dims, have shape %v", v.val.dims())
	}
	return v.Transpose(0, 1)
}

// Pad surrounds v with fill: one [before, after] pair per dim.
func (v *Variable) Pad(widths [][2]int, fill float64) *Variable {
	return apply("Pad", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		in := x.dims()
		if len(widths) != len(in) {
			panic(fmt.Errorf("%d pad widths for %d dims", len(widths), len(in)))
		}
		return x.backend().pad(x, widths, fill), func(g value) []value {
			b := g.backend()
			for d, w := range widths {
				if w[0] != 0 || w[1] != 0 {
					g = b.slice(g, d, w[0], w[0]+in[d], 1)
				}
			}
			return []value{g}
		}
	})
}

// sliceRange resolves Python slice bounds against a dim of length n,
// returning the first index and the number of elements.
func sliceRange(n, start, stop, step int) (first, count int) {
	if step == 0 {
		panic(fmt.Errorf("slice step 0"))
	}
	clamp := func(i, lo, hi int) int {
		if i < 0 {
			i += n
		}
		return max(lo, min(i, hi))
	}
	if step > 0 {
		s, e := clamp(start, 0, n), clamp(stop, 0, n)
		if e <= s {
			return s, 0
		}
		return s, (e - s + step - 1) / step
	}
	s, e := clamp(start, -1, n-1), clamp(stop, -1, n-1)
	if s <= e {
		return s, 0
	}
	return s, (s - e - step - 1) / -step
}

// Slice keeps elements start, start+step, ... before stop along dim, with
// Python's rules (negative bounds count from the end; step may be negative).
func (v *Variable) Slice(dim, start, stop, step int) *Variable {
	return apply("Slice", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		in := x.dims()
		d, err := tensor.NormDim(dim, len(in))
		if err != nil {
			panic(err)
		}
		first, count := sliceRange(in[d], start, stop, step)
		return x.backend().slice(x, d, start, stop, step), func(g value) []value {
			return []value{unslice(g, in, d, first, count, step)}
		}
	})
}

// unslice scatters g, the gradient of a strided slice, back into zeros of
// shape in: the adjoint of slicing, built from reshape, pad and flip so that
// it needs no scatter on encrypted values.
func unslice(g value, in []int, d, first, count, step int) value {
	b := g.backend()
	if count == 0 {
		return b.pad(g, padAlong(len(in), d, 0, in[d]), 0)
	}
	if step < 0 { // g holds first, first+step, ...: reverse it to walk forward
		g = b.flip(g, d)
		first += (count - 1) * step
		step = -step
	}
	if step > 1 { // insert step-1 zeros after each element along d
		gs := g.dims()
		split := append(append(append([]int(nil), gs[:d+1]...), 1), gs[d+1:]...)
		g = b.reshape(g, split)
		g = b.pad(g, padAlong(len(split), d+1, 0, step-1), 0)
		merged := append([]int(nil), gs...)
		merged[d] *= step
		g = b.reshape(g, merged)
		g = b.slice(g, d, 0, (count-1)*step+1, 1)
	}
	span := (count-1)*step + 1
	return b.pad(g, padAlong(len(in), d, first, in[d]-first-span), 0)
}

// padAlong returns pad widths that pad only dim d.
func padAlong(n, d, before, after int) [][2]int {
	w := make([][2]int, n)
	w[d] = [2]int{before, after}
	return w
}

// Concat joins vs along dim; all other dims must match.
func Concat(dim int, vs ...*Variable) *Variable {
	if len(vs) == 0 {
		return Errorf("Concat: no operands")
	}
	return apply("Concat", vs, func() (value, func(value) []value) {
		vals := make([]value, len(vs))
		for i, u := range vs {
			vals[i] = u.val
		}
		n := len(vals[0].dims())
		d, err := tensor.NormDim(dim, n)
		if err != nil {
			panic(err)
		}
		sizes := make([]int, len(vals))
		for i, u := range vals {
			if len(u.dims()) != n {
				panic(&tensor.ShapeError{Op: "Concat", A: vals[0].dims(), B: u.dims(), Msg: "ranks differ"})
			}
			sizes[i] = u.dims()[d]
		}
		return pick(vals...).concat(d, vals), func(g value) []value {
			b := g.backend()
			gs := make([]value, len(vals))
			off := 0
			for i, s := range sizes {
				if vs[i].requiresGrad {
					gs[i] = b.slice(g, d, off, off+s, 1)
				}
				off += s
			}
			return gs
		}
	})
}

// BroadcastTo expands v to shape by NumPy's broadcasting rules.
func (v *Variable) BroadcastTo(shape ...int) *Variable {
	return apply("BroadcastTo", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		in := x.dims()
		return x.backend().expand(x, shape), func(g value) []value {
			return []value{sumTo(g, in)}
		}
	})
}

// MatMul returns the matrix product v @ o with NumPy's rules: 1-D operands
// are promoted to a row (left) or column (right) vector and the added dim
// dropped again; leading dims are batch dims and broadcast.
func (v *Variable) MatMul(o *Variable) *Variable {
	if v.err != nil || o == nil || o.err != nil {
		return apply("MatMul", []*Variable{v, o}, nil)
	}
	a, b := v, o
	na, nb := len(v.val.dims()), len(o.val.dims())
	if na == 0 || nb == 0 {
		return Errorf("MatMul: scalar operand (shapes %v and %v)", v.val.dims(), o.val.dims())
	}
	if na == 1 {
		a = v.Reshape(1, -1)
	}
	if nb == 1 {
		b = o.Reshape(-1, 1)
	}
	out := matmul2(a, b)
	switch {
	case na == 1 && nb == 1:
		return out.Reshape()
	case na == 1:
		sh := out.Shape()
		return out.Reshape(append(sh[:len(sh)-2:len(sh)-2], sh[len(sh)-1])...)
	case nb == 1:
		sh := out.Shape()
		return out.Reshape(sh[:len(sh)-1]...)
	}
	return out
}

// swapLast transposes the last two dims.
func swapLast(b backend, x value) value {
	n := len(x.dims())
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[n-2], perm[n-1] = n-1, n-2
	return b.permute(x, perm)
}

func matmul2(v, o *Variable) *Variable {
	return apply("MatMul", []*Variable{v, o}, func() (value, func(value) []value) {
		a, b := v.val, o.val
		return pick(a, b).matmul(a, b), func(g value) []value {
			var ga, gb value
			if v.requiresGrad {
				bt := swapLast(b.backend(), b)
				ga = sumTo(pick(g, bt).matmul(g, bt), a.dims())
			}
			if o.requiresGrad {
				at := swapLast(a.backend(), a)
				gb = sumTo(pick(at, g).matmul(at, g), b.dims())
			}
			return []value{ga, gb}
		}
	})
}
