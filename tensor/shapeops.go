package tensor

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor/layout"
)

// Reshape returns a tensor with the same data (shared, not copied) viewed
// with a new shape. At most one dim may be -1; it is inferred from the
// others, as in NumPy.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	out, err := layout.Reshape(shape, len(t.data))
	if err != nil {
		panic(&ShapeError{Op: "Reshape", A: t.Shape(), B: append([]int{}, shape...), Msg: err.Error()})
	}
	return &Tensor{shape: out, data: t.data}
}

// Flatten returns t as a 1-D tensor sharing its data.
func (t *Tensor) Flatten() *Tensor { return &Tensor{shape: []int{len(t.data)}, data: t.data} }

// FlattenFrom collapses dims startDim..end into one, sharing data, as
// torch.flatten(x, start_dim) does; a 0-d tensor becomes 1-D.
func (t *Tensor) FlattenFrom(startDim int) *Tensor {
	if len(t.shape) == 0 {
		if startDim != 0 && startDim != -1 {
			t.normDim("FlattenFrom", startDim) // panics with the usual message
		}
		return t.Flatten()
	}
	d := t.normDim("FlattenFrom", startDim)
	shape := append(append([]int{}, t.shape[:d]...), Numel(t.shape[d:]))
	return &Tensor{shape: shape, data: t.data}
}

// Squeeze removes dims of length 1, sharing data. With no arguments it
// removes all of them; otherwise each named dim must have length 1 (as in
// NumPy; PyTorch would silently keep a longer one).
func (t *Tensor) Squeeze(dims ...int) *Tensor {
	drop := make([]bool, len(t.shape))
	if len(dims) == 0 {
		for i, d := range t.shape {
			drop[i] = d == 1
		}
	}
	for _, dim := range dims {
		d := t.normDim("Squeeze", dim)
		if t.shape[d] != 1 {
			panic(&ShapeError{Op: "Squeeze", A: t.Shape(), Msg: fmt.Sprintf("dim %d has length %d, not 1", dim, t.shape[d])})
		}
		drop[d] = true
	}
	shape := []int{}
	for i, d := range t.shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	return &Tensor{shape: shape, data: t.data}
}

// Unsqueeze inserts a dim of length 1 at position dim (which may be
// Dims(), or negative counting from Dims()+1), sharing data.
func (t *Tensor) Unsqueeze(dim int) *Tensor {
	d, err := NormDim(dim, len(t.shape)+1)
	if err != nil {
		panic(fmt.Errorf("tensor.Unsqueeze: shape %v: %w", t.shape, err))
	}
	shape := make([]int, 0, len(t.shape)+1)
	shape = append(append(append(shape, t.shape[:d]...), 1), t.shape[d:]...)
	return &Tensor{shape: shape, data: t.data}
}

// Transpose permutes the dims of t into a new contiguous tensor. With no
// arguments it reverses them (numpy.transpose); otherwise dims is a
// permutation, as for Permute.
func (t *Tensor) Transpose(dims ...int) *Tensor {
	if len(dims) == 0 {
		dims = make([]int, len(t.shape))
		for i := range dims {
			dims[i] = len(dims) - 1 - i
		}
	}
	return t.permute("Transpose", dims)
}

// Permute returns a contiguous copy of t whose dim i is t's dim dims[i].
func (t *Tensor) Permute(dims ...int) *Tensor { return t.permute("Permute", dims) }

// T returns t with its dims reversed: the matrix transpose for 2-D tensors,
// t itself (copied) for 0-D and 1-D ones, as NumPy's .T.
func (t *Tensor) T() *Tensor { return t.Transpose() }

func (t *Tensor) permute(op string, dims []int) *Tensor {
	nd := len(t.shape)
	if len(dims) != nd {
		panic(&ShapeError{Op: op, A: t.Shape(), Msg: fmt.Sprintf("permutation %v has %d dims, want %d", dims, len(dims), nd)})
	}
	perm := make([]int, nd)
	seen := make([]bool, nd)
	for i, dim := range dims {
		d := t.normDim(op, dim)
		if seen[d] {
			panic(&ShapeError{Op: op, A: t.Shape(), Msg: fmt.Sprintf("%v is not a permutation", dims)})
		}
		seen[d] = true
		perm[i] = d
	}
	if nd == 2 && perm[0] == 1 {
		out := newTensor(op, []int{t.shape[1], t.shape[0]})
		transpose2(out.data, t.data, t.shape[0], t.shape[1])
		return out
	}
	data, shape := layout.Permute(t.data, t.shape, perm)
	return &Tensor{shape: shape, data: data}
}

