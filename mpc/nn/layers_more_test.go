package nn

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// newOpCases are the operations added for CrypTen parity, for the
// gradient checks (plaintext, against finite differences) and the
// encrypted ones (against plaintext).
func newOpCases() []gradCase {
	idx := tensor.MustNew([]float64{2, 0, 1, 1, 0, 2}, 3, 2)
	return []gradCase{
		{name: "Gather", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].Gather(0, idx) }},
		{name: "IndexSelect", shapes: [][]int{{3, 4, 2}}, f: func(v []*Variable) *Variable {
			return v[0].IndexSelect(1, tensor.MustNew([]float64{3, -1, 0}, 3))
		}},
		{name: "IndexSelect 2-D index", shapes: [][]int{{4, 3}}, f: func(v []*Variable) *Variable { return v[0].IndexSelect(0, idx) }},
		{name: "Max", shapes: [][]int{{3, 5}}, f: func(v []*Variable) *Variable { return v[0].Max(1, false).Add(v[0].Max(0, true).Sum()) }},
		{name: "Squeeze Unsqueeze", shapes: [][]int{{2, 1, 3}}, f: func(v []*Variable) *Variable { return v[0].Squeeze().Unsqueeze(-1).Unsqueeze(0) }},
		{name: "Conv1d", shapes: [][]int{{2, 4, 9}, {6, 2, 3}, {6}}, f: func(v []*Variable) *Variable {
			return v[0].Conv1d(v[1], v[2], tensor.Conv1dOpts{Stride: 2, Padding: 1, Dilation: 2, Groups: 2})
		}},
		{name: "ConvTranspose2d", shapes: [][]int{{2, 2, 3, 3}, {2, 3, 3, 2}, {3}}, f: func(v []*Variable) *Variable {
			return v[0].ConvTranspose2d(v[1], v[2], tensor.ConvTransposeOpts{Stride: [2]int{2, 1}, Padding: [2]int{1, 0}, OutputPadding: [2]int{1, 0}})
		}},
		{name: "ConvTranspose2d groups dilation", shapes: [][]int{{1, 4, 3, 4}, {4, 1, 2, 3}}, f: func(v []*Variable) *Variable {
			return v[0].ConvTranspose2d(v[1], nil, tensor.ConvTransposeOpts{Stride: [2]int{2, 2}, Padding: [2]int{2, 1}, Dilation: [2]int{2, 1}, Groups: 2})
		}},
		{name: "ConvTranspose1d", shapes: [][]int{{2, 3, 5}, {3, 2, 4}}, f: func(v []*Variable) *Variable {
			return v[0].ConvTranspose1d(v[1], nil, tensor.ConvTransposeOpts{Stride: [2]int{1, 3}, Padding: [2]int{0, 1}})
		}},
		{name: "AdaptiveMaxPool2d uneven", shapes: [][]int{{2, 2, 5, 7}}, f: func(v []*Variable) *Variable { return v[0].AdaptiveMaxPool2d(3, 4) }},
		{name: "AdaptiveMaxPool2d even", shapes: [][]int{{1, 2, 4, 6}}, f: func(v []*Variable) *Variable { return v[0].AdaptiveMaxPool2d(2, 3) }},
		{name: "Clamp", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return v[0].Clamp(-0.5, 0.7) }},
		{name: "LeakyRelu", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return v[0].LeakyRelu(0.1) }},
		{name: "Erf", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return v[0].MulScalar(2).Erf() }},
		{name: "Gelu", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return v[0].MulScalar(2).Gelu(false) }},
		{name: "Gelu tanh", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return v[0].MulScalar(2).Gelu(true) }},
		{name: "invSqrtFull", shapes: [][]int{{4, 5}}, lo: 0.01, hi: 30, f: func(v []*Variable) *Variable { return v[0].invSqrtFull() }},
	}
}

func TestNewOpGradients(t *testing.T) {
	for _, c := range newOpCases() {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, c) })
	}
}

func TestNewOpsEncrypted(t *testing.T) {
	for _, c := range newOpCases() {
		for _, n := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s %d parties", c.name, n), func(t *testing.T) { checkEncrypted(t, n, c, 3e-3) })
		}
	}
}

