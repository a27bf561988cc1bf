package nn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// runParties runs fn on n goroutine parties and returns rank 0's value.
func runParties(t *testing.T, n int, fn func(p *mpc.Party) (any, error)) any {
	t.Helper()
	res, err := mpc.RunLocal(n, fn)
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Value
}

// forwardBackward evaluates c.f on ts, encrypted from rank 0 when p is not
// nil, weights the output by fixed random values, runs Backward and returns
// the output followed by each input's gradient, decrypted.
func forwardBackward(p *mpc.Party, c gradCase, ts []*tensor.Tensor) ([]*tensor.Tensor, error) {
	vs := make([]*Variable, len(ts))
	for i, x := range ts {
		vs[i] = NewVariable(x.Clone())
		if p != nil {
			vs[i] = vs[i].Encrypt(p, 0)
		}
		vs[i].SetRequiresGrad(true)
	}
	out := c.f(vs)
	if err := out.Err(); err != nil {
		return nil, err
	}
	w := tensor.NewRNG(99).Uniform(-1, 1, out.Shape()...)
	if err := out.Mul(NewVariable(w)).Sum().Backward(); err != nil {
		return nil, err
	}
	res := []*tensor.Tensor{}
	o, err := out.PlainText()
	if err != nil {
		return nil, err
	}
	res = append(res, o)
	for i, v := range vs {
		if v.Grad() == nil {
			return nil, fmt.Errorf("input %d: no gradient", i)
		}
		g, err := v.Grad().PlainText()
		if err != nil {
			return nil, err
		}
		res = append(res, g)
	}
	return res, nil
}

// checkEncrypted compares an encrypted forward and backward with the
// plaintext one: the same code on the other backend.
func checkEncrypted(t *testing.T, parties int, c gradCase, tol float64) {
	t.Helper()
	ts := randInputs(7, c)
	want, err := forwardBackward(nil, c, ts)
	if err != nil {
		t.Fatalf("plaintext: %v", err)
	}
	got := runParties(t, parties, func(p *mpc.Party) (any, error) { return forwardBackward(p, c, ts) }).([]*tensor.Tensor)
	for i := range want {
		what := "output"
		if i > 0 {
			what = fmt.Sprintf("gradient %d", i-1)
		}
		if !tensor.SameShape(got[i].Shape(), want[i].Shape()) {
			t.Fatalf("%s: shape %v, want %v", what, got[i].Shape(), want[i].Shape())
		}
		if d := tensor.MaxAbsDiff(got[i], want[i]); d > tol {
			t.Errorf("%s differs from plaintext by %g (tolerance %g)", what, d, tol)
		}
	}
}

