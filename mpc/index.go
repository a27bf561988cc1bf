package mpc

import (
	"math"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/tensor/layout"
)

// Indexing with public indices: every party moves its shares the same
// way, so none of these communicates (as PyTorch's gather, scatter,
// index_add, take and cumsum, and CrypTen's, which take public indices
// too).

// Cumsum returns the running sums along dim d (torch.cumsum). Local.
func (x *CrypTensor) Cumsum(d int) *CrypTensor {
	nd := x.normDim("Cumsum", d)
	outer, n, inner := layout.Around(x.shape, nd)
	out := append([]uint64(nil), x.share...)
	for o := 0; o < outer; o++ {
		for i := 1; i < n; i++ {
			row := out[(o*n+i)*inner : (o*n+i+1)*inner]
			prev := out[(o*n+i-1)*inner : (o*n+i)*inner]
			for j := range row {
				row[j] += prev[j]
			}
		}
	}
	return x.p.newCT(x.shape, out)
}

// Gather returns the elements of x along dim d at the public indices
// index (torch.gather): out[i][j][k] = x[index[i][j][k]][j][k] for d = 0.
// The result has index's shape. Local.
func (x *CrypTensor) Gather(d int, index *tensor.Tensor) *CrypTensor {
	nd := x.normDim("Gather", d)
	if index == nil {
		x.p.failf("Gather", "nil index")
	}
	offs, err := layout.GatherOffsets(x.shape, nd, index.Shape(), index.Data())
	if err != nil {
		x.p.fail("Gather", err)
	}
	out := make([]uint64, len(offs))
	for i, o := range offs {
		out[i] = x.share[o]
	}
	return x.p.newCT(index.Shape(), out)
}

// Scatter returns a copy of x with the elements of src written along dim d
// at the public indices index (torch.scatter): out[index[i][j]][j] =
// src[i][j] for d = 0. src is a *CrypTensor, a public tensor (both at
// least index's shape in every dim) or a number; where indices repeat, the
// last write wins. Local.
func (x *CrypTensor) Scatter(d int, index *tensor.Tensor, src any) *CrypTensor {
	return x.scatter("Scatter", d, index, src, false)
}

// ScatterAdd returns a copy of x with the elements of src added along dim
// d at the public indices index (torch.scatter_add). Local.
func (x *CrypTensor) ScatterAdd(d int, index *tensor.Tensor, src any) *CrypTensor {
	return x.scatter("ScatterAdd", d, index, src, true)
}

func (x *CrypTensor) scatter(op string, d int, index *tensor.Tensor, src any, add bool) *CrypTensor {
	p := x.p
	nd := x.normDim(op, d)
	if index == nil {
		p.failf(op, "nil index")
	}
	offs, err := layout.GatherOffsets(x.shape, nd, index.Shape(), index.Data())
	if err != nil {
		p.fail(op, err)
	}
	vals := p.srcValues(op, src, index.Shape())
	out := append([]uint64(nil), x.share...)
	for i, o := range offs {
		if add {
			out[o] += vals[i]
		} else {
			out[o] = vals[i]
		}
	}
	return p.newCT(x.shape, out)
}

// srcValues returns this party's shares of src (a *CrypTensor, a public
// tensor or a number) read at every position of shape: src must be at
// least that large in every dim (as torch.scatter's src), or a scalar.
// Public values are shared as rank 0 holding them.
func (p *Party) srcValues(op string, src any, shape []int) []uint64 {
	o, err := toOperand(src)
	if err != nil {
		p.fail(op, err)
	}
	var data []uint64
	ss := o.shape()
	if o.enc != nil {
		if o.enc.p != p {
			p.failf(op, "source belongs to another party")
		}
		data = o.enc.share
	} else {
		data = p.encodePublic(op, o.pub) // on every rank, so all fail alike
		if p.rank != 0 {
			clear(data)
		}
	}
	if len(ss) == 0 || numel(ss) == 1 {
		out := make([]uint64, numel(shape))
		for i := range out {
			out[i] = data[0]
		}
		return out
	}
	if len(ss) != len(shape) {
		p.failf(op, "source shape %v for index shape %v", ss, shape)
	}
	for k := range ss {
		if ss[k] < shape[k] {
			p.failf(op, "source shape %v smaller than index shape %v", ss, shape)
		}
	}
	// The leading corner of src, of the index's shape.
	out := make([]uint64, 0, numel(shape))
	st := layout.Strides(ss)
	pos := make([]int, len(shape))
	for range numel(shape) {
		off := 0
		for k, v := range pos {
			off += v * st[k]
		}
		out = append(out, data[off])
		for k := len(pos) - 1; k >= 0; k-- {
			if pos[k]++; pos[k] < shape[k] {
				break
			}
			pos[k] = 0
		}
	}
	return out
}

// IndexAdd returns a copy of x with slice i of src along dim d added to
// slice idx[i] of x (torch.index_add): src has x's shape except len(idx)
// along d; it may be encrypted or public. Local.
func (x *CrypTensor) IndexAdd(d int, idx []int, src any) *CrypTensor {
	p := x.p
	nd := x.normDim("IndexAdd", d)
	outer, n, inner := layout.Around(x.shape, nd)
	want := cloneShape(x.shape)
	want[nd] = len(idx)
	o, err := toOperand(src)
	if err != nil {
		p.fail("IndexAdd", err)
	}
	if !tensor.SameShape(o.shape(), want) {
		p.failf("IndexAdd", "source shape %v, want %v", o.shape(), want)
	}
	vals := p.srcValues("IndexAdd", src, want)
	out := append([]uint64(nil), x.share...)
	for _, i := range idx {
		if i < 0 || i >= n {
			p.failf("IndexAdd", "index %d out of range for dim %d of shape %v", i, d, x.shape)
		}
	}
	for oi := 0; oi < outer; oi++ {
		for k, i := range idx {
			dst := out[(oi*n+i)*inner : (oi*n+i+1)*inner]
			s := vals[(oi*len(idx)+k)*inner : (oi*len(idx)+k+1)*inner]
			for j := range dst {
				dst[j] += s[j]
			}
		}
	}
	return p.newCT(x.shape, out)
}

