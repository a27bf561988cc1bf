package tensor

import (
	"fmt"
	"math"
	"testing"
)

// refConv2d is the definition of a grouped, strided, padded, dilated
// convolution written as nested loops, to check Conv2d against.
func refConv2d(x, w, bias *Tensor, s, p, d [2]int, groups int) *Tensor {
	N, H, W := x.Dim(0), x.Dim(2), x.Dim(3)
	Cout, Cg, KH, KW := w.Dim(0), w.Dim(1), w.Dim(2), w.Dim(3)
	OH := (H+2*p[0]-d[0]*(KH-1)-1)/s[0] + 1
	OW := (W+2*p[1]-d[1]*(KW-1)-1)/s[1] + 1
	out := Zeros(N, Cout, OH, OW)
	coutG := Cout / groups
	for n := 0; n < N; n++ {
		for co := 0; co < Cout; co++ {
			g := co / coutG
			for oh := 0; oh < OH; oh++ {
				for ow := 0; ow < OW; ow++ {
					acc := 0.0
					if bias != nil {
						acc = bias.At(co)
					}
					for ci := 0; ci < Cg; ci++ {
						for kh := 0; kh < KH; kh++ {
							for kw := 0; kw < KW; kw++ {
								ih := oh*s[0] - p[0] + kh*d[0]
								iw := ow*s[1] - p[1] + kw*d[1]
								if ih >= 0 && ih < H && iw >= 0 && iw < W {
									acc += x.At(n, g*Cg+ci, ih, iw) * w.At(co, ci, kh, kw)
								}
							}
						}
					}
					out.Set(acc, n, co, oh, ow)
				}
			}
		}
	}
	return out
}

func TestConv2dMatchesReference(t *testing.T) {
	r := NewRNG(42)
	tried := 0
	for tried < 60 {
		groups := 1 + r.Intn(3)
		cg := 1 + r.Intn(3)
		coutG := 1 + r.Intn(3)
		N, H, W := 1+r.Intn(3), 1+r.Intn(9), 1+r.Intn(9)
		KH, KW := 1+r.Intn(4), 1+r.Intn(4)
		s := [2]int{1 + r.Intn(3), 1 + r.Intn(3)}
		p := [2]int{r.Intn(3), r.Intn(3)}
		d := [2]int{1 + r.Intn(2), 1 + r.Intn(2)}
		if ConvOutSize(H, KH, s[0], p[0], d[0]) <= 0 || ConvOutSize(W, KW, s[1], p[1], d[1]) <= 0 {
			continue
		}
		tried++
		x := r.Normal(0, 1, N, groups*cg, H, W)
		w := r.Normal(0, 1, groups*coutG, cg, KH, KW)
		var bias *Tensor
		if r.Intn(2) == 0 {
			bias = r.Normal(0, 1, groups*coutG)
		}
		name := fmt.Sprintf("x%v w%v s%v p%v d%v g%d bias=%v", x.Shape(), w.Shape(), s, p, d, groups, bias != nil)
		got := Conv2d(x, w, bias, ConvOpts{Stride: s, Padding: p, Dilation: d, Groups: groups})
		want := refConv2d(x, w, bias, s, p, d, groups)
		if !AllClose(got, want, 1e-12, 1e-12) {
			t.Fatalf("%s: max diff %g", name, MaxAbsDiff(got, want))
		}
	}
	// The 1x1 shortcut and the defaults.
	x, w := r.Normal(0, 1, 2, 4, 3, 5), r.Normal(0, 1, 6, 4, 1, 1)
	if got, want := Conv2d(x, w, nil, ConvOpts{}), refConv2d(x, w, nil, [2]int{1, 1}, [2]int{}, [2]int{1, 1}, 1); !AllClose(got, want, 1e-12, 1e-12) {
		t.Fatalf("1x1 conv: max diff %g", MaxAbsDiff(got, want))
	}
}

