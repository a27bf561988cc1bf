package tensor

import (
	"fmt"
	"testing"
)

// convTransposeDirect is the definition: every input element scatters its
// products with the kernel into the output.
func convTransposeDirect(x, w, bias *Tensor, opt ConvTransposeOpts) *Tensor {
	n, cin, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	g := or1(opt.Groups)
	coutG, kh, kw := w.shape[1], w.shape[2], w.shape[3]
	cg := cin / g
	s, d := [2]int{or1(opt.Stride[0]), or1(opt.Stride[1])}, [2]int{or1(opt.Dilation[0]), or1(opt.Dilation[1])}
	oh := (h-1)*s[0] - 2*opt.Padding[0] + d[0]*(kh-1) + opt.OutputPadding[0] + 1
	ow := (wd-1)*s[1] - 2*opt.Padding[1] + d[1]*(kw-1) + opt.OutputPadding[1] + 1
	out := Zeros(n, coutG*g, oh, ow)
	for b := 0; b < n; b++ {
		for ci := 0; ci < cin; ci++ {
			gi := ci / cg
			for y := 0; y < h; y++ {
				for xx := 0; xx < wd; xx++ {
					for o := 0; o < coutG; o++ {
						for a := 0; a < kh; a++ {
							for c := 0; c < kw; c++ {
								ty, tx := y*s[0]-opt.Padding[0]+a*d[0], xx*s[1]-opt.Padding[1]+c*d[1]
								if ty < 0 || ty >= oh || tx < 0 || tx >= ow {
									continue
								}
								co := gi*coutG + o
								out.Set(out.At(b, co, ty, tx)+x.At(b, ci, y, xx)*w.At(ci, o, a, c), b, co, ty, tx)
							}
						}
					}
				}
			}
		}
	}
	if bias != nil {
		for b := 0; b < n; b++ {
			for co := 0; co < coutG*g; co++ {
				for y := 0; y < oh; y++ {
					for xx := 0; xx < ow; xx++ {
						out.Set(out.At(b, co, y, xx)+bias.At(co), b, co, y, xx)
					}
				}
			}
		}
	}
	return out
}

func TestConvTranspose2d(t *testing.T) {
	cases := []struct {
		x, w []int
		opt  ConvTransposeOpts
	}{
		{[]int{2, 3, 4, 5}, []int{3, 2, 3, 3}, ConvTransposeOpts{}},
		{[]int{1, 2, 3, 4}, []int{2, 3, 2, 3}, ConvTransposeOpts{Stride: [2]int{2, 3}, Padding: [2]int{1, 0}}},
		{[]int{2, 4, 3, 3}, []int{4, 1, 3, 2}, ConvTransposeOpts{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 0}, Groups: 2}},
		{[]int{1, 2, 4, 4}, []int{2, 2, 3, 3}, ConvTransposeOpts{Dilation: [2]int{2, 1}, Padding: [2]int{3, 2}}},
	}
	for i, c := range cases {
		x, w := RandN(uint64(10+i), c.x...), RandN(uint64(20+i), c.w...)
		bias := RandN(uint64(30+i), c.w[1]*or1(c.opt.Groups))
		got := ConvTranspose2d(x, w, bias, c.opt)
		want := convTransposeDirect(x, w, bias, c.opt)
		if !SameShape(got.Shape(), want.Shape()) {
			t.Fatalf("case %d: shape %v, want %v", i, got.Shape(), want.Shape())
		}
		if d := MaxAbsDiff(got, want); d > 1e-12 {
			t.Errorf("case %d: differs from the definition by %g", i, d)
		}
	}
	// 1-D and the rejections.
	x, w := RandN(40, 2, 3, 7), RandN(41, 3, 2, 3)
	got := ConvTranspose1d(x, w, nil, ConvTransposeOpts{Stride: [2]int{0, 2}, Padding: [2]int{0, 1}})
	want := convTransposeDirect(x.Reshape(2, 3, 1, 7), w.Reshape(3, 2, 1, 3), nil, ConvTransposeOpts{Stride: [2]int{1, 2}, Padding: [2]int{0, 1}})
	if d := MaxAbsDiff(got, want.Reshape(2, 2, want.Dim(3))); d > 1e-12 {
		t.Errorf("1-D: differs by %g", d)
	}
	for _, bad := range []struct {
		x, w []int
		opt  ConvTransposeOpts
	}{
		{[]int{1, 2, 3, 3}, []int{3, 2, 3, 3}, ConvTransposeOpts{}},
		{[]int{1, 2, 3, 3}, []int{2, 2, 3, 3}, ConvTransposeOpts{OutputPadding: [2]int{1, 1}}},
		{[]int{1, 3, 3, 3}, []int{3, 2, 3, 3}, ConvTransposeOpts{Groups: 2}},
		{[]int{1, 2, 1, 1}, []int{2, 2, 1, 1}, ConvTransposeOpts{Padding: [2]int{1, 1}}},
	} {
		if _, err := PlanConvTranspose2d(bad.x, bad.w, bad.opt); err == nil {
			t.Errorf("%v %v %+v accepted", bad.x, bad.w, bad.opt)
		}
	}
}

func TestConv1d(t *testing.T) {
	x, w, b := RandN(50, 2, 4, 9), RandN(51, 6, 2, 3), RandN(52, 6)
	opt := Conv1dOpts{Stride: 2, Padding: 1, Dilation: 2, Groups: 2}
	got := Conv1d(x, w, b, opt)
	for n := 0; n < 2; n++ {
		for co := 0; co < 6; co++ {
			for o := 0; o < got.Dim(2); o++ {
				s := b.At(co)
				g := co / 3
				for i := 0; i < 2; i++ {
					for k := 0; k < 3; k++ {
						if p := o*2 - 1 + k*2; p >= 0 && p < 9 {
							s += x.At(n, g*2+i, p) * w.At(co, i, k)
						}
					}
				}
				if d := s - got.At(n, co, o); d > 1e-12 || d < -1e-12 {
					t.Fatal(fmt.Sprintf("element (%d, %d, %d): %g, want %g", n, co, o, got.At(n, co, o), s))
				}
			}
		}
	}
}
