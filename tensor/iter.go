package tensor

// newTensor allocates a zero tensor with a private copy of shape.
func newTensor(op string, shape []int) *Tensor {
	n := mustNumel(op, shape)
	return &Tensor{shape: append([]int{}, shape...), data: make([]float64, n)}
}
