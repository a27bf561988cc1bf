package layout

import (
	"slices"
	"strings"
	"testing"
)

// at reads element idx of data of shape, by strides: the reference the
// movements are checked against.
func at[T any](data []T, shape, idx []int) T {
	off := 0
	for d, s := range Strides(shape) {
		off += idx[d] * s
	}
	return data[off]
}

// each calls fn with every index of shape in row-major order.
func each(shape []int, fn func(idx []int)) {
	idx := make([]int, len(shape))
	for n := Numel(shape); n > 0; n-- {
		fn(idx)
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

func iota[T ~uint64 | ~float64](n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = T(i + 1)
	}
	return out
}

func TestAroundAndStrides(t *testing.T) {
	for _, c := range []struct {
		shape           []int
		d               int
		outer, n, inner int
		strides         []int
	}{
		{[]int{2, 3, 4}, 0, 1, 2, 12, []int{12, 4, 1}},
		{[]int{2, 3, 4}, 1, 2, 3, 4, []int{12, 4, 1}},
		{[]int{2, 3, 4}, 2, 6, 4, 1, []int{12, 4, 1}},
		{[]int{5}, 0, 1, 5, 1, []int{1}},
		{[]int{2, 0, 3}, 2, 0, 3, 1, []int{0, 3, 1}},
	} {
		o, n, i := Around(c.shape, c.d)
		if o != c.outer || n != c.n || i != c.inner {
			t.Errorf("Around(%v, %d) = %d, %d, %d", c.shape, c.d, o, n, i)
		}
		if st := Strides(c.shape); !slices.Equal(st, c.strides) {
			t.Errorf("Strides(%v) = %v", c.shape, st)
		}
	}
}

func TestExpandAndPermute(t *testing.T) {
	for _, c := range []struct {
		from, to []int
	}{
		{[]int{3}, []int{2, 3}},
		{[]int{2, 1}, []int{2, 4}},
		{[]int{1, 3, 1}, []int{2, 3, 2}},
		{[]int{}, []int{2, 2}},
		{[]int{2, 3}, []int{2, 3}},
	} {
		data := iota[uint64](Numel(c.from))
		got := Expand(data, c.from, c.to)
		off := len(c.to) - len(c.from)
		each(c.to, func(idx []int) {
			src := make([]int, len(c.from))
			for d := range c.from {
				if c.from[d] != 1 {
					src[d] = idx[off+d]
				}
			}
			if at(got, c.to, idx) != at(data, c.from, src) {
				t.Fatalf("Expand %v to %v: wrong element at %v", c.from, c.to, idx)
			}
		})
	}
	for _, c := range []struct {
		shape, perm []int
	}{
		{[]int{2, 3}, []int{1, 0}},
		{[]int{2, 3, 4}, []int{2, 0, 1}},
		{[]int{2, 3, 4}, []int{0, 1, 2}},
		{[]int{}, []int{}},
		{[]int{0, 2}, []int{1, 0}},
	} {
		data := iota[float64](Numel(c.shape))
		got, ns := Permute(data, c.shape, c.perm)
		each(ns, func(idx []int) {
			src := make([]int, len(idx))
			for i, d := range c.perm {
				src[d] = idx[i]
			}
			if at(got, ns, idx) != at(data, c.shape, src) {
				t.Fatalf("Permute %v by %v: wrong element at %v", c.shape, c.perm, idx)
			}
		})
	}
}

func TestSelectConcatPad(t *testing.T) {
	shape := []int{2, 3, 2}
	data := iota[uint64](12)
	got, ns := Select(data, shape, 1, []int{2, 0, 2})
	if !slices.Equal(ns, []int{2, 3, 2}) || !slices.Equal(got, []uint64{5, 6, 1, 2, 5, 6, 11, 12, 7, 8, 11, 12}) {
		t.Fatalf("Select = %v %v", got, ns)
	}
	a, b := iota[uint64](4), []uint64{10, 20}
	cat, cs := Concat([][]uint64{a, b}, [][]int{{2, 2}, {2, 1}}, 1)
	if !slices.Equal(cs, []int{2, 3}) || !slices.Equal(cat, []uint64{1, 2, 10, 3, 4, 20}) {
		t.Fatalf("Concat = %v %v", cat, cs)
	}
	for _, c := range []struct {
		shapes [][]int
		d      int
		err    string
	}{
		{[][]int{{2, 2}, {3, 2}}, 0, ""},
		{[][]int{{2, 2}, {3, 2}}, 1, "outside dim 1"},
		{[][]int{{2, 2}, {2}}, 0, "1 dims"},
	} {
		err := ConcatShape(c.shapes, c.d)
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ConcatShape(%v, %d) = %v, want %q", c.shapes, c.d, err, c.err)
		}
	}
	padded, ps := Pad([]float64{1, 2, 3, 4}, []int{2, 2}, [][2]int{{1, 0}, {0, 1}}, -1)
	want := []float64{-1, -1, -1, 1, 2, -1, 3, 4, -1}
	if !slices.Equal(ps, []int{3, 3}) || !slices.Equal(padded, want) {
		t.Fatalf("Pad = %v %v", padded, ps)
	}
	if z, zs := Pad([]uint64{7}, []int{}, nil, 0); !slices.Equal(z, []uint64{7}) || len(zs) != 0 {
		t.Fatalf("Pad of a 0-d array = %v %v", z, zs)
	}
}

func TestReshape(t *testing.T) {
	for _, c := range []struct {
		shape []int
		n     int
		want  []int
		err   string
	}{
		{[]int{2, -1}, 6, []int{2, 3}, ""},
		{[]int{-1}, 0, []int{0}, ""},
		{[]int{0, -1}, 0, nil, "cannot infer"},
		{[]int{3, 2}, 6, []int{3, 2}, ""},
		{[]int{4, 2}, 6, nil, "cannot take shape"},
		{[]int{-1, -1}, 6, nil, "only one dim"},
		{[]int{2, -2}, 6, nil, "none may be negative"},
		{[]int{4, -1}, 6, nil, "cannot infer"},
	} {
		got, err := Reshape(c.shape, c.n)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Reshape(%v, %d) = %v, %v; want an error naming %q", c.shape, c.n, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Reshape(%v, %d) = %v, %v; want %v", c.shape, c.n, got, err, c.want)
		}
	}
}

func TestGatherOffsets(t *testing.T) {
	shape := []int{3, 2}
	for _, c := range []struct {
		d     int
		is    []int
		index []float64
		want  []int
		err   string
	}{
		{0, []int{2, 2}, []float64{2, 0, 1, 1}, []int{4, 1, 2, 3}, ""},
		{1, []int{3, 1}, []float64{1, 0, 1}, []int{1, 2, 5}, ""},
		{0, []int{1}, []float64{0}, nil, "1 dims"},
		{1, []int{4, 1}, []float64{0, 0, 0, 0}, nil, "exceeds"},
		{0, []int{1, 1}, []float64{3}, nil, "out of range"},
		{0, []int{1, 1}, []float64{0.5}, nil, "out of range"},
		{0, []int{1, 1}, []float64{-1}, nil, "out of range"},
	} {
		got, err := GatherOffsets(shape, c.d, c.is, c.index)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("GatherOffsets(%v, %d, %v, %v) = %v, %v; want an error naming %q", shape, c.d, c.is, c.index, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("GatherOffsets(%v, %d, %v, %v) = %v, %v; want %v", shape, c.d, c.is, c.index, got, err, c.want)
		}
	}
}