// transpose2 writes the transpose of the r×c matrix src into dst in tiles,
// so that both sides are read and written a cache line at a time.
func transpose2(dst, src []float64, r, c int) {
	const tile = 32
	for i0 := 0; i0 < r; i0 += tile {
		i1 := min(i0+tile, r)
		for j0 := 0; j0 < c; j0 += tile {
			j1 := min(j0+tile, c)
			for i := i0; i < i1; i++ {
				row := src[i*c : i*c+c]
				for j := j0; j < j1; j++ {
					dst[j*r+i] = row[j]
				}
			}
		}
	}
}

// sliceIndices resolves a Python slice start:stop:step over a dim of length
// n, clamping as slice.indices does, and returns the first index, the step
// and the number of selected elements.
func sliceIndices(start, stop, step, n int) (first, count int) {
	clamp := func(i, lo, hi int) int {
		if i < 0 {
			i += n
		}
		return max(lo, min(i, hi))
	}
	if step > 0 {
		start, stop = clamp(start, 0, n), clamp(stop, 0, n)
		if stop > start {
			count = (stop - start + step - 1) / step
		}
	} else {
		start, stop = clamp(start, -1, n-1), clamp(stop, -1, n-1)
		if start > stop {
			count = (start - stop - step - 1) / -step
		}
	}
	return start, count
}

// Slice returns a copy of the elements start, start+step, ... before stop
// along dim, with Python slicing rules: negative start and stop count from
// the end, out-of-range bounds are clipped, and a negative step walks
// backwards. A zero step panics.
func (t *Tensor) Slice(dim, start, stop, step int) *Tensor {
	d := t.normDim("Slice", dim)
	if step == 0 {
		panic(&ShapeError{Op: "Slice", A: t.Shape(), Msg: "step must not be zero"})
	}
	first, count := sliceIndices(start, stop, step, t.shape[d])
	idx := make([]int, count)
	for i := range idx {
		idx[i] = first + i*step
	}
	return t.indexSelect("Slice", d, idx)
}

// Index selects index i (negative counts from the end) along dim and drops
// that dim, as x[..., i, ...] does in NumPy.
func (t *Tensor) Index(dim, i int) *Tensor {
	d := t.normDim("Index", dim)
	out := t.IndexSelect(d, []int{i})
	out.shape = append(out.shape[:d], out.shape[d+1:]...)
	return out
}

// IndexSelect gathers the given indices (negative count from the end; may
// repeat) along dim into a new tensor whose dim has len(idx) entries.
func (t *Tensor) IndexSelect(dim int, idx []int) *Tensor {
	d := t.normDim("IndexSelect", dim)
	n := t.shape[d]
	norm := make([]int, len(idx))
	for k, i := range idx {
		j := i
		if j < 0 {
			j += n
		}
		if j < 0 || j >= n {
			panic(&ShapeError{Op: "IndexSelect", A: t.Shape(), Msg: fmt.Sprintf("index %d out of range for dim %d of length %d", i, dim, n)})
		}
		norm[k] = j
	}
	return t.indexSelect("IndexSelect", d, norm)
}

// indexSelect gathers valid indices idx along the normalized dim d.
func (t *Tensor) indexSelect(op string, d int, idx []int) *Tensor {
	shape := t.Shape()
	shape[d] = len(idx)
	mustNumel(op, shape)
	data, shape := layout.Select(t.data, t.shape, d, idx)
	return &Tensor{shape: shape, data: data}
}

// BroadcastTo returns a copy of t expanded to shape by NumPy broadcasting
// rules; t must broadcast to exactly shape.
func (t *Tensor) BroadcastTo(shape ...int) *Tensor {
	b, err := BroadcastShapes(t.shape, shape)
	if err != nil || len(t.shape) > len(shape) || !SameShape(b, shape) {
		panic(&ShapeError{Op: "BroadcastTo", A: t.Shape(), B: append([]int{}, shape...), Msg: "cannot broadcast"})
	}
	out := append([]int{}, shape...)
	mustNumel("BroadcastTo", out)
	return &Tensor{shape: out, data: layout.Gather(t.data, out, layout.BroadcastStrides(t.shape, out))}
}