func TestConv2dErrors(t *testing.T) {
	x := Zeros(1, 4, 5, 5)
	cases := map[string]func(){
		"rank":           func() { Conv2d(Zeros(4, 5, 5), Zeros(2, 4, 3, 3), nil, ConvOpts{}) },
		"channels":       func() { Conv2d(x, Zeros(2, 3, 3, 3), nil, ConvOpts{}) },
		"groups":         func() { Conv2d(x, Zeros(3, 2, 3, 3), nil, ConvOpts{Groups: 2}) },
		"bias":           func() { Conv2d(x, Zeros(2, 4, 3, 3), Zeros(3), ConvOpts{}) },
		"kernel too big": func() { Conv2d(x, Zeros(2, 4, 6, 6), nil, ConvOpts{}) },
	}
	for name, f := range cases {
		p := catch(f)
		if _, ok := p.(*ShapeError); !ok {
			t.Errorf("%s: got %v, want a *ShapeError", name, p)
		}
	}
	// Empty batch is fine.
	if got := Conv2d(Zeros(0, 4, 5, 5), Zeros(2, 4, 3, 3), nil, ConvOpts{}); !SameShape(got.Shape(), sh(0, 2, 3, 3)) {
		t.Errorf("empty batch gives %v", got.Shape())
	}
}

// refPool computes max or average pooling by visiting every window
// position of the padded input, with PyTorch's output-size rule.
func refPool(x *Tensor, o PoolOpts, isMax bool) *Tensor {
	k, p := o.Kernel, o.Padding
	s, d := o.Stride, o.Dilation
	for i := range 2 {
		if s[i] == 0 {
			s[i] = k[i]
		}
		if d[i] == 0 {
			d[i] = 1
		}
	}
	N, C, H, W := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	size := func(in, i int) int {
		num := float64(in+2*p[i]-d[i]*(k[i]-1)-1) / float64(s[i])
		out := int(math.Floor(num)) + 1
		if o.CeilMode {
			out = int(math.Ceil(num)) + 1
			if (out-1)*s[i] >= in+p[i] {
				out--
			}
		}
		return out
	}
	OH, OW := size(H, 0), size(W, 1)
	out := Zeros(N, C, OH, OW)
	for n := 0; n < N; n++ {
		for c := 0; c < C; c++ {
			for oh := 0; oh < OH; oh++ {
				for ow := 0; ow < OW; ow++ {
					m, sum, cnt, padCnt := math.Inf(-1), 0.0, 0, 0
					for i := 0; i < k[0]; i++ {
						for j := 0; j < k[1]; j++ {
							ih, iw := oh*s[0]-p[0]+i*d[0], ow*s[1]-p[1]+j*d[1]
							if ih < H+p[0] && iw < W+p[1] {
								padCnt++
							}
							if ih < 0 || ih >= H || iw < 0 || iw >= W {
								continue
							}
							v := x.At(n, c, ih, iw)
							m = math.Max(m, v)
							sum += v
							cnt++
						}
					}
					if isMax {
						out.Set(m, n, c, oh, ow)
					} else if o.CountIncludePad {
						out.Set(sum/float64(padCnt), n, c, oh, ow)
					} else {
						out.Set(sum/float64(cnt), n, c, oh, ow)
					}
				}
			}
		}
	}
	return out
}

func TestPoolMatchesReference(t *testing.T) {
	r := NewRNG(7)
	for tried := 0; tried < 80; {
		o := PoolOpts{
			Kernel:          [2]int{1 + r.Intn(4), 1 + r.Intn(4)},
			Stride:          [2]int{r.Intn(4), r.Intn(4)},
			Dilation:        [2]int{r.Intn(3), r.Intn(3)},
			CeilMode:        r.Intn(2) == 0,
			CountIncludePad: r.Intn(2) == 0,
		}
		o.Padding = [2]int{r.Intn(o.Kernel[0]/2 + 1), r.Intn(o.Kernel[1]/2 + 1)}
		N, C, H, W := 1+r.Intn(2), 1+r.Intn(3), 1+r.Intn(10), 1+r.Intn(10)
		x := r.Normal(0, 1, N, C, H, W)
		if refPoolFits(x, o) != nil {
			continue
		}
		tried++
		name := fmt.Sprintf("x%v %+v", x.Shape(), o)
		maxRef := refPool(x, o, true)
		if got := MaxPool2d(x, o); !Equal(got, maxRef) {
			t.Fatalf("max %s: got %v, want %v", name, got, maxRef)
		}
		got, idx := MaxPool2dIndices(x, o)
		for i, j := range idx {
			if j < 0 && math.IsInf(got.Data()[i], -1) {
				continue
			}
			if x.Data()[j] != got.Data()[i] {
				t.Fatalf("max %s: index %d points at %v, not %v", name, j, x.Data()[j], got.Data()[i])
			}
		}
		avgRef := refPool(x, o, false)
		if o.Dilation != [2]int{0, 0} && o.Dilation != [2]int{1, 1} {
			o.Dilation = [2]int{1, 1} // AvgPool2d reference uses none, as PyTorch
			avgRef = refPool(x, o, false)
		}
		if got := AvgPool2d(x, o); !AllClose(got, avgRef, 1e-12, 1e-12) {
			t.Fatalf("avg %s: got %v, want %v", name, got, avgRef)
		}
	}
}

