package nn

import (
	"fmt"
	"strconv"

	"github.com/gomplab/gomplab/tensor"
)

// Shape layers: what ONNX graphs do between the arithmetic, as modules
// (CrypTen's crypten.nn has them for its ONNX import), so a Sequential
// can hold them and a Spec describe them.

// Squeeze removes dims of size 1: Dims, or every one when Dims is empty.
type Squeeze struct {
	stateless
	Dims []int
}

// NewSqueeze returns a Squeeze layer.
func NewSqueeze(dims ...int) *Squeeze { return &Squeeze{Dims: append([]int(nil), dims...)} }

// Forward applies the layer.
func (s *Squeeze) Forward(x *Variable) (*Variable, error) { return result(x.Squeeze(s.Dims...)) }

// Unsqueeze inserts dims of size 1 at Dims, positions in the result (as
// ONNX's Unsqueeze; negative ones count from its end).
type Unsqueeze struct {
	stateless
	Dims []int
}

// NewUnsqueeze returns an Unsqueeze layer.
func NewUnsqueeze(dims ...int) *Unsqueeze { return &Unsqueeze{Dims: append([]int(nil), dims...)} }

// Forward applies the layer.
func (u *Unsqueeze) Forward(x *Variable) (*Variable, error) {
	return result(squeeze(x, u.Dims, true))
}

// Transpose permutes dims: dim i of the result is dim Perm[i] of the
// input; an empty Perm reverses them (ONNX's Transpose).
type Transpose struct {
	stateless
	Perm []int
}

// NewTranspose returns a Transpose layer.
func NewTranspose(perm ...int) *Transpose { return &Transpose{Perm: append([]int(nil), perm...)} }

// Forward applies the layer.
func (t *Transpose) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	perm := t.Perm
	if len(perm) == 0 {
		r := len(x.val.dims())
		for i := range r {
			perm = append(perm, r-1-i)
		}
	}
	return result(x.Permute(perm...))
}

// Gather selects the slices of its input along Dim at the public Index
// (any shape, negative entries counting from the end), the dim replaced
// by Index's shape: ONNX's Gather, torch.index_select for a 1-D index.
type Gather struct {
	stateless
	Dim   int
	Index *tensor.Tensor
}

// NewGather returns a Gather layer.
func NewGather(dim int, index *tensor.Tensor) *Gather { return &Gather{Dim: dim, Index: index} }

// Forward applies the layer.
func (g *Gather) Forward(x *Variable) (*Variable, error) {
	return result(x.IndexSelect(g.Dim, g.Index))
}

// Concatenate applies each of its branches to the input and joins their
// outputs along Dim (CrypTen's Concat, a parallel container); ForwardMany
// joins given inputs. Branch parameters are named by position ("0.weight").
type Concatenate struct {
	Dim      int
	Branches []Module
}

// NewConcatenate returns a Concatenate layer.
func NewConcatenate(dim int, branches ...Module) *Concatenate {
	return &Concatenate{Dim: dim, Branches: append([]Module(nil), branches...)}
}

// Forward joins the branches' outputs on x.
func (c *Concatenate) Forward(x *Variable) (*Variable, error) {
	if len(c.Branches) == 0 {
		return nil, fmt.Errorf("nn: Concatenate has no branches (ForwardMany joins inputs)")
	}
	outs := make([]*Variable, len(c.Branches))
	for i, b := range c.Branches {
		y, err := b.Forward(x)
		if err != nil {
			return nil, fmt.Errorf("branch %d: %w", i, err)
		}
		outs[i] = y
	}
	return c.ForwardMany(outs...)
}

// ForwardMany joins xs along Dim.
func (c *Concatenate) ForwardMany(xs ...*Variable) (*Variable, error) {
	return result(Concat(c.Dim, xs...))
}

// Params lists the branches' parameters, prefixed with their positions.
func (c *Concatenate) Params() []Param {
	var ps []Param
	for i, b := range c.Branches {
		ps = append(ps, prefixed(strconv.Itoa(i), b.Params())...)
	}
	return ps
}

// SetTraining sets every branch's mode.
func (c *Concatenate) SetTraining(on bool) {
	for _, b := range c.Branches {
		b.SetTraining(on)
	}
}

// ConstantPad pads the trailing dims with Value, as torch.nn.ConstantPad1d,
// 2d and 3d: Pads holds (before, after) pairs from the last dim backwards,
// as torch.nn.functional.pad.
type ConstantPad struct {
	stateless
	Pads  []int
	Value float64
}

// NewConstantPad returns a ConstantPad layer.
func NewConstantPad(pads []int, value float64) *ConstantPad {
	return &ConstantPad{Pads: append([]int(nil), pads...), Value: value}
}

// Forward applies the layer.
func (p *ConstantPad) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	sh := x.val.dims()
	if len(p.Pads)%2 != 0 || len(p.Pads)/2 > len(sh) {
		return nil, fmt.Errorf("nn: ConstantPad %v for input shape %v", p.Pads, sh)
	}
	w := make([][2]int, len(sh))
	for i := 0; i < len(p.Pads)/2; i++ {
		d := len(sh) - 1 - i
		w[d] = [2]int{p.Pads[2*i], p.Pads[2*i+1]}
		if w[d][0] < 0 || w[d][1] < 0 {
			return nil, fmt.Errorf("nn: ConstantPad %v: negative padding", p.Pads)
		}
	}
	return result(x.Pad(w, p.Value))
}

// Constant outputs Value whatever its input (CrypTen's Constant). Value is
// a buffer: saved, loaded and encrypted with the model.
type Constant struct {
	Value *Variable
}

// NewConstant returns a Constant layer.
func NewConstant(t *tensor.Tensor) *Constant { return &Constant{Value: NewVariable(t)} }

// Forward returns Value (x only passes on its error).
func (c *Constant) Forward(x *Variable) (*Variable, error) {
	if x != nil && x.err != nil {
		return nil, x.err
	}
	return result(c.Value)
}

// Params returns "value", a buffer.
func (c *Constant) Params() []Param { return []Param{{Name: "value", Var: c.Value, Buffer: true}} }

// SetTraining does nothing.
func (*Constant) SetTraining(bool) {}

// GlobalAveragePool averages every dim after the first two (N, C, ...),
// keeping them with size 1, as ONNX's GlobalAveragePool.
type GlobalAveragePool struct{ stateless }

// NewGlobalAveragePool returns a GlobalAveragePool layer.
func NewGlobalAveragePool() *GlobalAveragePool { return &GlobalAveragePool{} }

// Forward applies the layer.
func (*GlobalAveragePool) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	sh := x.val.dims()
	if len(sh) < 3 {
		return nil, fmt.Errorf("nn: GlobalAveragePool: input shape %v, want (N, C, ...)", sh)
	}
	dims := make([]int, 0, len(sh)-2)
	for d := 2; d < len(sh); d++ {
		dims = append(dims, d)
	}
	return result(x.MeanKeep(dims...))
}
