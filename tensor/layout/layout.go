// Package layout is the index arithmetic of dense row-major arrays, for
// any element type: strides, the outer/n/inner view around a dim,
// walking rows under broadcasting strides, and the data movements built
// on them (gather, permute, broadcast, select along a dim, concatenate,
// pad), reshaping with an inferred dim, and the offsets torch.gather
// reads.
//
// It is the one implementation of these for package tensor (float64
// values), package mpc (uint64 shares, which every party moves the same
// way) and mpc/nn: each keeps its own checks and error types and calls this for
// the arithmetic. Functions here assume valid arguments (dims in range,
// shapes that fit), which their callers check; they panic only on a
// programmer error.
package layout

import (
	"fmt"
	"math"
)

// Numel returns the number of elements of an array of the given shape.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Strides returns the row-major strides (in elements) of shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// Around splits shape at dim d into the product of the dims before it,
// its length, and the product of the dims after it, so that element
// (o, i, j) lives at (o*n+i)*inner+j. Most dim-wise operations are loops
// over this view.
func Around(shape []int, d int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i := 0; i < d; i++ {
		outer *= shape[i]
	}
	for i := d + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	return outer, shape[d], inner
}

// Walk calls fn once per row (the last dim) of shape, in row-major order,
// with the offset at which that row starts in each operand; strides[k][d]
// is operand k's step along dim d (0 for a broadcast dim). offs is reused
// between calls. A 0-d shape has one row.
func Walk(shape []int, strides [][]int, fn func(offs []int)) {
	offs := make([]int, len(strides))
	nd := len(shape)
	if nd == 0 {
		fn(offs)
		return
	}
	if Numel(shape) == 0 {
		return
	}
	idx := make([]int, nd-1)
	for {
		fn(offs)
		d := nd - 2
		for ; d >= 0; d-- {
			idx[d]++
			for k := range offs {
				offs[k] += strides[k][d]
			}
			if idx[d] < shape[d] {
				break
			}
			for k := range offs {
				offs[k] -= strides[k][d] * shape[d]
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// BroadcastStrides returns the strides with which an operand of shape src
// is read when broadcast to shape out (len(src) <= len(out)): 0 along dims
// that src lacks or holds as 1.
func BroadcastStrides(src, out []int) []int {
	st := make([]int, len(out))
	off := len(out) - len(src)
	acc := 1
	for i := len(src) - 1; i >= 0; i-- {
		if src[i] != 1 || out[off+i] == 1 {
			st[off+i] = acc
		}
		acc *= src[i]
	}
	return st
}

// Gather copies the operand (data, strides) laid over shape into a new
// contiguous slice, row by row.
func Gather[T any](data []T, shape, strides []int) []T {
	n := Numel(shape)
	out := make([]T, n)
	if n == 0 {
		return out
	}
	if len(shape) == 0 {
		out[0] = data[0]
		return out
	}
	L := shape[len(shape)-1]
	s := strides[len(strides)-1]
	o := 0
	Walk(shape, [][]int{strides}, func(offs []int) {
		src := offs[0]
		row := out[o : o+L]
		switch s {
		case 1:
			copy(row, data[src:src+L])
		case 0:
			v := data[src]
			for i := range row {
				row[i] = v
			}
		default:
			for i := range row {
				row[i] = data[src+i*s]
			}
		}
		o += L
	})
	return out
}

// Expand returns data of shape from broadcast to shape to (NumPy rules;
// to must be a broadcast of from), as a new slice; data itself when the
// shapes are equal.
func Expand[T any](data []T, from, to []int) []T {
	if Same(from, to) {
		return data
	}
	return Gather(data, to, BroadcastStrides(from, to))
}

// Permute returns data of shape with its dims reordered (result dim i is
// dim perm[i]; perm is a valid permutation), and the new shape.
func Permute[T any](data []T, shape, perm []int) ([]T, []int) {
	st := Strides(shape)
	ns := make([]int, len(perm))
	src := make([]int, len(perm))
	for i, d := range perm {
		ns[i], src[i] = shape[d], st[d]
	}
	return Gather(data, ns, src), ns
}

// Select gathers the indices idx (valid, possibly repeated) along dim d of
// data of shape, and returns the result and its shape.
func Select[T any](data []T, shape []int, d int, idx []int) ([]T, []int) {
	ns := append([]int(nil), shape...)
	ns[d] = len(idx)
	outer, n, inner := Around(shape, d)
	m := len(idx)
	out := make([]T, outer*m*inner)
	for o := 0; o < outer; o++ {
		for k, i := range idx {
			copy(out[(o*m+k)*inner:(o*m+k+1)*inner], data[(o*n+i)*inner:(o*n+i+1)*inner])
		}
	}
	return out, ns
}

// Concat joins parts along dim d; shapes[k] is part k's shape, and the
// shapes must agree outside d (ConcatShape checks them).
func Concat[T any](parts [][]T, shapes [][]int, d int) ([]T, []int) {
	ns := append([]int(nil), shapes[0]...)
	ns[d] = 0
	for _, s := range shapes {
		ns[d] += s[d]
	}
	outer, m, inner := Around(ns, d)
	out := make([]T, Numel(ns))
	at := 0
	for k, part := range parts {
		w := shapes[k][d] * inner
		for o := 0; o < outer; o++ {
			copy(out[o*m*inner+at:o*m*inner+at+w], part[o*w:(o+1)*w])
		}
		at += w
	}
	return out, ns
}

// ConcatShape checks that shapes agree outside dim d (d in range for the
// first), as Concat needs.
func ConcatShape(shapes [][]int, d int) error {
	ref := shapes[0]
	for k, s := range shapes {
		if len(s) != len(ref) {
			return fmt.Errorf("part %d has %d dims, part 0 has %d", k, len(s), len(ref))
		}
		for i := range s {
			if i != d && s[i] != ref[i] {
				return fmt.Errorf("part %d shape %v does not match part 0 shape %v outside dim %d", k, s, ref, d)
			}
		}
	}
	return nil
}

// Pad surrounds data of shape with v: widths holds one {before, after}
// pair of non-negative counts per dim. It returns the result and its
// shape.
func Pad[T comparable](data []T, shape []int, widths [][2]int, v T) ([]T, []int) {
	ns := append([]int(nil), shape...)
	for i, w := range widths {
		ns[i] += w[0] + w[1]
	}
	out := make([]T, Numel(ns))
	var zero T
	if v != zero {
		for i := range out {
			out[i] = v
		}
	}
	if len(data) == 0 {
		return out, ns
	}
	if len(shape) == 0 {
		out[0] = data[0]
		return out, ns
	}
	ost := Strides(ns)
	base := 0
	for i, w := range widths {
		base += w[0] * ost[i]
	}
	L := shape[len(shape)-1]
	i := 0
	Walk(shape, [][]int{ost}, func(offs []int) {
		copy(out[base+offs[0]:base+offs[0]+L], data[i:i+L])
		i += L
	})
	return out, ns
}

// Reshape returns shape with its one -1 dim (if any) inferred so that it
// holds n elements, or an error when no shape fits.
func Reshape(shape []int, n int) ([]int, error) {
	out := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range out {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("only one dim may be -1 and none may be negative")
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("cannot infer the -1 dim for %d elements", n)
		}
		out[infer] = n / known
	} else if known != n {
		return nil, fmt.Errorf("%d elements cannot take shape %v", n, out)
	}
	return out, nil
}

// Same reports whether a and b are the same shape.
func Same(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// GatherOffsets returns, for every position of an index array of shape
// is (integers, as many dims as shape, no larger than shape outside dim
// d), the flat offset in an array of shape that torch.gather along d reads
// there: the position's own multi-index with dim d replaced by the index
// value. It refuses an index shape that does not fit and an index value
// that is not an integer in range.
func GatherOffsets(shape []int, d int, is []int, index []float64) ([]int, error) {
	if len(is) != len(shape) {
		return nil, fmt.Errorf("index shape %v has %d dims, the tensor %v has %d", is, len(is), shape, len(shape))
	}
	for k := range is {
		if k != d && is[k] > shape[k] {
			return nil, fmt.Errorf("index shape %v exceeds tensor shape %v in dim %d", is, shape, k)
		}
	}
	st := Strides(shape)
	offs := make([]int, len(index))
	pos := make([]int, len(is))
	for i, v := range index {
		if v != math.Trunc(v) || v < 0 || int(v) >= shape[d] {
			return nil, fmt.Errorf("index %v out of range for dim %d of shape %v", v, d, shape)
		}
		off := 0
		for k, p := range pos {
			if k == d {
				p = int(v)
			}
			off += p * st[k]
		}
		offs[i] = off
		for k := len(pos) - 1; k >= 0; k-- {
			if pos[k]++; pos[k] < is[k] {
				break
			}
			pos[k] = 0
		}
	}
	return offs, nil
}
