package ring

import "fmt"

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
// whole batch multiplied by the flattened kernel in one matrix product.
func Conv2dAdd(out, x, w []uint64, s ConvSpec) {
	ho, wo := s.OutH(), s.OutW()
	cg, cog := s.C/s.Groups, s.Cout/s.Groups
	kk := cg * s.KH * s.KW
	hw := ho * wo
	cols := make([]uint64, kk*s.N*hw) // (kk, N*hw)
	prod := make([]uint64, cog*s.N*hw)
	for g := 0; g < s.Groups; g++ {
		im2col(cols, x, s, g*cg, cg, ho, wo)
		MatMul(prod, w[g*cog*kk:(g+1)*cog*kk], cols, cog, kk, s.N*hw)
		// prod is (cog, N, hw); out is (N, Cout, hw).
		for co := 0; co < cog; co++ {
			for n := 0; n < s.N; n++ {
				AddTo(out[(n*s.Cout+g*cog+co)*hw:(n*s.Cout+g*cog+co+1)*hw], prod[(co*s.N+n)*hw:(co*s.N+n+1)*hw])
			}
		}
	}
}

// im2col fills cols (kk rows, N*ho*wo columns) with the receptive fields of
// channels [c0, c0+cg) of x.
func im2col(cols, x []uint64, s ConvSpec, c0, cg, ho, wo int) {
	hw := ho * wo
	ld := s.N * hw
	for c := 0; c < cg; c++ {
		for kh := 0; kh < s.KH; kh++ {
			for kw := 0; kw < s.KW; kw++ {
				row := cols[((c*s.KH+kh)*s.KW+kw)*ld:][:ld]
				for n := 0; n < s.N; n++ {
					plane := x[(n*s.C+c0+c)*s.H*s.W:][:s.H*s.W]
					dst := row[n*hw : (n+1)*hw]
					for oy := 0; oy < ho; oy++ {
						iy := oy*s.StrideH - s.PadH + kh*s.DilationH
						d := dst[oy*wo : (oy+1)*wo]
						if iy < 0 || iy >= s.H {
							clear(d)
							continue
						}
						src := plane[iy*s.W : (iy+1)*s.W]
						for ox := range d {
							ix := ox*s.StrideW - s.PadW + kw*s.DilationW
							if ix < 0 || ix >= s.W {
								d[ox] = 0
							} else {
								d[ox] = src[ix]
							}
						}
					}
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
