package nn

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor"
)

// The normalization layers take the inverse square root of a variance,
// which may be anywhere: on encrypted values they use the mpc package's
// normalized one, valid over the whole positive range (BatchNorm too).

// LayerNorm normalizes over the trailing dims Shape by the statistics of
// each sample, then scales and shifts elementwise, as torch.nn.LayerNorm.
type LayerNorm struct {
	stateless
	Shape        []int
	Weight, Bias *Variable // Shape, or nil (elementwise_affine=False)
	Eps          float64
}

// NewLayerNorm returns layer normalization over the trailing dims shape,
// with a learnable scale (ones) and shift (zeros) and PyTorch's eps 1e-5.
func NewLayerNorm(shape ...int) *LayerNorm {
	return &LayerNorm{Shape: append([]int(nil), shape...), Weight: param(tensor.Ones(shape...)),
		Bias: param(tensor.Zeros(shape...)), Eps: 1e-5}
}

// Forward normalizes x, whose trailing dims must be Shape.
func (l *LayerNorm) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	sh := x.val.dims()
	k := len(l.Shape)
	if k == 0 || len(sh) < k || !tensor.SameShape(sh[len(sh)-k:], l.Shape) {
		return nil, fmt.Errorf("nn: LayerNorm over %v: input shape %v", l.Shape, sh)
	}
	dims := make([]int, k)
	for i := range dims {
		dims[i] = len(sh) - k + i
	}
	y := normalize(x, dims, l.Eps)
	if l.Weight != nil {
		y = y.Mul(l.Weight)
	}
	if l.Bias != nil {
		y = y.Add(l.Bias)
	}
	return result(y)
}

// Params returns "weight" and "bias" (none without elementwise affine).
func (l *LayerNorm) Params() []Param {
	if l.Weight == nil {
		return nil
	}
	return weightBias(l.Weight, l.Bias)
}

// normalize returns (x − mean)/√(var + eps) with the (biased) statistics
// over dims.
func normalize(x *Variable, dims []int, eps float64) *Variable {
	xc := x.Sub(x.MeanKeep(dims...))
	variance := xc.Square().MeanKeep(dims...)
	return xc.Mul(variance.AddScalar(eps).invSqrtFull())
}

// GroupNorm normalizes each sample over groups of channels (dim 1) and the
// dims after them, then scales and shifts each channel, as
// torch.nn.GroupNorm.
type GroupNorm struct {
	stateless
	Groups       int
	Weight, Bias *Variable // (C), or nil (affine=False)
	Eps          float64
}

// NewGroupNorm returns group normalization of channels channels in groups
// groups, with a learnable per-channel scale and shift and eps 1e-5.
func NewGroupNorm(groups, channels int) *GroupNorm {
	return &GroupNorm{Groups: groups, Weight: param(tensor.Ones(channels)), Bias: param(tensor.Zeros(channels)), Eps: 1e-5}
}

// Forward normalizes x (N, C, ...).
func (g *GroupNorm) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	sh := x.val.dims()
	if len(sh) < 2 || g.Groups < 1 || sh[1]%g.Groups != 0 || (g.Weight != nil && g.Weight.val.dims()[0] != sh[1]) {
		return nil, fmt.Errorf("nn: GroupNorm of %d groups: input shape %v", g.Groups, sh)
	}
	y := normalize(x.Reshape(sh[0], g.Groups, -1), []int{2}, g.Eps).Reshape(sh...)
	bshape := make([]int, len(sh))
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[1] = sh[1]
	if g.Weight != nil {
		y = y.Mul(g.Weight.Reshape(bshape...))
	}
	if g.Bias != nil {
		y = y.Add(g.Bias.Reshape(bshape...))
	}
	return result(y)
}

// Params returns "weight" and "bias" (none without affine).
func (g *GroupNorm) Params() []Param {
	if g.Weight == nil {
		return nil
	}
	return weightBias(g.Weight, g.Bias)
}
