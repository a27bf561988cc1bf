package ring

import (
	"fmt"
	"runtime"
	"sync"
)

// ConvSpec describes a 2-D convolution of an NCHW input with a
// (Cout, Cin/Groups, KH, KW) kernel, as torch.nn.functional.conv2d does.
type ConvSpec struct {
	N, C, H, W           int // input batch, channels, height, width
	Cout, KH, KW         int // output channels and kernel size
	StrideH, StrideW     int
	PadH, PadW           int
	DilationH, DilationW int
	Groups               int
}

// OutH returns the output height.
func (s ConvSpec) OutH() int { return (s.H+2*s.PadH-s.DilationH*(s.KH-1)-1)/s.StrideH + 1 }

// OutW returns the output width.
func (s ConvSpec) OutW() int { return (s.W+2*s.PadW-s.DilationW*(s.KW-1)-1)/s.StrideW + 1 }

// InSize is the number of input elements.
func (s ConvSpec) InSize() int { return s.N * s.C * s.H * s.W }

// KernelSize is the number of kernel elements.
func (s ConvSpec) KernelSize() int { return s.Cout * (s.C / s.Groups) * s.KH * s.KW }

// OutSize is the number of output elements.
func (s ConvSpec) OutSize() int { return s.N * s.Cout * s.OutH() * s.OutW() }

// Check reports a spec that cannot be computed.
func (s ConvSpec) Check() error {
	switch {
	case s.N < 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.Cout <= 0 || s.KH <= 0 || s.KW <= 0:
		return fmt.Errorf("conv2d: bad dimensions %+v", s)
	case s.StrideH <= 0 || s.StrideW <= 0 || s.DilationH <= 0 || s.DilationW <= 0 || s.PadH < 0 || s.PadW < 0:
		return fmt.Errorf("conv2d: bad stride/padding/dilation %+v", s)
	case s.Groups <= 0 || s.C%s.Groups != 0 || s.Cout%s.Groups != 0:
		return fmt.Errorf("conv2d: %d groups do not divide %d input and %d output channels", s.Groups, s.C, s.Cout)
	case s.OutH() <= 0 || s.OutW() <= 0:
		return fmt.Errorf("conv2d: kernel %dx%d larger than padded input %dx%d", s.KH, s.KW, s.H+2*s.PadH, s.W+2*s.PadW)
	}
	return nil
}

// Conv2d computes out = conv(x, w) for the spec, overwriting out.
func Conv2d(out, x, w []uint64, s ConvSpec) { Conv2dTo(out, x, w, s, Epilogue{}) }

// Conv2dAdd computes out += conv(x, w).
func Conv2dAdd(out, x, w []uint64, s ConvSpec) { Conv2dTo(out, x, w, s, Epilogue{Add: true}) }

