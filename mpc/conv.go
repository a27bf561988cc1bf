package mpc

import (
	"github.com/gomplab/gomplab/tensor"
)

// One-dimensional and transposed convolutions, written as the
// two-dimensional one (Conv2d): one round when both operands are
// encrypted, none otherwise.

// Conv1d convolves x (N, C, L) with w (Cout, C/groups, K) and adds bias
// (nil or (Cout)), as torch.nn.functional.conv1d: Conv2d on a height of 1.
// Either x or w may be public.
func Conv1d(x, w, bias any, opt tensor.Conv1dOpts) *CrypTensor {
	p, ox, ow := operands("Conv1d", x, w)
	xs, ws := ox.shape(), ow.shape()
	if len(xs) != 3 || len(ws) != 3 {
		p.failf("Conv1d", "input %v and kernel %v must be (N, C, L) and (Cout, C/groups, K)", xs, ws)
	}
	y := Conv2d(reshapeOperand(ox, xs[0], xs[1], 1, xs[2]), reshapeOperand(ow, ws[0], ws[1], 1, ws[2]), bias, opt.Conv2d())
	return y.Reshape(y.shape[0], y.shape[1], y.shape[3])
}

// Conv1d convolves x (N, C, L) with w (see the function Conv1d).
func (x *CrypTensor) Conv1d(w, bias any, opt tensor.Conv1dOpts) *CrypTensor {
	return Conv1d(x, w, bias, opt)
}

// reshapeOperand returns the operand viewed with another shape.
func reshapeOperand(o operand, shape ...int) any {
	if o.enc != nil {
		return o.enc.Reshape(shape...)
	}
	return o.pub.Reshape(shape...)
}

// ConvTranspose2d returns the transposed convolution of x (N, Cin, H, W)
// with w (Cin, Cout/groups, KH, KW) plus bias (nil or (Cout)), as
// torch.nn.functional.conv_transpose2d; either x or w may be public. It is
// the ordinary convolution tensor.PlanConvTranspose2d describes: the input
// spread out by the stride and padded, and the kernel flipped with its
// channels swapped, both local, then Conv2d (one round when both are
// encrypted: the masked spread-out input and kernel are opened, so the
// bytes grow with the stride's square).
func ConvTranspose2d(x, w, bias any, opt tensor.ConvTransposeOpts) *CrypTensor {
	p, ox, ow := operands("ConvTranspose2d", x, w)
	defer p.op("ConvTranspose2d")()
	plan, err := tensor.PlanConvTranspose2d(ox.shape(), ow.shape(), opt)
	if err != nil {
		p.fail("ConvTranspose2d", err)
	}
	var in any
	if ox.enc != nil {
		sp := make([]uint64, numel(plan.InShape))
		plan.EachInput(func(dst, src int) { sp[dst] = ox.enc.share[src] })
		in = p.newCT(plan.InShape, sp)
	} else {
		sp := tensor.Zeros(plan.InShape...)
		d, s := sp.Data(), ox.pub.Data()
		plan.EachInput(func(dst, src int) { d[dst] = s[src] })
		in = sp
	}
	var k any
	if ow.enc != nil {
		kv := make([]uint64, numel(plan.KernelShape))
		plan.EachKernel(func(dst, src int) { kv[dst] = ow.enc.share[src] })
		k = p.newCT(plan.KernelShape, kv)
	} else {
		kt := tensor.Zeros(plan.KernelShape...)
		d, s := kt.Data(), ow.pub.Data()
		plan.EachKernel(func(dst, src int) { d[dst] = s[src] })
		k = kt
	}
	return Conv2d(in, k, bias, plan.Conv)
}

// ConvTranspose2d returns the transposed convolution of x with w (see the
// function ConvTranspose2d).
func (x *CrypTensor) ConvTranspose2d(w, bias any, opt tensor.ConvTransposeOpts) *CrypTensor {
	return ConvTranspose2d(x, w, bias, opt)
}

// ConvTranspose1d is ConvTranspose2d for x (N, Cin, L) and w (Cin,
// Cout/groups, K), with the width entries of opt (index 1).
func ConvTranspose1d(x, w, bias any, opt tensor.ConvTransposeOpts) *CrypTensor {
	p, ox, ow := operands("ConvTranspose1d", x, w)
	xs, ws := ox.shape(), ow.shape()
	if len(xs) != 3 || len(ws) != 3 {
		p.failf("ConvTranspose1d", "input %v and kernel %v must be (N, Cin, L) and (Cin, Cout/groups, K)", xs, ws)
	}
	opt.Stride[0], opt.Padding[0], opt.OutputPadding[0], opt.Dilation[0] = 1, 0, 0, 1
	y := ConvTranspose2d(reshapeOperand(ox, xs[0], xs[1], 1, xs[2]), reshapeOperand(ow, ws[0], ws[1], 1, ws[2]), bias, opt)
	return y.Reshape(y.shape[0], y.shape[1], y.shape[3])
}
