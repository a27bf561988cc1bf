package nn

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"

	"github.com/gomplab/gomplab/tensor"
)

// Variable is a tensor, plaintext or encrypted, that remembers how it was
// computed so gradients can flow back to it: PyTorch's Tensor with
// requires_grad, or CrypTen's CrypTensor with autograd.
//
// Operations are methods returning a new Variable. An operation that fails
// (mismatched shapes, a protocol error) returns a Variable carrying the
// error, and every later operation passes it along, so a chain such as
// x.MatMul(w).Add(b).Relu() is checked once, at the end, by Err, Backward,
// PlainText or a Module's Forward. The first error wins and names the
// operation that failed.
//
// Variables are not safe for concurrent use; in an MPC run each party
// (goroutine or process) builds its own.
type Variable struct {
	val          value
	grad         value
	requiresGrad bool
	node         *node
	err          error
}

// node records the operation that produced a Variable.
type node struct {
	op       string
	inputs   []*Variable
	backward func(g value) []value // gradients for inputs; nil where not needed
}

// opError carries a failure from deep inside an operation to the exported
// entry point, which returns it.
type opError struct{ err error }

// Error returns the cause's message.
func (e opError) Error() string { return e.err.Error() }

// Unwrap returns the cause.
func (e opError) Unwrap() error { return e.err }

// guard runs f and turns a panic carrying an error (a shape mismatch from
// package tensor, an opError from the protocol) into a returned error, so
// bad input never crashes a notebook or a party. Runtime errors (index out
// of range, nil dereference) are bugs and keep panicking.
func guard(op string, f func()) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if _, bug := r.(runtime.Error); bug {
			panic(r)
		}
		var e error
		switch v := r.(type) {
		case opError:
			e = v.err
		case error:
			e = v
		default:
			panic(r)
		}
		err = fmt.Errorf("nn: %s: %w", op, e)
	}()
	f()
	return nil
}

// NewVariable wraps a plaintext tensor. It does not require gradients; call
// SetRequiresGrad for that. The Variable holds t itself, not a copy:
// do not modify t afterwards.
func NewVariable(t *tensor.Tensor) *Variable {
	if t == nil {
		return Errorf("NewVariable: nil tensor")
	}
	return &Variable{val: plain{t}}
}

// Errorf returns a Variable carrying an error, for custom operations that
// detect bad input.
func Errorf(format string, args ...any) *Variable {
	return &Variable{err: fmt.Errorf("nn: "+format, args...)}
}

func fromValue(v value) *Variable { return &Variable{val: v} }

// Err returns the error of the first failed operation that led to v, or nil.
func (v *Variable) Err() error { return v.err }

// SetRequiresGrad marks v as a leaf whose gradient Backward accumulates into
// Grad, and returns v.
func (v *Variable) SetRequiresGrad(on bool) *Variable {
	v.requiresGrad = on
	return v
}

// RequiresGrad reports whether gradients flow to v.
func (v *Variable) RequiresGrad() bool { return v.requiresGrad }

// Shape returns v's dimensions (nil if v carries an error).
func (v *Variable) Shape() []int {
	if v.val == nil {
		return nil
	}
	return append([]int(nil), v.val.dims()...)
}

// Encrypted reports whether v holds an encrypted tensor.
func (v *Variable) Encrypted() bool {
	if v.val == nil {
		return false
	}
	_, ok := v.val.(plain)
	return !ok
}

// Tensor returns v's plaintext tensor, or nil when v is encrypted or carries
// an error. Treat it as read-only.
func (v *Variable) Tensor() *tensor.Tensor {
	if p, ok := v.val.(plain); ok {
		return p.t
	}
	return nil
}

// Grad returns the gradient accumulated by Backward (nil before any), as a
// Variable without history.
func (v *Variable) Grad() *Variable {
	if v.grad == nil {
		return nil
	}
	return fromValue(v.grad)
}

// ZeroGrad forgets the accumulated gradient.
func (v *Variable) ZeroGrad() { v.grad = nil }

// Detach returns a Variable holding the same value without history.
func (v *Variable) Detach() *Variable {
	if v.err != nil {
		return v
	}
	return fromValue(v.val)
}

// String describes v briefly: an encrypted Variable by its shape only (it
// never decrypts), a plaintext one with its values.
func (v Variable) String() string {
	switch {
	case v.err != nil:
		return "Variable(error: " + v.err.Error() + ")"
	case v.val == nil:
		return "Variable(empty)"
	case v.Encrypted():
		return fmt.Sprintf("Variable(encrypted, shape %v)", v.val.dims())
	}
	return "Variable(" + v.Tensor().String() + ")"
}