// Pad returns t surrounded by value: widths holds one [before, after] pair
// of non-negative counts per dim, as numpy.pad with mode "constant".
func (t *Tensor) Pad(widths [][2]int, value float64) *Tensor {
	if len(widths) != len(t.shape) {
		panic(&ShapeError{Op: "Pad", A: t.Shape(), Msg: fmt.Sprintf("%d pad widths for %d dims", len(widths), len(t.shape))})
	}
	shape := t.Shape()
	for i, w := range widths {
		if w[0] < 0 || w[1] < 0 {
			panic(&ShapeError{Op: "Pad", A: t.Shape(), Msg: fmt.Sprintf("negative pad width %v for dim %d", w, i)})
		}
		shape[i] += w[0] + w[1]
	}
	mustNumel("Pad", shape)
	data, shape := layout.Pad(t.data, t.shape, widths, value)
	return &Tensor{shape: shape, data: data}
}

// Concat joins tensors along dim; all must have the same shape except
// along dim.
func Concat(dim int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic(fmt.Errorf("tensor.Concat: no tensors"))
	}
	first := ts[0]
	if len(first.shape) == 0 {
		panic(&ShapeError{Op: "Concat", A: first.Shape(), Msg: "cannot concatenate 0-d tensors"})
	}
	d := first.normDim("Concat", dim)
	shape := first.Shape()
	shape[d] = 0
	for _, x := range ts {
		ok := len(x.shape) == len(first.shape)
		for i := 0; ok && i < len(x.shape); i++ {
			ok = i == d || x.shape[i] == first.shape[i]
		}
		if !ok {
			panic(&ShapeError{Op: "Concat", A: first.Shape(), B: x.Shape(), Msg: fmt.Sprintf("shapes must match except in dim %d", dim)})
		}
		shape[d] += x.shape[d]
	}
	mustNumel("Concat", shape)
	parts := make([][]float64, len(ts))
	shapes := make([][]int, len(ts))
	for i, x := range ts {
		parts[i], shapes[i] = x.data, x.shape
	}
	data, shape := layout.Concat(parts, shapes, d)
	return &Tensor{shape: shape, data: data}
}

// Stack joins same-shaped tensors along a new dim inserted at position dim.
func Stack(dim int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic(fmt.Errorf("tensor.Stack: no tensors"))
	}
	d, err := NormDim(dim, len(ts[0].shape)+1)
	if err != nil {
		panic(fmt.Errorf("tensor.Stack: shape %v: %w", ts[0].shape, err))
	}
	us := make([]*Tensor, len(ts))
	for i, x := range ts {
		if !SameShape(x.shape, ts[0].shape) {
			panic(&ShapeError{Op: "Stack", A: ts[0].Shape(), B: x.Shape()})
		}
		us[i] = x.Unsqueeze(d)
	}
	return Concat(d, us...)
}

// Split cuts t along dim into consecutive pieces (copies). If sizes add up
// to the length of dim they are the piece lengths (numpy.split with
// sections, torch.split with a list); a single size that does not is the
// length of every piece but the last, which may be shorter (torch.split with
// an int).
func (t *Tensor) Split(dim int, sizes ...int) []*Tensor {
	d := t.normDim("Split", dim)
	n := t.shape[d]
	total := 0
	for _, s := range sizes {
		if s < 0 {
			panic(&ShapeError{Op: "Split", A: t.Shape(), Msg: fmt.Sprintf("negative size in %v", sizes)})
		}
		total += s
	}
	if total != n {
		if len(sizes) != 1 || sizes[0] == 0 {
			panic(&ShapeError{Op: "Split", A: t.Shape(), Msg: fmt.Sprintf("sizes %v do not add up to %d along dim %d", sizes, n, dim)})
		}
		step := sizes[0]
		sizes = nil
		for at := 0; at < n; at += step {
			sizes = append(sizes, min(step, n-at))
		}
	}
	out := make([]*Tensor, len(sizes))
	at := 0
	for i, s := range sizes {
		out[i] = t.Slice(d, at, at+s, 1)
		at += s
	}
	return out
}

// Chunk cuts t along dim into n pieces of length ceil(len/n) (the last may
// be shorter, and there may be fewer than n), as torch.chunk does.
func (t *Tensor) Chunk(n, dim int) []*Tensor {
	d := t.normDim("Chunk", dim)
	if n <= 0 {
		panic(&ShapeError{Op: "Chunk", A: t.Shape(), Msg: fmt.Sprintf("chunk count %d must be positive", n)})
	}
	size := (t.shape[d] + n - 1) / n
	if size == 0 {
		return []*Tensor{t.Clone()}
	}
	return t.Split(d, size)
}
