package tensor

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// ConvOpts configures Conv2d. Zero values mean stride 1, padding 0,
// dilation 1 and one group, so ConvOpts{} is a plain convolution. Index 0 is
// the height, index 1 the width.
type ConvOpts struct {
	Stride, Padding, Dilation [2]int
	Groups                    int
}

// ConvOutSize returns the output length of a convolution or pooling window
// sliding over in positions: floor((in + 2*pad - dilation*(kernel-1) - 1) /
// stride) + 1, or 0 when the dilated kernel does not fit in the padded input.
func ConvOutSize(in, kernel, stride, pad, dilation int) int {
	num := in + 2*pad - dilation*(kernel-1) - 1
	if num < 0 || stride <= 0 {
		return 0
	}
	return num/stride + 1
}

func or1(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// Conv2d returns the 2-D cross-correlation of x (N, C, H, W) with filters
// w (Cout, C/groups, KH, KW) plus bias (nil or (Cout)), shaped (N, Cout, OH,
// OW), as torch.nn.functional.conv2d. It unrolls each sample's input
// patches into a matrix (im2col) and multiplies it with the filters by one
// BLAS GEMM per sample and group; samples run in parallel.
func Conv2d(x, w, bias *Tensor, opt ConvOpts) *Tensor {
	bad := func(msg string, args ...any) {
		panic(&ShapeError{Op: "Conv2d", A: x.Shape(), B: w.Shape(), Msg: fmt.Sprintf(msg, args...)})
	}
	if len(x.shape) != 4 || len(w.shape) != 4 {
		bad("want input (N, C, H, W) and weight (Cout, C/groups, KH, KW)")
	}
	sh, sw := or1(opt.Stride[0]), or1(opt.Stride[1])
	dh, dw := or1(opt.Dilation[0]), or1(opt.Dilation[1])
	ph, pw := opt.Padding[0], opt.Padding[1]
	groups := or1(opt.Groups)
	if sh < 0 || sw < 0 || dh < 0 || dw < 0 || ph < 0 || pw < 0 || groups < 0 {
		bad("negative option in %+v", opt)
	}
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	Cout, Cg, KH, KW := w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if C%groups != 0 || Cout%groups != 0 || Cg != C/groups {
		bad("%d input channels and %d filters do not split into %d groups of %d-channel filters", C, Cout, groups, Cg)
	}
	if bias != nil && (len(bias.shape) != 1 || bias.shape[0] != Cout) {
		panic(&ShapeError{Op: "Conv2d", A: w.Shape(), B: bias.Shape(), Msg: fmt.Sprintf("bias must have shape [%d]", Cout)})
	}
	OH, OW := ConvOutSize(H, KH, sh, ph, dh), ConvOutSize(W, KW, sw, pw, dw)
	if OH <= 0 || OW <= 0 {
		bad("kernel %dx%d (dilation %dx%d) does not fit the %dx%d input padded by %dx%d", KH, KW, dh, dw, H, W, ph, pw)
	}
	out := newTensor("Conv2d", []int{N, Cout, OH, OW})
	if len(out.data) == 0 {
		return out
	}
	coutG := Cout / groups
	K := Cg * KH * KW
	P := OH * OW
	direct := KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0
	sample := func(n int, cols []float64) {
		for g := 0; g < groups; g++ {
			src := x.data[(n*C+g*Cg)*H*W : (n*C+(g+1)*Cg)*H*W]
			if direct {
				cols = src // a 1x1 convolution's patch matrix is the input itself
			} else {
				im2col(cols, src, Cg, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw)
			}
			dst := out.data[(n*Cout+g*coutG)*P : (n*Cout+(g+1)*coutG)*P]
			gemm(coutG, P, K, w.data[g*coutG*K:], cols, dst)
		}
		if bias != nil {
			for co := 0; co < Cout; co++ {
				kernelVS(opAdd, out.data[(n*Cout+co)*P:(n*Cout+co+1)*P], out.data[(n*Cout+co)*P:], bias.data[co])
			}
		}
	}
	parallel(N, func() []float64 { return make([]float64, K*P) }, sample)
	return out
}

// parallel runs f(i, scratch) for i in [0, n) on up to GOMAXPROCS
// goroutines, each with its own scratch buffer from newScratch.
func parallel(n int, newScratch func() []float64, f func(i int, scratch []float64)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		s := newScratch()
		for i := 0; i < n; i++ {
			f(i, s)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newScratch()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				f(i, s)
			}
		}()
	}
	wg.Wait()
}

