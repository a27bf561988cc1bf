package nn

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// This file holds the differentiable activations, softmax, convolution and
// pooling. On encrypted values the nonlinear functions are the mpc
// package's approximations; see there for their ranges and errors.

// Relu returns max(v, 0).
func (v *Variable) Relu() *Variable {
	return apply("Relu", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		y, mask := x.backend().relu(x, v.requiresGrad)
		return y, func(g value) []value { return []value{pick(g, mask).mul(g, mask)} }
	})
}

// Abs returns |v|.
func (v *Variable) Abs() *Variable {
	return apply("Abs", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		b := x.backend()
		s := b.sign(x)
		return b.mul(x, s), func(g value) []value { return []value{pick(g, s).mul(g, s)} }
	})
}

// Sign returns 1 where v > 0 and -1 where v < 0 (at 0: 0 on plaintext, 1
// on encrypted values, CrypTen's convention). It has no gradient (zero
// almost everywhere), so it records no history: use it for metrics.
func (v *Variable) Sign() *Variable {
	return apply("Sign", []*Variable{v}, func() (value, func(value) []value) {
		return v.val.backend().sign(v.val), nil
	})
}

// ArgmaxOneHot marks the first maximum along dim with 1 and everything else
// with 0 (v's shape), without gradient: for predictions and accuracy.
func (v *Variable) ArgmaxOneHot(dim int) *Variable {
	return apply("ArgmaxOneHot", []*Variable{v}, func() (value, func(value) []value) {
		return v.val.backend().argmaxOneHot(v.val, normDim(dim, v.val)), nil
	})
}

// Sigmoid returns 1 / (1 + e^-v).
func (v *Variable) Sigmoid() *Variable {
	return unary("Sigmoid", v, func(b backend, a value) value { return b.sigmoid(a) },
		func(b backend, g, _, y value) value {
			yb := y.backend()
			return b.mul(g, yb.mul(y, yb.shift(yb.neg(y), 1)))
		})
}

// LogSigmoid returns log(sigmoid(v)), computed stably on plaintext.
func (v *Variable) LogSigmoid() *Variable {
	return unary("LogSigmoid", v, func(b backend, a value) value { ls, _ := b.logSigmoid(a, false); return ls },
		func(b backend, g, x, _ value) value {
			xb := x.backend()
			return b.mul(g, xb.sigmoid(xb.neg(x)))
		})
}

// Tanh returns the hyperbolic tangent of v.
func (v *Variable) Tanh() *Variable {
	return unary("Tanh", v, func(b backend, a value) value { return b.tanh(a) },
		func(b backend, g, _, y value) value {
			yb := y.backend()
			return b.mul(g, yb.shift(yb.neg(yb.mul(y, y)), 1))
		})
}

// Exp returns e^v.
func (v *Variable) Exp() *Variable {
	return unary("Exp", v, func(b backend, a value) value { return b.exp(a) },
		func(b backend, g, _, y value) value { return b.mul(g, y) })
}

// Log returns the natural logarithm of v.
func (v *Variable) Log() *Variable {
	return unary("Log", v, func(b backend, a value) value { return b.log(a) },
		func(b backend, g, x, _ value) value { return b.mul(g, x.backend().reciprocal(x)) })
}

// Reciprocal returns 1/v.
func (v *Variable) Reciprocal() *Variable {
	return unary("Reciprocal", v, func(b backend, a value) value { return b.reciprocal(a) },
		func(b backend, g, _, y value) value { return b.neg(b.mul(g, y.backend().mul(y, y))) })
}

// Sqrt returns the square root of v.
func (v *Variable) Sqrt() *Variable {
	return unary("Sqrt", v, func(b backend, a value) value { return b.sqrt(a) },
		func(b backend, g, _, y value) value { return b.scale(b.mul(g, y.backend().reciprocal(y)), 0.5) })
}

// InvSqrt returns 1/sqrt(v).
func (v *Variable) InvSqrt() *Variable {
	return unary("InvSqrt", v, func(b backend, a value) value { return b.invSqrt(a) },
		func(b backend, g, _, y value) value {
			yb := y.backend()
			return b.scale(b.mul(g, yb.mul(y, yb.mul(y, y))), -0.5)
		})
}

