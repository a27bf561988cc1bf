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
