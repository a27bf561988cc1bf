package syft

import (
	"fmt"

	"github.com/gomplab/gomplab/workers"
)

// Op runs the allow-listed operation name (see workers.Ops) on the worker
// holding p, with further operands args (each a *Pointer on the same
// worker, or a number), and returns an owning pointer to the result, which
// stays on that worker. The result is private if any operand is.
func (p *Pointer) Op(name string, params workers.OpParams, args ...any) (*Pointer, error) {
	l, in, err := p.snapshot(name)
	if err != nil {
		return nil, err
	}
	ops := []workers.Operand{{ID: in.ID}}
	for i, a := range args {
		switch v := a.(type) {
		case *Pointer:
			ol, oin, err := v.snapshot(name)
			if err != nil {
				return nil, err
			}
			if ol.peer.Addr != l.peer.Addr {
				return nil, fmt.Errorf("syft: %s: operand %d is on worker %s, but %s is on %s; Move one of them first",
					name, i+1, ol.id, in.ID, l.id)
			}
			ops = append(ops, workers.Operand{ID: oin.ID})
		case float64:
			ops = append(ops, workers.Operand{Scalar: &v})
		case int:
			f := float64(v)
			ops = append(ops, workers.Operand{Scalar: &f})
		default:
			return nil, fmt.Errorf("syft: %s: operand %d is a %T; want *Pointer, float64 or int", name, i+1, a)
		}
	}
	var rep workers.InfoReply
	if err := l.call(workers.MsgOp, &workers.OpRequest{Op: name, Args: ops, Params: params}, &rep); err != nil {
		return nil, fmt.Errorf("%s on %s: %w", name, l.id, err)
	}
	return newPointer(l, rep.Info, true), nil
}

func (p *Pointer) binary(name string, o any) (*Pointer, error) {
	return p.Op(name, workers.OpParams{}, o)
}

func (p *Pointer) unary(name string) (*Pointer, error) { return p.Op(name, workers.OpParams{}) }

func (p *Pointer) reduce(name string, dim []int, keepdim bool) (*Pointer, error) {
	var params workers.OpParams
	switch len(dim) {
	case 0:
	case 1:
		params.Dim, params.Keepdim = &dim[0], keepdim
	default:
		return nil, fmt.Errorf("syft: %s: at most one dimension, got %v", name, dim)
	}
	return p.Op(name, params)
}

// Add returns a pointer to p + o (o a *Pointer on the same worker or a
// number; broadcasting as in NumPy).
func (p *Pointer) Add(o any) (*Pointer, error) { return p.binary("add", o) }

// Sub returns a pointer to p - o.
func (p *Pointer) Sub(o any) (*Pointer, error) { return p.binary("sub", o) }

// Mul returns a pointer to p * o, elementwise.
func (p *Pointer) Mul(o any) (*Pointer, error) { return p.binary("mul", o) }

// Div returns a pointer to p / o, elementwise.
func (p *Pointer) Div(o any) (*Pointer, error) { return p.binary("div", o) }

// Pow returns a pointer to p ** o, elementwise.
func (p *Pointer) Pow(o any) (*Pointer, error) { return p.binary("pow", o) }

// Maximum returns a pointer to the elementwise maximum of p and o.
func (p *Pointer) Maximum(o any) (*Pointer, error) { return p.binary("maximum", o) }

// Minimum returns a pointer to the elementwise minimum of p and o.
func (p *Pointer) Minimum(o any) (*Pointer, error) { return p.binary("minimum", o) }

// MatMul returns a pointer to the matrix product p @ o.
func (p *Pointer) MatMul(o *Pointer) (*Pointer, error) { return p.binary("matmul", o) }

// Lt returns a pointer to p < o as 0/1.
func (p *Pointer) Lt(o any) (*Pointer, error) { return p.binary("lt", o) }

// Le returns a pointer to p <= o as 0/1.
func (p *Pointer) Le(o any) (*Pointer, error) { return p.binary("le", o) }

// Gt returns a pointer to p > o as 0/1.
func (p *Pointer) Gt(o any) (*Pointer, error) { return p.binary("gt", o) }

// Ge returns a pointer to p >= o as 0/1.
func (p *Pointer) Ge(o any) (*Pointer, error) { return p.binary("ge", o) }

// Eq returns a pointer to p == o as 0/1.
func (p *Pointer) Eq(o any) (*Pointer, error) { return p.binary("eq", o) }

// Ne returns a pointer to p != o as 0/1.
func (p *Pointer) Ne(o any) (*Pointer, error) { return p.binary("ne", o) }

// Neg returns a pointer to -p.
func (p *Pointer) Neg() (*Pointer, error) { return p.unary("neg") }

// Abs returns a pointer to |p|.
func (p *Pointer) Abs() (*Pointer, error) { return p.unary("abs") }

// Exp returns a pointer to e^p.
func (p *Pointer) Exp() (*Pointer, error) { return p.unary("exp") }

// Log returns a pointer to the natural logarithm of p.
func (p *Pointer) Log() (*Pointer, error) { return p.unary("log") }

// Sqrt returns a pointer to the square root of p.
func (p *Pointer) Sqrt() (*Pointer, error) { return p.unary("sqrt") }

// Relu returns a pointer to max(p, 0).
func (p *Pointer) Relu() (*Pointer, error) { return p.unary("relu") }

// Sigmoid returns a pointer to the logistic sigmoid of p.
func (p *Pointer) Sigmoid() (*Pointer, error) { return p.unary("sigmoid") }

// Tanh returns a pointer to tanh(p).
func (p *Pointer) Tanh() (*Pointer, error) { return p.unary("tanh") }

// Flatten returns a pointer to p reshaped to one dimension.
func (p *Pointer) Flatten() (*Pointer, error) { return p.unary("flatten") }

// Reshape returns a pointer to p with the given shape (one -1 allowed).
func (p *Pointer) Reshape(shape ...int) (*Pointer, error) {
	return p.Op("reshape", workers.OpParams{Shape: shape})
}

// Transpose returns a pointer to p with its dimensions permuted (no
// arguments: reversed).
func (p *Pointer) Transpose(dims ...int) (*Pointer, error) {
	return p.Op("transpose", workers.OpParams{Dims: dims})
}

// Sum returns a pointer to the sum of p: over dimension dim[0] if given
// (keepdim keeps it with size 1), else over everything as a 0-d tensor.
func (p *Pointer) Sum(keepdim bool, dim ...int) (*Pointer, error) {
	return p.reduce("sum", dim, keepdim)
}

// Mean is like Sum for the mean.
func (p *Pointer) Mean(keepdim bool, dim ...int) (*Pointer, error) {
	return p.reduce("mean", dim, keepdim)
}

// Max is like Sum for the maximum.
func (p *Pointer) Max(keepdim bool, dim ...int) (*Pointer, error) {
	return p.reduce("max", dim, keepdim)
}

// Min is like Sum for the minimum.
func (p *Pointer) Min(keepdim bool, dim ...int) (*Pointer, error) {
	return p.reduce("min", dim, keepdim)
}

// Argmax is like Sum for the index of the maximum (flat index when no
// dimension is given).
func (p *Pointer) Argmax(keepdim bool, dim ...int) (*Pointer, error) {
	return p.reduce("argmax", dim, keepdim)
}
