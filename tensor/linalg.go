package tensor

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor/layout"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// gemm sets c (m×n) = a (m×k) · b (k×n), all row-major and contiguous,
// through gonum's BLAS. Zero-sized products are handled here because BLAS
// rejects leading dimensions of 0.
func gemm(m, n, k int, a, b, c []float64) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(c[:m*n])
		return
	}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas64.General{Rows: m, Cols: k, Stride: k, Data: a[:m*k]},
		blas64.General{Rows: k, Cols: n, Stride: n, Data: b[:k*n]},
		0,
		blas64.General{Rows: m, Cols: n, Stride: n, Data: c[:m*n]})
}

// MatMul returns the matrix product of a and b with numpy.matmul's rules:
// 2-D operands multiply as matrices; a 1-D a is a row vector and a 1-D b a
// column vector, the added dim being dropped from the result; operands
// with more dims are stacks of matrices whose leading (batch) dims
// broadcast. 0-d operands are not allowed.
func MatMul(a, b *Tensor) *Tensor {
	if len(a.shape) == 0 || len(b.shape) == 0 {
		panic(&ShapeError{Op: "MatMul", A: a.Shape(), B: b.Shape(), Msg: "0-d operands cannot be multiplied as matrices"})
	}
	as, bs := a.shape, b.shape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		panic(&ShapeError{Op: "MatMul", A: a.Shape(), B: b.Shape(), Msg: fmt.Sprintf("inner dims %d and %d differ", k, k2)})
	}
	ab, bb := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := BroadcastShapes(ab, bb)
	if err != nil {
		panic(&ShapeError{Op: "MatMul", A: a.Shape(), B: b.Shape(), Msg: "batch dims cannot broadcast"})
	}
	shape := append([]int{}, batch...)
	if len(a.shape) > 1 {
		shape = append(shape, m)
	}
	if len(b.shape) > 1 {
		shape = append(shape, n)
	}
	out := newTensor("MatMul", shape)
	nb := Numel(batch)
	if len(out.data) == 0 {
		return out
	}
	if len(bb) == 0 {
		// One matrix on the right: fold a's batch into its rows, so the
		// whole product is one GEMM.
		gemm(nb*m, n, k, a.data, b.data, out.data)
		return out
	}
	sa := layout.BroadcastStrides(ab, batch)
	sb := layout.BroadcastStrides(bb, batch)
	idx := make([]int, len(batch))
	for i := 0; i < nb; i++ {
		oa, ob := 0, 0
		for d := range idx {
			oa += idx[d] * sa[d]
			ob += idx[d] * sb[d]
		}
		gemm(m, n, k, a.data[oa*m*k:], b.data[ob*k*n:], out.data[i*m*n:])
		for d := len(idx) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// Dot returns the inner product of two 1-D tensors of the same length.
func Dot(a, b *Tensor) float64 {
	if len(a.shape) != 1 || !SameShape(a.shape, b.shape) {
		panic(&ShapeError{Op: "Dot", A: a.Shape(), B: b.Shape(), Msg: "want two 1-D tensors of the same length"})
	}
	s := 0.0
	for i, x := range a.data {
		s += x * b.data[i]
	}
	return s
}

// Outer returns the outer product of a and b, flattened first as
// numpy.outer does: out[i, j] = a[i] * b[j].
func Outer(a, b *Tensor) *Tensor {
	m, n := len(a.data), len(b.data)
	out := newTensor("Outer", []int{m, n})
	for i, x := range a.data {
		kernelSV(opMul, out.data[i*n:(i+1)*n], x, b.data)
	}
	return out
}