// refPoolFits reports (as a panic value) whether a pooling config is one
// the implementation accepts.
func refPoolFits(x *Tensor, o PoolOpts) any {
	return catch(func() { MaxPool2d(x, o) })
}

func TestPoolHandCases(t *testing.T) {
	x := ar(1, 1, 4, 4)
	cases := []struct {
		name string
		got  *Tensor
		want *Tensor
	}{
		{"max 2x2", MaxPool2d(x, PoolOpts{Kernel: [2]int{2, 2}}), mk(sh(1, 1, 2, 2), 5, 7, 13, 15)},
		{"avg 2x2", AvgPool2d(x, PoolOpts{Kernel: [2]int{2, 2}}), mk(sh(1, 1, 2, 2), 2.5, 4.5, 10.5, 12.5)},
		// PyTorch: F.max_pool2d(arange(16.).view(1,1,4,4), 3, 2, ceil_mode=True) -> [[10, 11], [14, 15]]
		{"max ceil", MaxPool2d(x, PoolOpts{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, CeilMode: true}), mk(sh(1, 1, 2, 2), 10, 11, 14, 15)},
		// avg_pool2d(x, 2, 2, padding=1, count_include_pad=True): corner (0)/4, ...
		{"avg pad incl", AvgPool2d(x, PoolOpts{Kernel: [2]int{2, 2}, Padding: [2]int{1, 1}, CountIncludePad: true}),
			mk(sh(1, 1, 3, 3), 0, 3.0/4, 3.0/4, 12.0/4, 30.0/4, 18.0/4, 12.0/4, 27.0/4, 15.0/4)},
		{"avg pad excl", AvgPool2d(x, PoolOpts{Kernel: [2]int{2, 2}, Padding: [2]int{1, 1}}),
			mk(sh(1, 1, 3, 3), 0, 1.5, 3, 6, 7.5, 9, 12, 13.5, 15)},
		{"3-D input", MaxPool2d(ar(1, 2, 2), PoolOpts{Kernel: [2]int{2, 2}}), mk(sh(1, 1, 1), 3)},
	}
	for _, tc := range cases {
		if !AllClose(tc.got, tc.want, 1e-15, 0) {
			t.Errorf("%s: got %v %v, want %v", tc.name, tc.got.Shape(), tc.got.Data(), tc.want.Data())
		}
	}
	if _, ok := catch(func() { MaxPool2d(x, PoolOpts{Kernel: [2]int{2, 2}, Padding: [2]int{2, 0}}) }).(*ShapeError); !ok {
		t.Error("padding over half the kernel must panic")
	}
}

func refMatMul(a, b *Tensor) *Tensor {
	m, k, n := a.Dim(0), a.Dim(1), b.Dim(1)
	out := Zeros(m, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for l := 0; l < k; l++ {
				s += a.At(i, l) * b.At(l, j)
			}
			out.Set(s, i, j)
		}
	}
	return out
}