// newModules are the modules added for CrypTen parity (train: their
// gradients are checked in training mode).
func newModules() []moduleCase {
	r := func() *tensor.RNG { return tensor.NewRNG(5) }
	return []moduleCase{
		{"Conv1d", []int{2, 4, 7}, func() Module { return NewConv1d(4, 6, 3, tensor.Conv1dOpts{Padding: 1, Groups: 2}, r()) }, true},
		{"ConvTranspose2d", []int{2, 3, 3, 4}, func() Module {
			return NewConvTranspose2d(3, 2, 3, tensor.ConvTransposeOpts{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 1}}, r())
		}, true},
		{"AdaptiveMaxPool2d", []int{1, 2, 5, 5}, func() Module { return NewAdaptiveMaxPool2d(2, 3) }, true},
		{"Hardtanh", []int{3, 4}, func() Module { return NewHardtanh(-0.5, 0.8) }, true},
		{"ReLU6", []int{3, 4}, func() Module { return NewReLU6() }, true},
		{"LeakyReLU", []int{3, 4}, func() Module { return NewLeakyReLU(0.2) }, true},
		{"GELU", []int{3, 4}, func() Module { return NewGELU(false) }, true},
		{"GELU tanh", []int{3, 4}, func() Module { return NewGELU(true) }, true},
		{"LayerNorm", []int{2, 3, 4}, func() Module {
			l := NewLayerNorm(3, 4)
			l.Weight.val, l.Bias.val = plain{tensor.NewRNG(1).Uniform(0.5, 1.5, 3, 4)}, plain{tensor.NewRNG(2).Normal(0, 1, 3, 4)}
			return l
		}, true},
		{"GroupNorm", []int{2, 4, 3, 2}, func() Module {
			g := NewGroupNorm(2, 4)
			g.Weight.val, g.Bias.val = plain{tensor.NewRNG(1).Uniform(0.5, 1.5, 4)}, plain{tensor.NewRNG(2).Normal(0, 1, 4)}
			return g
		}, true},
		{"Squeeze", []int{2, 1, 3}, func() Module { return NewSqueeze(1) }, true},
		{"Unsqueeze", []int{2, 3}, func() Module { return NewUnsqueeze(0, -1) }, true},
		{"Transpose", []int{2, 3, 4}, func() Module { return NewTranspose(2, 0, 1) }, true},
		{"Gather", []int{3, 4}, func() Module { return NewGather(1, tensor.MustNew([]float64{3, 0, 3}, 3)) }, true},
		{"Concatenate", []int{2, 3}, func() Module {
			g := r()
			return NewConcatenate(1, NewLinear(3, 2, g), NewSequential(NewLinear(3, 4, g), NewTanh()))
		}, true},
		{"ConstantPad", []int{1, 2, 3, 2}, func() Module { return NewConstantPad([]int{1, 0, 2, 1}, 0.5) }, true},
		{"GlobalAveragePool", []int{2, 3, 4, 2}, func() Module { return NewGlobalAveragePool() }, true},
	}
}

func TestNewModuleGradients(t *testing.T) {
	for _, c := range newModules() {
		t.Run(c.name, func(t *testing.T) { checkModule(t, c) })
	}
}

