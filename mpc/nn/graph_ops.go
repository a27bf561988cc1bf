package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomplab/gomplab/tensor"
)

// The graph operators added for CrypTen parity (ONNX semantics, constant
// operands already attributes):
//
//	Constant (value, shape: a public integer tensor — shapes and indices
//	stay public when a model is encrypted), Erf, LeakyRelu (alpha), Clip
//	(min, max: each optional), Pow (exponent, or a second input), Equal,
//	Greater, Less, Where, Expand (shape, or a second input), ReduceSum and
//	ReduceMean (axes; keepdims; noop_with_empty_axes), ConvTranspose
//	(kernel_shape, strides, pads, dilations, group, output_padding; 1-D or
//	2-D), Resize (mode: 0 nearest, 1 linear; coord: 0 half_pixel, 1
//	asymmetric, 2 align_corners, 3 pytorch_half_pixel; nearest: 0
//	round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil; scale2,
//	scale3, ... per spatial axis, or sizes), Split (axis; split sizes, or
//	equal parts), InstanceNormalization (epsilon; what PyTorch exports
//	GroupNorm and InstanceNorm as), and Conv on 1-D inputs.
func addParityOps(ops map[string]graphOp) {
	ops["Constant"] = graphOp{minIn: 0, maxIn: 0, check: checkConstant, run: func(n *NodeSpec, _ []*Variable) *Variable {
		v := n.Ints["value"]
		f := make([]float64, len(v))
		for i, x := range v {
			f[i] = float64(x)
		}
		return NewVariable(tensor.MustNew(f, n.Ints["shape"]...))
	}}
	ops["Erf"] = unaryOp((*Variable).Erf)
	ops["LeakyRelu"] = graphOp{minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
		return in[0].LeakyRelu(n.float("alpha", 0.01))
	}}
	ops["Clip"] = graphOp{minIn: 1, maxIn: 1, run: runClip}
	ops["Pow"] = graphOp{minIn: 1, maxIn: 2, run: func(n *NodeSpec, in []*Variable) *Variable {
		if len(in) == 1 {
			e, ok := n.Floats["exponent"]
			if !ok {
				return Errorf("Pow: no exponent")
			}
			return in[0].Pow(e)
		}
		if t := in[1].Tensor(); t != nil && t.Size() == 1 {
			return in[0].Pow(t.Data()[0])
		}
		return in[0].Log().Mul(in[1]).Exp() // positive bases
	}}
	ops["Equal"] = binaryOp((*Variable).Eq)
	ops["Greater"] = binaryOp((*Variable).Gt)
	ops["Less"] = binaryOp((*Variable).Lt)
	ops["Where"] = graphOp{minIn: 3, maxIn: 3, run: func(_ *NodeSpec, in []*Variable) *Variable {
		c, x, y := in[0], in[1], in[2]
		return c.Mul(x.Sub(y)).Add(y)
	}}
	ops["Expand"] = graphOp{minIn: 1, maxIn: 2, check: shapeAttrOrInput, run: func(n *NodeSpec, in []*Variable) *Variable {
		shape := n.Ints["shape"]
		if len(in) > 1 {
			var err error
			if shape, err = plainInts(in[1], "Expand shape"); err != nil {
				return &Variable{err: err}
			}
		}
		x := in[0]
		if x.err != nil {
			return x
		}
		target, err := tensor.BroadcastShapes(x.val.dims(), shape)
		if err != nil || !withinLimit(target) {
			return Errorf("Expand: shape %v does not broadcast with %v", shape, x.val.dims())
		}
		return x.BroadcastTo(target...)
	}}
	reduce := func(mean bool) graphOp {
		return graphOp{minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			x := in[0]
			if x.err != nil {
				return x
			}
			axes, ok := n.Ints["axes"]
			if (!ok || len(axes) == 0) && n.int("noop_with_empty_axes", 0) == 1 {
				return x
			}
			for _, a := range axes {
				if _, err := tensor.NormDim(a, len(x.val.dims())); err != nil {
					return Errorf("%s: axes %v for shape %v", n.Op, axes, x.val.dims())
				}
			}
			keep := n.int("keepdims", 1) != 0
			switch {
			case mean && keep:
				return x.MeanKeep(axes...)
			case mean:
				return x.Mean(axes...)
			case keep:
				return x.SumKeep(axes...)
			}
			return x.Sum(axes...)
		}}
	}
	ops["ReduceSum"] = reduce(false)
	ops["ReduceMean"] = reduce(true)
	ops["ConvTranspose"] = graphOp{minIn: 2, maxIn: 3, check: checkConvTranspose, run: runConvTranspose}
	ops["Resize"] = graphOp{minIn: 1, maxIn: 2, check: checkResize, run: runResize}
	ops["Split"] = graphOp{minIn: 1, maxIn: 1, runMany: runSplit}
	ops["Range"] = graphOp{minIn: 3, maxIn: 3, run: func(_ *NodeSpec, in []*Variable) *Variable {
		var v [3]float64
		for i, x := range in {
			t := x.Tensor()
			if x.err != nil {
				return x
			}
			if t == nil || t.Size() != 1 {
				return Errorf("Range: start, limit and delta must be public scalars")
			}
			v[i] = t.Data()[0]
		}
		start, limit, delta := v[0], v[1], v[2]
		n := math.Ceil((limit - start) / delta)
		if delta == 0 || math.IsNaN(n) || n > MaxSpecElements {
			return Errorf("Range(%v, %v, %v)", start, limit, delta)
		}
		f := make([]float64, max(int(n), 0))
		for i := range f {
			f[i] = start + float64(i)*delta
		}
		return NewVariable(tensor.FromSlice(f))
	}}
	ops["LayerNormalization"] = graphOp{minIn: 2, maxIn: 3, run: func(n *NodeSpec, in []*Variable) *Variable {
		x := in[0]
		if x.err != nil {
			return x
		}
		sh := x.val.dims()
		axis := n.int("axis", -1)
		if axis < 0 {
			axis += len(sh)
		}
		if axis < 0 || axis >= len(sh) {
			return Errorf("LayerNormalization: axis %d for shape %v", n.int("axis", -1), sh)
		}
		dims := make([]int, 0, len(sh)-axis)
		for d := axis; d < len(sh); d++ {
			dims = append(dims, d)
		}
		y := normalize(x, dims, n.float("epsilon", 1e-5)).Mul(in[1])
		if len(in) > 2 && in[2] != nil {
			y = y.Add(in[2])
		}
		return y
	}}
	ops["InstanceNormalization"] = graphOp{minIn: 3, maxIn: 3, run: func(n *NodeSpec, in []*Variable) *Variable {
		x, scale, bias := in[0], in[1], in[2]
		if x.err != nil {
			return x
		}
		sh := x.val.dims()
		if len(sh) < 3 {
			return Errorf("InstanceNormalization: input shape %v, want (N, C, ...)", sh)
		}
		dims := make([]int, 0, len(sh)-2)
		bshape := make([]int, len(sh))
		for i := range sh {
			bshape[i] = 1
			if i >= 2 {
				dims = append(dims, i)
			}
		}
		bshape[1] = sh[1]
		y := normalize(x, dims, n.float("epsilon", 1e-5))
		return y.Mul(scale.Reshape(bshape...)).Add(bias.Reshape(bshape...))
	}}
}

