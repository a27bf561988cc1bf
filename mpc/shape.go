package mpc

import (
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/tensor/layout"
)

// Shape manipulation of ring vectors: the index arithmetic is package
// tensor/layout's, shared with package tensor. They are local on shares
// (every party moves its share the same way), so none communicates.

func numel(shape []int) int { return tensor.Numel(shape) }

func cloneShape(s []int) []int { return append([]int{}, s...) }

// expandTo broadcasts data of shape from to shape to (NumPy rules; to must
// be the broadcast of from with something).
func expandTo(data []uint64, from, to []int) []uint64 { return layout.Expand(data, from, to) }

// sliceDim returns elements start, start+step, ... < stop of dim d.
func sliceDim(data []uint64, shape []int, d, start, stop, step int) ([]uint64, []int) {
	var idx []int
	for i := start; i < stop && i < shape[d]; i += step {
		idx = append(idx, i)
	}
	return layout.Select(data, shape, d, idx)
}

// concatDim joins parts along dim d; shapes must agree elsewhere.
func concatDim(parts [][]uint64, shapes [][]int, d int) ([]uint64, []int, error) {
	if err := layout.ConcatShape(shapes, d); err != nil {
		return nil, nil, err
	}
	data, ns := layout.Concat(parts, shapes, d)
	return data, ns, nil
}

// reduceDim sums along dim d.
func reduceDim(data []uint64, shape []int, d int) ([]uint64, []int) {
	outer, n, inner := layout.Around(shape, d)
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
