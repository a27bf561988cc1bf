package plan

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/gomplab/gomplab/tensor"
)

// Builder records a plan while its function runs on placeholders.
type Builder struct {
	p *Plan
	// example holds every value evaluated on example inputs, so shapes
	// are known and shape errors surface while tracing.
	example []*tensor.Tensor
	err     error
}

// Placeholder stands for a value of the plan being traced. Its methods
// record operations; they never fail, but the first error (an operand of
// the wrong shape, say) is kept and returned by Trace.
type Placeholder struct {
	b  *Builder
	id int
}

// Shape returns the value's shape as traced.
func (x *Placeholder) Shape() []int {
	if x.b.err != nil || x.id >= len(x.b.example) {
		return nil
	}
	return x.b.example[x.id].Shape()
}

// String names the value.
func (x *Placeholder) String() string { return fmt.Sprintf("placeholder v%d %v", x.id, x.Shape()) }

// State adds a named parameter to the plan: a tensor shipped with it.
func (b *Builder) State(name string, t *tensor.Tensor) *Placeholder {
	if t == nil {
		b.fail(fmt.Errorf("state %q: nil tensor", name))
		return &Placeholder{b: b, id: 0}
	}
	b.p.State = append(b.p.State, State{Name: name, Tensor: t.Clone()})
	return b.record(Action{Op: "state", Ints: []int{len(b.p.State) - 1}}, t)
}

