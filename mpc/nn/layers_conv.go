package nn

import (
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// Conv1d is a 1-D convolution layer, as torch.nn.Conv1d.
type Conv1d struct {
	stateless
	Weight *Variable // (out, in/groups, K)
	Bias   *Variable // (out), or nil
	Opts   tensor.Conv1dOpts
}

// NewConv1d returns a convolution from in to out channels with kernels of
// length kernel and a bias, initialized as PyTorch does (U(±1/√fan_in),
// fan_in = in/groups·kernel).
func NewConv1d(in, out, kernel int, opt tensor.Conv1dOpts, rng *tensor.RNG) *Conv1d {
	r := rngOr(rng)
	g := max(opt.Groups, 1)
	k := 1 / math.Sqrt(float64(max(in/g*kernel, 1)))
	return &Conv1d{Weight: param(r.Uniform(-k, k, out, in/g, kernel)), Bias: param(r.Uniform(-k, k, out)), Opts: opt}
}

// Forward applies the layer to x (N, C, L).
func (c *Conv1d) Forward(x *Variable) (*Variable, error) {
	return result(x.Conv1d(c.Weight, c.Bias, c.Opts))
}

// Params returns "weight" and "bias".
func (c *Conv1d) Params() []Param { return weightBias(c.Weight, c.Bias) }

// ConvTranspose2d is a transposed 2-D convolution layer (the gradient of a
// convolution with respect to its input, used to upsample), as
// torch.nn.ConvTranspose2d.
type ConvTranspose2d struct {
	stateless
	Weight *Variable // (in, out/groups, KH, KW)
	Bias   *Variable // (out), or nil
	Opts   tensor.ConvTransposeOpts
}

// NewConvTranspose2d returns a transposed convolution from in to out
// channels with square kernels of size kernel and a bias, initialized as
// PyTorch does (U(±1/√fan_in), fan_in = out/groups·kernel²: PyTorch takes
// the weight's second dim).
func NewConvTranspose2d(in, out, kernel int, opt tensor.ConvTransposeOpts, rng *tensor.RNG) *ConvTranspose2d {
	r := rngOr(rng)
	g := max(opt.Groups, 1)
	k := 1 / math.Sqrt(float64(max(out/g*kernel*kernel, 1)))
	return &ConvTranspose2d{Weight: param(r.Uniform(-k, k, in, out/g, kernel, kernel)), Bias: param(r.Uniform(-k, k, out)), Opts: opt}
}

// Forward applies the layer to x (N, C, H, W).
func (c *ConvTranspose2d) Forward(x *Variable) (*Variable, error) {
	return result(x.ConvTranspose2d(c.Weight, c.Bias, c.Opts))
}

// Params returns "weight" and "bias".
func (c *ConvTranspose2d) Params() []Param { return weightBias(c.Weight, c.Bias) }

// AdaptiveMaxPool2d takes the maximum over a fixed output grid of bins
// whatever the input size, as torch.nn.AdaptiveMaxPool2d.
type AdaptiveMaxPool2d struct {
	stateless
	Out [2]int
}

// NewAdaptiveMaxPool2d returns a layer pooling to oh x ow.
func NewAdaptiveMaxPool2d(oh, ow int) *AdaptiveMaxPool2d {
	return &AdaptiveMaxPool2d{Out: [2]int{oh, ow}}
}

// Forward applies the layer.
func (m *AdaptiveMaxPool2d) Forward(x *Variable) (*Variable, error) {
	return result(x.AdaptiveMaxPool2d(m.Out[0], m.Out[1]))
}
