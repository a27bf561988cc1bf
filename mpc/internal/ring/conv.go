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
func Conv2d(out, x, w []uint64, s ConvSpec) {
	clear(out[:s.OutSize()])
	Conv2dAdd(out, x, w, s)
}

// Conv2dAdd computes out += conv(x, w): per group, an im2col matrix of the
// whole batch, written straight into the packed layout of the matrix
// product, multiplied by the flattened kernel.
func Conv2dAdd(out, x, w []uint64, s ConvSpec) {
	ho, wo := s.OutH(), s.OutW()
	cg, cog := s.C/s.Groups, s.Cout/s.Groups
	kk := cg * s.KH * s.KW
	hw := ho * wo
	ncols := s.N * hw
	bp := Get(kk * ((ncols + nr - 1) / nr * nr))
	prod := Get(cog * ncols)
	defer Put(bp)
	defer Put(prod)
	for g := 0; g < s.Groups; g++ {
		im2colPacked(bp, x, s, g*cg, cg, ho, wo)
		if hw%nr == 0 && haveKernel {
			// Every panel lies inside one image: the kernel accumulates
			// straight into out, whose rows for one image are hw apart.
			convPanelsInto(out, w[g*cog*kk:(g+1)*cog*kk], bp, cog, kk, s.N, hw, s.Cout, g*cog)
			continue
		}
		clear(prod)
		gemmPackedB(prod, w[g*cog*kk:(g+1)*cog*kk], bp, cog, kk, ncols)
		// prod is (cog, N, hw); out is (N, Cout, hw).
		for co := 0; co < cog; co++ {
			for n := 0; n < s.N; n++ {
				AddTo(out[(n*s.Cout+g*cog+co)*hw:(n*s.Cout+g*cog+co+1)*hw], prod[(co*s.N+n)*hw:(co*s.N+n+1)*hw])
			}
		}
	}
}

// im2colPacked writes the receptive fields of channels [c0, c0+cg) of x as
// a (kk × N·ho·wo) matrix in the packed-B layout of gemmPackedB: panels of
// nr columns, each kk rows of nr values, the last panel zero-padded. It
// walks the output panel by panel, so its writes are sequential and its
// reads stay within a few input rows.
func im2colPacked(bp, x []uint64, s ConvSpec, c0, cg, ho, wo int) {
	hw := ho * wo
	ncols := s.N * hw
	kk := cg * s.KH * s.KW
	npanels := (ncols + nr - 1) / nr
	if ncols%nr != 0 {
		clear(bp[(npanels-1)*kk*nr : npanels*kk*nr])
	}
	for p := 0; p < npanels; p++ {
		panel := bp[p*kk*nr : (p+1)*kk*nr]
		for pos := p * nr; pos < min((p+1)*nr, ncols); {
			// The segment of output row (n, oy) inside this panel.
			n, rem := pos/hw, pos%hw
			oy, ox := rem/wo, rem%wo
			m := min(wo-ox, (p+1)*nr-pos)
			off := pos - p*nr
			for c := 0; c < cg; c++ {
				plane := x[(n*s.C+c0+c)*s.H*s.W:][:s.H*s.W]
				for kh := 0; kh < s.KH; kh++ {
					iy := oy*s.StrideH - s.PadH + kh*s.DilationH
					var srow []uint64
					if iy >= 0 && iy < s.H {
						srow = plane[iy*s.W : (iy+1)*s.W]
					}
					for kw := 0; kw < s.KW; kw++ {
						r := (c*s.KH+kh)*s.KW + kw
						fillSeg(panel[r*nr+off:r*nr+off+m], srow, ox, kw*s.DilationW-s.PadW, s.StrideW)
					}
				}
			}
			pos += m
		}
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

// convPanelsInto computes out[n, co0+i, :] += (a·b)[i, n·hw : (n+1)·hw]
// for the packed b, hw a multiple of nr, on every CPU when large.
func convPanelsInto(out, a, bp []uint64, m, k, nimg, hw, cout, co0 int) {
	npanels := nimg * hw / nr
	ap := Get(k * ((m + mr - 1) / mr * mr))
	defer Put(ap)
	packA(ap, a, 0, m, 0, k, k)
	run := func(p0, p1 int) {
		var tile [mr * nr]uint64
		for p := p0; p < p1; p++ {
			panel := bp[p*k*nr:]
			col := p * nr
			n, h0 := col/hw, col%hw
			for ir := 0; ir < m; ir += mr {
				apanel := ap[ir*k:]
				base := (n*cout+co0+ir)*hw + h0
				if ir+mr <= m {
					kernel(k, &apanel[0], &panel[0], &out[base], hw)
					continue
				}
				clear(tile[:])
				kernel(k, &apanel[0], &panel[0], &tile[0], nr)
				for i := 0; i < m-ir; i++ {
					AddTo(out[base+i*hw:base+i*hw+nr], tile[i*nr:(i+1)*nr])
				}
			}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if m*k*nimg*hw < parallelWork || workers < 2 || npanels < 2 {
		run(0, npanels)
		return
	}
	per := (npanels + workers - 1) / workers
	var wg sync.WaitGroup
	for p0 := 0; p0 < npanels; p0 += per {
		p1 := min(p0+per, npanels)
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(p0, p1)
		}()
	}
	wg.Wait()
}

// gemmPackedB computes c += a·b for row-major a (m×k) and b packed in
// nr-wide column panels of all k rows, on every CPU for large products
// (split by column panels).
func gemmPackedB(c, a, bp []uint64, m, k, n int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	npanels := (n + nr - 1) / nr
	workers := runtime.GOMAXPROCS(0)
	if m*n*k < parallelWork || workers < 2 || npanels < 2 {
		gemmPanels(c, a, bp, m, k, n, 0, npanels)
		return
	}
	per := (npanels + workers - 1) / workers
	var wg sync.WaitGroup
	for p0 := 0; p0 < npanels; p0 += per {
		p1 := min(p0+per, npanels)
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemmPanels(c, a, bp, m, k, n, p0, p1)
		}()
	}
	wg.Wait()
}

// gemmPanels multiplies a by column panels [p0, p1) of the packed b.
func gemmPanels(c, a, bp []uint64, m, k, n, p0, p1 int) {
	if !haveKernel {
		for p := p0; p < p1; p++ {
			cols := min(nr, n-p*nr)
			panel := bp[p*k*nr:]
			for i := 0; i < m; i++ {
				crow := c[i*n+p*nr:]
				for q := 0; q < k; q++ {
					x := a[i*k+q]
					brow := panel[q*nr : q*nr+cols]
					for j, bv := range brow {
						crow[j] += x * bv
					}
				}
			}
		}
		return
	}
	ap := Get(k * ((m + mr - 1) / mr * mr))
	defer Put(ap)
	packA(ap, a, 0, m, 0, k, k)
	var tile [mr * nr]uint64
	for p := p0; p < p1; p++ {
		panel := bp[p*k*nr:]
		cols := min(nr, n-p*nr)
		for ir := 0; ir < m; ir += mr {
			apanel := ap[ir*k:]
			rows := min(mr, m-ir)
			if rows == mr && cols == nr {
				kernel(k, &apanel[0], &panel[0], &c[ir*n+p*nr], n)
				continue
			}
			clear(tile[:])
			kernel(k, &apanel[0], &panel[0], &tile[0], nr)
			for i := 0; i < rows; i++ {
				crow := c[(ir+i)*n+p*nr:]
				for j := 0; j < cols; j++ {
					crow[j] += tile[i*nr+j]
				}
			}
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