// checkConstant requires a public integer value that fills its shape.
func checkConstant(n *NodeSpec) error {
	sh := n.Ints["shape"]
	if len(sh) > 8 || !withinLimit(sh) || tensor.Numel(sh) != len(n.Ints["value"]) {
		return fmt.Errorf("value of %d integers for shape %v", len(n.Ints["value"]), sh)
	}
	return nil
}

func runClip(n *NodeSpec, in []*Variable) *Variable {
	x := in[0]
	lo, hasLo := n.Floats["min"]
	hi, hasHi := n.Floats["max"]
	switch {
	case hasLo && hasHi:
		return x.Clamp(lo, hi)
	case hasLo: // max(x, lo) = lo + relu(x − lo)
		return x.AddScalar(-lo).Relu().AddScalar(lo)
	case hasHi: // min(x, hi) = hi − relu(hi − x)
		return x.Neg().AddScalar(hi).Relu().Neg().AddScalar(hi)
	}
	return x
}

// checkConvTranspose validates the spatial attributes of ConvTranspose
// (one or two spatial dims).
func checkConvTranspose(n *NodeSpec) error {
	r := 2 // spatial dims, from whichever attribute is given
	for _, a := range []string{"kernel_shape", "strides", "dilations", "output_padding", "pads"} {
		if v, ok := n.Ints[a]; ok {
			r = len(v)
			if a == "pads" {
				r /= 2
			}
			break
		}
	}
	if r != 1 && r != 2 {
		return fmt.Errorf("%d spatial dims: 1-D or 2-D only", r)
	}
	for _, a := range []string{"kernel_shape", "strides", "dilations", "output_padding"} {
		if v, ok := n.Ints[a]; ok && (len(v) != r || slices.Min(v) < 0 || (a != "output_padding" && slices.Min(v) < 1)) {
			return fmt.Errorf("attribute %s = %v for %d spatial dims", a, v, r)
		}
	}
	if v, ok := n.Ints["pads"]; ok && (len(v) != 2*r || slices.Min(v) < 0) {
		return fmt.Errorf("attribute pads = %v: want %d non-negative sizes", v, 2*r)
	}
	if g := n.int("group", 1); g < 1 {
		return fmt.Errorf("group %d", g)
	}
	return nil
}

