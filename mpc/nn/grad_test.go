package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// gradCase is a function of some tensors whose gradients Backward must
// reproduce: f maps Variables of the given shapes to any output, which the
// check reduces with fixed random weights so every output element gets a
// different upstream gradient.
type gradCase struct {
	name   string
	shapes [][]int
	// lo, hi bound the random inputs (default N(0,1)).
	lo, hi float64
	f      func(v []*Variable) *Variable
}

func randInputs(seed uint64, c gradCase) []*tensor.Tensor {
	r := tensor.NewRNG(seed)
	ts := make([]*tensor.Tensor, len(c.shapes))
	for i, s := range c.shapes {
		if c.lo != 0 || c.hi != 0 {
			ts[i] = r.Uniform(c.lo, c.hi, s...)
		} else {
			ts[i] = r.Normal(0, 1, s...)
		}
	}
	return ts
}

// weightedSum evaluates c.f on ts and reduces the result to a scalar with
// weights drawn from seed.
func weightedSum(c gradCase, ts []*tensor.Tensor, grad bool) (*Variable, []*Variable, error) {
	vs := make([]*Variable, len(ts))
	for i, t := range ts {
		vs[i] = NewVariable(t).SetRequiresGrad(grad)
	}
	out := c.f(vs)
	if err := out.Err(); err != nil {
		return nil, nil, err
	}
	w := tensor.NewRNG(99).Normal(0, 1, out.Shape()...)
	return out.Mul(NewVariable(w)).Sum(), vs, nil
}

// target is one tensor the loss depends on and the gradient Backward found
// for it.
type target struct {
	data *tensor.Tensor
	grad func() *Variable
}

// compareNumeric perturbs every element of every target and compares the
// central difference of eval with the analytical gradient.
func compareNumeric(t *testing.T, targets []target, eval func() float64) {
	t.Helper()
	const h = 1e-6
	for i, tg := range targets {
		g := tg.grad()
		if g == nil {
			t.Fatalf("target %d: no gradient", i)
		}
		gt := g.Tensor()
		if !tensor.SameShape(gt.Shape(), tg.data.Shape()) {
			t.Fatalf("target %d: gradient shape %v, want %v", i, gt.Shape(), tg.data.Shape())
		}
		d := tg.data.Data()
		for j := range d {
			old := d[j]
			d[j] = old + h
			up := eval()
			d[j] = old - h
			down := eval()
			d[j] = old
			num := (up - down) / (2 * h)
			if got := gt.Data()[j]; math.Abs(got-num) > 1e-5*(1+math.Abs(num)) {
				t.Fatalf("target %d element %d: gradient %.9g, finite difference %.9g", i, j, got, num)
			}
		}
	}
}

// checkGradients compares Backward's gradients with central differences.
func checkGradients(t *testing.T, c gradCase) {
	t.Helper()
	ts := randInputs(7, c)
	loss, vs, err := weightedSum(c, ts, true)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	if err := loss.Backward(); err != nil {
		t.Fatalf("backward: %v", err)
	}
	var targets []target
	for i, x := range ts {
		targets = append(targets, target{x, vs[i].Grad})
	}
	compareNumeric(t, targets, func() float64 {
		l, _, err := weightedSum(c, ts, false)
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		return l.Tensor().Item()
	})
}

