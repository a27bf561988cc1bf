package nn

import (
	"github.com/gomplab/gomplab/tensor"
)

// One-dimensional and transposed convolutions and adaptive max pooling,
// written with the differentiable operations of ops.go and ops_nn.go, so
// their gradients (and their encrypted versions) come with them.

// Conv1d convolves v (N, C, L) with filters w (Cout, C/groups, K) and adds
// bias (nil, or (Cout)), as torch.nn.functional.conv1d: Conv2d on a height
// of 1.
func (v *Variable) Conv1d(w, bias *Variable, opt tensor.Conv1dOpts) *Variable {
	if v.err != nil || w == nil || w.err != nil {
		return apply("Conv1d", []*Variable{v, w}, nil)
	}
	xs, ws := v.val.dims(), w.val.dims()
	if len(xs) != 3 || len(ws) != 3 {
		return Errorf("Conv1d: input %v and weight %v must be (N, C, L) and (Cout, C/groups, K)", xs, ws)
	}
	y := v.Reshape(xs[0], xs[1], 1, xs[2]).Conv2d(w.Reshape(ws[0], ws[1], 1, ws[2]), bias, opt.Conv2d())
	if y.err != nil {
		return y
	}
	ys := y.val.dims()
	return y.Reshape(ys[0], ys[1], ys[3])
}

// ConvTranspose2d returns the transposed convolution of v (N, Cin, H, W)
// with w (Cin, Cout/groups, KH, KW) plus bias (nil, or (Cout)), as
// torch.nn.functional.conv_transpose2d: the ordinary convolution of v
// spread out by the stride (zeros between neighbours) and padded by
// dilation·(kernel−1) − padding (cropped where negative, plus the output
// padding), with the flipped kernel whose channels are swapped within each
// group (see tensor.PlanConvTranspose2d). Every step is a differentiable
// operation, local on encrypted values but the convolution.
func (v *Variable) ConvTranspose2d(w, bias *Variable, opt tensor.ConvTransposeOpts) *Variable {
	if v.err != nil || w == nil || w.err != nil {
		return apply("ConvTranspose2d", []*Variable{v, w}, nil)
	}
	xs, ws := v.val.dims(), w.val.dims()
	plan, err := tensor.PlanConvTranspose2d(xs, ws, opt)
	if err != nil {
		return Errorf("%v", err)
	}
	x := v
	for i := 0; i < 2; i++ {
		axis := 2 + i
		s, d := max(opt.Stride[i], 1), max(opt.Dilation[i], 1)
		n := xs[axis]
		if s > 1 { // insert s−1 zeros after each element, then drop the trailing ones
			sh := x.Shape()
			split := append(append(append([]int(nil), sh[:axis+1]...), 1), sh[axis+1:]...)
			x = x.Reshape(split...).Pad(padAlong(len(split), axis+1, 0, s-1), 0)
			sh[axis] *= s
			x = x.Reshape(sh...).Slice(axis, 0, (n-1)*s+1, 1)
		}
		lo := d*(ws[axis]-1) - opt.Padding[i]
		hi := plan.InShape[axis] - lo - ((n-1)*s + 1)
		if lo < 0 {
			x = x.Slice(axis, -lo, x.Shape()[axis], 1)
			lo = 0
		}
		if hi < 0 {
			x = x.Slice(axis, 0, x.Shape()[axis]+hi, 1)
			hi = 0
		}
		if lo > 0 || hi > 0 {
			x = x.Pad(padAlong(4, axis, lo, hi), 0)
		}
	}
	g := max(opt.Groups, 1)
	cg := ws[0] / g
	wf := w.Slice(2, ws[2]-1, -ws[2]-1, -1).Slice(3, ws[3]-1, -ws[3]-1, -1)
	parts := make([]*Variable, g)
	for i := range parts {
		parts[i] = wf.Slice(0, i*cg, (i+1)*cg, 1).Permute(1, 0, 2, 3)
	}
	k := parts[0]
	if g > 1 {
		k = Concat(0, parts...)
	}
	return x.Conv2d(k, bias, plan.Conv)
}

// ConvTranspose1d is ConvTranspose2d for v (N, Cin, L) and w (Cin,
// Cout/groups, K), with the width entries of opt (index 1).
func (v *Variable) ConvTranspose1d(w, bias *Variable, opt tensor.ConvTransposeOpts) *Variable {
	if v.err != nil || w == nil || w.err != nil {
		return apply("ConvTranspose1d", []*Variable{v, w}, nil)
	}
	xs, ws := v.val.dims(), w.val.dims()
	if len(xs) != 3 || len(ws) != 3 {
		return Errorf("ConvTranspose1d: input %v and weight %v must be (N, Cin, L) and (Cin, Cout/groups, K)", xs, ws)
	}
	opt.Stride[0], opt.Padding[0], opt.OutputPadding[0], opt.Dilation[0] = 1, 0, 0, 1
	y := v.Reshape(xs[0], xs[1], 1, xs[2]).ConvTranspose2d(w.Reshape(ws[0], ws[1], 1, ws[2]), bias, opt)
	if y.err != nil {
		return y
	}
	ys := y.val.dims()
	return y.Reshape(ys[0], ys[1], ys[3])
}

// AdaptiveMaxPool2d takes the maximum of v (N, C, H, W) over an (oh, ow)
// grid of bins, bin i spanning [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉) as in PyTorch: max
// pooling when the bins tile the input evenly, otherwise the bins gathered
// (locally) into a trailing dim, short ones padded with a repeat of their
// first element, and Max over it.
func (v *Variable) AdaptiveMaxPool2d(oh, ow int) *Variable {
	if v.err != nil {
		return v
	}
	sh := v.val.dims()
	if len(sh) != 4 || oh <= 0 || ow <= 0 {
		return Errorf("AdaptiveMaxPool2d(%d, %d): input shape %v", oh, ow, sh)
	}
	n, c, h, w := sh[0], sh[1], sh[2], sh[3]
	if h%oh == 0 && w%ow == 0 {
		k := [2]int{h / oh, w / ow}
		return v.MaxPool2d(tensor.PoolOpts{Kernel: k, Stride: k})
	}
	bins := func(size, m int) [][2]int {
		b := make([][2]int, m)
		for i := range b {
			b[i] = [2]int{i * size / m, ((i+1)*size + m - 1) / m}
		}
		return b
	}
	by, bx := bins(h, oh), bins(w, ow)
	k := 0
	for _, a := range by {
		for _, b := range bx {
			k = max(k, (a[1]-a[0])*(b[1]-b[0]))
		}
	}
	idx := make([]int, 0, n*c*oh*ow*k)
	for nc := 0; nc < n*c; nc++ {
		for _, a := range by {
			for _, b := range bx {
				m := 0
				for y := a[0]; y < a[1]; y++ {
					for x := b[0]; x < b[1]; x++ {
						idx = append(idx, (nc*h+y)*w+x)
						m++
					}
				}
				for ; m < k; m++ {
					idx = append(idx, (nc*h+a[0])*w+b[0])
				}
			}
		}
	}
	return v.takeFlat("AdaptiveMaxPool2d", idx, []int{n, c, oh, ow, k}).Max(4, false)
}