func TestEncryptedOps(t *testing.T) {
	cases := []gradCase{
		{name: "Add Sub broadcast", shapes: [][]int{{2, 3}, {3}}, f: func(v []*Variable) *Variable { return v[0].Add(v[1]).Sub(v[1].MulScalar(3)) }},
		{name: "Mul", shapes: [][]int{{2, 3}, {2, 1}}, f: func(v []*Variable) *Variable { return v[0].Mul(v[1]) }},
		{name: "Mul public", shapes: [][]int{{2, 3}}, f: func(v []*Variable) *Variable {
			return v[0].Mul(NewVariable(tensor.Full(0.5, 2, 3))).AddScalar(1)
		}},
		{name: "MatMul", shapes: [][]int{{3, 4}, {4, 2}}, f: func(v []*Variable) *Variable { return v[0].MatMul(v[1]) }},
		{name: "MatMul public left", shapes: [][]int{{4, 2}}, f: func(v []*Variable) *Variable {
			return NewVariable(tensor.NewRNG(2).Normal(0, 1, 3, 4)).MatMul(v[0])
		}},
		{name: "Conv2d", shapes: [][]int{{2, 2, 6, 5}, {3, 2, 3, 3}, {3}}, f: func(v []*Variable) *Variable {
			return v[0].Conv2d(v[1], v[2], tensor.ConvOpts{Stride: [2]int{2, 1}, Padding: [2]int{1, 1}})
		}},
		{name: "Sum Mean Reshape Permute", shapes: [][]int{{2, 3, 4}}, f: func(v []*Variable) *Variable {
			return v[0].Permute(2, 0, 1).Reshape(4, 6).Sum(1).Add(v[0].Mean(0, 1))
		}},
		{name: "Pad Slice Concat", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable {
			p := v[0].Pad([][2]int{{1, 1}, {0, 2}}, 0.25)
			return Concat(1, p.Slice(0, 4, 0, -2), p.Slice(0, 0, 4, 2), NewVariable(tensor.Ones(2, 1)))
		}},
		{name: "Relu Abs", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return v[0].Relu().Add(v[0].Abs()) }},
		{name: "MaxPool2d", shapes: [][]int{{2, 2, 5, 5}}, f: func(v []*Variable) *Variable {
			return v[0].MaxPool2d(tensor.PoolOpts{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		}},
		{name: "AvgPool2d AdaptiveAvgPool2d", shapes: [][]int{{1, 2, 6, 6}}, f: func(v []*Variable) *Variable {
			return v[0].AvgPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}).AdaptiveAvgPool2d(2, 2)
		}},
		{name: "Linear Relu MSE", shapes: [][]int{{4, 3}, {2, 3}, {2}}, f: func(v []*Variable) *Variable {
			y := NewVariable(tensor.NewRNG(4).Normal(0, 1, 4, 2))
			return MSELoss(v[0].MatMul(v[1].T()).Add(v[2]).Relu(), y)
		}},
		{name: "L1Loss", shapes: [][]int{{3, 2}, {3, 2}}, f: func(v []*Variable) *Variable { return L1Loss(v[0], v[1]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkEncrypted(t, 2, c, 2e-3) })
	}
	t.Run("3 parties", func(t *testing.T) { checkEncrypted(t, 3, cases[5], 2e-3) })
}

// TestEncryptedModel encrypts a LeNet-like model from rank 1 and data from
// rank 0 and checks inference and one training step against plaintext.
func TestEncryptedModel(t *testing.T) {
	build := func() *Model {
		r := tensor.NewRNG(11)
		return NewModel(NewSequential(
			NewConv2d(1, 3, 3, tensor.ConvOpts{}, r), NewReLU(), NewMaxPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}),
			NewFlatten(1), NewLinear(12, 4, r), NewReLU(), NewLinear(4, 2, r)))
	}
	x := tensor.NewRNG(3).Normal(0, 1, 3, 1, 6, 6)
	y := tensor.MustNew([]float64{0, 1, 0, 1, 1, 0}, 3, 2)
	step := func(p *mpc.Party) ([]*tensor.Tensor, error) {
		m := build()
		xv, yv := NewVariable(x), NewVariable(y)
		if p != nil {
			if p.Rank() != 1 { // only rank 1 knows the weights
				for _, q := range m.Params() {
					q.Var.val = plain{tensor.ZerosLike(q.Var.Tensor())}
				}
			}
			if err := m.Encrypt(p, 1); err != nil {
				return nil, err
			}
			xv, yv = xv.Encrypt(p, 0), yv.Encrypt(p, 0)
		}
		m.Eval()
		inf, err := m.Forward(xv)
		if err != nil {
			return nil, err
		}
		m.Train()
		out, err := m.Forward(xv)
		if err != nil {
			return nil, err
		}
		loss := MSELoss(out, yv)
		if err := loss.Backward(); err != nil {
			return nil, err
		}
		if err := NewSGD(m.Parameters(), 0.1, 0, 0).Step(); err != nil {
			return nil, err
		}
		var res []*tensor.Tensor
		for _, v := range []*Variable{inf, loss} {
			tv, err := v.PlainText()
			if err != nil {
				return nil, err
			}
			res = append(res, tv)
		}
		if p != nil {
			if err := m.Decrypt(); err != nil {
				return nil, err
			}
		}
		for _, q := range m.Params() {
			res = append(res, q.Var.Tensor())
		}
		return res, nil
	}
	want, err := step(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := runParties(t, 2, func(p *mpc.Party) (any, error) { return step(p) }).([]*tensor.Tensor)
	for i := range want {
		if d := tensor.MaxAbsDiff(got[i], want[i]); d > 2e-3 {
			t.Errorf("result %d differs by %g", i, d)
		}
	}
}

