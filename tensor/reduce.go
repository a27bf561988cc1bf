package tensor

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor/layout"
)

// SumAll returns the sum of all elements (0 for an empty tensor).
func (t *Tensor) SumAll() float64 { return sum(t.data) }

// sum adds x with four independent accumulators, which is faster than one
// and loses less precision on long runs.
func sum(x []float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// MeanAll returns the mean of all elements (NaN for an empty tensor, as
// NumPy, which also warns).
func (t *Tensor) MeanAll() float64 { return sum(t.data) / float64(len(t.data)) }

// MaxAll returns the largest element; NaN if any element is NaN. It panics
// on an empty tensor, which has no maximum.
func (t *Tensor) MaxAll() float64 { return t.data[t.argAll("MaxAll", true)] }

// MinAll returns the smallest element; NaN if any element is NaN. It panics
// on an empty tensor.
func (t *Tensor) MinAll() float64 { return t.data[t.argAll("MinAll", false)] }

// ArgmaxAll returns the flat index of the largest element (the first one on
// ties, the first NaN if any). It panics on an empty tensor.
func (t *Tensor) ArgmaxAll() int { return t.argAll("ArgmaxAll", true) }

// ArgminAll returns the flat index of the smallest element (the first one
// on ties, the first NaN if any). It panics on an empty tensor.
func (t *Tensor) ArgminAll() int { return t.argAll("ArgminAll", false) }

func (t *Tensor) argAll(op string, isMax bool) int {
	if len(t.data) == 0 {
		panic(&ShapeError{Op: op, A: t.Shape(), Msg: "empty tensor has no extreme value"})
	}
	return argExtreme(t.data, 1, isMax)
}

// argExtreme returns k in [0, n) maximizing (or minimizing) x[k*stride]
// over the n = ceil(len/stride) elements; the first NaN wins, then the first
// of equal values.
func argExtreme(x []float64, stride int, isMax bool) int {
	best, bi := x[0], 0
	if best != best {
		return 0
	}
	for k, i := 1, stride; i < len(x); k, i = k+1, i+stride {
		v := x[i]
		switch {
		case v != v:
			return k
		case isMax && v > best, !isMax && v < best:
			best, bi = v, k
		}
	}
	return bi
}

// reduceShape returns the shape of t reduced along d.
func (t *Tensor) reduceShape(d int, keepdim bool) []int {
	shape := t.Shape()
	if keepdim {
		shape[d] = 1
		return shape
	}
	return append(shape[:d], shape[d+1:]...)
}

// Sum returns the sum along dim (0 where dim is empty); keepdim keeps dim
// with length 1 so the result broadcasts against t.
func (t *Tensor) Sum(dim int, keepdim bool) *Tensor {
	d := t.normDim("Sum", dim)
	out := newTensor("Sum", t.reduceShape(d, keepdim))
	outer, n, inner := layout.Around(t.shape, d)
	for o := 0; o < outer; o++ {
		if inner == 1 {
			out.data[o] = sum(t.data[o*n : o*n+n])
			continue
		}
		dst := out.data[o*inner : o*inner+inner]
		for k := 0; k < n; k++ {
			src := t.data[(o*n+k)*inner : (o*n+k+1)*inner]
			for j, v := range src {
				dst[j] += v
			}
		}
	}
	return out
}

// Mean returns the mean along dim (NaN where dim is empty).
func (t *Tensor) Mean(dim int, keepdim bool) *Tensor {
	d := t.normDim("Mean", dim)
	s := t.Sum(d, keepdim)
	n := float64(t.shape[d])
	for i := range s.data {
		s.data[i] /= n
	}
	return s
}

// Var returns the population variance (NumPy's ddof=0) along dim,
// computed in two passes for accuracy; NaN where dim is empty.
func (t *Tensor) Var(dim int, keepdim bool) *Tensor {
	d := t.normDim("Var", dim)
	mean := t.Mean(d, true)
	outer, n, inner := layout.Around(t.shape, d)
	out := newTensor("Var", t.reduceShape(d, keepdim))
	for o := 0; o < outer; o++ {
		dst := out.data[o*inner : o*inner+inner]
		m := mean.data[o*inner : o*inner+inner]
		for k := 0; k < n; k++ {
			src := t.data[(o*n+k)*inner : (o*n+k+1)*inner]
			for j, v := range src {
				dv := v - m[j]
				dst[j] += dv * dv
			}
		}
		for j := range dst {
			dst[j] /= float64(n)
		}
	}
	return out
}

// Max returns the largest value along dim (NaN if the slice holds one);
// it panics when dim is empty, as numpy.max does.
func (t *Tensor) Max(dim int, keepdim bool) *Tensor {
	return t.extreme("Max", dim, keepdim, true, false)
}

// Min returns the smallest value along dim; it panics when dim is empty.
func (t *Tensor) Min(dim int, keepdim bool) *Tensor {
	return t.extreme("Min", dim, keepdim, false, false)
}

// Argmax returns the index (as a float64 value) of the largest value along
// dim, the first on ties; it panics when dim is empty.
func (t *Tensor) Argmax(dim int, keepdim bool) *Tensor {
	return t.extreme("Argmax", dim, keepdim, true, true)
}

// Argmin returns the index (as a float64 value) of the smallest value along
// dim, the first on ties; it panics when dim is empty.
func (t *Tensor) Argmin(dim int, keepdim bool) *Tensor {
	return t.extreme("Argmin", dim, keepdim, false, true)
}

func (t *Tensor) extreme(op string, dim int, keepdim, isMax, arg bool) *Tensor {
	d := t.normDim(op, dim)
	if t.shape[d] == 0 {
		panic(&ShapeError{Op: op, A: t.Shape(), Msg: fmt.Sprintf("dim %d is empty, so it has no extreme value", dim)})
	}
	out := newTensor(op, t.reduceShape(d, keepdim))
	outer, n, inner := layout.Around(t.shape, d)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			base := o*n*inner + j
			k := argExtreme(t.data[base:base+(n-1)*inner+1], inner, isMax)
			if arg {
				out.data[o*inner+j] = float64(k)
			} else {
				out.data[o*inner+j] = t.data[base+k*inner]
			}
		}
	}
	return out
}
