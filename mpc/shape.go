package mpc

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor"
)

// Shape manipulation of ring vectors, mirroring the tensor package. They
// are local on shares (every party moves its share the same way), so none
// communicates.

func numel(shape []int) int { return tensor.Numel(shape) }

func cloneShape(s []int) []int { return append([]int{}, s...) }

// strides returns row-major strides.
func strides(shape []int) []int { return tensor.Strides(shape) }

// expandTo broadcasts data of shape from to shape to (NumPy rules; to must
// be the broadcast of from with something).
func expandTo(data []uint64, from, to []int) []uint64 {
	if tensor.SameShape(from, to) {
		return data
	}
	n := numel(to)
	out := make([]uint64, n)
	if n == 0 {
		return out
	}
	// Source strides aligned right, 0 where broadcast.
	st := make([]int, len(to))
	fs := strides(from)
	off := len(to) - len(from)
	for i := range from {
		if from[i] != 1 {
			st[off+i] = fs[i]
		}
	}
	idx := make([]int, len(to))
	last := len(to) - 1
	inner := to[last]
	sInner := st[last]
	for pos := 0; pos < n; pos += inner {
		src := 0
		for d := 0; d < last; d++ {
			src += idx[d] * st[d]
		}
		row := out[pos : pos+inner]
		if sInner == 0 {
			v := data[src]
			for j := range row {
				row[j] = v
			}
		} else {
			copy(row, data[src:src+inner])
		}
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < to[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// permute returns data of shape with dims reordered by perm, and the new
// shape.
func permute(data []uint64, shape, perm []int) ([]uint64, []int) {
	nd := len(shape)
	ns := make([]int, nd)
	st := strides(shape)
	pst := make([]int, nd)
	for i, p := range perm {
		ns[i] = shape[p]
		pst[i] = st[p]
	}
	n := len(data)
	out := make([]uint64, n)
	if n == 0 {
		return out, ns
	}
	if nd == 0 {
		copy(out, data)
		return out, ns
	}
	idx := make([]int, nd)
	last := nd - 1
	for pos := 0; pos < n; {
		src := 0
		for d := 0; d < last; d++ {
			src += idx[d] * pst[d]
		}
		s := pst[last]
		for j := 0; j < ns[last]; j++ {
			out[pos] = data[src+j*s]
			pos++
		}
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < ns[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, ns
}

// splitAround returns (outer, n, inner) sizes around dim d.
func splitAround(shape []int, d int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i := 0; i < d; i++ {
		outer *= shape[i]
	}
	for i := d + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	return outer, shape[d], inner
}

// sliceDim returns elements start, start+step, ... < stop of dim d.
func sliceDim(data []uint64, shape []int, d, start, stop, step int) ([]uint64, []int) {
	outer, n, inner := splitAround(shape, d)
	var idx []int
	for i := start; i < stop && i < n; i += step {
		idx = append(idx, i)
	}
	return selectDim(data, shape, d, idx, outer, n, inner)
}

// selectDim gathers indices idx along dim d.
func selectDim(data []uint64, shape []int, d int, idx []int, outer, n, inner int) ([]uint64, []int) {
	ns := cloneShape(shape)
	ns[d] = len(idx)
	out := make([]uint64, outer*len(idx)*inner)
	for o := 0; o < outer; o++ {
		for j, i := range idx {
			copy(out[(o*len(idx)+j)*inner:(o*len(idx)+j+1)*inner], data[(o*n+i)*inner:(o*n+i+1)*inner])
		}
	}
	return out, ns
}

// concatDim joins parts along dim d; shapes must agree elsewhere.
func concatDim(parts [][]uint64, shapes [][]int, d int) ([]uint64, []int, error) {
	ref := shapes[0]
	total := 0
	for k, s := range shapes {
		if len(s) != len(ref) {
			return nil, nil, fmt.Errorf("part %d has %d dims, part 0 has %d", k, len(s), len(ref))
		}
		for i := range s {
			if i != d && s[i] != ref[i] {
				return nil, nil, fmt.Errorf("part %d shape %v does not match part 0 shape %v outside dim %d", k, s, ref, d)
			}
		}
		total += s[d]
	}
	ns := cloneShape(ref)
	ns[d] = total
	outer, _, inner := splitAround(ns, d)
	out := make([]uint64, numel(ns))
	pos := 0
	for o := 0; o < outer; o++ {
		for k, part := range parts {
			m := shapes[k][d] * inner
			copy(out[pos:pos+m], part[o*m:(o+1)*m])
			pos += m
		}
	}
	return out, ns, nil
}

// padData pads each dim by widths[i] = {before, after} with value v.
func padData(data []uint64, shape []int, widths [][2]int, v uint64) ([]uint64, []int) {
	ns := cloneShape(shape)
	for i, w := range widths {
		ns[i] += w[0] + w[1]
	}
	out := make([]uint64, numel(ns))
	if v != 0 {
		for i := range out {
			out[i] = v
		}
	}
	if len(data) == 0 {
		return out, ns
	}
	nd := len(shape)
	if nd == 0 {
		copy(out, data)
		return out, ns
	}
	ost := strides(ns)
	idx := make([]int, nd)
	last := nd - 1
	inner := shape[last]
	for pos := 0; pos < len(data); pos += inner {
		dst := 0
		for d := 0; d < nd; d++ {
			dst += (idx[d] + widths[d][0]) * ost[d]
		}
		copy(out[dst:dst+inner], data[pos:pos+inner])
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, ns
}

// reduceDim sums along dim d.
func reduceDim(data []uint64, shape []int, d int) ([]uint64, []int) {
	outer, n, inner := splitAround(shape, d)
	out := make([]uint64, outer*inner)
	for o := 0; o < outer; o++ {
		dst := out[o*inner : (o+1)*inner]
		for i := 0; i < n; i++ {
			src := data[(o*n+i)*inner : (o*n+i+1)*inner]
			for j := range dst {
				dst[j] += src[j]
			}
		}
	}
	ns := append(cloneShape(shape[:d]), shape[d+1:]...)
	return out, ns
}

// resolveReshape fills one -1 and checks the element count.
func resolveReshape(shape []int, n int) ([]int, error) {
	ns := cloneShape(shape)
	neg := -1
	prod := 1
	for i, s := range ns {
		switch {
		case s == -1 && neg < 0:
			neg = i
		case s < 0:
			return nil, fmt.Errorf("bad dimension %d in shape %v", s, shape)
		default:
			prod *= s
		}
	}
	if neg >= 0 {
		if prod == 0 || n%prod != 0 {
			return nil, fmt.Errorf("cannot reshape %d elements into %v", n, shape)
		}
		ns[neg] = n / prod
		prod *= ns[neg]
	}
	if prod != n {
		return nil, fmt.Errorf("cannot reshape %d elements into %v", n, shape)
	}
	return ns, nil
}