// runConvTranspose is ONNX's ConvTranspose: PyTorch's transposed
// convolution without padding, then the pads (begin and end, which may
// differ) cropped from the output.
func runConvTranspose(n *NodeSpec, in []*Variable) *Variable {
	x, w := in[0], in[1]
	var bias *Variable
	if len(in) > 2 {
		bias = in[2]
	}
	if x.err != nil || w.err != nil {
		return apply("ConvTranspose", []*Variable{x, w}, nil)
	}
	xs := x.val.dims()
	oneD := len(xs) == 3
	if !oneD && len(xs) != 4 {
		return Errorf("ConvTranspose: input shape %v, want (N, C, L) or (N, C, H, W)", xs)
	}
	r := len(xs) - 2
	at := func(name string, def int) []int {
		v := n.ints(name, nil)
		if v == nil {
			v = slices.Repeat([]int{def}, r)
		}
		if oneD { // the width entries of a 2-D operator on a height of 1
			return []int{def, v[0]}
		}
		return v
	}
	pads := n.ints("pads", slices.Repeat([]int{0}, 2*r))
	if oneD {
		pads = []int{0, pads[0], 0, pads[1]}
	}
	o := tensor.ConvTransposeOpts{Stride: pair(at("strides", 1)), Dilation: pair(at("dilations", 1)),
		OutputPadding: pair(at("output_padding", 0)), Groups: n.int("group", 1)}
	if oneD {
		ws := w.val.dims()
		if len(ws) != 3 {
			return Errorf("ConvTranspose: weight shape %v for a 1-D input", ws)
		}
		x = x.Unsqueeze(2)
		w = w.Unsqueeze(2)
	}
	if k, ok := n.Ints["kernel_shape"]; ok {
		ws := w.val.dims()
		if len(ws) != 4 || ws[4-len(k)] != k[0] || ws[3] != k[len(k)-1] {
			return Errorf("ConvTranspose: kernel_shape %v but weight shape %v", k, in[1].val.dims())
		}
	}
	if plan, err := tensor.PlanConvTranspose2d(x.val.dims(), w.val.dims(), o); err != nil {
		return Errorf("ConvTranspose: %v", err)
	} else if !withinLimit(plan.InShape) || !withinLimit(plan.OutShape) {
		return Errorf("ConvTranspose: strides %v make the input too large", n.Ints["strides"])
	}
	y := x.ConvTranspose2d(w, bias, o)
	if y.err != nil {
		return y
	}
	ys := y.val.dims()
	for i := 0; i < 2; i++ {
		b, e := pads[i], pads[2+i]
		if b+e >= ys[2+i] {
			return Errorf("ConvTranspose: pads %v leave no output of %v", n.Ints["pads"], ys)
		}
		if b > 0 || e > 0 {
			y = y.Slice(2+i, b, ys[2+i]-e, 1)
		}
	}
	if oneD {
		y = y.Squeeze(2)
	}
	return y
}

// Resize attribute codes (see addParityOps).
const (
	resizeNearest = 0
	resizeLinear  = 1

	coordHalfPixel        = 0
	coordAsymmetric       = 1
	coordAlignCorners     = 2
	coordPytorchHalfPixel = 3

	nearestRoundPreferFloor = 0
	nearestRoundPreferCeil  = 1
	nearestFloor            = 2
	nearestCeil             = 3
)

func checkResize(n *NodeSpec) error {
	if m := n.int("mode", 0); m != resizeNearest && m != resizeLinear {
		return fmt.Errorf("mode %d", m)
	}
	if c := n.int("coord", 0); c < coordHalfPixel || c > coordPytorchHalfPixel {
		return fmt.Errorf("coordinate transformation %d", c)
	}
	if c := n.int("nearest", 0); c < nearestRoundPreferFloor || c > nearestCeil {
		return fmt.Errorf("nearest mode %d", c)
	}
	if s, ok := n.Ints["sizes"]; ok && (len(s) > 8 || !withinLimit(s)) {
		return fmt.Errorf("sizes %v", s)
	}
	return nil
}

