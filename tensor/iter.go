package tensor

// newTensor allocates a zero tensor with a private copy of shape.
func newTensor(op string, shape []int) *Tensor {
	n := mustNumel(op, shape)
	return &Tensor{shape: append([]int{}, shape...), data: make([]float64, n)}
}

// around splits t's shape at dim d into the product of the dims before it,
// its length, and the product of the dims after it, so that element
// (o, i, j) lives at (o*n+i)*inner+j. Most dim-wise operations are loops over
// this view.
func around(shape []int, d int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i := 0; i < d; i++ {
		outer *= shape[i]
	}
	for i := d + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	return outer, shape[d], inner
}

// walk calls fn once per row (the last dim) of shape, in row-major order,
// with the offset at which that row starts in each operand; strides[k][d]
// is operand k's step along dim d (0 for a broadcast dim). offs is reused
// between calls. A 0-d shape has one row.
func walk(shape []int, strides [][]int, fn func(offs []int)) {
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

// broadcastStrides returns the strides with which an operand of shape src
// is read when broadcast to shape out (len(src) <= len(out)): 0 along dims
// that src lacks or holds as 1.
func broadcastStrides(src, out []int) []int {
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

// gather copies the operand (data, strides) laid over shape into a new
// contiguous slice, row by row.
func gather(data []float64, shape, strides []int) []float64 {
	n := Numel(shape)
	out := make([]float64, n)
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
	walk(shape, [][]int{strides}, func(offs []int) {
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
