package tensor

import "fmt"

// Conv1dOpts configures Conv1d. Zero values mean stride 1, padding 0,
// dilation 1 and one group.
type Conv1dOpts struct {
	Stride, Padding, Dilation, Groups int
}

// Conv2d returns the two-dimensional options of the same convolution on
// an input of height 1.
func (o Conv1dOpts) Conv2d() ConvOpts {
	return ConvOpts{Stride: [2]int{1, o.Stride}, Padding: [2]int{0, o.Padding},
		Dilation: [2]int{1, o.Dilation}, Groups: o.Groups}
}

// Conv1d returns the 1-D cross-correlation of x (N, C, L) with filters w
// (Cout, C/groups, K) plus bias (nil or (Cout)), shaped (N, Cout, OL), as
// torch.nn.functional.conv1d: Conv2d on a height of 1.
func Conv1d(x, w, bias *Tensor, opt Conv1dOpts) *Tensor {
	if len(x.shape) != 3 || len(w.shape) != 3 {
		panic(&ShapeError{Op: "Conv1d", A: x.Shape(), B: w.Shape(), Msg: "want input (N, C, L) and weight (Cout, C/groups, K)"})
	}
	y := Conv2d(x.Reshape(x.shape[0], x.shape[1], 1, x.shape[2]), w.Reshape(w.shape[0], w.shape[1], 1, w.shape[2]), bias, opt.Conv2d())
	return y.Reshape(y.shape[0], y.shape[1], y.shape[3])
}

// ConvTransposeOpts configures ConvTranspose2d, as the arguments of
// torch.nn.functional.conv_transpose2d: zero values mean stride 1, padding
// 0, output padding 0, dilation 1 and one group. Index 0 is the height,
// index 1 the width.
type ConvTransposeOpts struct {
	Stride, Padding, OutputPadding, Dilation [2]int
	Groups                                   int
}

// ConvTransposePlan writes a transposed convolution as an ordinary one,
// which is how it runs on plaintext and encrypted tensors alike: the input
// spread out by the stride (stride−1 zeros between neighbours) and padded
// by dilation·(kernel−1) − padding on each side (plus the output padding
// after; cropped where that is negative), convolved with stride 1 by the
// spatially flipped kernel whose input and output channels are swapped
// within each group.
type ConvTransposePlan struct {
	// InShape is the shape of the spread-out input, KernelShape that of
	// the converted kernel (Cout, Cin/groups, KH, KW), OutShape that of the
	// result.
	InShape, KernelShape, OutShape []int
	// Conv holds the dilation and groups of the ordinary convolution.
	Conv ConvOpts

	x, w       []int // input (N, Cin, H, W) and kernel (Cin, Cout/groups, KH, KW)
	s, lo      [2]int
	groups     int
	cin, coutG int
}

// PlanConvTranspose2d checks a transposed convolution of an input of shape
// xs (N, Cin, H, W) with a kernel of shape ws (Cin, Cout/groups, KH, KW)
// and returns its plan.
func PlanConvTranspose2d(xs, ws []int, opt ConvTransposeOpts) (*ConvTransposePlan, error) {
	if len(xs) != 4 || len(ws) != 4 {
		return nil, fmt.Errorf("ConvTranspose2d: input %v and kernel %v must be (N, Cin, H, W) and (Cin, Cout/groups, KH, KW)", xs, ws)
	}
	g := or1(opt.Groups)
	p := &ConvTransposePlan{x: append([]int(nil), xs...), w: append([]int(nil), ws...), groups: g}
	n, cin, h, w := xs[0], xs[1], xs[2], xs[3]
	if g < 1 || ws[0] != cin || cin%g != 0 {
		return nil, fmt.Errorf("ConvTranspose2d: kernel %v for %d input channels in %d groups", ws, cin, g)
	}
	p.cin, p.coutG = cin, ws[1]
	cout := ws[1] * g
	in := []int{n, cin, 0, 0}
	out := []int{n, cout, 0, 0}
	for i, size := range []int{h, w} {
		s, d, pad, op, k := or1(opt.Stride[i]), or1(opt.Dilation[i]), opt.Padding[i], opt.OutputPadding[i], ws[2+i]
		if s < 1 || d < 1 || pad < 0 || op < 0 || k < 1 {
			return nil, fmt.Errorf("ConvTranspose2d: bad options %+v", opt)
		}
		if op >= s && op >= d {
			return nil, fmt.Errorf("ConvTranspose2d: output padding %d must be smaller than the stride %d or the dilation %d", op, s, d)
		}
		o := (size-1)*s - 2*pad + d*(k-1) + op + 1
		if o < 1 || size < 1 {
			return nil, fmt.Errorf("ConvTranspose2d: input %v, kernel %v and options %+v give no output", xs, ws, opt)
		}
		p.s[i], p.lo[i] = s, d*(k-1)-pad
		out[2+i] = o
		in[2+i] = o + d*(k-1) // what a stride-1 convolution needs to give o
		p.Conv.Dilation[i] = d
	}
	p.Conv.Groups = g
	p.InShape, p.OutShape = in, out
	p.KernelShape = []int{cout, cin / g, ws[2], ws[3]}
	if _, err := checkedNumel(in); err != nil {
		return nil, fmt.Errorf("ConvTranspose2d: %v spread to %v is too large", xs, in)
	}
	return p, nil
}