func TestOpGradients(t *testing.T) {
	conv := func(o tensor.ConvOpts) func(v []*Variable) *Variable {
		return func(v []*Variable) *Variable { return v[0].Conv2d(v[1], v[2], o) }
	}
	cases := []gradCase{
		{name: "Add broadcast", shapes: [][]int{{2, 3}, {3}}, f: func(v []*Variable) *Variable { return v[0].Add(v[1]) }},
		{name: "Sub broadcast both", shapes: [][]int{{2, 1, 3}, {4, 3}}, f: func(v []*Variable) *Variable { return v[0].Sub(v[1]) }},
		{name: "Mul broadcast", shapes: [][]int{{2, 3, 1}, {1, 4}}, f: func(v []*Variable) *Variable { return v[0].Mul(v[1]) }},
		{name: "Mul same", shapes: [][]int{{3, 2}, {3, 2}}, f: func(v []*Variable) *Variable { return v[0].Mul(v[1]) }},
		{name: "Div", shapes: [][]int{{2, 3}, {2, 3}}, lo: 0.5, hi: 2, f: func(v []*Variable) *Variable { return v[0].Div(v[1]) }},
		{name: "Neg", shapes: [][]int{{4}}, f: func(v []*Variable) *Variable { return v[0].Neg() }},
		{name: "AddScalar", shapes: [][]int{{4}}, f: func(v []*Variable) *Variable { return v[0].AddScalar(3) }},
		{name: "MulScalar", shapes: [][]int{{4}}, f: func(v []*Variable) *Variable { return v[0].MulScalar(-2.5) }},
		{name: "DivScalar", shapes: [][]int{{4}}, f: func(v []*Variable) *Variable { return v[0].DivScalar(4) }},
		{name: "Square", shapes: [][]int{{2, 2}}, f: func(v []*Variable) *Variable { return v[0].Square() }},
		{name: "Sum all", shapes: [][]int{{2, 3}}, f: func(v []*Variable) *Variable { return v[0].Sum() }},
		{name: "Sum dims", shapes: [][]int{{2, 3, 4}}, f: func(v []*Variable) *Variable { return v[0].Sum(0, -1) }},
		{name: "SumKeep", shapes: [][]int{{2, 3, 4}}, f: func(v []*Variable) *Variable { return v[0].SumKeep(1) }},
		{name: "Mean", shapes: [][]int{{2, 3, 4}}, f: func(v []*Variable) *Variable { return v[0].Mean(1, 2) }},
		{name: "MeanKeep", shapes: [][]int{{2, 3, 4}}, f: func(v []*Variable) *Variable { return v[0].MeanKeep(0) }},
		{name: "Reshape", shapes: [][]int{{2, 6}}, f: func(v []*Variable) *Variable { return v[0].Reshape(3, -1).Square() }},
		{name: "Flatten", shapes: [][]int{{2, 3, 2}}, f: func(v []*Variable) *Variable { return v[0].Flatten(1).Square() }},
		{name: "Permute", shapes: [][]int{{2, 3, 4}}, f: func(v []*Variable) *Variable { return v[0].Permute(2, 0, 1).Square() }},
		{name: "Transpose", shapes: [][]int{{2, 3, 4}}, f: func(v []*Variable) *Variable { return v[0].Transpose(0, 2).Square() }},
		{name: "T", shapes: [][]int{{2, 3}}, f: func(v []*Variable) *Variable { return v[0].T().Square() }},
		{name: "Pad", shapes: [][]int{{2, 3}}, f: func(v []*Variable) *Variable {
			return v[0].Pad([][2]int{{1, 0}, {2, 3}}, 0.5).Square()
		}},
		{name: "Slice", shapes: [][]int{{5, 3}}, f: func(v []*Variable) *Variable { return v[0].Slice(0, 1, 4, 1).Square() }},
		{name: "Slice step 2", shapes: [][]int{{7, 3}}, f: func(v []*Variable) *Variable { return v[0].Slice(0, 1, 7, 2).Square() }},
		{name: "Slice step 3 negative bounds", shapes: [][]int{{3, 8}}, f: func(v []*Variable) *Variable { return v[0].Slice(1, -7, -1, 3).Square() }},
		{name: "Slice reversed", shapes: [][]int{{6, 2}}, f: func(v []*Variable) *Variable { return v[0].Slice(0, 5, 0, -2).Square() }},
		{name: "Slice empty", shapes: [][]int{{4}}, f: func(v []*Variable) *Variable {
			return Concat(0, v[0].Slice(0, 3, 1, 1), v[0].Square())
		}},
		{name: "Concat", shapes: [][]int{{2, 3}, {2, 1}, {2, 2}}, f: func(v []*Variable) *Variable {
			return Concat(1, v[0], v[1].MulScalar(2), v[2]).Square()
		}},
		{name: "BroadcastTo", shapes: [][]int{{3, 1}}, f: func(v []*Variable) *Variable { return v[0].BroadcastTo(2, 3, 4).Square() }},
		{name: "MatMul 2-D", shapes: [][]int{{3, 4}, {4, 2}}, f: func(v []*Variable) *Variable { return v[0].MatMul(v[1]) }},
		{name: "MatMul batched broadcast", shapes: [][]int{{2, 3, 4}, {4, 5}}, f: func(v []*Variable) *Variable { return v[0].MatMul(v[1]) }},
		{name: "MatMul batch both", shapes: [][]int{{2, 1, 3, 4}, {3, 4, 2}}, f: func(v []*Variable) *Variable { return v[0].MatMul(v[1]) }},
		{name: "MatMul vector left", shapes: [][]int{{4}, {4, 3}}, f: func(v []*Variable) *Variable { return v[0].MatMul(v[1]) }},
		{name: "MatMul vector right", shapes: [][]int{{2, 4}, {4}}, f: func(v []*Variable) *Variable { return v[0].MatMul(v[1]) }},
		{name: "MatMul dot", shapes: [][]int{{4}, {4}}, f: func(v []*Variable) *Variable { return v[0].MatMul(v[1]) }},
		{name: "Relu", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].Relu() }},
		{name: "Abs", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].Abs() }},
		{name: "Sigmoid", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].Sigmoid() }},
		{name: "LogSigmoid", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].LogSigmoid() }},
		{name: "Tanh", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].Tanh() }},
		{name: "Exp", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].Exp() }},
		{name: "Log", shapes: [][]int{{3, 4}}, lo: 0.2, hi: 3, f: func(v []*Variable) *Variable { return v[0].Log() }},
		{name: "Reciprocal", shapes: [][]int{{3, 4}}, lo: 0.2, hi: 3, f: func(v []*Variable) *Variable { return v[0].Reciprocal() }},
		{name: "Sqrt", shapes: [][]int{{3, 4}}, lo: 0.2, hi: 3, f: func(v []*Variable) *Variable { return v[0].Sqrt() }},
		{name: "InvSqrt", shapes: [][]int{{3, 4}}, lo: 0.2, hi: 3, f: func(v []*Variable) *Variable { return v[0].InvSqrt() }},
		{name: "Softmax dim 1", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].Softmax(1) }},
		{name: "Softmax dim 0", shapes: [][]int{{3, 4, 2}}, f: func(v []*Variable) *Variable { return v[0].Softmax(0) }},
		{name: "LogSoftmax", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].LogSoftmax(-1) }},
		{name: "Conv2d plain", shapes: [][]int{{2, 3, 6, 5}, {4, 3, 3, 2}, {4}}, f: conv(tensor.ConvOpts{})},
		{name: "Conv2d stride padding", shapes: [][]int{{2, 2, 7, 6}, {3, 2, 3, 3}, {3}},
			f: conv(tensor.ConvOpts{Stride: [2]int{2, 3}, Padding: [2]int{1, 2}})},
		{name: "Conv2d dilation", shapes: [][]int{{1, 2, 7, 7}, {2, 2, 2, 3}, {2}},
			f: conv(tensor.ConvOpts{Dilation: [2]int{2, 1}, Stride: [2]int{1, 2}})},
		{name: "Conv2d groups", shapes: [][]int{{2, 4, 5, 5}, {6, 2, 3, 3}, {6}},
			f: conv(tensor.ConvOpts{Groups: 2, Padding: [2]int{1, 1}})},
		{name: "Conv2d big padding", shapes: [][]int{{1, 1, 3, 3}, {2, 1, 2, 2}, {2}},
			f: conv(tensor.ConvOpts{Padding: [2]int{1, 1}, Stride: [2]int{2, 2}})},
		{name: "Conv2d no bias", shapes: [][]int{{1, 2, 4, 4}, {2, 2, 3, 3}}, f: func(v []*Variable) *Variable {
			return v[0].Conv2d(v[1], nil, tensor.ConvOpts{})
		}},
		{name: "MaxPool2d", shapes: [][]int{{2, 2, 6, 6}}, f: func(v []*Variable) *Variable {
			return v[0].MaxPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}})
		}},
		{name: "MaxPool2d overlapping padded", shapes: [][]int{{1, 2, 5, 5}}, f: func(v []*Variable) *Variable {
			return v[0].MaxPool2d(tensor.PoolOpts{Kernel: [2]int{3, 3}, Stride: [2]int{2, 1}, Padding: [2]int{1, 1}})
		}},
		{name: "AvgPool2d", shapes: [][]int{{2, 2, 6, 4}}, f: func(v []*Variable) *Variable {
			return v[0].AvgPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}})
		}},
		{name: "AvgPool2d padded ceil", shapes: [][]int{{1, 2, 5, 6}}, f: func(v []*Variable) *Variable {
			return v[0].AvgPool2d(tensor.PoolOpts{Kernel: [2]int{3, 2}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true})
		}},
		{name: "AvgPool2d count pad", shapes: [][]int{{1, 1, 5, 5}}, f: func(v []*Variable) *Variable {
			return v[0].AvgPool2d(tensor.PoolOpts{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CountIncludePad: true})
		}},
		{name: "AdaptiveAvgPool2d divisible", shapes: [][]int{{2, 2, 4, 6}}, f: func(v []*Variable) *Variable {
			return v[0].AdaptiveAvgPool2d(2, 3)
		}},
		{name: "AdaptiveAvgPool2d uneven", shapes: [][]int{{1, 2, 5, 7}}, f: func(v []*Variable) *Variable {
			return v[0].AdaptiveAvgPool2d(3, 2)
		}},
		{name: "reused input", shapes: [][]int{{3}}, f: func(v []*Variable) *Variable {
			return v[0].Mul(v[0]).Add(v[0].Exp()).Mul(v[0])
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, c) })
	}
}

