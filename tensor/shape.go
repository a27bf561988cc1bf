package tensor

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor/layout"
)

// ShapeError reports an operation applied to tensors whose shapes do not fit.
// Operations panic with it; its message names the operation and both shapes.
type ShapeError struct {
	Op   string // the operation, e.g. "Add" or "MatMul"
	A, B []int  // the offending shapes (B may be nil for one-tensor checks)
	Msg  string // optional detail
}

// Error names the operation and the shapes involved.
func (e *ShapeError) Error() string {
	s := fmt.Sprintf("tensor.%s: shapes %v and %v", e.Op, e.A, e.B)
	if e.B == nil {
		s = fmt.Sprintf("tensor.%s: shape %v", e.Op, e.A)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	} else {
		s += " do not match"
	}
	return s
}

// Numel returns the number of elements of a tensor with the given shape.
func Numel(shape []int) int { return layout.Numel(shape) }

// checkedNumel is Numel with negative dims and overflow reported.
func checkedNumel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, &ShapeError{Op: "New", A: shape, Msg: "negative dimension"}
		}
		if d != 0 && n > math.MaxInt32*int(math.MaxInt32)/d {
			return 0, &ShapeError{Op: "New", A: shape, Msg: "too many elements"}
		}
		n *= d
	}
	return n, nil
}

func mustNumel(op string, shape []int) int {
	n, err := checkedNumel(shape)
	if err != nil {
		err.(*ShapeError).Op = op
		panic(err)
	}
	return n
}

// Strides returns the row-major strides (in elements) of shape.
func Strides(shape []int) []int { return layout.Strides(shape) }

// SameShape reports whether a and b are the same shape.
func SameShape(a, b []int) bool { return layout.Same(a, b) }

// BroadcastShapes returns the NumPy broadcast of shapes a and b: aligned
// from the right, each pair of dims must be equal or contain a 1.
func BroadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 1; i <= n; i++ {
		da, db := 1, 1
		if i <= len(a) {
			da = a[len(a)-i]
		}
		if i <= len(b) {
			db = b[len(b)-i]
		}
		switch {
		case da == db, db == 1:
			out[n-i] = da
		case da == 1:
			out[n-i] = db
		default:
			return nil, &ShapeError{Op: "Broadcast", A: a, B: b,
				Msg: fmt.Sprintf("dim %d: %d vs %d cannot broadcast", -i, da, db)}
		}
	}
	return out, nil
}

// NormDim turns a possibly negative dim into an index in [0, ndim), or
// returns an error naming the dim and the rank.
func NormDim(dim, ndim int) (int, error) {
	d := dim
	if d < 0 {
		d += ndim
	}
	if d < 0 || d >= ndim {
		return 0, fmt.Errorf("dim %d out of range for a %d-dimensional tensor", dim, ndim)
	}
	return d, nil
}

func (t *Tensor) normDim(op string, dim int) int {
	d, err := NormDim(dim, len(t.shape))
	if err != nil {
		panic(fmt.Errorf("tensor.%s: shape %v: %w", op, t.shape, err))
	}
	return d
}

func mustSameShape(op string, a, b *Tensor) {
	if !SameShape(a.shape, b.shape) {
		panic(&ShapeError{Op: op, A: a.Shape(), B: b.Shape()})
	}
}
