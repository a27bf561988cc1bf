// Package tensor holds dense N-dimensional float64 tensors.
//
// A Tensor is always contiguous and row-major: element (i0, i1, ..., ik) of a
// tensor with shape (d0, d1, ..., dk) lives at offset
// ((i0*d1+i1)*d2+...)*dk+ik of Data. A tensor with no dimensions is a scalar
// and holds one element; a tensor with a zero-length dimension is empty.
//
// Operations follow NumPy: elementwise operations broadcast, dims may be given
// as negative numbers counting from the end, and reductions take a keepdim
// flag. As in gonum, operations panic when called with mismatched shapes or
// out-of-range arguments, because that is a programming error; the panic value
// is a *ShapeError (or an error naming the bad argument) whose message names
// both shapes. Functions that read outside data (New, ReadNPY, ReadCSV) return
// errors instead.
//
// Operations return new tensors and never modify their receivers, except for
// the few named as in-place (Set, Fill). Reshape, Flatten, FlattenFrom,
// Squeeze and Unsqueeze return tensors that share the receiver's data, as
// NumPy views do; every other operation (Transpose, Slice, Index, ...)
// returns a fresh contiguous copy, so a tensor never needs strides.
//
// Matrix products go through gonum's BLAS (MatMul, and Conv2d after an
// im2col rewrite); String prints like NumPy's str and HTML renders a table
// for notebooks; ReadNPY/WriteNPY and ReadCSV/WriteCSV move tensors in and
// out of NumPy's .npy format and CSV, checking every size they read.
package tensor

import (
	"fmt"
	"math"
)

// Tensor is a dense, row-major, N-dimensional array of float64.
// The zero value is not usable; build tensors with New, Zeros and friends.
type Tensor struct {
	shape []int
	data  []float64
}

// New returns a tensor of the given shape backed by data (not copied).
// It returns an error when len(data) is not the product of shape or a
// dimension is negative. New(nil) with no shape is an error; use Scalar.
func New(data []float64, shape ...int) (*Tensor, error) {
	n, err := checkedNumel(shape)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, &ShapeError{Op: "New", A: []int{len(data)}, B: shape,
			Msg: fmt.Sprintf("%d values do not fill shape %v (%d elements)", len(data), shape, n)}
	}
	return &Tensor{shape: append([]int(nil), shape...), data: data}, nil
}

// MustNew is New for data the caller controls; it panics on error.
func MustNew(data []float64, shape ...int) *Tensor {
	t, err := New(data, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// FromSlice returns a 1-D tensor holding a copy of v.
func FromSlice(v []float64) *Tensor {
	return &Tensor{shape: []int{len(v)}, data: append([]float64(nil), v...)}
}

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(v float64) *Tensor {
	return &Tensor{shape: []int{}, data: []float64{v}}
}

// Zeros returns a tensor of the given shape filled with 0.
func Zeros(shape ...int) *Tensor {
	n := mustNumel("Zeros", shape)
	return &Tensor{shape: append([]int{}, shape...), data: make([]float64, n)}
}

// Ones returns a tensor of the given shape filled with 1.
func Ones(shape ...int) *Tensor { return Full(1, shape...) }

// Full returns a tensor of the given shape filled with v.
func Full(v float64, shape ...int) *Tensor {
	t := Zeros(shape...)
	t.Fill(v)
	return t
}

// ZerosLike returns a zero tensor with t's shape.
func ZerosLike(t *Tensor) *Tensor { return Zeros(t.shape...) }

// Shape returns a copy of t's dimensions.
func (t *Tensor) Shape() []int { return append([]int{}, t.shape...) }

// Dims returns the number of dimensions (0 for a scalar).
func (t *Tensor) Dims() int { return len(t.shape) }

// Dim returns the size of dimension d; negative d counts from the end.
func (t *Tensor) Dim(d int) int { return t.shape[t.normDim("Dim", d)] }

// Size returns the number of elements.
func (t *Tensor) Size() int { return len(t.data) }

// Data returns the row-major backing slice. Writes through it change t (and
// any tensor sharing its data).
func (t *Tensor) Data() []float64 { return t.data }

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: append([]int{}, t.shape...), data: append([]float64(nil), t.data...)}
}

// Fill sets every element of t to v, in place, and returns t.
func (t *Tensor) Fill(v float64) *Tensor {
	for i := range t.data {
		t.data[i] = v
	}
	return t
}

// offset returns the flat index of idx, panicking on a bad index.
func (t *Tensor) offset(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Errorf("tensor.%s: %d indices for a tensor of shape %v", op, len(idx), t.shape))
	}
	off := 0
	for i, x := range idx {
		d := t.shape[i]
		if x < 0 {
			x += d
		}
		if x < 0 || x >= d {
			panic(fmt.Errorf("tensor.%s: index %d out of range for dim %d of shape %v", op, idx[i], i, t.shape))
		}
		off = off*d + x
	}
	return off
}

// At returns the element at idx; negative indices count from the end.
func (t *Tensor) At(idx ...int) float64 { return t.data[t.offset("At", idx)] }

// Set stores v at idx, in place.
func (t *Tensor) Set(v float64, idx ...int) { t.data[t.offset("Set", idx)] = v }

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() float64 {
	if len(t.data) != 1 {
		panic(fmt.Errorf("tensor.Item: tensor of shape %v has %d elements, want 1", t.shape, len(t.data)))
	}
	return t.data[0]
}

// Equal reports whether a and b have the same shape and bit-identical
// elements, except that NaN equals NaN.
func Equal(a, b *Tensor) bool {
	if !SameShape(a.shape, b.shape) {
		return false
	}
	for i, x := range a.data {
		y := b.data[i]
		if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
			return false
		}
	}
	return true
}

// AllClose reports whether a and b have the same shape and every pair of
// elements satisfies |a-b| <= atol + rtol*|b|, as numpy.allclose does.
func AllClose(a, b *Tensor, rtol, atol float64) bool {
	if !SameShape(a.shape, b.shape) {
		return false
	}
	for i, x := range a.data {
		y := b.data[i]
		if math.IsNaN(x) || math.IsNaN(y) {
			if math.IsNaN(x) != math.IsNaN(y) {
				return false
			}
			continue
		}
		if math.Abs(x-y) > atol+rtol*math.Abs(y) {
			return false
		}
	}
	return true
}

// MaxAbsDiff returns max |a-b| over all elements; the shapes must match.
func MaxAbsDiff(a, b *Tensor) float64 {
	mustSameShape("MaxAbsDiff", a, b)
	m := 0.0
	for i, x := range a.data {
		if d := math.Abs(x - b.data[i]); d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}