// Conv2dTo computes conv(x, w) into out (NCHW) as ep says. It is a matrix
// product of the flattened kernel (per group, Cout/Groups × kk, kk =
// C/Groups·KH·KW) with the im2col matrix of the input (kk × N·OutH·OutW),
// but the im2col matrix is never stored: each nr-column panel of it is
// built in a small buffer that stays in the first-level cache, multiplied
// by every row tile of the kernel at once, and the results go straight to
// their places in out. Large convolutions split the panels among every CPU.
func Conv2dTo(out, x, w []uint64, s ConvSpec, ep Epilogue) {
	ho, wo := s.OutH(), s.OutW()
	cg, cog := s.C/s.Groups, s.Cout/s.Groups
	kk := cg * s.KH * s.KW
	hw := ho * wo
	ncols := s.N * hw
	npanels := (ncols + nr - 1) / nr
	out = out[:s.N*s.Cout*hw]
	// The kernel's rows, packed per group into mr-tall panels.
	mpad := (cog + mr - 1) / mr * mr
	ap := Get(s.Groups * kk * mpad)
	defer Put(ap)
	for g := 0; g < s.Groups; g++ {
		packA(ap[g*kk*mpad:], w[g*cog*kk:(g+1)*cog*kk], 0, cog, 0, kk, kk)
	}
	if s.StrideW == 1 && wo >= nr {
		convRows(out, x, s, ep, ap, mpad)
		return
	}
	run := func(p0, p1 int) {
		panel := Get(kk * nr)
		defer Put(panel)
		var tile [mr * nr]uint64
		for p := p0; p < p1; p++ {
			col0 := p * nr
			cols := min(nr, ncols-col0)
			n0, h0 := col0/hw, col0%hw
			// Whether the panel's columns are one stretch of one image's
			// output plane, which the micro-kernel can write in place.
			inPlace := cols == nr && h0+nr <= hw
			for g := 0; g < s.Groups; g++ {
				im2colPanel(panel, x, s, g*cg, cg, ho, wo, col0, cols)
				gp := ap[g*kk*mpad:]
				for ir := 0; ir < cog; ir += mr {
					apanel := gp[ir*kk:]
					rows := min(mr, cog-ir)
					if inPlace && rows == mr {
						base := (n0*s.Cout+g*cog+ir)*hw + h0
						micro(kk, apanel, panel, out[base:], hw, ep)
						continue
					}
					micro(kk, apanel, panel, tile[:], nr, Epilogue{})
					for j := 0; j < cols; j++ {
						n, h := (col0+j)/hw, (col0+j)%hw
						for i := 0; i < rows; i++ {
							ep.store(&out[(n*s.Cout+g*cog+ir+i)*hw+h], tile[i*nr+j])
						}
					}
				}
			}
		}
	}
	parallel(npanels, cog*kk*ncols, run)
}

// parallel runs fn over [0, units) split among every CPU when work (in
// multiply-adds) is large enough to repay the goroutines.
func parallel(units, work int, fn func(u0, u1 int)) {
	workers := runtime.GOMAXPROCS(0)
	if work < parallelWork || workers < 2 || units < 2*workers {
		fn(0, units)
		return
	}
	per := (units + workers - 1) / workers
	var wg sync.WaitGroup
	for u0 := 0; u0 < units; u0 += per {
		u1 := min(u0+per, units)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(u0, u1)
		}()
	}
	wg.Wait()
}

// convRows is Conv2dTo for convolutions whose output rows are at least a
// panel wide and whose horizontal stride is 1: then a panel's column for
// kernel tap (c, kh, kw) is nr consecutive values of one row of the input
// with its padding made explicit, and the micro-kernel reads them there
// (at a fixed offset per tap) instead of from an im2col copy.
func convRows(out, x []uint64, s ConvSpec, ep Epilogue, ap []uint64, mpad int) {
	ho, wo := s.OutH(), s.OutW()
	cg, cog := s.C/s.Groups, s.Cout/s.Groups
	kk := cg * s.KH * s.KW
	hw := ho * wo
	hp, wp := s.H+2*s.PadH, s.W+2*s.PadW
	// The padded input, with nr values of slack: the last panel of a row
	// may read past the row's end (those columns are discarded).
	xp := Get(s.N*s.C*hp*wp + nr)
	defer Put(xp)
	clear(xp)
	for nc := 0; nc < s.N*s.C; nc++ {
		for y := 0; y < s.H; y++ {
			copy(xp[(nc*hp+y+s.PadH)*wp+s.PadW:], x[(nc*s.H+y)*s.W:(nc*s.H+y+1)*s.W])
		}
	}
	off := make([]int, kk)
	for c := 0; c < cg; c++ {
		for kh := 0; kh < s.KH; kh++ {
			for kw := 0; kw < s.KW; kw++ {
				off[(c*s.KH+kh)*s.KW+kw] = (c*hp+kh*s.DilationH)*wp + kw*s.DilationW
			}
		}
	}
	perRow := (wo + nr - 1) / nr
	units := s.N * ho * perRow
	parallel(units, cog*kk*s.N*hw*s.Groups, func(u0, u1 int) {
		var tile [mr * nr]uint64
		for u := u0; u < u1; u++ {
			n, rem := u/(ho*perRow), u%(ho*perRow)
			oy, ox0 := rem/perRow, rem%perRow*nr
			cols := min(nr, wo-ox0)
			for g := 0; g < s.Groups; g++ {
				base := ((n*s.C+g*cg)*hp+oy*s.StrideH)*wp + ox0
				gp := ap[g*kk*mpad:]
				for ir := 0; ir < cog; ir += mr {
					rows := min(mr, cog-ir)
					obase := ((n*s.Cout+g*cog+ir)*ho+oy)*wo + ox0
					if cols == nr && rows == mr {
						microOff(kk, gp[ir*kk:], xp[base:], off, out[obase:], hw, ep)
						continue
					}
					microOff(kk, gp[ir*kk:], xp[base:], off, tile[:], nr, Epilogue{})
					for i := 0; i < rows; i++ {
						for j := 0; j < cols; j++ {
							ep.store(&out[obase+i*hw+j], tile[i*nr+j])
						}
					}
				}
			}
		}
	})
}

