package ring

import (
	"math/rand/v2"
	"testing"
)

// convDirect is the definition of a grouped, strided, dilated convolution.
func convDirect(x, w []uint64, s ConvSpec) []uint64 {
	ho, wo := s.OutH(), s.OutW()
	cg, cog := s.C/s.Groups, s.Cout/s.Groups
	out := make([]uint64, s.OutSize())
	for n := 0; n < s.N; n++ {
		for co := 0; co < s.Cout; co++ {
			g := co / cog
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					var acc uint64
					for c := 0; c < cg; c++ {
						for kh := 0; kh < s.KH; kh++ {
							for kw := 0; kw < s.KW; kw++ {
								iy := oy*s.StrideH - s.PadH + kh*s.DilationH
								ix := ox*s.StrideW - s.PadW + kw*s.DilationW
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								acc += x[((n*s.C+g*cg+c)*s.H+iy)*s.W+ix] * w[((co*cg+c)*s.KH+kh)*s.KW+kw]
							}
						}
					}
					out[((n*s.Cout+co)*ho+oy)*wo+ox] = acc
				}
			}
		}
	}
	return out
}

func TestConv2d(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range []ConvSpec{
		{N: 2, C: 3, H: 8, W: 7, Cout: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1},
		{N: 1, C: 4, H: 9, W: 9, Cout: 6, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 0, PadW: 2, DilationH: 2, DilationW: 1, Groups: 2},
		{N: 3, C: 2, H: 5, W: 5, Cout: 2, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 2},
		// Output planes of 8x8 = 2 panels: the direct-to-output path, with
		// a Cout that leaves a partial row tile.
		{N: 2, C: 3, H: 8, W: 8, Cout: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1},
		{N: 3, C: 4, H: 10, W: 6, Cout: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 0, PadW: 1, DilationH: 1, DilationW: 1, Groups: 2},
	} {
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		x, w := randVec(r, s.InSize()), randVec(r, s.KernelSize())
		want := convDirect(x, w, s)
		got := randVec(r, s.OutSize())
		Conv2d(got, x, w, s)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: element %d got %d want %d", s, i, got[i], want[i])
			}
		}
	}
	if err := (ConvSpec{N: 1, C: 3, H: 2, W: 2, Cout: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 2}).Check(); err == nil {
		t.Fatal("3 channels in 2 groups accepted")
	}
}

var epilogues = []Epilogue{
	{}, {Add: true}, {Trunc: true, Shift: 16}, {Add: true, Trunc: true, Shift: 16},
	{Trunc: true, Shift: 16, Neg: ^uint64(0)}, {Add: true, Trunc: true, Shift: 13, Neg: ^uint64(0)},
}

// Every epilogue, on shapes whose panels lie inside one image (written in
// place) and shapes whose panels straddle images or are partial.
func TestConv2dEpilogues(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range []ConvSpec{
		{N: 3, C: 3, H: 8, W: 8, Cout: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1},
		{N: 2, C: 6, H: 32, W: 32, Cout: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 2},
		{N: 2, C: 1, H: 7, W: 5, Cout: 5, KH: 2, KW: 3, StrideH: 1, StrideW: 2, PadH: 1, PadW: 0, DilationH: 1, DilationW: 1, Groups: 1},
		// Rows read in place (convRows): partial last panels, a vertical
		// stride, dilation, groups and a partial row tile.
		{N: 2, C: 2, H: 5, W: 41, Cout: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 2, DilationH: 1, DilationW: 2, Groups: 2},
		{N: 1, C: 3, H: 4, W: 70, Cout: 5, KH: 2, KW: 5, StrideH: 1, StrideW: 1, PadH: 0, PadW: 0, DilationH: 2, DilationW: 1, Groups: 1},
	} {
		x, w := randVec(r, s.InSize()), randVec(r, s.KernelSize())
		prod := convDirect(x, w, s)
		for _, ep := range epilogues {
			start := randVec(r, s.OutSize())
			want := append([]uint64(nil), start...)
			ep.Apply(want, prod)
			got := append([]uint64(nil), start...)
			Conv2dTo(got, x, w, s, ep)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%+v, %+v: element %d got %d want %d", s, ep, i, got[i], want[i])
				}
			}
		}
	}
}

// The in-place convolution path equals the im2col one.
func TestConvRowsMatchesIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	s := ConvSpec{N: 2, C: 3, H: 9, W: 37, Cout: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1}
	x, w := randVec(r, s.InSize()), randVec(r, s.KernelSize())
	want := convDirect(x, w, s)
	got := make([]uint64, s.OutSize())
	mpad := (s.Cout + mr - 1) / mr * mr
	kk := s.C * s.KH * s.KW
	ap := make([]uint64, kk*mpad)
	packA(ap, w, 0, s.Cout, 0, kk, kk)
	convRows(got, x, s, Epilogue{}, ap, mpad)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d got %d want %d", i, got[i], want[i])
		}
	}
}

// The assembly micro-kernel equals the portable one, epilogue included.
func TestMicroKernel(t *testing.T) {
	if !haveKernel {
		t.Skip("no assembly micro-kernel on this CPU")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, kc := range []int{1, 27, 54, 256} {
		a, b := randVec(r, kc*mr), randVec(r, kc*nr)
		for _, ep := range epilogues {
			const ldc = nr + 5
			c := randVec(r, mr*ldc)
			start := append([]uint64(nil), c...)
			want := append([]uint64(nil), c...)
			microGo(kc, a, b, want, ldc, ep)
			kernel(kc, &a[0], &b[0], &c[0], ldc, ep.flags(), uint64(ep.Shift), ep.Neg)
			for i := range want {
				if c[i] != want[i] {
					t.Fatalf("kc %d, %+v: element %d got %d want %d", kc, ep, i, c[i], want[i])
				}
			}
			// The offset kernel, reading the same rows scattered.
			off := make([]int, kc)
			wide := make([]uint64, kc*(nr+3))
			for k := range off {
				off[k] = k * (nr + 3)
				copy(wide[off[k]:off[k]+nr], b[k*nr:(k+1)*nr])
			}
			c2 := append([]uint64(nil), start...)
			kernelOff(kc, &a[0], &wide[0], &off[0], &c2[0], ldc, ep.flags(), uint64(ep.Shift), ep.Neg)
			for i := range want {
				if c2[i] != want[i] {
					t.Fatalf("offset kernel, kc %d, %+v: element %d got %d want %d", kc, ep, i, c2[i], want[i])
				}
			}
		}
	}
}