// moduleCase is a module whose gradients with respect to its input and
// its learnable parameters are checked.
type moduleCase struct {
	name  string
	in    []int
	make  func() Module
	train bool
}

func checkModule(t *testing.T, c moduleCase) {
	m := c.make()
	m.SetTraining(c.train)
	x := tensor.NewRNG(7).Normal(0, 1, c.in...)
	forward := func(xv *Variable) *Variable {
		if d, ok := m.(*Dropout); ok { // the same mask every time
			d.rng = tensor.NewRNG(d.seed)
		}
		out, err := m.Forward(xv)
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		w := tensor.NewRNG(99).Normal(0, 1, out.Shape()...)
		return out.Mul(NewVariable(w)).Sum()
	}
	xv := NewVariable(x).SetRequiresGrad(true)
	if err := forward(xv).Backward(); err != nil {
		t.Fatalf("backward: %v", err)
	}
	targets := []target{{x, xv.Grad}}
	for _, p := range m.Params() {
		if !p.Buffer {
			targets = append(targets, target{p.Var.Tensor(), p.Var.Grad})
		}
	}
	compareNumeric(t, targets, func() float64 { return forward(NewVariable(x)).Tensor().Item() })
}

func TestModuleGradients(t *testing.T) {
	r := func() *tensor.RNG { return tensor.NewRNG(5) }
	bnEval := func(make func() *BatchNorm) func() Module {
		return func() Module {
			b := make()
			b.RunningMean.val = plain{tensor.NewRNG(1).Normal(0, 1, b.RunningMean.Shape()...)}
			b.RunningVar.val = plain{tensor.NewRNG(2).Uniform(0.5, 2, b.RunningVar.Shape()...)}
			return b
		}
	}
	cases := []moduleCase{
		{"Linear", []int{4, 5}, func() Module { return NewLinear(5, 3, r()) }, true},
		{"Linear 3-D input", []int{2, 4, 5}, func() Module { return NewLinear(5, 3, r()) }, true},
		{"Conv2d", []int{2, 2, 6, 6}, func() Module {
			return NewConv2d(2, 3, 3, tensor.ConvOpts{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, r())
		}, true},
		{"ReLU", []int{3, 4}, func() Module { return NewReLU() }, true},
		{"Sigmoid", []int{3, 4}, func() Module { return NewSigmoid() }, true},
		{"Tanh", []int{3, 4}, func() Module { return NewTanh() }, true},
		{"Softmax", []int{3, 4}, func() Module { return NewSoftmax(1) }, true},
		{"LogSoftmax", []int{3, 4}, func() Module { return NewLogSoftmax(1) }, true},
		{"MaxPool2d", []int{1, 2, 4, 4}, func() Module { return NewMaxPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}) }, true},
		{"AvgPool2d", []int{1, 2, 4, 4}, func() Module { return NewAvgPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}) }, true},
		{"AdaptiveAvgPool2d", []int{1, 2, 5, 4}, func() Module { return NewAdaptiveAvgPool2d(2, 2) }, true},
		{"BatchNorm1d train", []int{6, 3}, func() Module { return NewBatchNorm1d(3) }, true},
		{"BatchNorm1d train 3-D", []int{3, 2, 4}, func() Module { return NewBatchNorm1d(2) }, true},
		{"BatchNorm1d eval", []int{4, 3}, bnEval(func() *BatchNorm { return NewBatchNorm1d(3) }), false},
		{"BatchNorm2d train", []int{2, 3, 3, 2}, func() Module { return NewBatchNorm2d(3) }, true},
		{"BatchNorm2d eval", []int{2, 3, 3, 2}, bnEval(func() *BatchNorm { return NewBatchNorm2d(3) }), false},
		{"Dropout train", []int{4, 5}, func() Module { return NewDropout(0.3, 9) }, true},
		{"Dropout eval", []int{4, 5}, func() Module { return NewDropout(0.3, 9) }, false},
		{"Flatten", []int{2, 3, 2}, func() Module { return NewFlatten(1) }, true},
		{"Reshape", []int{2, 6}, func() Module { return NewReshape(0, 3, -1) }, true},
		{"Sequential", []int{3, 1, 6, 6}, func() Module {
			g := r()
			return NewSequential(NewConv2d(1, 2, 3, tensor.ConvOpts{}, g), NewReLU(),
				NewMaxPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}), NewFlatten(1), NewLinear(8, 3, g), NewTanh())
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkModule(t, c) })
	}
}