// im2col writes the patch matrix of one (C, H, W) image: row
// (c*KH+kh)*KW+kw holds, for every output position, the input value that
// kernel tap (kh, kw) of channel c sees there (0 in the padding).
func im2col(cols, src []float64, C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw int) {
	P := OH * OW
	for c := 0; c < C; c++ {
		plane := src[c*H*W : (c+1)*H*W]
		for kh := 0; kh < KH; kh++ {
			for kw := 0; kw < KW; kw++ {
				row := cols[((c*KH+kh)*KW+kw)*P : ((c*KH+kh)*KW+kw+1)*P]
				offW := kw*dw - pw
				// Output columns whose input column iw = ow*sw+offW is in [0, W).
				lo := ceilDiv(-offW, sw)
				hi := ceilDiv(W-offW, sw)
				lo, hi = max(lo, 0), min(hi, OW)
				for oh := 0; oh < OH; oh++ {
					r := row[oh*OW : (oh+1)*OW]
					ih := oh*sh - ph + kh*dh
					if ih < 0 || ih >= H || lo >= hi {
						clear(r)
						continue
					}
					in := plane[ih*W : (ih+1)*W]
					clear(r[:lo])
					if sw == 1 {
						copy(r[lo:hi], in[lo+offW:hi+offW])
					} else {
						for ow := lo; ow < hi; ow++ {
							r[ow] = in[ow*sw+offW]
						}
					}
					clear(r[hi:])
				}
			}
		}
	}
}

// ceilDiv returns ceil(a/b) for b > 0 and any sign of a.
func ceilDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// PoolOpts configures MaxPool2d and AvgPool2d as the PyTorch layers of the
// same names: index 0 is the height, index 1 the width. A zero Stride means
// Stride = Kernel; a zero Dilation means 1. Padding may be at most half the
// (dilated) kernel. CeilMode rounds the output size up, so windows may run
// past the input as long as they start inside it or its left padding.
// CountIncludePad makes AvgPool2d divide by the window size including
// padded positions instead of by the number of real elements (note that
// PyTorch's default is true, this field's zero value false).
type PoolOpts struct {
	Kernel, Stride, Padding, Dilation [2]int
	CeilMode                          bool
	CountIncludePad                   bool
}

// poolGeom is a validated pooling configuration over one input.
type poolGeom struct {
	planes, H, W, OH, OW   int
	kh, kw, sh, sw, ph, pw int
	dh, dw                 int
	outShape               []int
}

// poolOutSize follows PyTorch: the last window must start inside the input
// or its left padding.
func poolOutSize(in, k, s, p, d int, ceil bool) int {
	num := in + 2*p - d*(k-1) - 1
	if num < 0 {
		return 0
	}
	out := num/s + 1
	if ceil {
		out = ceilDiv(num, s) + 1
		if (out-1)*s >= in+p {
			out--
		}
	}
	return out
}

func poolSetup(op string, x *Tensor, opt PoolOpts) poolGeom {
	bad := func(msg string, args ...any) {
		panic(&ShapeError{Op: op, A: x.Shape(), Msg: fmt.Sprintf(msg, args...)})
	}
	nd := len(x.shape)
	if nd != 3 && nd != 4 {
		bad("want input (N, C, H, W) or (C, H, W)")
	}
	g := poolGeom{kh: opt.Kernel[0], kw: opt.Kernel[1], ph: opt.Padding[0], pw: opt.Padding[1]}
	g.sh, g.sw = opt.Stride[0], opt.Stride[1]
	if g.sh == 0 {
		g.sh = g.kh
	}
	if g.sw == 0 {
		g.sw = g.kw
	}
	g.dh, g.dw = or1(opt.Dilation[0]), or1(opt.Dilation[1])
	if g.kh <= 0 || g.kw <= 0 || g.sh <= 0 || g.sw <= 0 || g.dh <= 0 || g.dw <= 0 || g.ph < 0 || g.pw < 0 {
		bad("kernel, stride and dilation must be positive and padding non-negative: %+v", opt)
	}
	if g.ph > ((g.kh-1)*g.dh+1)/2 || g.pw > ((g.kw-1)*g.dw+1)/2 {
		bad("padding %v exceeds half the kernel %v", opt.Padding, opt.Kernel)
	}
	g.H, g.W = x.shape[nd-2], x.shape[nd-1]
	g.planes = Numel(x.shape[:nd-2])
	g.OH = poolOutSize(g.H, g.kh, g.sh, g.ph, g.dh, opt.CeilMode)
	g.OW = poolOutSize(g.W, g.kw, g.sw, g.pw, g.dw, opt.CeilMode)
	if g.OH <= 0 || g.OW <= 0 {
		bad("kernel %v does not fit the %dx%d input", opt.Kernel, g.H, g.W)
	}
	g.outShape = append(append([]int{}, x.shape[:nd-2]...), g.OH, g.OW)
	return g
}