// Format writes String for every verb, on the value as on the pointer, so
// that printing a dereferenced Variable (fmt reflects into unexported
// fields otherwise) never shows an encrypted value's share.
func (v Variable) Format(f fmt.State, _ rune) { io.WriteString(f, v.String()) }

// GoString is String: %#v shows no share either.
func (v Variable) GoString() string { return v.String() }

// apply builds the result of an operation named op on inputs: it returns the
// first input error if any, else runs fwd under guard. The result records
// back only when some input needs a gradient.
func apply(op string, inputs []*Variable, fwd func() (value, func(g value) []value)) *Variable {
	for _, in := range inputs {
		if in == nil {
			return Errorf("%s: nil operand", op)
		}
		if in.err != nil {
			return &Variable{err: in.err}
		}
	}
	var out value
	var back func(g value) []value
	if err := guard(op, func() { out, back = fwd() }); err != nil {
		return &Variable{err: err}
	}
	res := &Variable{val: out}
	if back != nil {
		for _, in := range inputs {
			if in.requiresGrad {
				res.requiresGrad = true
				res.node = &node{op: op, inputs: inputs, backward: back}
				break
			}
		}
	}
	return res
}

// Backward computes the gradient of v, which must hold a single element
// (a loss), with respect to every leaf that requires gradients, and adds it
// to their Grad. The graph is kept, so Backward may be called again.
func (v *Variable) Backward() error {
	if v.err != nil {
		return v.err
	}
	if n := tensor.Numel(v.val.dims()); n != 1 {
		return fmt.Errorf("nn: Backward: output has %d elements; use BackwardWith for non-scalar outputs", n)
	}
	return v.backward(plain{tensor.Ones(v.val.dims()...)})
}

// BackwardWith is Backward for a non-scalar output, given the gradient of
// the final result with respect to v (v's shape, plaintext or encrypted).
func (v *Variable) BackwardWith(grad *Variable) error {
	if v.err != nil {
		return v.err
	}
	if grad == nil || grad.err != nil {
		return errors.Join(errors.New("nn: BackwardWith: bad gradient"), grad.Err())
	}
	if !tensor.SameShape(grad.val.dims(), v.val.dims()) {
		return fmt.Errorf("nn: BackwardWith: gradient shape %v, want %v", grad.val.dims(), v.val.dims())
	}
	return v.backward(grad.val)
}

func (v *Variable) backward(seed value) error {
	if !v.requiresGrad {
		return errors.New("nn: Backward: the output does not depend on any Variable that requires gradients")
	}
	// Topological order by iterative depth-first search (deep nets must not
	// exhaust the stack).
	var order []*Variable
	seen := map[*Variable]bool{v: true}
	type frame struct {
		v *Variable
		i int
	}
	stack := []frame{{v, 0}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.v.node == nil || f.i == len(f.v.node.inputs) {
			order = append(order, f.v)
			stack = stack[:len(stack)-1]
			continue
		}
		in := f.v.node.inputs[f.i]
		f.i++
		if in.requiresGrad && !seen[in] {
			seen[in] = true
			stack = append(stack, frame{in, 0})
		}
	}
	grads := map[*Variable]value{v: seed}
	return guard("Backward", func() {
		for i := len(order) - 1; i >= 0; i-- {
			u := order[i]
			g := grads[u]
			if g == nil {
				continue
			}
			delete(grads, u)
			if u.node == nil {
				if u.grad == nil {
					u.grad = g
				} else {
					u.grad = pick(u.grad, g).add(u.grad, g)
				}
				continue
			}
			gs := u.node.backward(g)
			for j, in := range u.node.inputs {
				if j >= len(gs) || gs[j] == nil || !in.requiresGrad {
					continue
				}
				gi := gs[j]
				if !tensor.SameShape(gi.dims(), in.val.dims()) {
					panic(fmt.Errorf("%s backward: gradient shape %v for input of shape %v", u.node.op, gi.dims(), in.val.dims()))
				}
				if old, ok := grads[in]; ok {
					gi = pick(old, gi).add(old, gi)
				}
				grads[in] = gi
			}
		}
	})
}

func abs(x float64) float64 { return math.Abs(x) }

// log1pExp is log(1+e^x) without overflow for large x.
func log1pExp(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}