// Load records loading party src's tensor tagged tag in an MPC run; shape
// is the shape to trace with.
func (b *Builder) Load(tag string, src int, shape ...int) *Placeholder {
	return b.record(Action{Op: "load", Tag: tag, Ints: []int{src}}, tensor.Ones(shape...))
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// record appends an action whose example value is ex (computed already,
// for loads) or is computed by running it on the examples.
func (b *Builder) record(a Action, ex *tensor.Tensor) *Placeholder {
	if b.err != nil {
		return &Placeholder{b: b, id: len(b.example)}
	}
	if ex == nil {
		vals := make([]any, len(b.example))
		for i, e := range b.example {
			vals[i] = e
		}
		v, err := step(nil, a, vals)
		if err != nil {
			b.fail(fmt.Errorf("%s: %w", a.Op, err))
			return &Placeholder{b: b, id: len(b.example)}
		}
		ex = v.(*tensor.Tensor)
	}
	b.p.Actions = append(b.p.Actions, a)
	b.example = append(b.example, ex)
	return &Placeholder{b: b, id: len(b.example) - 1}
}

// operand turns a method argument into an Arg.
func (x *Placeholder) operand(y any) (Arg, bool) {
	switch v := y.(type) {
	case *Placeholder:
		if v.b != x.b {
			x.b.fail(errors.New("a placeholder of another plan"))
			return Arg{}, false
		}
		return Arg{Value: v.id}, true
	case float64:
		return Arg{Scalar: &v}, true
	case int:
		f := float64(v)
		return Arg{Scalar: &f}, true
	}
	x.b.fail(fmt.Errorf("operand of type %T: use a placeholder or a number (make tensors state with Builder.State)", y))
	return Arg{}, false
}

func (x *Placeholder) binary(op string, y any) *Placeholder {
	a, ok := x.operand(y)
	if !ok {
		return &Placeholder{b: x.b, id: len(x.b.example)}
	}
	return x.b.record(Action{Op: op, Args: []Arg{{Value: x.id}, a}}, nil)
}

func (x *Placeholder) unary(op string, ints []int, keep bool) *Placeholder {
	return x.b.record(Action{Op: op, Args: []Arg{{Value: x.id}}, Ints: slices.Clone(ints), Keep: keep}, nil)
}

// Add records x + y (y a placeholder or a number).
func (x *Placeholder) Add(y any) *Placeholder { return x.binary("add", y) }

// Sub records x - y.
func (x *Placeholder) Sub(y any) *Placeholder { return x.binary("sub", y) }

// Mul records x * y.
func (x *Placeholder) Mul(y any) *Placeholder { return x.binary("mul", y) }

// Div records x / y.
func (x *Placeholder) Div(y any) *Placeholder { return x.binary("div", y) }

// MatMul records the matrix product x·y.
func (x *Placeholder) MatMul(y *Placeholder) *Placeholder { return x.binary("matmul", y) }

// Neg records -x.
func (x *Placeholder) Neg() *Placeholder { return x.unary("neg", nil, false) }

// Square records x*x.
func (x *Placeholder) Square() *Placeholder { return x.unary("square", nil, false) }

// Relu records max(x, 0).
func (x *Placeholder) Relu() *Placeholder { return x.unary("relu", nil, false) }

// Sigmoid records the logistic function.
func (x *Placeholder) Sigmoid() *Placeholder { return x.unary("sigmoid", nil, false) }

// Tanh records tanh(x).
func (x *Placeholder) Tanh() *Placeholder { return x.unary("tanh", nil, false) }

// Exp records exp(x).
func (x *Placeholder) Exp() *Placeholder { return x.unary("exp", nil, false) }

// Abs records |x|.
func (x *Placeholder) Abs() *Placeholder { return x.unary("abs", nil, false) }

// Sum records the sum over dimension d.
func (x *Placeholder) Sum(d int, keepdim bool) *Placeholder {
	return x.unary("sum", []int{d}, keepdim)
}

// Mean records the mean over dimension d.
func (x *Placeholder) Mean(d int, keepdim bool) *Placeholder {
	return x.unary("mean", []int{d}, keepdim)
}

// SumAll records the sum of every element.
func (x *Placeholder) SumAll() *Placeholder { return x.unary("sum_all", nil, false) }

// MeanAll records the mean of every element.
func (x *Placeholder) MeanAll() *Placeholder { return x.unary("mean_all", nil, false) }

// Softmax records the softmax over dimension d.
func (x *Placeholder) Softmax(d int) *Placeholder { return x.unary("softmax", []int{d}, false) }

// Reshape records a reshape (one dimension may be -1).
func (x *Placeholder) Reshape(shape ...int) *Placeholder { return x.unary("reshape", shape, false) }

// Transpose records a permutation of the dimensions (none: reversed).
func (x *Placeholder) Transpose(perm ...int) *Placeholder {
	return x.unary("transpose", perm, false)
}

// T records the transpose (dimensions reversed).
func (x *Placeholder) T() *Placeholder { return x.unary("transpose", nil, false) }

// Flatten records a reshape to one dimension.
func (x *Placeholder) Flatten() *Placeholder { return x.unary("flatten", nil, false) }

var (
	builderType     = reflect.TypeOf((*Builder)(nil))
	placeholderType = reflect.TypeOf((*Placeholder)(nil))
	placeholders    = reflect.TypeOf([]*Placeholder(nil))
)

// Trace builds a plan by calling fn once on placeholders, one per input
// shape. fn's signature is func(*Builder, *Placeholder, ...) returning
// *Placeholder or []*Placeholder (its outputs); the Builder declares
// state (parameters) and MPC loads. Only operations on placeholders are
// recorded: Go control flow runs once, at trace time.
func Trace(name string, fn any, inputs ...[]int) (p *Plan, err error) {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if v.Kind() != reflect.Func || t.NumIn() < 1 || t.In(0) != builderType || t.NumOut() != 1 ||
		(t.Out(0) != placeholderType && t.Out(0) != placeholders) {
		return nil, fmt.Errorf("plan %q: the function must be func(*plan.Builder, *plan.Placeholder...) *plan.Placeholder (or []*plan.Placeholder), not %T", name, fn)
	}
	variadic := t.IsVariadic()
	if !variadic && t.NumIn()-1 != len(inputs) {
		return nil, fmt.Errorf("plan %q: the function takes %d placeholders but %d input shapes were given", name, t.NumIn()-1, len(inputs))
	}
	for i := 1; i < t.NumIn(); i++ {
		if in := t.In(i); in != placeholderType && !(variadic && i == t.NumIn()-1 && in == placeholders) {
			return nil, fmt.Errorf("plan %q: parameter %d is %v, not *plan.Placeholder", name, i, in)
		}
	}
	b := &Builder{p: &Plan{Name: name}}
	args := []reflect.Value{reflect.ValueOf(b)}
	var phs []*Placeholder
	for _, shape := range inputs {
		b.p.Inputs = append(b.p.Inputs, Shape{Dims: slices.Clone(shape)})
		b.example = append(b.example, tensor.Ones(shape...))
		phs = append(phs, &Placeholder{b: b, id: len(b.example) - 1})
	}
	for i, ph := range phs {
		if variadic && i >= t.NumIn()-2 {
			break
		}
		args = append(args, reflect.ValueOf(ph))
	}
	if variadic {
		args = append(args, reflect.ValueOf(phs[min(t.NumIn()-2, len(phs)):]))
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("plan %q: tracing panicked: %v", name, r)
		}
	}()
	var outs []reflect.Value
	if variadic {
		outs = v.CallSlice(args)
	} else {
		outs = v.Call(args)
	}
	if b.err != nil {
		return nil, fmt.Errorf("plan %q: %w", name, b.err)
	}
	var res []*Placeholder
	switch o := outs[0].Interface().(type) {
	case *Placeholder:
		res = []*Placeholder{o}
	case []*Placeholder:
		res = o
	}
	for i, o := range res {
		if o == nil || o.b != b {
			return nil, fmt.Errorf("plan %q: output %d is not a placeholder of this plan", name, i)
		}
		b.p.Outputs = append(b.p.Outputs, o.id)
	}
	if err := b.p.Validate(); err != nil {
		return nil, err
	}
	return b.p, nil
}