// Softmax returns exp(v) normalized to sum 1 along dim.
func (v *Variable) Softmax(dim int) *Variable {
	return apply("Softmax", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		d := normDim(dim, x)
		y := x.backend().softmax(x, d)
		return y, func(g value) []value {
			b := pick(g, y)
			dot := b.sum(b.mul(g, y), d, true)
			return []value{b.mul(y, b.sub(g, dot))}
		}
	})
}

// LogSoftmax returns log(Softmax(dim)), computed stably.
func (v *Variable) LogSoftmax(dim int) *Variable {
	return apply("LogSoftmax", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		d := normDim(dim, x)
		y := x.backend().logSoftmax(x, d)
		return y, func(g value) []value {
			b := pick(g, x)
			sm := x.backend().softmax(x, d)
			return []value{b.sub(g, b.mul(sm, g.backend().sum(g, d, true)))}
		}
	})
}

func normDim(dim int, x value) int {
	d, err := tensor.NormDim(dim, len(x.dims()))
	if err != nil {
		panic(err)
	}
	return d
}

// convOpts fills in ConvOpts defaults so the backward formulas can use them.
func convOpts(o tensor.ConvOpts) tensor.ConvOpts {
	for i := 0; i < 2; i++ {
		if o.Stride[i] == 0 {
			o.Stride[i] = 1
		}
		if o.Dilation[i] == 0 {
			o.Dilation[i] = 1
		}
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	return o
}

// Conv2d convolves v (N, C, H, W) with filters w (Cout, C/groups, KH, KW)
// and adds bias (nil, or (Cout)), as torch.nn.functional.conv2d.
func (v *Variable) Conv2d(w, bias *Variable, opt tensor.ConvOpts) *Variable {
	out := apply("Conv2d", []*Variable{v, w}, func() (value, func(value) []value) {
		x, wv := v.val, w.val
		o := convOpts(opt)
		if len(x.dims()) != 4 || len(wv.dims()) != 4 {
			panic(&tensor.ShapeError{Op: "Conv2d", A: x.dims(), B: wv.dims(), Msg: "want input (N, C, H, W) and weight (Cout, C/groups, KH, KW)"})
		}
		xs, ws := x.dims(), wv.dims()
		y := pick(x, wv).conv2d(x, wv, opt)
		return y, func(g value) []value {
			var gx, gw value
			if v.requiresGrad {
				gx = convGradInput(g, wv, xs, o)
			}
			if w.requiresGrad {
				gw = convGradWeight(g, x, ws, o)
			}
			return []value{gx, gw}
		}
	})
	if bias == nil {
		return out
	}
	return out.Add(bias.Reshape(1, -1, 1, 1))
}

// dilate inserts s-1 zeros between neighbours along dim d: length n becomes
// (n-1)*s+1.
func dilate(x value, d, s int) value {
	if s == 1 {
		return x
	}
	n := x.dims()[d]
	return unslice(x, replaceDim(x.dims(), d, (n-1)*s+1), d, 0, n, s)
}

func replaceDim(shape []int, d, n int) []int {
	s := append([]int(nil), shape...)
	s[d] = n
	return s
}

// convGradInput is the gradient of conv2d with respect to its input: the
// transposed convolution of g with w, written as an ordinary convolution
// of g (dilated by the stride and padded) with the spatially flipped filters,
// whose in- and out-channels are swapped within each group.
func convGradInput(g, w value, xs []int, o tensor.ConvOpts) value {
	b := pick(g, w)
	ws := w.dims()
	for i, axis := range []int{2, 3} {
		g = dilate(g, axis, o.Stride[i])
		k := ws[axis]
		top := o.Dilation[i]*(k-1) - o.Padding[i]
		bottom := xs[axis] + o.Dilation[i]*(k-1) - g.dims()[axis] - top
		if top < 0 {
			g = b.slice(g, axis, -top, g.dims()[axis], 1)
			top = 0
		}
		if bottom < 0 {
			g = b.slice(g, axis, 0, g.dims()[axis]+bottom, 1)
			bottom = 0
		}
		if top > 0 || bottom > 0 {
			g = b.pad(g, padAlong(4, axis, top, bottom), 0)
		}
	}
	wb := w.backend()
	wf := wb.flip(wb.flip(w, 2), 3)
	G := o.Groups
	og := ws[0] / G
	swap := []int{1, 0, 2, 3}
	var wt value
	if G == 1 {
		wt = wb.permute(wf, swap)
	} else {
		parts := make([]value, G)
		for i := range parts {
			parts[i] = wb.permute(wb.slice(wf, 0, i*og, (i+1)*og, 1), swap)
		}
		wt = wb.concat(0, parts)
	}
	return pick(g, wt).conv2d(g, wt, tensor.ConvOpts{Dilation: o.Dilation, Groups: G})
}

// convGradWeight is the gradient of conv2d with respect to its filters: a
// convolution of the input (batch and channels swapped) with g, whose
// stride is the forward dilation and whose dilation the forward stride,
// cropped to the kernel size. Groups are handled one at a time.
func convGradWeight(g, x value, ws []int, o tensor.ConvOpts) value {
	G := o.Groups
	cg, og := ws[1], ws[0]/G
	swap := []int{1, 0, 2, 3}
	parts := make([]value, G)
	for i := range parts {
		xi, gi := x, g
		if G > 1 {
			xi = x.backend().slice(x, 1, i*cg, (i+1)*cg, 1)
			gi = g.backend().slice(g, 1, i*og, (i+1)*og, 1)
		}
		xi = xi.backend().permute(xi, swap)
		gi = gi.backend().permute(gi, swap)
		b := pick(xi, gi)
		r := b.conv2d(xi, gi, tensor.ConvOpts{Stride: o.Dilation, Dilation: o.Stride, Padding: o.Padding})
		if r.dims()[2] != ws[2] {
			r = b.slice(r, 2, 0, ws[2], 1)
		}
		if r.dims()[3] != ws[3] {
			r = b.slice(r, 3, 0, ws[3], 1)
		}
		parts[i] = b.permute(r, swap)
	}
	if G == 1 {
		return parts[0]
	}
	return pick(parts...).concat(0, parts)
}

// MaxPool2d takes the maximum over each pooling window of v (N, C, H, W).
func (v *Variable) MaxPool2d(opt tensor.PoolOpts) *Variable {
	return apply("MaxPool2d", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		if len(x.dims()) != 4 {
			panic(fmt.Errorf("MaxPool2d: want input (N, C, H, W), have shape %v", x.dims()))
		}
		y, back := x.backend().maxPool2d(x, opt, v.requiresGrad)
		return y, func(g value) []value { return []value{back(g)} }
	})
}

