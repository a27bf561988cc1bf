package nn

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// everyLayer is a model that uses each described module type once.
func everyLayer() *Model {
	r := tensor.NewRNG(3)
	return NewModel(NewSequential(
		NewConv2d(1, 4, 3, tensor.ConvOpts{Padding: [2]int{1, 1}}, r),
		NewBatchNorm2d(4),
		NewReLU(),
		NewMaxPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}),
		NewAvgPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}, Stride: [2]int{1, 1}, CountIncludePad: true}),
		NewAdaptiveAvgPool2d(2, 2),
		NewFlatten(1),
		NewDropout(0.2, 77),
		NewLinear(16, 8, r),
		NewBatchNorm1d(8),
		NewTanh(),
		NewReshape(0, 2, 4),
		NewSigmoid(),
		NewReshape(-1, 8),
		NewSequential(NewLinear(8, 3, r), NewLogSoftmax(1)),
		NewSoftmax(-1),
	))
}

func TestSpecRoundTrip(t *testing.T) {
	m := everyLayer()
	x := NewVariable(tensor.NewRNG(1).Normal(0, 1, 5, 1, 8, 8))
	if _, err := m.Forward(x); err != nil { // move running statistics off their defaults
		t.Fatal(err)
	}
	m.Eval()
	want, err := m.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := m.Spec()
	if err != nil {
		t.Fatal(err)
	}
	b, err := spec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := UnmarshalSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := BuildModel(s2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "running") || len(b) > 2000 {
		t.Errorf("spec should hold no weights (%d bytes): %s", len(b), b)
	}
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.LoadStateDict(sd); err != nil {
		t.Fatal(err)
	}
	m2.Eval()
	got, err := m2.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(got.Tensor(), want.Tensor()); d != 0 {
		t.Errorf("rebuilt model differs by %g", d)
	}
	names := []string{}
	for _, p := range m2.Params() {
		names = append(names, p.Name)
	}
	wantNames := "0.weight 0.bias 1.weight 1.bias 1.running_mean 1.running_var 8.weight 8.bias 9.weight 9.bias 9.running_mean 9.running_var 14.0.weight 14.0.bias"
	if strings.Join(names, " ") != wantNames {
		t.Errorf("state dict names\n%s\nwant\n%s", strings.Join(names, " "), wantNames)
	}
	if n := len(m2.Parameters()); n != 10 {
		t.Errorf("%d learnable parameters, want 10", n)
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"unknown type", `{"type":"Bogus"}`, `unknown module type "Bogus"`},
		{"missing field", `{"type":"Linear","ints":{"in":[3]}}`, `field "out"`},
		{"huge layer", `{"type":"Linear","ints":{"in":[16777216],"out":[16777216],"bias":[1]}}`, "exceeds"},
		{"negative", `{"type":"Conv2d","ints":{"in":[1],"out":[2],"kernel":[3,-3],"stride":[1,1],"padding":[0,0],"dilation":[1,1],"groups":[1],"bias":[1]}}`, "kernel"},
		{"groups", `{"type":"Conv2d","ints":{"in":[3],"out":[2],"kernel":[3,3],"stride":[1,1],"padding":[0,0],"dilation":[1,1],"groups":[2],"bias":[1]}}`, "groups"},
		{"dropout p", `{"type":"Dropout","ints":{"seed":[1]},"floats":{"p":1.5}}`, `"p"`},
		{"graph op", `{"type":"Graph","graph":{"inputs":["x"],"outputs":["y"],"nodes":[{"op":"Celu","name":"e","inputs":["x"],"outputs":["y"]}]}}`, `Celu node "e": unsupported operator "Celu"`},
		{"graph undefined", `{"type":"Graph","graph":{"inputs":["x"],"outputs":["y"],"nodes":[{"op":"Relu","inputs":["z"],"outputs":["y"]}]}}`, `input "z" is not defined`},
		{"graph output", `{"type":"Graph","graph":{"inputs":["x"],"outputs":["q"],"nodes":[]}}`, `output "q"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := UnmarshalSpec([]byte(tc.json))
			if err == nil {
				_, err = Build(s)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	deep := strings.Repeat(`{"type":"Sequential","children":[`, 40) + `{"type":"ReLU"}` + strings.Repeat(`]}`, 40)
	s, err := UnmarshalSpec([]byte(deep))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(s); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("deep nesting: %v", err)
	}
	if _, err := UnmarshalSpec([]byte(`{"type":"ReLU","extra":1}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

func FuzzBuildSpec(f *testing.F) {
	f.Add([]byte(`{"type":"Sequential","children":[{"type":"Conv2d","ints":{"in":[1],"out":[2],"kernel":[3,3],"stride":[1,1],"padding":[1,1],"dilation":[1,1],"groups":[1],"bias":[1]}},{"type":"MaxPool2d","ints":{"kernel":[2,2],"stride":[2,2],"padding":[0,0],"dilation":[1,1],"ceil_mode":[0],"count_include_pad":[0]}},{"type":"Flatten","ints":{"start_dim":[1]}},{"type":"Linear","ints":{"in":[8],"out":[2],"bias":[1]}}]}`))
	f.Add([]byte(`{"type":"Graph","graph":{"inputs":["x"],"outputs":["y"],"params":[{"name":"w","shape":[2,2]}],"nodes":[{"op":"MatMul","inputs":["x","w"],"outputs":["y"]}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalSpec(b)
		if err != nil {
			return
		}
		mod, err := buildLimit(s, 1<<16)
		if err != nil {
			return
		}
		m := NewModel(mod)
		if m.NumParams() > 1<<16 {
			t.Fatalf("built %d parameters", m.NumParams())
		}
		// Running a built model on a small input must not crash whatever the spec.
		_, _ = m.Forward(NewVariable(tensor.Ones(1, 1, 4, 4)))
	})
}

func TestLoadStateDictErrors(t *testing.T) {
	m := NewModel(NewLinear(3, 2, nil))
	good, _ := m.StateDict()
	tests := []struct {
		name string
		sd   map[string]*tensor.Tensor
		want string
	}{
		{"missing", map[string]*tensor.Tensor{"weight": good["weight"]}, `missing "bias"`},
		{"shape", map[string]*tensor.Tensor{"weight": tensor.Zeros(3, 2), "bias": good["bias"]}, "shape"},
		{"extra", map[string]*tensor.Tensor{"weight": good["weight"], "bias": good["bias"], "x": good["bias"]}, "unexpected"},
	}
	for _, tc := range tests {
		if err := m.LoadStateDict(tc.sd); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	good["num_batches_tracked"] = tensor.Scalar(3)
	if err := m.LoadStateDict(good); err != nil {
		t.Errorf("num_batches_tracked should be ignored: %v", err)
	}
}

// TestOptimizers replays SGD and Adam with the update rules of
// torch.optim written out in scalar code, on the loss sum(c * w^2).
func TestOptimizers(t *testing.T) {
	w0 := []float64{1, -2, 0.5}
	c := []float64{1, 0.5, 3}
	run := func(opt func([]*Variable) Optimizer, steps int) []float64 {
		w := NewVariable(tensor.FromSlice(w0)).SetRequiresGrad(true)
		o := opt([]*Variable{w})
		for i := 0; i < steps; i++ {
			o.ZeroGrad()
			if err := w.Square().Mul(NewVariable(tensor.FromSlice(c))).Sum().Backward(); err != nil {
				t.Fatal(err)
			}
			if err := o.Step(); err != nil {
				t.Fatal(err)
			}
		}
		return w.Tensor().Data()
	}
	const steps = 4
	// SGD with momentum 0.9, weight decay 0.1, lr 0.05.
	sgd := append([]float64(nil), w0...)
	buf := make([]float64, 3)
	for s := 0; s < steps; s++ {
		for i := range sgd {
			d := 2*c[i]*sgd[i] + 0.1*sgd[i]
			if s == 0 {
				buf[i] = d
			} else {
				buf[i] = 0.9*buf[i] + d
			}
			sgd[i] -= 0.05 * buf[i]
		}
	}
	// Adam, lr 0.1, defaults otherwise.
	adam := append([]float64(nil), w0...)
	m, v := make([]float64, 3), make([]float64, 3)
	for s := 1; s <= steps; s++ {
		for i := range adam {
			g := 2 * c[i] * adam[i]
			m[i] = 0.9*m[i] + 0.1*g
			v[i] = 0.999*v[i] + 0.001*g*g
			mh := m[i] / (1 - math.Pow(0.9, float64(s)))
			vh := v[i] / (1 - math.Pow(0.999, float64(s)))
			adam[i] -= 0.1 * mh / (math.Sqrt(vh) + 1e-8)
		}
	}
	tests := []struct {
		name string
		got  []float64
		want []float64
	}{
		{"SGD", run(func(p []*Variable) Optimizer { return NewSGD(p, 0.05, 0.9, 0.1) }, steps), sgd},
		{"Adam", run(func(p []*Variable) Optimizer { return NewAdam(p, 0.1) }, steps), adam},
	}
	for _, tc := range tests {
		for i := range tc.want {
			if math.Abs(tc.got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("%s: w = %v, want %v", tc.name, tc.got, tc.want)
				break
			}
		}
	}
}

// TestTrainXOR trains a small MLP on XOR, a sanity check that modules,
// losses and optimizers fit together.
func TestTrainXOR(t *testing.T) {
	x := NewVariable(tensor.MustNew([]float64{0, 0, 0, 1, 1, 0, 1, 1}, 4, 2))
	y := NewVariable(tensor.MustNew([]float64{0, 1, 1, 0}, 4, 1))
	r := tensor.NewRNG(1)
	m := NewModel(NewSequential(NewLinear(2, 8, r), NewTanh(), NewLinear(8, 1, r)))
	opt := NewAdam(m.Parameters(), 0.05)
	var loss float64
	for i := 0; i < 300; i++ {
		opt.ZeroGrad()
		out, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		l := BCEWithLogitsLoss(out, y)
		if err := l.Backward(); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		loss = l.Tensor().Item()
	}
	if loss > 0.05 {
		t.Errorf("XOR loss after training %v, want < 0.05", loss)
	}
}

func ExampleModel_Spec() {
	m := NewModel(NewSequential(NewLinear(4, 2, nil), NewReLU()))
	spec, _ := m.Spec()
	b, _ := spec.Marshal()
	fmt.Println(string(b))
	// Output: {"type":"Sequential","children":[{"type":"Linear","ints":{"bias":[1],"in":[4],"out":[2]}},{"type":"ReLU"}]}
}

func TestPoolBeforeRelu(t *testing.T) {
	pool := map[string][]int{"kernel_shape": {2, 2}, "strides": {2, 2}}
	spec := &GraphSpec{Inputs: []string{"x"}, Outputs: []string{"p", "q"}, Nodes: []NodeSpec{
		{Op: "Relu", Inputs: []string{"x"}, Outputs: []string{"r"}},
		{Op: "MaxPool", Inputs: []string{"r"}, Outputs: []string{"p"}, Ints: pool},
		{Op: "Relu", Inputs: []string{"p"}, Outputs: []string{"r2"}}, // used twice: stays
		{Op: "MaxPool", Inputs: []string{"r2"}, Outputs: []string{"q"}, Ints: pool},
		{Op: "Identity", Inputs: []string{"r2"}, Outputs: []string{"i"}},
	}}
	g, err := NewGraph(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range g.plan {
		ops = append(ops, n.Op)
	}
	if got := strings.Join(ops, " "); got != "MaxPool Relu Relu MaxPool Identity" {
		t.Errorf("plan %s", got)
	}
	x := NewVariable(tensor.NewRNG(1).Normal(0, 1, 1, 1, 8, 8))
	outs, err := g.ForwardMany(x)
	if err != nil {
		t.Fatal(err)
	}
	o := tensor.PoolOpts{Kernel: [2]int{2, 2}}
	want := tensor.MaxPool2d(x.Tensor().Relu(), o)
	if !tensor.Equal(outs[0].Tensor(), want) || !tensor.Equal(outs[1].Tensor(), tensor.MaxPool2d(want.Relu(), o)) {
		t.Error("reordered graph computes something else")
	}
	if d := g.Spec(); d.Nodes[0].Op != "Relu" {
		t.Error("the description must keep the original order")
	}
}

func TestDropoutSeedRoundTrip(t *testing.T) {
	for _, seed := range []uint64{0, 7, 1<<63 + 5, math.MaxUint64} {
		spec, err := Describe(NewDropout(0.5, seed))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := spec.Marshal()
		s2, err := UnmarshalSpec(b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Build(s2)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got := m.(*Dropout).seed; got != seed {
			t.Errorf("seed %d came back as %d", seed, got)
		}
	}
}