func TestLossGradients(t *testing.T) {
	labels := tensor.MustNew([]float64{2, 0, 1}, 3)
	probs := tensor.Softmax(tensor.NewRNG(3).Normal(0, 1, 3, 4), 1)
	cases := []gradCase{
		{name: "MSELoss", shapes: [][]int{{3, 2}, {3, 2}}, f: func(v []*Variable) *Variable { return MSELoss(v[0], v[1]) }},
		{name: "L1Loss", shapes: [][]int{{3, 2}, {3, 2}}, f: func(v []*Variable) *Variable { return L1Loss(v[0], v[1]) }},
		{name: "BCELoss", shapes: [][]int{{4, 2}, {4, 2}}, lo: 0.1, hi: 0.9, f: func(v []*Variable) *Variable { return BCELoss(v[0], v[1]) }},
		{name: "BCEWithLogitsLoss", shapes: [][]int{{4, 2}, {4, 2}}, f: func(v []*Variable) *Variable {
			return BCEWithLogitsLoss(v[0].MulScalar(3), v[1].Sigmoid())
		}},
		{name: "CrossEntropyLoss classes", shapes: [][]int{{3, 3}}, f: func(v []*Variable) *Variable {
			return CrossEntropyLoss(v[0], NewVariable(labels))
		}},
		{name: "CrossEntropyLoss probabilities", shapes: [][]int{{3, 4}, {3, 4}}, f: func(v []*Variable) *Variable {
			return CrossEntropyLoss(v[0], v[1].Softmax(1))
		}},
		{name: "CrossEntropyLoss fixed probabilities", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable {
			return CrossEntropyLoss(v[0], NewVariable(probs))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, c) })
	}
}