// runResize resizes each spatial axis (dims 2 and on) by a public
// interpolation matrix: x along that axis times Mᵀ, M (out × in) one-hot
// rows for nearest (exact and free on encrypted values) or two weights
// per row for linear.
func runResize(n *NodeSpec, in []*Variable) *Variable {
	x := in[0]
	if x.err != nil {
		return x
	}
	sh := x.val.dims()
	if len(sh) < 3 {
		return Errorf("Resize: input shape %v, want (N, C, ...)", sh)
	}
	sizes := n.Ints["sizes"]
	if len(in) > 1 { // sizes computed at run time (public)
		var err error
		if sizes, err = plainInts(in[1], "Resize sizes"); err != nil {
			return &Variable{err: err}
		}
	}
	if sizes != nil && len(sizes) != len(sh) {
		return Errorf("Resize: sizes %v for shape %v", sizes, sh)
	}
	if sizes != nil && (sizes[0] != sh[0] || sizes[1] != sh[1]) {
		return Errorf("Resize: only spatial dims resize (sizes %v for shape %v)", sizes, sh)
	}
	outShape := append([]int(nil), sh...)
	for axis := 2; axis < len(sh); axis++ {
		l := sh[axis]
		scale := n.float(fmt.Sprintf("scale%d", axis), 1)
		out := int(math.Floor(float64(l) * scale))
		if sizes != nil {
			out = sizes[axis]
			scale = float64(out) / float64(l)
		}
		outShape[axis] = out
		if out < 1 || out > maxSpecDim || !(scale > 0) || !withinLimit([]int{out, l}) || !withinLimit(outShape) {
			return Errorf("Resize: axis %d of %d to %d (output %v) is too large", axis, l, out, outShape)
		}
		if out == l && scale == 1 {
			continue
		}
		m := resizeMatrix(l, out, scale, n.int("mode", 0), n.int("coord", 0), n.int("nearest", 0))
		perm := make([]int, len(sh))
		for i := range perm {
			perm[i] = i
		}
		perm[axis], perm[len(sh)-1] = len(sh)-1, axis
		x = x.Permute(perm...).MatMul(NewVariable(m.T())).Permute(perm...)
	}
	return x
}

// resizeMatrix returns the (out × in) matrix that resizes a line of in
// values to out ones (ONNX Resize's coordinate transformation, then the
// nearest input or the linear blend of the two around it).
func resizeMatrix(in, out int, scale float64, mode, coord, nearest int) *tensor.Tensor {
	m := tensor.Zeros(out, in)
	for i := 0; i < out; i++ {
		var x float64
		switch coord {
		case coordAsymmetric:
			x = float64(i) / scale
		case coordAlignCorners:
			if out > 1 {
				x = float64(i) * float64(in-1) / float64(out-1)
			}
		case coordPytorchHalfPixel:
			if out > 1 {
				x = (float64(i)+0.5)/scale - 0.5
			}
		default:
			x = (float64(i)+0.5)/scale - 0.5
		}
		if mode == resizeNearest {
			var j float64
			switch nearest {
			case nearestFloor:
				j = math.Floor(x)
			case nearestCeil:
				j = math.Ceil(x)
			case nearestRoundPreferCeil:
				j = math.Floor(x + 0.5)
			default:
				j = math.Ceil(x - 0.5)
			}
			m.Set(1, i, max(0, min(int(j), in-1)))
			continue
		}
		x = max(0, min(x, float64(in-1)))
		j := int(math.Floor(x))
		f := x - float64(j)
		m.Set(m.At(i, j)+1-f, i, j)
		if f > 0 {
			m.Set(m.At(i, j+1)+f, i, j+1)
		}
	}
	return m
}

// runSplit cuts its input along axis into the split sizes, or into as many
// equal parts as the node has outputs (the last smaller when they do not
// divide, as opset 18's num_outputs).
func runSplit(n *NodeSpec, in []*Variable) []*Variable {
	x := in[0]
	fail := func(err *Variable) []*Variable {
		out := make([]*Variable, len(n.Outputs))
		for i := range out {
			out[i] = err
		}
		return out
	}
	if x.err != nil {
		return fail(x)
	}
	sh := x.val.dims()
	axis, err := tensor.NormDim(n.int("axis", 0), len(sh))
	if err != nil {
		return fail(Errorf("Split: %v", err))
	}
	sizes := n.Ints["split"]
	if sizes == nil {
		k := len(n.Outputs)
		part := (sh[axis] + k - 1) / k
		for at := 0; at < sh[axis]; at += part {
			sizes = append(sizes, min(part, sh[axis]-at))
		}
	}
	total := 0
	for _, s := range sizes {
		if s < 0 {
			return fail(Errorf("Split: negative size in %v", sizes))
		}
		total += s
	}
	if total != sh[axis] || len(sizes) != len(n.Outputs) {
		return fail(Errorf("Split: sizes %v for dim %d of %v into %d outputs", sizes, axis, sh, len(n.Outputs)))
	}
	out := make([]*Variable, len(sizes))
	at := 0
	for i, s := range sizes {
		out[i] = x.Slice(axis, at, at+s, 1)
		at += s
	}
	return out
}
