package nn

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// Built-in layers. Each initializes its parameters as PyTorch does, from the
// *tensor.RNG given (nil means tensor.NewRNG(0)), so an experiment is
// reproducible from its seeds. Fields are exported as PyTorch's attributes
// are: replacing Weight or setting Bias to nil changes the layer.

func rngOr(r *tensor.RNG) *tensor.RNG {
	if r == nil {
		return tensor.NewRNG(0)
	}
	return r
}

// param makes a leaf Variable that requires gradients.
func param(t *tensor.Tensor) *Variable { return NewVariable(t).SetRequiresGrad(true) }

// Linear computes x W^T + b over the last dim of x, as torch.nn.Linear.
type Linear struct {
	stateless
	Weight *Variable // (out, in)
	Bias   *Variable // (out), or nil
}

// NewLinear returns a Linear layer from in to out features with a bias,
// weights and bias drawn from U(-1/sqrt(in), 1/sqrt(in)).
func NewLinear(in, out int, rng *tensor.RNG) *Linear {
	r := rngOr(rng)
	k := 1 / math.Sqrt(float64(max(in, 1)))
	return &Linear{
		Weight: param(r.Uniform(-k, k, out, in)),
		Bias:   param(r.Uniform(-k, k, out)),
	}
}

// Forward applies the layer.
func (l *Linear) Forward(x *Variable) (*Variable, error) {
	y := x.MatMul(l.Weight.T())
	if l.Bias != nil {
		y = y.Add(l.Bias)
	}
	return result(y)
}

// Params returns "weight" and "bias".
func (l *Linear) Params() []Param { return weightBias(l.Weight, l.Bias) }

func weightBias(w, b *Variable) []Param {
	ps := []Param{{Name: "weight", Var: w}}
	if b != nil {
		ps = append(ps, Param{Name: "bias", Var: b})
	}
	return ps
}

// Conv2d is a 2-D convolution layer, as torch.nn.Conv2d.
type Conv2d struct {
	stateless
	Weight *Variable // (out, in/groups, KH, KW)
	Bias   *Variable // (out), or nil
	Opts   tensor.ConvOpts
}

// NewConv2d returns a convolution from in to out channels with square
// kernels of size kernel and a bias, initialized as PyTorch does.
func NewConv2d(in, out, kernel int, opt tensor.ConvOpts, rng *tensor.RNG) *Conv2d {
	return newConv2d(in, out, [2]int{kernel, kernel}, opt, true, rng)
}

func newConv2d(in, out int, kernel [2]int, opt tensor.ConvOpts, bias bool, rng *tensor.RNG) *Conv2d {
	r := rngOr(rng)
	g := max(opt.Groups, 1)
	fanIn := in / g * kernel[0] * kernel[1]
	k := 1 / math.Sqrt(float64(max(fanIn, 1)))
	c := &Conv2d{Weight: param(r.Uniform(-k, k, out, in/g, kernel[0], kernel[1])), Opts: opt}
	if bias {
		c.Bias = param(r.Uniform(-k, k, out))
	}
	return c
}

// Forward applies the layer to x (N, C, H, W).
func (c *Conv2d) Forward(x *Variable) (*Variable, error) {
	return result(x.Conv2d(c.Weight, c.Bias, c.Opts))
}

// Params returns "weight" and "bias".
func (c *Conv2d) Params() []Param { return weightBias(c.Weight, c.Bias) }

// ReLU is max(x, 0).
type ReLU struct{ stateless }

// NewReLU returns a ReLU layer.
func NewReLU() *ReLU { return &ReLU{} }

// Forward applies the layer.
func (*ReLU) Forward(x *Variable) (*Variable, error) { return result(x.Relu()) }

// Sigmoid is 1/(1+e^-x).
type Sigmoid struct{ stateless }

// NewSigmoid returns a Sigmoid layer.
func NewSigmoid() *Sigmoid { return &Sigmoid{} }

// Forward applies the layer.
func (*Sigmoid) Forward(x *Variable) (*Variable, error) { return result(x.Sigmoid()) }

// Tanh is the hyperbolic tangent.
type Tanh struct{ stateless }

// NewTanh returns a Tanh layer.
func NewTanh() *Tanh { return &Tanh{} }

// Forward applies the layer.
func (*Tanh) Forward(x *Variable) (*Variable, error) { return result(x.Tanh()) }

// Softmax normalizes exp(x) along Dim.
type Softmax struct {
	stateless
	Dim int
}

// NewSoftmax returns a Softmax layer over dim.
func NewSoftmax(dim int) *Softmax { return &Softmax{Dim: dim} }