// poolOpts fills in PoolOpts defaults.
func poolOpts(o tensor.PoolOpts) tensor.PoolOpts {
	for i := 0; i < 2; i++ {
		if o.Stride[i] == 0 {
			o.Stride[i] = o.Kernel[i]
		}
		if o.Dilation[i] == 0 {
			o.Dilation[i] = 1
		}
	}
	return o
}

// poolOutSize is PyTorch's pooling output length, with ceil mode.
func poolOutSize(in, k, s, p, d int, ceil bool) int {
	num := in + 2*p - d*(k-1) - 1
	if num < 0 {
		return 0
	}
	out := num/s + 1
	if ceil && num%s != 0 {
		out++
		if (out-1)*s >= in+p { // the last window must start inside the input or left padding
			out--
		}
	}
	return out
}

// AvgPool2d averages each pooling window of v (N, C, H, W), as PyTorch's
// avg_pool2d. It is a sum over windows, a convolution with a public kernel of
// ones (free on encrypted values), times a public map of 1/divisor.
func (v *Variable) AvgPool2d(opt tensor.PoolOpts) *Variable {
	if v.err != nil {
		return v
	}
	sh := v.val.dims()
	if len(sh) != 4 {
		return Errorf("AvgPool2d: want input (N, C, H, W), have shape %v", sh)
	}
	var widths [][2]int
	var factor *tensor.Tensor
	if err := guard("AvgPool2d", func() { widths, factor = avgPoolPlan(sh[2], sh[3], opt) }); err != nil {
		return &Variable{err: err}
	}
	o := poolOpts(opt)
	n, c, h, w := sh[0], sh[1], sh[2], sh[3]
	kernel := NewVariable(tensor.Ones(1, 1, o.Kernel[0], o.Kernel[1]))
	s := v.Reshape(n*c, 1, h, w).Pad(widths, 0).Conv2d(kernel, nil, tensor.ConvOpts{Stride: o.Stride, Dilation: o.Dilation})
	fs := factor.Shape()
	return s.Mul(NewVariable(factor)).Reshape(n, c, fs[2], fs[3])
}