// MaxPool2d returns the maximum over each pooling window of x, which is
// (N, C, H, W) or (C, H, W); padding never wins and NaN propagates.
func MaxPool2d(x *Tensor, opt PoolOpts) *Tensor {
	out, _ := maxPool("MaxPool2d", x, opt, false)
	return out
}

// MaxPool2dIndices is MaxPool2d that also returns, for each output element,
// the flat index into x.Data() of the element chosen, for routing gradients
// back. A window that holds only padding (possible with dilation) yields
// -Inf and index -1.
func MaxPool2dIndices(x *Tensor, opt PoolOpts) (*Tensor, []int) {
	return maxPool("MaxPool2dIndices", x, opt, true)
}

func maxPool(op string, x *Tensor, opt PoolOpts, wantIdx bool) (*Tensor, []int) {
	g := poolSetup(op, x, opt)
	out := newTensor(op, g.outShape)
	var idx []int
	if wantIdx {
		idx = make([]int, len(out.data))
	}
	HW, OHW := g.H*g.W, g.OH*g.OW
	for p := 0; p < g.planes; p++ {
		plane := x.data[p*HW : (p+1)*HW]
		for oh := 0; oh < g.OH; oh++ {
			h0 := oh*g.sh - g.ph
			for ow := 0; ow < g.OW; ow++ {
				w0 := ow*g.sw - g.pw
				best, bi := math.Inf(-1), -1
			window:
				for i := 0; i < g.kh; i++ {
					ih := h0 + i*g.dh
					if ih < 0 || ih >= g.H {
						continue
					}
					for j := 0; j < g.kw; j++ {
						iw := w0 + j*g.dw
						if iw < 0 || iw >= g.W {
							continue
						}
						v := plane[ih*g.W+iw]
						if v > best || bi < 0 {
							best, bi = v, ih*g.W+iw
						}
						if v != v {
							best, bi = v, ih*g.W+iw
							break window
						}
					}
				}
				o := p*OHW + oh*g.OW + ow
				out.data[o] = best
				if wantIdx {
					idx[o] = -1
					if bi >= 0 {
						idx[o] = p*HW + bi
					}
				}
			}
		}
	}
	return out, idx
}

// AvgPool2d returns the mean over each pooling window of x, which is
// (N, C, H, W) or (C, H, W). See PoolOpts for the divisor.
func AvgPool2d(x *Tensor, opt PoolOpts) *Tensor {
	g := poolSetup("AvgPool2d", x, opt)
	out := newTensor("AvgPool2d", g.outShape)
	HW, OHW := g.H*g.W, g.OH*g.OW
	for p := 0; p < g.planes; p++ {
		plane := x.data[p*HW : (p+1)*HW]
		for oh := 0; oh < g.OH; oh++ {
			h0 := oh*g.sh - g.ph
			for ow := 0; ow < g.OW; ow++ {
				w0 := ow*g.sw - g.pw
				s, real, padded := 0.0, 0, 0
				for i := 0; i < g.kh; i++ {
					ih := h0 + i*g.dh
					if ih >= g.H+g.ph {
						break
					}
					for j := 0; j < g.kw; j++ {
						iw := w0 + j*g.dw
						if iw >= g.W+g.pw {
							break
						}
						padded++
						if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
							s += plane[ih*g.W+iw]
							real++
						}
					}
				}
				div := real
				if opt.CountIncludePad {
					div = padded
				}
				out.data[p*OHW+oh*g.OW+ow] = s / float64(div)
			}
		}
	}
	return out
}