// TestNewModulesMatchDefinitions checks the forward passes against direct
// computations of what PyTorch documents.
func TestNewModulesMatchDefinitions(t *testing.T) {
	x := tensor.NewRNG(8).Normal(0, 2, 2, 4, 3, 5)
	eval := func(m Module, in *tensor.Tensor) *tensor.Tensor {
		out, err := m.Forward(NewVariable(in))
		if err != nil {
			t.Fatal(err)
		}
		return out.Tensor()
	}
	elementwise := func(f func(float64) float64) *tensor.Tensor { return x.Apply(f) }
	phi := func(v float64) float64 { return 0.5 * (1 + math.Erf(v/math.Sqrt2)) }
	// LayerNorm and GroupNorm by hand.
	ln := x.Clone()
	for n := 0; n < 2; n++ {
		for c := 0; c < 4; c++ {
			sum, sq := 0.0, 0.0
			for i := 0; i < 15; i++ {
				v := x.Data()[(n*4+c)*15+i]
				sum += v
				sq += v * v
			}
			mean := sum / 15
			inv := 1 / math.Sqrt(sq/15-mean*mean+1e-5)
			for i := 0; i < 15; i++ {
				ln.Data()[(n*4+c)*15+i] = (x.Data()[(n*4+c)*15+i] - mean) * inv
			}
		}
	}
	gn := x.Clone()
	for n := 0; n < 2; n++ {
		for g := 0; g < 2; g++ {
			lo, hi := (n*4+2*g)*15, (n*4+2*g+2)*15
			sum, sq := 0.0, 0.0
			for _, v := range x.Data()[lo:hi] {
				sum += v
				sq += v * v
			}
			mean := sum / 30
			inv := 1 / math.Sqrt(sq/30-mean*mean+1e-5)
			for i := lo; i < hi; i++ {
				gn.Data()[i] = (x.Data()[i] - mean) * inv
			}
		}
	}
	cases := []struct {
		name string
		got  *tensor.Tensor
		want *tensor.Tensor
	}{
		{"Hardtanh", eval(NewHardtanh(-1, 2), x), elementwise(func(v float64) float64 { return max(-1, min(v, 2)) })},
		{"ReLU6", eval(NewReLU6(), x.MulScalar(4)), x.MulScalar(4).Apply(func(v float64) float64 { return max(0, min(v, 6)) })},
		{"LeakyReLU", eval(NewLeakyReLU(0.01), x), elementwise(func(v float64) float64 {
			if v > 0 {
				return v
			}
			return 0.01 * v
		})},
		{"GELU", eval(NewGELU(false), x), elementwise(func(v float64) float64 { return v * phi(v) })},
		{"GELU tanh", eval(NewGELU(true), x), elementwise(func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		})},
		{"LayerNorm", eval(NewLayerNorm(3, 5), x), ln},
		{"GroupNorm", eval(NewGroupNorm(2, 4), x), gn},
		{"Conv1d", eval(&Conv1d{Weight: NewVariable(tensor.RandN(3, 6, 2, 3)), Opts: tensor.Conv1dOpts{Groups: 2}}, x.Reshape(2, 4, 15)),
			tensor.Conv1d(x.Reshape(2, 4, 15), tensor.RandN(3, 6, 2, 3), nil, tensor.Conv1dOpts{Groups: 2})},
		{"ConvTranspose2d", eval(&ConvTranspose2d{Weight: NewVariable(tensor.RandN(4, 4, 2, 3, 3)), Opts: tensor.ConvTransposeOpts{Stride: [2]int{2, 3}, Padding: [2]int{1, 1}}}, x),
			tensor.ConvTranspose2d(x, tensor.RandN(4, 4, 2, 3, 3), nil, tensor.ConvTransposeOpts{Stride: [2]int{2, 3}, Padding: [2]int{1, 1}})},
		{"GlobalAveragePool", eval(NewGlobalAveragePool(), x), x.Mean(3, true).Mean(2, true)},
		{"Constant", eval(NewConstant(tensor.Full(2, 3)), x), tensor.Full(2, 3)},
	}
	for _, c := range cases {
		if !tensor.SameShape(c.got.Shape(), c.want.Shape()) {
			t.Errorf("%s: shape %v, want %v", c.name, c.got.Shape(), c.want.Shape())
			continue
		}
		if d := tensor.MaxAbsDiff(c.got, c.want); d > 1e-9 {
			t.Errorf("%s: differs from the definition by %g", c.name, d)
		}
	}
}

// TestNewModulesEncrypted runs every new module encrypted (model from rank
// 1, input from rank 0) against plaintext, at 2 and 3 parties, forward
// and backward in training mode.
func TestNewModulesEncrypted(t *testing.T) {
	for _, c := range newModules() {
		for _, n := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s %d parties", c.name, n), func(t *testing.T) {
				gc := gradCase{name: c.name, shapes: [][]int{c.in}, f: func(v []*Variable) *Variable {
					m := c.make()
					m.SetTraining(c.train)
					if p := v[0].CrypTensor(); p != nil {
						for _, q := range m.Params() {
							q.Var.val = crypt{p.Party().Encrypt(q.Var.Tensor(), 0)}
						}
					}
					out, err := m.Forward(v[0])
					if err != nil {
						return &Variable{err: err}
					}
					return out
				}}
				checkEncrypted(t, n, gc, 5e-3)
			})
		}
	}
}

// TestNewModulesSpec shares every new module by its Spec: rebuilt from the
// description alone and loaded with the weights, it computes the same.
func TestNewModulesSpec(t *testing.T) {
	for _, c := range newModules() {
		m := NewModel(c.make())
		m.Eval()
		x := NewVariable(tensor.NewRNG(9).Normal(0, 1, c.in...))
		want, err := m.Forward(x)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		spec, err := m.Spec()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, err := spec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := UnmarshalSpec(b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		m2, err := BuildModel(s2)
		if err != nil {
			t.Fatalf("%s: build %s: %v", c.name, b, err)
		}
		sd, err := m.StateDict()
		if err != nil {
			t.Fatal(err)
		}
		if err := m2.LoadStateDict(sd); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		m2.Eval()
		got, err := m2.Forward(x)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d := tensor.MaxAbsDiff(got.Tensor(), want.Tensor()); d != 0 {
			t.Errorf("%s: rebuilt module differs by %g (spec %s)", c.name, d, b)
		}
	}
	// And a Constant's value travels as a buffer, not in the spec.
	s, err := Describe(NewConstant(tensor.Full(7.5, 2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Marshal()
	if strings.Contains(string(b), "7.5") {
		t.Errorf("Constant spec holds its value: %s", b)
	}
}