// Forward applies the layer.
func (s *Softmax) Forward(x *Variable) (*Variable, error) { return result(x.Softmax(s.Dim)) }

// LogSoftmax is log(Softmax) along Dim.
type LogSoftmax struct {
	stateless
	Dim int
}

// NewLogSoftmax returns a LogSoftmax layer over dim.
func NewLogSoftmax(dim int) *LogSoftmax { return &LogSoftmax{Dim: dim} }

// Forward applies the layer.
func (s *LogSoftmax) Forward(x *Variable) (*Variable, error) { return result(x.LogSoftmax(s.Dim)) }

// MaxPool2d takes the maximum of each window, as torch.nn.MaxPool2d.
type MaxPool2d struct {
	stateless
	Opts tensor.PoolOpts
}

// NewMaxPool2d returns a max-pooling layer.
func NewMaxPool2d(opt tensor.PoolOpts) *MaxPool2d { return &MaxPool2d{Opts: opt} }

// Forward applies the layer.
func (m *MaxPool2d) Forward(x *Variable) (*Variable, error) { return result(x.MaxPool2d(m.Opts)) }

// AvgPool2d averages each window, as torch.nn.AvgPool2d (set
// Opts.CountIncludePad for PyTorch's default divisor).
type AvgPool2d struct {
	stateless
	Opts tensor.PoolOpts
}

// NewAvgPool2d returns an average-pooling layer.
func NewAvgPool2d(opt tensor.PoolOpts) *AvgPool2d { return &AvgPool2d{Opts: opt} }

// Forward applies the layer.
func (m *AvgPool2d) Forward(x *Variable) (*Variable, error) { return result(x.AvgPool2d(m.Opts)) }

// AdaptiveAvgPool2d averages into a fixed output grid whatever the input size.
type AdaptiveAvgPool2d struct {
	stateless
	Out [2]int
}

// NewAdaptiveAvgPool2d returns a layer pooling to oh x ow.
func NewAdaptiveAvgPool2d(oh, ow int) *AdaptiveAvgPool2d {
	return &AdaptiveAvgPool2d{Out: [2]int{oh, ow}}
}

// Forward applies the layer.
func (m *AdaptiveAvgPool2d) Forward(x *Variable) (*Variable, error) {
	return result(x.AdaptiveAvgPool2d(m.Out[0], m.Out[1]))
}

// BatchNorm normalizes each channel (dim 1) by batch statistics in
// training mode, updating running estimates, and by those estimates in
// evaluation mode, as torch.nn.BatchNorm1d and BatchNorm2d.
type BatchNorm struct {
	Weight, Bias            *Variable // (C)
	RunningMean, RunningVar *Variable // (C), buffers
	Eps, Momentum           float64
	// rank is 2 for BatchNorm1d (input (N, C) or (N, C, L)) and 4 for 2d.
	rank     int
	training bool
}

// NewBatchNorm1d returns batch normalization over (N, C) or (N, C, L).
func NewBatchNorm1d(features int) *BatchNorm { return newBatchNorm(features, 2) }

// NewBatchNorm2d returns batch normalization over (N, C, H, W).
func NewBatchNorm2d(features int) *BatchNorm { return newBatchNorm(features, 4) }

func newBatchNorm(c, rank int) *BatchNorm {
	return &BatchNorm{
		Weight:      param(tensor.Ones(c)),
		Bias:        param(tensor.Zeros(c)),
		RunningMean: NewVariable(tensor.Zeros(c)),
		RunningVar:  NewVariable(tensor.Ones(c)),
		Eps:         1e-5, Momentum: 0.1, rank: rank, training: true,
	}
}

// Params returns weight, bias, running_mean and running_var.
func (b *BatchNorm) Params() []Param {
	return []Param{{Name: "weight", Var: b.Weight}, {Name: "bias", Var: b.Bias},
		{Name: "running_mean", Var: b.RunningMean, Buffer: true},
		{Name: "running_var", Var: b.RunningVar, Buffer: true}}
}

// SetTraining chooses batch statistics (on) or running statistics (off).
func (b *BatchNorm) SetTraining(on bool) { b.training = on }