// avgPoolPlan returns the padding that makes an ordinary (floor-mode)
// convolution visit exactly the windows of avg_pool2d on an h x w input,
// and the (1, 1, OH, OW) map of 1/divisor for each window, found by pooling
// ones both ways (so padding and ceil-mode rules are the tensor package's).
func avgPoolPlan(h, w int, opt tensor.PoolOpts) ([][2]int, *tensor.Tensor) {
	o := poolOpts(opt)
	widths := [][2]int{{0, 0}, {0, 0}, {0, 0}, {0, 0}}
	for i, in := range []int{h, w} {
		out := poolOutSize(in, o.Kernel[i], o.Stride[i], o.Padding[i], o.Dilation[i], o.CeilMode)
		if out <= 0 || o.Kernel[i] <= 0 {
			panic(fmt.Errorf("kernel %v does not fit a %dx%d input", o.Kernel, h, w))
		}
		need := (out-1)*o.Stride[i] + o.Dilation[i]*(o.Kernel[i]-1) + 1
		widths[2+i] = [2]int{o.Padding[i], max(0, need-in-o.Padding[i])}
	}
	ones := tensor.Ones(1, 1, h, w)
	avg := tensor.AvgPool2d(ones, opt) // validates the options before anything is padded
	sums := tensor.Conv2d(ones.Pad(widths, 0), tensor.Ones(1, 1, o.Kernel[0], o.Kernel[1]), nil,
		tensor.ConvOpts{Stride: o.Stride, Dilation: o.Dilation})
	if !tensor.SameShape(avg.Shape(), sums.Shape()) {
		panic(fmt.Errorf("pooling windows %v and %v disagree", avg.Shape(), sums.Shape()))
	}
	return widths, avg.Div(sums.Apply(func(s float64) float64 { return max(s, 1) }))
}

// AdaptiveAvgPool2d averages v (N, C, H, W) into an (oh, ow) grid of bins,
// bin i spanning [floor(i*H/oh), ceil((i+1)*H/oh)) as in PyTorch.
func (v *Variable) AdaptiveAvgPool2d(oh, ow int) *Variable {
	if v.err != nil {
		return v
	}
	sh := v.val.dims()
	if len(sh) != 4 || oh <= 0 || ow <= 0 {
		return Errorf("AdaptiveAvgPool2d(%d, %d): input shape %v", oh, ow, sh)
	}
	h, w := sh[2], sh[3]
	if h%oh == 0 && w%ow == 0 {
		k := [2]int{h / oh, w / ow}
		return v.AvgPool2d(tensor.PoolOpts{Kernel: k, Stride: k})
	}
	out := v
	for i, bins := range []int{oh, ow} {
		dim, n := 2+i, sh[2+i]
		parts := make([]*Variable, bins)
		for j := range parts {
			lo, hi := j*n/bins, ((j+1)*n+bins-1)/bins
			parts[j] = out.Slice(dim, lo, hi, 1).MeanKeep(dim)
		}
		out = Concat(dim, parts...)
	}
	return out
}

// Clamp limits v to [lo, hi] (torch.clamp, Hardtanh); its gradient passes
// where lo < v < hi. On encrypted values one batched comparison gives the
// result and the gradient's mask together.
func (v *Variable) Clamp(lo, hi float64) *Variable {
	if !(lo <= hi) {
		return Errorf("Clamp: bounds [%v, %v]", lo, hi)
	}
	return apply("Clamp", []*Variable{v}, func() (value, func(value) []value) {
		x := v.val
		y, mask := x.backend().clamp(x, lo, hi, v.requiresGrad)
		return y, func(g value) []value { return []value{pick(g, mask).mul(g, mask)} }
	})
}

// LeakyRelu returns v where v > 0 and slope·v elsewhere:
// slope·v + (1 − slope)·relu(v), one comparison.
func (v *Variable) LeakyRelu(slope float64) *Variable {
	return v.MulScalar(slope).Add(v.Relu().MulScalar(1 - slope))
}

// Erf returns the error function of v; its gradient is
// 2/√π·e^(−v²)·g. On encrypted values both are the mpc package's, valid
// for any input.
func (v *Variable) Erf() *Variable {
	return unary("Erf", v, func(b backend, a value) value { return b.erf(a) },
		func(b backend, g, x, _ value) value {
			return b.scale(b.mul(g, x.backend().gaussian(x)), 2/math.Sqrt(math.Pi))
		})
}