// TestLossValues checks the losses against values computed by hand (the
// formulas PyTorch documents), so gradients are checked against the right
// function.
func TestLossValues(t *testing.T) {
	x := tensor.MustNew([]float64{0.5, -1, 2, 0}, 2, 2)
	y := tensor.MustNew([]float64{1, 0, 1, 0}, 2, 2)
	p := x.Sigmoid()
	var bce float64
	for i, v := range p.Data() {
		bce -= y.Data()[i]*math.Log(v) + (1-y.Data()[i])*math.Log(1-v)
	}
	bce /= 4
	// Cross-entropy of logits x with classes [0, 1].
	ce := (-(0.5 - math.Log(math.Exp(0.5)+math.Exp(-1))) - (0 - math.Log(math.Exp(2)+1))) / 2
	tests := []struct {
		name string
		got  *Variable
		want float64
	}{
		{"MSE", MSELoss(NewVariable(x), NewVariable(y)), (0.25 + 1 + 1 + 0) / 4},
		{"L1", L1Loss(NewVariable(x), NewVariable(y)), (0.5 + 1 + 1 + 0) / 4},
		{"BCE", BCELoss(NewVariable(p), NewVariable(y)), bce},
		{"BCEWithLogits", BCEWithLogitsLoss(NewVariable(x), NewVariable(y)), bce},
		{"CrossEntropy", CrossEntropyLoss(NewVariable(x), NewVariable(tensor.FromSlice([]float64{0, 1}))), ce},
	}
	for _, tc := range tests {
		if err := tc.got.Err(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := tc.got.Tensor().Item(); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAvgPoolMatchesTensor(t *testing.T) {
	x := tensor.NewRNG(4).Normal(0, 1, 2, 3, 7, 6)
	for i, o := range []tensor.PoolOpts{
		{Kernel: [2]int{2, 2}},
		{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}},
		{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CountIncludePad: true},
		{Kernel: [2]int{2, 3}, Stride: [2]int{2, 2}, CeilMode: true},
		{Kernel: [2]int{3, 2}, Stride: [2]int{2, 3}, Padding: [2]int{1, 1}, CeilMode: true, CountIncludePad: true},
		{Kernel: [2]int{2, 2}, Stride: [2]int{1, 1}, Dilation: [2]int{2, 2}},
	} {
		got := NewVariable(x).AvgPool2d(o)
		if err := got.Err(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		want := tensor.AvgPool2d(x, o)
		if d := tensor.MaxAbsDiff(got.Tensor(), want); d > 1e-12 {
			t.Errorf("case %d %+v: differs from tensor.AvgPool2d by %g", i, o, d)
		}
	}
}

func TestErrorsPropagate(t *testing.T) {
	a := NewVariable(tensor.Zeros(2, 3))
	b := NewVariable(tensor.Zeros(4))
	bad := a.Add(b)
	if bad.Err() == nil {
		t.Fatal("Add of (2,3) and (4) succeeded")
	}
	chain := bad.Relu().MatMul(a).Sum()
	if chain.Err() != bad.Err() {
		t.Errorf("chain error %v, want the first error %v", chain.Err(), bad.Err())
	}
	if err := chain.Backward(); err != bad.Err() {
		t.Errorf("Backward error %v", err)
	}
	for _, tc := range []struct {
		name string
		v    *Variable
	}{
		{"reshape", a.Reshape(4, 2)},
		{"matmul", a.MatMul(a)},
		{"permute", a.Permute(0, 0)},
		{"conv rank", a.Conv2d(a, nil, tensor.ConvOpts{})},
		{"concat ranks", Concat(0, a, b)},
		{"cross entropy labels", CrossEntropyLoss(a, NewVariable(tensor.FromSlice([]float64{0, 3})))},
		{"mse shapes", MSELoss(a, b)},
		{"nil", a.Add(nil)},
		{"backward non-scalar", fromValueErr(a.SetRequiresGrad(true).Square().Backward())},
	} {
		if tc.v.Err() == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func fromValueErr(err error) *Variable { return &Variable{err: err} }

func TestBackwardAccumulates(t *testing.T) {
	x := NewVariable(tensor.FromSlice([]float64{1, 2})).SetRequiresGrad(true)
	for i := 0; i < 2; i++ {
		if err := x.Square().Sum().Backward(); err != nil {
			t.Fatal(err)
		}
	}
	if got := x.Grad().Tensor().Data(); got[0] != 4 || got[1] != 8 {
		t.Errorf("accumulated grad %v, want [4 8]", got)
	}
	x.ZeroGrad()
	if x.Grad() != nil {
		t.Error("ZeroGrad left a gradient")
	}
	if err := NewVariable(tensor.Scalar(1)).Backward(); err == nil {
		t.Error("Backward without any Variable requiring gradients succeeded")
	}
}

func ExampleVariable_Backward() {
	w := NewVariable(tensor.FromSlice([]float64{1, -2})).SetRequiresGrad(true)
	x := NewVariable(tensor.FromSlice([]float64{3, 4}))
	loss := w.Mul(x).Sum().Square() // (w·x)^2 = 25
	if err := loss.Backward(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(loss.Tensor().Item(), w.Grad().Tensor().Data()) // 2(w·x)x
	// Output: 25 [-30 -40]
}