// EachInput calls f(dst, src) for every element of the spread-out input
// that copies an input element: dst indexes InShape, src the input. The
// other elements are zero.
func (p *ConvTransposePlan) EachInput(f func(dst, src int)) {
	n, c, h, w := p.x[0], p.x[1], p.x[2], p.x[3]
	H, W := p.InShape[2], p.InShape[3]
	for nc := 0; nc < n*c; nc++ {
		for y := 0; y < h; y++ {
			ty := p.lo[0] + y*p.s[0]
			if ty < 0 || ty >= H {
				continue
			}
			for x := 0; x < w; x++ {
				tx := p.lo[1] + x*p.s[1]
				if tx < 0 || tx >= W {
					continue
				}
				f((nc*H+ty)*W+tx, (nc*h+y)*w+x)
			}
		}
	}
}

// EachKernel calls f(dst, src) for every element of the converted kernel:
// dst indexes KernelShape, src the kernel.
func (p *ConvTransposePlan) EachKernel(f func(dst, src int)) {
	kh, kw := p.w[2], p.w[3]
	cg := p.cin / p.groups
	for g := 0; g < p.groups; g++ {
		for o := 0; o < p.coutG; o++ {
			for i := 0; i < cg; i++ {
				for a := 0; a < kh; a++ {
					for b := 0; b < kw; b++ {
						dst := (((g*p.coutG+o)*cg+i)*kh+a)*kw + b
						src := (((g*cg+i)*p.coutG+o)*kh+(kh-1-a))*kw + (kw - 1 - b)
						f(dst, src)
					}
				}
			}
		}
	}
}

// ConvTranspose2d returns the transposed convolution of x (N, Cin, H, W)
// with w (Cin, Cout/groups, KH, KW) plus bias (nil or (Cout)), as
// torch.nn.functional.conv_transpose2d (the gradient of Conv2d with
// respect to its input): an ordinary convolution as PlanConvTranspose2d
// describes.
func ConvTranspose2d(x, w, bias *Tensor, opt ConvTransposeOpts) *Tensor {
	p, err := PlanConvTranspose2d(x.shape, w.shape, opt)
	if err != nil {
		panic(&ShapeError{Op: "ConvTranspose2d", A: x.Shape(), B: w.Shape(), Msg: err.Error()})
	}
	in := newTensor("ConvTranspose2d", p.InShape)
	p.EachInput(func(dst, src int) { in.data[dst] = x.data[src] })
	k := newTensor("ConvTranspose2d", p.KernelShape)
	p.EachKernel(func(dst, src int) { k.data[dst] = w.data[src] })
	return Conv2d(in, k, bias, p.Conv)
}

// ConvTranspose1d is ConvTranspose2d for x (N, Cin, L) and w (Cin,
// Cout/groups, K), with the width entries of opt (index 1).
func ConvTranspose1d(x, w, bias *Tensor, opt ConvTransposeOpts) *Tensor {
	if len(x.shape) != 3 || len(w.shape) != 3 {
		panic(&ShapeError{Op: "ConvTranspose1d", A: x.Shape(), B: w.Shape(), Msg: "want input (N, Cin, L) and weight (Cin, Cout/groups, K)"})
	}
	opt.Stride[0], opt.Padding[0], opt.OutputPadding[0], opt.Dilation[0] = 1, 0, 0, 1
	y := ConvTranspose2d(x.Reshape(x.shape[0], x.shape[1], 1, x.shape[2]), w.Reshape(w.shape[0], w.shape[1], 1, w.shape[2]), bias, opt)
	return y.Reshape(y.shape[0], y.shape[1], y.shape[3])
}