func TestMatMul(t *testing.T) {
	r := NewRNG(3)
	a, b := r.Normal(0, 1, 5, 7), r.Normal(0, 1, 7, 3)
	if got, want := MatMul(a, b), refMatMul(a, b); !AllClose(got, want, 1e-12, 1e-12) {
		t.Fatalf("2-D: max diff %g", MaxAbsDiff(got, want))
	}
	// Shapes follow numpy.matmul.
	shapes := []struct{ a, b, want []int }{
		{sh(3), sh(3), sh()},
		{sh(3), sh(3, 2), sh(2)},
		{sh(2, 3), sh(3), sh(2)},
		{sh(4, 2, 3), sh(3, 5), sh(4, 2, 5)},
		{sh(4, 2, 3), sh(3), sh(4, 2)},
		{sh(3), sh(4, 3, 5), sh(4, 5)},
		{sh(2, 1, 2, 3), sh(5, 3, 4), sh(2, 5, 2, 4)},
		{sh(0, 3), sh(3, 2), sh(0, 2)},
		{sh(2, 0), sh(0, 4), sh(2, 4)},
	}
	for _, s := range shapes {
		a, b := r.Normal(0, 1, s.a...), r.Normal(0, 1, s.b...)
		got := MatMul(a, b)
		if !SameShape(got.Shape(), s.want) {
			t.Errorf("%v @ %v: shape %v, want %v", s.a, s.b, got.Shape(), s.want)
			continue
		}
		if got.Size() == 0 {
			continue
		}
		// Check each result entry through 2-D products of promoted slices.
		a2, b2 := a, b
		if a.Dims() == 1 {
			a2 = a.Unsqueeze(0)
		}
		if b.Dims() == 1 {
			b2 = b.Unsqueeze(-1)
		}
		bs, _ := BroadcastShapes(a2.Shape()[:a2.Dims()-2], b2.Shape()[:b2.Dims()-2])
		ab := a2.BroadcastTo(append(append([]int{}, bs...), a2.Shape()[a2.Dims()-2:]...)...)
		bb := b2.BroadcastTo(append(append([]int{}, bs...), b2.Shape()[b2.Dims()-2:]...)...)
		m, n := a2.Dim(-2), b2.Dim(-1)
		nb := Numel(bs)
		flatA, flatB := ab.Reshape(nb, m, -1), bb.Reshape(nb, -1, n)
		flatGot := got.Reshape(nb, m, n)
		for i := 0; i < nb; i++ {
			want := refMatMul(flatA.Index(0, i), flatB.Index(0, i))
			if g := flatGot.Index(0, i); !AllClose(g, want, 1e-12, 1e-12) {
				t.Errorf("%v @ %v: batch %d differs by %g", s.a, s.b, i, MaxAbsDiff(g, want))
			}
		}
	}
	if got := MatMul(Zeros(2, 0), Zeros(0, 4)); got.SumAll() != 0 {
		t.Error("k=0 product must be zeros")
	}
	for _, bad := range [][2][]int{{sh(2, 3), sh(2, 3)}, {sh(3), sh(4)}, {sh(2, 2, 3), sh(3, 3, 1)}, {sh(), sh(2)}} {
		p := catch(func() { MatMul(Zeros(bad[0]...), Zeros(bad[1]...)) })
		se, ok := p.(*ShapeError)
		if !ok || !SameShape(se.A, bad[0]) || !SameShape(se.B, bad[1]) {
			t.Errorf("%v @ %v: panic %v, want a ShapeError naming both", bad[0], bad[1], p)
		}
	}
	if d := Dot(mk(sh(3), 1, 2, 3), mk(sh(3), 4, 5, 6)); d != 32 {
		t.Errorf("Dot = %v", d)
	}
	if o := Outer(mk(sh(2), 1, 2), mk(sh(3), 1, 10, 100)); !Equal(o, mk(sh(2, 3), 1, 10, 100, 2, 20, 200)) {
		t.Errorf("Outer = %v", o.Data())
	}
}

func TestSoftmax(t *testing.T) {
	x := mk(sh(2, 3), 1, 2, 3, 1000, 1000, -math.Inf(1))
	s := Softmax(x, -1)
	e := []float64{math.Exp(1), math.Exp(2), math.Exp(3)}
	z := e[0] + e[1] + e[2]
	want := mk(sh(2, 3), e[0]/z, e[1]/z, e[2]/z, 0.5, 0.5, 0)
	if !AllClose(s, want, 1e-15, 1e-15) {
		t.Fatalf("Softmax = %v", s.Data())
	}
	ls := LogSoftmax(x, 1)
	if !AllClose(ls, mk(sh(2, 3), 1-math.Log(z), 2-math.Log(z), 3-math.Log(z), -math.Ln2, -math.Ln2, math.Inf(-1)), 1e-12, 1e-12) {
		t.Fatalf("LogSoftmax = %v", ls.Data())
	}
	// Along dim 0 it is the transpose of along dim 1.
	y := RandN(1, 4, 3)
	if got, want := Softmax(y, 0), Softmax(y.T(), 1).T(); !AllClose(got, want, 1e-15, 1e-15) {
		t.Fatal("Softmax along dim 0 disagrees with transposed dim 1")
	}
	if got := Softmax(y, 0).Sum(0, false); !AllClose(got, Ones(3), 1e-15, 1e-15) {
		t.Fatalf("columns sum to %v", got.Data())
	}
}

func TestOneHot(t *testing.T) {
	got := OneHot(mk(sh(2, 2), 0, 2, 1, 0), 3)
	want := mk(sh(2, 2, 3), 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0)
	if !Equal(got, want) {
		t.Fatalf("OneHot = %v", got.Data())
	}
	for _, bad := range []float64{-1, 3, 1.5, math.NaN()} {
		if catch(func() { OneHot(mk(sh(1), bad), 3) }) == nil {
			t.Errorf("label %v accepted", bad)
		}
	}
}
