package plan

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// Run executes the plan over plaintext tensors, one per input, and
// returns its outputs. Load actions fail: they need an MPC party.
func (p *Plan) Run(inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	return p.RunChecked(nil, inputs...)
}

// Check is called before each operation of a plan with the operation's
// name and the shapes of its operands (nil for a scalar): an error stops
// the plan before the operation runs; release, if not nil, is called once
// it has. A worker uses it to refuse an operation over its memory bound,
// and to count the operation among those running.
type Check func(op string, shapes [][]int) (release func(), err error)

// RunChecked is Run with check called before each operation.
func (p *Plan) RunChecked(check Check, inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	vals, err := p.exec(nil, inputs, check)
	if err != nil {
		return nil, err
	}
	out := make([]*tensor.Tensor, len(p.Outputs))
	for i, o := range p.Outputs {
		t, ok := vals[o].(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("plan %q: output %d is not a plaintext tensor", p.Name, i)
		}
		out[i] = t
	}
	return out, nil
}

// RunParty executes the plan at one party of an MPC job: inputs are
// public tensors every party passes alike, load actions secret-share a
// party's tensor by tag (mpc.Party.Load), the state is public, operations
// on encrypted values run the MPC protocols, and every output is
// decrypted to all parties (GetPlainText). Every party runs the same plan
// in lock step.
func (p *Plan) RunParty(party *mpc.Party, inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	if party == nil {
		return nil, errors.New("plan: RunParty needs a party")
	}
	vals, err := p.exec(party, inputs, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*tensor.Tensor, len(p.Outputs))
	for i, o := range p.Outputs {
		switch v := vals[o].(type) {
		case *tensor.Tensor:
			out[i] = v
		case *mpc.CrypTensor:
			t, err := v.GetPlainText()
			if err != nil {
				return nil, fmt.Errorf("plan %q: decrypting output %d: %w", p.Name, i, err)
			}
			out[i] = t
		}
	}
	return out, nil
}