func TestShareModel(t *testing.T) {
	x := tensor.NewRNG(5).Normal(0, 1, 2, 6)
	owner := NewModel(NewSequential(NewLinear(6, 4, tensor.NewRNG(1)), NewTanh(), NewLinear(4, 3, nil)))
	owner.Eval()
	want, err := owner.Forward(NewVariable(x))
	if err != nil {
		t.Fatal(err)
	}
	res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		var mine *Model
		if p.Rank() == 1 {
			mine = owner
		}
		m, err := ShareModel(p, mine, 1)
		if err != nil {
			return nil, err
		}
		if !m.Encrypted() {
			return nil, fmt.Errorf("shared model is not encrypted")
		}
		// Rank 0 never held the weights: its shares decode to nothing alone.
		out, err := m.Forward(NewVariable(x).Encrypt(p, 0))
		if err != nil {
			return nil, err
		}
		return out.PlainText()
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(res[0].Value.(*tensor.Tensor), want.Tensor()); d > 1e-2 {
		t.Errorf("shared model output differs by %g", d)
	}
	if d := tensor.MaxAbsDiff(res[1].Value.(*tensor.Tensor), want.Tensor()); d > 1e-2 {
		t.Errorf("rank 1 output differs by %g", d)
	}
}

func TestShareModelErrors(t *testing.T) {
	_, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		return ShareModel(p, nil, 0) // the source has no model
	})
	if err == nil || !strings.Contains(err.Error(), "cannot share its model: party 0") {
		t.Fatalf("error %v", err)
	}
}

// mapStore is a party's store for tests.
type mapStore map[string]*tensor.Tensor

func (s mapStore) Load(tag string) (*tensor.Tensor, error) {
	if t, ok := s[tag]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("no tensor tagged %q", tag)
}

func (s mapStore) Save(tag string, t *tensor.Tensor) error { s[tag] = t; return nil }

func TestLoadEncrypted(t *testing.T) {
	data := tensor.MustNew([]float64{1.5, -2, 3}, 3)
	res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		store := mapStore{}
		if p.Rank() == 1 {
			store["features"] = data
		}
		mpc.SetStore(p, store)
		x, err := LoadEncrypted(p, "features", 1)
		if err != nil {
			return nil, err
		}
		if _, err := LoadEncrypted(p, "missing", 1); err == nil {
			return nil, fmt.Errorf("loading a missing tag succeeded")
		}
		return x.MulScalar(2).PlainText()
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(res[0].Value.(*tensor.Tensor), data.MulScalar(2)); d > 1e-4 {
		t.Errorf("loaded value off by %g", d)
	}
}

// Example_encryptedTraining trains a one-weight model on encrypted data
// held by party 1, with the weight encrypted by party 0.
func Example_encryptedTraining() {
	x := tensor.MustNew([]float64{1, 2, 3, 4}, 4, 1)
	y := x.MulScalar(3) // the model should learn w = 3
	res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		model := NewModel(NewLinear(1, 1, tensor.NewRNG(1)))
		if err := model.Encrypt(p, 0); err != nil {
			return nil, err
		}
		xe, ye := NewVariable(x).Encrypt(p, 1), NewVariable(y).Encrypt(p, 1)
		opt := NewSGD(model.Parameters(), 0.05, 0.5, 0)
		for i := 0; i < 200; i++ {
			opt.ZeroGrad()
			out, err := model.Forward(xe)
			if err != nil {
				return nil, err
			}
			if err := MSELoss(out, ye).Backward(); err != nil {
				return nil, err
			}
			if err := opt.Step(); err != nil {
				return nil, err
			}
		}
		if err := model.Decrypt(); err != nil {
			return nil, err
		}
		return model.Params()[0].Var.Tensor().Item(), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("learned weight %.1f\n", res[0].Value.(float64))
	// Output: learned weight 3.0
}