// im2colPanel writes columns [col0, col0+cols) of the im2col matrix of
// channels [c0, c0+cg) of x into panel, in the micro-kernel's layout: kk
// rows of nr values, columns past cols zero. Columns are output positions
// in (image, row, column) order; a panel covers one or more stretches of
// output rows.
func im2colPanel(panel, x []uint64, s ConvSpec, c0, cg, ho, wo, col0, cols int) {
	hw := ho * wo
	kk := cg * s.KH * s.KW
	if cols < nr {
		for r := 0; r < kk; r++ {
			clear(panel[r*nr+cols : r*nr+nr])
		}
	}
	for pos := col0; pos < col0+cols; {
		n, rem := pos/hw, pos%hw
		oy, ox := rem/wo, rem%wo
		m := min(wo-ox, col0+cols-pos)
		off := pos - col0
		for c := 0; c < cg; c++ {
			plane := x[(n*s.C+c0+c)*s.H*s.W:][:s.H*s.W]
			for kh := 0; kh < s.KH; kh++ {
				iy := oy*s.StrideH - s.PadH + kh*s.DilationH
				var srow []uint64
				if iy >= 0 && iy < s.H {
					srow = plane[iy*s.W : (iy+1)*s.W]
				}
				r := (c*s.KH + kh) * s.KW
				for kw := 0; kw < s.KW; kw++ {
					dst := panel[(r+kw)*nr+off : (r+kw)*nr+off+m]
					fillSeg(dst, srow, ox, kw*s.DilationW-s.PadW, s.StrideW)
				}
			}
		}
		pos += m
	}
}

// fillSeg sets dst[j] = srow[(ox0+j)·stride + shift], or 0 outside srow
// (nil srow: a padding row).
func fillSeg(dst, srow []uint64, ox0, shift, stride int) {
	if srow == nil {
		clear(dst)
		return
	}
	w := len(srow)
	if stride == 1 {
		first := ox0 + shift // source index of dst[0]
		if len(dst) == nr && first >= 0 && first+nr <= w {
			// The common interior case: one fixed-size block move.
			*(*[nr]uint64)(dst) = *(*[nr]uint64)(srow[first : first+nr])
			return
		}
		lo := max(0, -first)
		hi := min(len(dst), w-first)
		if hi <= lo {
			clear(dst)
			return
		}
		clear(dst[:lo])
		copy(dst[lo:hi], srow[first+lo:first+hi])
		clear(dst[hi:])
		return
	}
	for j := range dst {
		ix := (ox0+j)*stride + shift
		if ix < 0 || ix >= w {
			dst[j] = 0
		} else {
			dst[j] = srow[ix]
		}
	}
}

// BatchMatMul computes c[i] = a[i]·b[i] for batch pairs of row-major
// matrices a[i] (m×k), b[i] (k×n), overwriting c.
func BatchMatMul(c, a, b []uint64, batch, m, k, n int) {
	for i := 0; i < batch; i++ {
		MatMul(c[i*m*n:(i+1)*m*n], a[i*m*k:(i+1)*m*k], b[i*k*n:(i+1)*k*n], m, k, n)
	}
}
