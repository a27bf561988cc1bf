package mpc

import (
	"github.com/gomplab/gomplab/tensor"
)

// Average and adaptive pooling. Sums over windows are local; averaging
// multiplies by a public map of reciprocals (one truncation); adaptive max
// pooling is max pooling over windows of unequal sizes.

// AvgPool2d averages each pooling window of x (N, C, H, W), as
// torch.nn.functional.avg_pool2d (padding, ceil mode and count_include_pad
// as tensor.AvgPool2d): window sums (local) times the public reciprocal of
// each window's divisor. No round with two parties.
func (x *CrypTensor) AvgPool2d(opt tensor.PoolOpts) *CrypTensor {
	p := x.p
	defer p.op("AvgPool2d")()
	win, oshape := x.poolWindows("AvgPool2d", opt, 0)
	sum := win.Sum(4, false)
	// The divisor of each window: what averaging ones gives over what
	// summing them (the positions inside the input) gives.
	avg := tensor.AvgPool2d(tensor.Ones(1, 1, x.shape[2], x.shape[3]), opt)
	factor := avg.Div(windowCounts(x.shape[2], x.shape[3], oshape[2], oshape[3], opt))
	return sum.Mul(factor).Reshape(oshape...)
}

// windowCounts returns, as a (1, 1, OH, OW) tensor, how many positions of
// each pooling window lie inside an h x w input.
func windowCounts(h, w, oh, ow int, opt tensor.PoolOpts) *tensor.Tensor {
	kh, kw := opt.Kernel[0], opt.Kernel[1]
	sh, sw := opt.Stride[0], opt.Stride[1]
	if sh == 0 {
		sh = kh
	}
	if sw == 0 {
		sw = kw
	}
	dh, dw := max(opt.Dilation[0], 1), max(opt.Dilation[1], 1)
	out := tensor.Zeros(1, 1, oh, ow)
	d := out.Data()
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			c := 0
			for a := 0; a < kh; a++ {
				for b := 0; b < kw; b++ {
					iy, ix := oy*sh-opt.Padding[0]+a*dh, ox*sw-opt.Padding[1]+b*dw
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						c++
					}
				}
			}
			d[oy*ow+ox] = float64(max(c, 1))
		}
	}
	return out
}

// adaptiveBins returns the bins of an adaptive pooling of n positions into
// m: bin i spans [⌊i·n/m⌋, ⌈(i+1)·n/m⌉), as in PyTorch.
func adaptiveBins(n, m int) [][2]int {
	b := make([][2]int, m)
	for i := range b {
		b[i] = [2]int{i * n / m, ((i+1)*n + m - 1) / m}
	}
	return b
}

// adaptiveWindows gathers the bins of an adaptive pooling of x (N, C, H, W)
// to (oh, ow) into a trailing dim as long as the largest bin, repeating
// each bin's first element where it is shorter (which changes neither a
// maximum nor, with the count returned, a sum), and returns the counts.
func (x *CrypTensor) adaptiveWindows(op string, oh, ow int) (*CrypTensor, *tensor.Tensor) {
	p := x.p
	if len(x.shape) != 4 || oh <= 0 || ow <= 0 {
		p.failf(op, "input shape %v (want N, C, H, W) and output size %dx%d", x.shape, oh, ow)
	}
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	by, bx := adaptiveBins(H, oh), adaptiveBins(W, ow)
	k := 0
	for _, a := range by {
		for _, b := range bx {
			k = max(k, (a[1]-a[0])*(b[1]-b[0]))
		}
	}
	counts := tensor.Zeros(1, 1, oh, ow)
	out := make([]uint64, N*C*oh*ow*k)
	for nc := 0; nc < N*C; nc++ {
		plane := x.share[nc*H*W : (nc+1)*H*W]
		for i, a := range by {
			for j, b := range bx {
				base := ((nc*oh+i)*ow + j) * k
				m := 0
				for y := a[0]; y < a[1]; y++ {
					for xx := b[0]; xx < b[1]; xx++ {
						out[base+m] = plane[y*W+xx]
						m++
					}
				}
				if nc == 0 {
					counts.Set(float64(m), 0, 0, i, j)
				}
				for ; m < k; m++ {
					out[base+m] = plane[a[0]*W+b[0]]
				}
			}
		}
	}
	return p.newCT([]int{N, C, oh, ow, k}, out), counts
}

// AdaptiveAvgPool2d averages x (N, C, H, W) into an (oh, ow) grid of bins,
// bin i spanning [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉) as in PyTorch: bin sums (local)
// times the public reciprocals of the bin sizes.
func (x *CrypTensor) AdaptiveAvgPool2d(oh, ow int) *CrypTensor {
	p := x.p
	defer p.op("AdaptiveAvgPool2d")()
	win, counts := x.adaptiveWindows("AdaptiveAvgPool2d", oh, ow)
	k := win.shape[4]
	// The padding repeats elements: subtract them again. Sum the real ones.
	outer := len(win.share) / k
	sum := make([]uint64, outer)
	for i := 0; i < outer; i++ {
		c := int(counts.Data()[i%(oh*ow)])
		for j := 0; j < c; j++ {
			sum[i] += win.share[i*k+j]
		}
	}
	s := p.newCT(win.shape[:4], sum)
	return s.Mul(tensor.Ones(1, 1, oh, ow).Div(counts))
}

// AdaptiveMaxPool2d takes the maximum of each bin of x (N, C, H, W) over an
// (oh, ow) grid (bins as AdaptiveAvgPool2d), as torch's
// adaptive_max_pool2d: max pooling over the bins gathered locally.
func (x *CrypTensor) AdaptiveMaxPool2d(oh, ow int) *CrypTensor {
	defer x.p.op("AdaptiveMaxPool2d")()
	win, _ := x.adaptiveWindows("AdaptiveMaxPool2d", oh, ow)
	v, _ := win.maxAlong(4, false, false, false)
	return v
}