// Take returns the elements of x at the public flat (row-major) indices
// index, in index's shape (torch.take); negative indices count from the
// end. Local.
func (x *CrypTensor) Take(index *tensor.Tensor) *CrypTensor {
	p := x.p
	if index == nil {
		p.failf("Take", "nil index")
	}
	n := len(x.share)
	out := make([]uint64, index.Size())
	for i, v := range index.Data() {
		if v != math.Trunc(v) || v < float64(-n) || v >= float64(n) {
			p.failf("Take", "index %v out of range for %d elements", v, n)
		}
		j := int(v)
		if j < 0 {
			j += n
		}
		out[i] = x.share[j]
	}
	return p.newCT(index.Shape(), out)
}

// Flip reverses x along the given dims (torch.flip). Local.
func (x *CrypTensor) Flip(dims ...int) *CrypTensor {
	out := x
	for _, d := range dims {
		nd := x.normDim("Flip", d)
		n := x.shape[nd]
		idx := make([]int, n)
		for i := range idx {
			idx[i] = n - 1 - i
		}
		out = out.IndexSelect(nd, idx)
	}
	if out == x {
		return x.Clone()
	}
	return out
}

// Roll shifts x by shift positions along dim d, wrapping around
// (torch.roll). Local.
func (x *CrypTensor) Roll(shift, d int) *CrypTensor {
	nd := x.normDim("Roll", d)
	n := x.shape[nd]
	idx := make([]int, n)
	for i := range idx {
		idx[i] = ((i-shift)%n + n) % n
	}
	return x.IndexSelect(nd, idx)
}

// Repeat tiles x reps[i] times along dim i (torch.repeat; extra leading
// reps add dims). Local.
func (x *CrypTensor) Repeat(reps ...int) *CrypTensor {
	p := x.p
	if len(reps) < len(x.shape) {
		p.failf("Repeat", "%d repeats for shape %v", len(reps), x.shape)
	}
	shape := make([]int, len(reps))
	copy(shape[len(reps)-len(x.shape):], x.shape)
	for i := 0; i < len(reps)-len(x.shape); i++ {
		shape[i] = 1
	}
	out := x.Reshape(shape...)
	for d, r := range reps {
		if r < 0 {
			p.failf("Repeat", "negative repeat %d", r)
		}
		parts := make([]*CrypTensor, r)
		for i := range parts {
			parts[i] = out
		}
		if r == 0 {
			out = out.Slice(d, 0, 0, 1)
			continue
		}
		out = Concat(d, parts...)
	}
	return out
}

// Narrow returns length elements of dim d from start (torch.narrow).
// Local.
func (x *CrypTensor) Narrow(d, start, length int) *CrypTensor {
	nd := x.normDim("Narrow", d)
	if start < 0 {
		start += x.shape[nd]
	}
	if start < 0 || length < 0 || start+length > x.shape[nd] {
		x.p.failf("Narrow", "start %d and length %d for dim %d of shape %v", start, length, d, x.shape)
	}
	return x.Slice(nd, start, start+length, 1)
}

// Unbind splits x into its slices along dim d, dropping the dim
// (torch.unbind). Local.
func (x *CrypTensor) Unbind(d int) []*CrypTensor {
	nd := x.normDim("Unbind", d)
	out := make([]*CrypTensor, x.shape[nd])
	for i := range out {
		out[i] = x.Index(nd, i)
	}
	return out
}

// Unfold returns the windows of size along dim d, step apart, in a new
// last dim (torch.Tensor.unfold). Local.
func (x *CrypTensor) Unfold(d, size, step int) *CrypTensor {
	nd := x.normDim("Unfold", d)
	n := x.shape[nd]
	if size < 1 || step < 1 || size > n {
		x.p.failf("Unfold", "size %d and step %d for dim %d of shape %v", size, step, d, x.shape)
	}
	count := (n-size)/step + 1
	wins := make([]*CrypTensor, count)
	for i := range wins {
		wins[i] = x.Slice(nd, i*step, i*step+size, 1).Unsqueeze(nd)
	}
	out := Concat(nd, wins...) // (..., count, size, ...)
	perm := make([]int, len(out.shape))
	j := 0
	for i := range perm {
		if i != nd+1 {
			perm[j] = i
			j++
		}
	}
	perm[len(perm)-1] = nd + 1
	return out.Permute(perm...)
}

// Trace returns the sum of the diagonal of a 2-D x (torch.trace). Local.
func (x *CrypTensor) Trace() *CrypTensor {
	if len(x.shape) != 2 {
		x.p.failf("Trace", "shape %v is not 2-D", x.shape)
	}
	var s uint64
	for i := 0; i < min(x.shape[0], x.shape[1]); i++ {
		s += x.share[i*x.shape[1]+i]
	}
	return x.p.newCT(nil, []uint64{s})
}