// Forward normalizes x.
func (b *BatchNorm) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	sh := x.val.dims()
	c := b.Weight.val.dims()[0]
	ok := len(sh) >= 2 && sh[1] == c
	if b.rank == 2 {
		ok = ok && len(sh) <= 3
	} else {
		ok = ok && len(sh) == 4
	}
	if !ok {
		return nil, fmt.Errorf("nn: BatchNorm%dd of %d features: input shape %v", b.rank/2, c, sh)
	}
	bshape := make([]int, len(sh)) // broadcast shape of per-channel values
	dims := []int{0}
	for i := range bshape {
		bshape[i] = 1
		if i >= 2 {
			dims = append(dims, i)
		}
	}
	bshape[1] = c
	w, bias := b.Weight.Reshape(bshape...), b.Bias.Reshape(bshape...)
	if !b.training {
		inv := b.RunningVar.AddScalar(b.Eps).invSqrtFull().Reshape(bshape...)
		return result(x.Sub(b.RunningMean.Reshape(bshape...)).Mul(inv.Mul(w)).Add(bias))
	}
	n := tensor.Numel(sh) / c
	if n < 2 {
		return nil, fmt.Errorf("nn: BatchNorm in training mode needs more than one value per channel, input shape %v", sh)
	}
	mean := x.MeanKeep(dims...)
	xc := x.Sub(mean)
	variance := xc.Square().MeanKeep(dims...)
	y := xc.Mul(variance.AddScalar(b.Eps).invSqrtFull()).Mul(w).Add(bias)
	if y.err != nil {
		return nil, y.err
	}
	// Running estimates use the unbiased variance, as PyTorch does.
	m := b.Momentum
	err := guard("BatchNorm", func() {
		mv, vv := mean.val, variance.val
		bk := pick(mv, vv, b.RunningMean.val)
		mv = bk.reshape(mv, []int{c})
		vv = bk.scale(bk.reshape(vv, []int{c}), float64(n)/float64(n-1))
		b.RunningMean.val = bk.add(bk.scale(b.RunningMean.val, 1-m), bk.scale(mv, m))
		b.RunningVar.val = bk.add(bk.scale(b.RunningVar.val, 1-m), bk.scale(vv, m))
	})
	if err != nil {
		return nil, err
	}
	return y, nil
}

// Dropout zeroes each element with probability P in training mode and
// scales the rest by 1/(1-P); in evaluation mode it passes x through.
// The mask is public and drawn from the layer's own seeded generator, so
// parties that build the same model draw the same masks; it depends on no
// data, so it reveals nothing about inputs.
type Dropout struct {
	P        float64
	seed     uint64
	rng      *tensor.RNG
	training bool
}

// NewDropout returns a Dropout layer drawing masks from seed.
func NewDropout(p float64, seed uint64) *Dropout {
	return &Dropout{P: p, seed: seed, rng: tensor.NewRNG(seed), training: true}
}

// Params returns nothing: Dropout has no parameters.
func (*Dropout) Params() []Param { return nil }

// SetTraining turns dropping on or off.
func (d *Dropout) SetTraining(on bool) { d.training = on }

// Forward applies the layer.
func (d *Dropout) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	if !d.training || d.P == 0 {
		return x, nil
	}
	if d.P < 0 || d.P >= 1 {
		return nil, fmt.Errorf("nn: Dropout probability %v outside [0, 1)", d.P)
	}
	keep := 1 / (1 - d.P)
	mask := d.rng.Uniform(0, 1, x.val.dims()...).Apply(func(u float64) float64 {
		if u < d.P {
			return 0
		}
		return keep
	})
	return result(x.Mul(NewVariable(mask)))
}

// Flatten flattens dims from StartDim on, as torch.nn.Flatten (default 1).
type Flatten struct {
	stateless
	StartDim int
}

// NewFlatten returns a Flatten layer.
func NewFlatten(startDim int) *Flatten { return &Flatten{StartDim: startDim} }

// Forward applies the layer.
func (f *Flatten) Forward(x *Variable) (*Variable, error) { return result(x.Flatten(f.StartDim)) }

// Reshape reshapes its input to Shape, where -1 is inferred and 0 copies
// the input's size in that dim (ONNX's rule, so batch sizes pass through).
type Reshape struct {
	stateless
	Shape []int
}

// NewReshape returns a Reshape layer.
func NewReshape(shape ...int) *Reshape { return &Reshape{Shape: append([]int(nil), shape...)} }

// Forward applies the layer.
func (r *Reshape) Forward(x *Variable) (*Variable, error) {
	if x.err != nil {
		return nil, x.err
	}
	sh := x.val.dims()
	target := append([]int(nil), r.Shape...)
	for i, d := range target {
		if d == 0 {
			if i >= len(sh) {
				return nil, fmt.Errorf("nn: Reshape %v: dim %d copies a dim the input %v lacks", r.Shape, i, sh)
			}
			target[i] = sh[i]
		}
	}
	return result(x.Reshape(target...))
}