// exec runs every action and returns all values.
func (p *Plan) exec(party *mpc.Party, inputs []*tensor.Tensor, check Check) ([]any, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(inputs) != len(p.Inputs) {
		return nil, fmt.Errorf("plan %q takes %d inputs, got %d", p.Name, len(p.Inputs), len(inputs))
	}
	vals := make([]any, 0, len(p.Inputs)+len(p.Actions))
	for i, in := range inputs {
		if in == nil {
			return nil, fmt.Errorf("plan %q: input %d is nil", p.Name, i)
		}
		vals = append(vals, in)
	}
	for i, a := range p.Actions {
		if a.Op == "state" {
			vals = append(vals, p.State[a.Ints[0]].Tensor)
			continue
		}
		var release func()
		if check != nil && a.Op != "load" {
			shapes := make([][]int, len(a.Args))
			for j, g := range a.Args {
				if g.Scalar == nil && g.Value >= 0 && g.Value < len(vals) {
					if t, ok := vals[g.Value].(*tensor.Tensor); ok {
						shapes[j] = t.Shape()
					}
				}
			}
			var err error
			if release, err = check(a.Op, shapes); err != nil {
				return nil, fmt.Errorf("plan %q: action %d (%s): %w", p.Name, i, a.Op, err)
			}
		}
		v, err := step(party, a, vals)
		if release != nil {
			release()
		}
		if err != nil {
			return nil, fmt.Errorf("plan %q: action %d (%s): %w", p.Name, i, a.Op, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// step runs one action, turning the panics of tensor and MPC operations
// (shape errors, failed protocol steps) into errors.
func step(party *mpc.Party, a Action, vals []any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	arg := func(i int) any {
		g := a.Args[i]
		if g.Scalar != nil {
			return *g.Scalar
		}
		return vals[g.Value]
	}
	switch a.Op {
	case "load":
		if party == nil {
			return nil, errors.New("load runs only in an MPC job (syft.RunPlan)")
		}
		return party.Load(a.Tag, a.Ints[0])
	case "add", "sub", "mul", "div":
		return binary(a.Op, arg(0), arg(1)), nil
	case "matmul":
		x, y := arg(0), arg(1)
		if tx, ok := x.(*tensor.Tensor); ok {
			if ty, ok := y.(*tensor.Tensor); ok {
				return tensor.MatMul(tx, ty), nil
			}
		}
		return mpc.MatMul(x, y), nil
	}
	x := arg(0)
	if t, ok := x.(*tensor.Tensor); ok {
		return plainUnary(a, t), nil
	}
	c, ok := x.(*mpc.CrypTensor)
	if !ok {
		return nil, fmt.Errorf("operand is a %T", x)
	}
	return cryptUnary(a, c), nil
}

// binary applies an elementwise operation to tensors, CrypTensors or
// scalars, on either side.
func binary(op string, x, y any) any {
	tx, okx := asTensor(x)
	ty, oky := asTensor(y)
	if okx && oky {
		switch op {
		case "add":
			return tx.Add(ty)
		case "sub":
			return tx.Sub(ty)
		case "mul":
			return tx.Mul(ty)
		default:
			return tx.Div(ty)
		}
	}
	switch op {
	case "add":
		return mpc.Add(x, y)
	case "sub":
		return mpc.Sub(x, y)
	case "mul":
		return mpc.Mul(x, y)
	default:
		return mpc.Div(x, y)
	}
}

// asTensor reports whether v is plaintext, as a tensor.
func asTensor(v any) (*tensor.Tensor, bool) {
	switch x := v.(type) {
	case *tensor.Tensor:
		return x, true
	case float64:
		return tensor.Scalar(x), true
	}
	return nil, false
}

func plainUnary(a Action, t *tensor.Tensor) *tensor.Tensor {
	switch a.Op {
	case "neg":
		return t.Neg()
	case "square":
		return t.Square()
	case "relu":
		return t.Relu()
	case "sigmoid":
		return t.Sigmoid()
	case "tanh":
		return t.Tanh()
	case "exp":
		return t.Exp()
	case "abs":
		return t.Abs()
	case "sum":
		return t.Sum(a.Ints[0], a.Keep)
	case "mean":
		return t.Mean(a.Ints[0], a.Keep)
	case "sum_all":
		return tensor.Scalar(t.SumAll())
	case "mean_all":
		return tensor.Scalar(t.MeanAll())
	case "softmax":
		return tensor.Softmax(t, a.Ints[0])
	case "reshape":
		return t.Reshape(a.Ints...)
	case "transpose":
		if len(a.Ints) == 0 {
			return t.T()
		}
		return t.Transpose(a.Ints...)
	case "flatten":
		return t.Flatten()
	}
	panic(fmt.Errorf("operation %q has no plaintext form", a.Op))
}

func cryptUnary(a Action, c *mpc.CrypTensor) *mpc.CrypTensor {
	switch a.Op {
	case "neg":
		return c.Neg()
	case "square":
		return c.Square()
	case "relu":
		return c.Relu()
	case "sigmoid":
		return c.Sigmoid()
	case "tanh":
		return c.Tanh()
	case "exp":
		return c.Exp()
	case "abs":
		return c.Abs()
	case "sum":
		return c.Sum(a.Ints[0], a.Keep)
	case "mean":
		return c.Mean(a.Ints[0], a.Keep)
	case "sum_all":
		return c.SumAll()
	case "mean_all":
		return c.MeanAll()
	case "softmax":
		return c.Softmax(a.Ints[0])
	case "reshape":
		return c.Reshape(a.Ints...)
	case "transpose":
		if len(a.Ints) == 0 {
			return c.T()
		}
		return c.Transpose(a.Ints...)
	case "flatten":
		return c.Flatten()
	}
	panic(fmt.Errorf("operation %q has no encrypted form", a.Op))
}
