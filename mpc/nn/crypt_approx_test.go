package nn

import (
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// TestEncryptedApproximations runs the operations that rest on the mpc
// package's approximations (exp, log, reciprocal, inverse square root,
// sigmoid, tanh, softmax) forward and backward, against plaintext, with
// inputs inside the approximations' documented ranges.
func TestEncryptedApproximations(t *testing.T) {
	labels := NewVariable(tensor.MustNew([]float64{2, 0, 1, 3}, 4))
	cases := []gradCase{
		{name: "Sigmoid Tanh", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].MulScalar(2).Sigmoid().Add(v[0].Tanh()) }},
		{name: "LogSigmoid", shapes: [][]int{{3, 4}}, f: func(v []*Variable) *Variable { return v[0].MulScalar(4).LogSigmoid() }},
		{name: "Exp Log", shapes: [][]int{{3, 4}}, lo: 0.2, hi: 3, f: func(v []*Variable) *Variable { return v[0].Log().Add(v[0].Neg().Exp()) }},
		{name: "Reciprocal Div", shapes: [][]int{{3, 4}, {3, 4}}, lo: 0.5, hi: 3, f: func(v []*Variable) *Variable { return v[0].Div(v[1]) }},
		{name: "Sqrt InvSqrt", shapes: [][]int{{3, 4}}, lo: 0.5, hi: 3, f: func(v []*Variable) *Variable { return v[0].Sqrt().Add(v[0].InvSqrt()) }},
		{name: "Softmax LogSoftmax", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return v[0].Softmax(1).Add(v[0].LogSoftmax(1).MulScalar(0.1)) }},
		{name: "CrossEntropyLoss classes", shapes: [][]int{{4, 5}}, f: func(v []*Variable) *Variable { return CrossEntropyLoss(v[0], labels) }},
		{name: "CrossEntropyLoss encrypted targets", shapes: [][]int{{4, 5}, {4, 5}}, f: func(v []*Variable) *Variable {
			return CrossEntropyLoss(v[0], v[1].Softmax(1))
		}},
		{name: "BCELoss", shapes: [][]int{{4, 2}, {4, 2}}, lo: 0.1, hi: 0.9, f: func(v []*Variable) *Variable { return BCELoss(v[0], v[1]) }},
		{name: "BCEWithLogitsLoss", shapes: [][]int{{4, 2}, {4, 2}}, f: func(v []*Variable) *Variable {
			return BCEWithLogitsLoss(v[0].MulScalar(3), v[1].Sigmoid())
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkEncrypted(t, 2, c, 2e-2) })
	}
}

// TestEncryptedModules trains BatchNorm (batch statistics need the inverse
// square root) and steps Adam on encrypted values, against plaintext.
func TestEncryptedModules(t *testing.T) {
	cases := []gradCase{
		{name: "BatchNorm2d train", shapes: [][]int{{4, 2, 3, 3}}, f: func(v []*Variable) *Variable {
			out, err := NewBatchNorm2d(2).Forward(v[0])
			if err != nil {
				return &Variable{err: err}
			}
			return out
		}},
		{name: "BatchNorm1d eval", shapes: [][]int{{5, 3}}, f: func(v []*Variable) *Variable {
			b := NewBatchNorm1d(3)
			b.SetTraining(false)
			b.RunningVar.val = plain{tensor.FromSlice([]float64{0.5, 1, 2})}
			out, err := b.Forward(v[0])
			if err != nil {
				return &Variable{err: err}
			}
			return out
		}},
		{name: "Adam step", shapes: [][]int{{3, 2}}, f: func(v []*Variable) *Variable {
			w := v[0].Detach().SetRequiresGrad(true)
			opt := NewAdam([]*Variable{w}, 0.1)
			for i := 0; i < 2; i++ {
				opt.ZeroGrad()
				if err := w.Square().Sum().Backward(); err != nil {
					return &Variable{err: err}
				}
				if err := opt.Step(); err != nil {
					return &Variable{err: err}
				}
			}
			return w.Mul(v[0]) // keeps a gradient path to the input
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkEncrypted(t, 2, c, 2e-2) })
	}
}