// Gelu returns the Gaussian error linear unit v·Φ(v) =
// v·(1 + erf(v/√2))/2 (torch.nn.GELU), or with tanh set PyTorch's
// approximation v·(1 + tanh(√(2/π)·(v + 0.044715·v³)))/2.
func (v *Variable) Gelu(tanh bool) *Variable {
	if tanh {
		inner := v.Add(v.Square().Mul(v).MulScalar(0.044715)).MulScalar(math.Sqrt(2 / math.Pi))
		return inner.Tanh().AddScalar(1).Mul(v).MulScalar(0.5)
	}
	return v.MulScalar(1 / math.Sqrt2).Erf().AddScalar(1).Mul(v).MulScalar(0.5)
}

// invSqrtFull is InvSqrt over the whole positive range of the fixed-point
// encoding (the mpc package's normalized one): for the variances of the
// normalization layers, which can be anywhere.
func (v *Variable) invSqrtFull() *Variable {
	return unary("InvSqrt", v, func(b backend, a value) value { return b.invSqrtFull(a) },
		func(b backend, g, _, y value) value {
			yb := y.backend()
			return b.scale(b.mul(g, yb.mul(y, yb.mul(y, y))), -0.5)
		})
}

// sqrtFull is Sqrt over the whole fixed-point range (for imported
// graphs); its gradient takes the full-range reciprocal too.
func (v *Variable) sqrtFull() *Variable {
	return unary("Sqrt", v, func(b backend, a value) value { return b.sqrtFull(a) },
		func(b backend, g, _, y value) value { return b.scale(b.mul(g, y.backend().reciprocalFull(y)), 0.5) })
}

// reciprocalFull is Reciprocal over the whole fixed-point range (either
// sign; for imported graphs).
func (v *Variable) reciprocalFull() *Variable {
	return unary("Reciprocal", v, func(b backend, a value) value { return b.reciprocalFull(a) },
		func(b backend, g, _, y value) value { return b.neg(b.mul(g, y.backend().mul(y, y))) })
}

// Eq returns 1 where v equals o and 0 elsewhere (broadcasting), without
// gradient; Gt and Lt likewise for v > o and v < o.
func (v *Variable) Eq(o *Variable) *Variable { return v.compare("Eq", o, "eq") }

// Gt returns 1 where v > o and 0 elsewhere (see Eq).
func (v *Variable) Gt(o *Variable) *Variable { return v.compare("Gt", o, "gt") }

// Lt returns 1 where v < o and 0 elsewhere (see Eq).
func (v *Variable) Lt(o *Variable) *Variable { return v.compare("Lt", o, "lt") }

func (v *Variable) compare(name string, o *Variable, op string) *Variable {
	return apply(name, []*Variable{v, o}, func() (value, func(value) []value) {
		a, b := v.val, o.val
		broadcastShape(name, a, b)
		return pick(a, b).compare(a, b, op), nil
	})
}

// Pow returns v^e: by products for integer e (the gradient comes with
// them), Sqrt, InvSqrt and Reciprocal for 1/2, −1/2 and −1, and
// exp(e·log v) otherwise (positive v; on encrypted values within Log's
// and Exp's ranges).
func (v *Variable) Pow(e float64) *Variable {
	switch {
	case e == 1:
		return v.MulScalar(1)
	case e == 0:
		if v.err != nil {
			return v
		}
		return NewVariable(tensor.Ones(v.val.dims()...))
	case e == 2:
		return v.Square()
	case e == 0.5:
		return v.Sqrt()
	case e == -0.5:
		return v.InvSqrt()
	case e == -1:
		return v.Reciprocal()
	case e == math.Trunc(e) && e < 0 && e > -1<<20:
		return v.Reciprocal().Pow(-e)
	case e == math.Trunc(e) && e > 0 && e < 1<<20:
		n := int(e)
		var acc *Variable
		base := v
		for {
			if n&1 == 1 {
				if acc == nil {
					acc = base
				} else {
					acc = acc.Mul(base)
				}
			}
			if n >>= 1; n == 0 {
				return acc
			}
			base = base.Square()
		}
	}
	return v.Log().MulScalar(e).Exp()
}
