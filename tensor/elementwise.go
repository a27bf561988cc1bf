package tensor

import (
	"math"

	"github.com/gomplab/gomplab/tensor/layout"
)

// binOp names an elementwise binary operation, so that the common ones run
// as plain loops with no call per element.
type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opPow
	opMax
	opMin
	opLt
	opLe
	opGt
	opGe
	opEq
	opNe
)

var binNames = [...]string{"Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "Lt", "Le", "Gt", "Ge", "Eq", "Ne"}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// fn returns the scalar function of op, for the loops not written out.
func (op binOp) fn() func(x, y float64) float64 {
	switch op {
	case opAdd:
		return func(x, y float64) float64 { return x + y }
	case opSub:
		return func(x, y float64) float64 { return x - y }
	case opMul:
		return func(x, y float64) float64 { return x * y }
	case opDiv:
		return func(x, y float64) float64 { return x / y }
	case opPow:
		return pow
	case opMax:
		// NaN wins, as numpy.maximum.
		return func(x, y float64) float64 {
			if x > y || x != x {
				return x
			}
			return y
		}
	case opMin:
		return func(x, y float64) float64 {
			if x < y || x != x {
				return x
			}
			return y
		}
	case opLt:
		return func(x, y float64) float64 { return b2f(x < y) }
	case opLe:
		return func(x, y float64) float64 { return b2f(x <= y) }
	case opGt:
		return func(x, y float64) float64 { return b2f(x > y) }
	case opGe:
		return func(x, y float64) float64 { return b2f(x >= y) }
	case opEq:
		return func(x, y float64) float64 { return b2f(x == y) }
	case opNe:
		return func(x, y float64) float64 { return b2f(x != y) }
	}
	panic("tensor: unknown binary op")
}

// pow is math.Pow, except that square roots go through math.Sqrt, which
// is correctly rounded as C's pow (and so NumPy's) is and math.Pow is not.
func pow(x, y float64) float64 {
	switch {
	case y == 0.5 && x != math.Inf(-1):
		return math.Sqrt(x)
	case y == -0.5 && x != math.Inf(-1) && x != 0:
		return 1 / math.Sqrt(x)
	}
	return math.Pow(x, y)
}

// kernelVV sets out[i] = a[i] op b[i].
func kernelVV(op binOp, out, a, b []float64) {
	a, b = a[:len(out)], b[:len(out)]
	switch op {
	case opAdd:
		for i := range out {
			out[i] = a[i] + b[i]
		}
	case opSub:
		for i := range out {
			out[i] = a[i] - b[i]
		}
	case opMul:
		for i := range out {
			out[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range out {
			out[i] = a[i] / b[i]
		}
	default:
		f := op.fn()
		for i := range out {
			out[i] = f(a[i], b[i])
		}
	}
}

// kernelVS sets out[i] = a[i] op s.
func kernelVS(op binOp, out, a []float64, s float64) {
	a = a[:len(out)]
	switch op {
	case opAdd:
		for i := range out {
			out[i] = a[i] + s
		}
	case opSub:
		for i := range out {
			out[i] = a[i] - s
		}
	case opMul:
		for i := range out {
			out[i] = a[i] * s
		}
	case opDiv:
		for i := range out {
			out[i] = a[i] / s
		}
	default:
		f := op.fn()
		for i := range out {
			out[i] = f(a[i], s)
		}
	}
}

// kernelSV sets out[i] = s op b[i].
func kernelSV(op binOp, out []float64, s float64, b []float64) {
	b = b[:len(out)]
	switch op {
	case opAdd:
		for i := range out {
			out[i] = s + b[i]
		}
	case opSub:
		for i := range out {
			out[i] = s - b[i]
		}
	case opMul:
		for i := range out {
			out[i] = s * b[i]
		}
	case opDiv:
		for i := range out {
			out[i] = s / b[i]
		}
	default:
		f := op.fn()
		for i := range out {
			out[i] = f(s, b[i])
		}
	}
}

// broadcastOp applies op with NumPy broadcasting. Same shapes and one-element
// operands take direct loops; otherwise dims are coalesced so the inner
// loop runs over the longest stretch where each operand is either
// contiguous or constant.
func broadcastOp(op binOp, a, b *Tensor) *Tensor {
	switch {
	case SameShape(a.shape, b.shape):
		out := newTensor(binNames[op], a.shape)
		kernelVV(op, out.data, a.data, b.data)
		return out
	case len(b.data) == 1 && len(b.shape) <= len(a.shape):
		out := newTensor(binNames[op], a.shape)
		kernelVS(op, out.data, a.data, b.data[0])
		return out
	case len(a.data) == 1 && len(a.shape) <= len(b.shape):
		out := newTensor(binNames[op], b.shape)
		kernelSV(op, out.data, a.data[0], b.data)
		return out
	}
	shape, err := BroadcastShapes(a.shape, b.shape)
	if err != nil {
		e := err.(*ShapeError)
		e.Op = binNames[op]
		e.A, e.B = a.Shape(), b.Shape()
		panic(e)
	}
	out := newTensor(binNames[op], shape)
	if len(out.data) == 0 {
		return out
	}
	cs, sa, sb := coalesce(shape, a.shape, b.shape)
	L := cs[len(cs)-1]
	ia, ib := sa[len(sa)-1], sb[len(sb)-1]
	o := 0
	layout.Walk(cs, [][]int{sa, sb}, func(offs []int) {
		dst := out.data[o : o+L]
		switch {
		case ia == 1 && ib == 1:
			kernelVV(op, dst, a.data[offs[0]:], b.data[offs[1]:])
		case ia == 1:
			kernelVS(op, dst, a.data[offs[0]:], b.data[offs[1]])
		default: // ib == 1: coalesce never leaves a dim broadcast in both
			kernelSV(op, dst, a.data[offs[0]], b.data[offs[1]:])
		}
		o += L
	})
	return out
}

// coalesce rewrites the broadcast of shapes a and b to out as an
// equivalent broadcast over fewer dims: dims of length 1 are dropped and
// neighbouring dims merged when each operand is broadcast along both or
// along neither. It returns the merged shape (at least 1-D) and each
// operand's strides over it (0 where broadcast, contiguous otherwise).
func coalesce(out, a, b []int) (shape, sa, sb []int) {
	nd := len(out)
	pad := func(s []int) []int {
		p := make([]int, nd)
		for i := range p {
			p[i] = 1
		}
		copy(p[nd-len(s):], s)
		return p
	}
	pa, pb := pad(a), pad(b)
	var ba, bb []bool
	for i, d := range out {
		if d == 1 {
			continue
		}
		xa, xb := pa[i] == 1, pb[i] == 1
		if k := len(shape) - 1; k >= 0 && ba[k] == xa && bb[k] == xb {
			shape[k] *= d
			continue
		}
		shape = append(shape, d)
		ba, bb = append(ba, xa), append(bb, xb)
	}
	if len(shape) == 0 {
		shape, ba, bb = []int{1}, []bool{false}, []bool{false}
	}
	strides := func(bc []bool) []int {
		st := make([]int, len(shape))
		acc := 1
		for i := len(shape) - 1; i >= 0; i-- {
			if !bc[i] {
				st[i] = acc
				acc *= shape[i]
			}
		}
		return st
	}
	return shape, strides(ba), strides(bb)
}

// scalarOp applies op between every element of t and s.
func (t *Tensor) scalarOp(op binOp, s float64) *Tensor {
	out := newTensor(binNames[op], t.shape)
	kernelVS(op, out.data, t.data, s)
	return out
}

// Add returns t + o, broadcasting.
func (t *Tensor) Add(o *Tensor) *Tensor { return broadcastOp(opAdd, t, o) }

// Sub returns t - o, broadcasting.
func (t *Tensor) Sub(o *Tensor) *Tensor { return broadcastOp(opSub, t, o) }

// Mul returns t * o elementwise, broadcasting.
func (t *Tensor) Mul(o *Tensor) *Tensor { return broadcastOp(opMul, t, o) }

// Div returns t / o elementwise, broadcasting (IEEE: x/0 is ±Inf or NaN).
func (t *Tensor) Div(o *Tensor) *Tensor { return broadcastOp(opDiv, t, o) }

// Pow returns t ** o elementwise, broadcasting, with math.Pow's special cases.
func (t *Tensor) Pow(o *Tensor) *Tensor { return broadcastOp(opPow, t, o) }

// Maximum returns the elementwise larger of t and o, broadcasting; NaN
// propagates, as numpy.maximum.
func (t *Tensor) Maximum(o *Tensor) *Tensor { return broadcastOp(opMax, t, o) }

// Minimum returns the elementwise smaller of t and o, broadcasting; NaN
// propagates, as numpy.minimum.
func (t *Tensor) Minimum(o *Tensor) *Tensor { return broadcastOp(opMin, t, o) }

// Lt returns 1 where t < o and 0 elsewhere, broadcasting.
func (t *Tensor) Lt(o *Tensor) *Tensor { return broadcastOp(opLt, t, o) }

// Le returns 1 where t <= o and 0 elsewhere, broadcasting.
func (t *Tensor) Le(o *Tensor) *Tensor { return broadcastOp(opLe, t, o) }

// Gt returns 1 where t > o and 0 elsewhere, broadcasting.
func (t *Tensor) Gt(o *Tensor) *Tensor { return broadcastOp(opGt, t, o) }

// Ge returns 1 where t >= o and 0 elsewhere, broadcasting.
func (t *Tensor) Ge(o *Tensor) *Tensor { return broadcastOp(opGe, t, o) }

// Eq returns 1 where t == o and 0 elsewhere, broadcasting (NaN equals nothing).
func (t *Tensor) Eq(o *Tensor) *Tensor { return broadcastOp(opEq, t, o) }

// Ne returns 1 where t != o and 0 elsewhere, broadcasting.
func (t *Tensor) Ne(o *Tensor) *Tensor { return broadcastOp(opNe, t, o) }

// AddScalar returns t + s.
func (t *Tensor) AddScalar(s float64) *Tensor { return t.scalarOp(opAdd, s) }

// SubScalar returns t - s.
func (t *Tensor) SubScalar(s float64) *Tensor { return t.scalarOp(opSub, s) }

// MulScalar returns t * s.
func (t *Tensor) MulScalar(s float64) *Tensor { return t.scalarOp(opMul, s) }

// DivScalar returns t / s.
func (t *Tensor) DivScalar(s float64) *Tensor { return t.scalarOp(opDiv, s) }

// PowScalar returns t ** s elementwise. Like NumPy's ** with a scalar
// exponent, exponents 2, 0.5, 1 and -1 go to Square, Sqrt, a copy and
// Reciprocal, so (-Inf)**0.5 is NaN here where Pow gives +Inf.
func (t *Tensor) PowScalar(s float64) *Tensor {
	switch s {
	case 2:
		return t.Square()
	case 0.5:
		return t.Sqrt()
	case 1:
		return t.Clone()
	case -1:
		return t.Reciprocal()
	}
	return t.scalarOp(opPow, s)
}

// Apply returns f applied to every element of t.
func (t *Tensor) Apply(f func(float64) float64) *Tensor {
	out := newTensor("Apply", t.shape)
	for i, x := range t.data {
		out.data[i] = f(x)
	}
	return out
}

// Neg returns -t.
func (t *Tensor) Neg() *Tensor { return t.scalarOp(opMul, -1) }

// Abs returns |t| elementwise.
func (t *Tensor) Abs() *Tensor { return t.Apply(math.Abs) }

// Exp returns e**t elementwise.
func (t *Tensor) Exp() *Tensor { return t.Apply(math.Exp) }

// Log returns the natural logarithm elementwise (-Inf at 0, NaN below).
func (t *Tensor) Log() *Tensor { return t.Apply(math.Log) }

// Sqrt returns the square root elementwise (NaN below 0).
func (t *Tensor) Sqrt() *Tensor { return t.Apply(math.Sqrt) }

// Square returns t*t elementwise.
func (t *Tensor) Square() *Tensor { return broadcastOp(opMul, t, t) }

// Reciprocal returns 1/t elementwise.
func (t *Tensor) Reciprocal() *Tensor {
	out := newTensor("Reciprocal", t.shape)
	kernelSV(opDiv, out.data, 1, t.data)
	return out
}

// Tanh returns the hyperbolic tangent elementwise.
func (t *Tensor) Tanh() *Tensor { return t.Apply(math.Tanh) }

// Sigmoid returns 1/(1+e**-t) elementwise, computed without overflow for
// large negative inputs.
func (t *Tensor) Sigmoid() *Tensor {
	return t.Apply(func(x float64) float64 {
		if x >= 0 {
			return 1 / (1 + math.Exp(-x))
		}
		e := math.Exp(x)
		return e / (1 + e)
	})
}

// Relu returns max(t, 0) elementwise; NaN stays NaN.
func (t *Tensor) Relu() *Tensor {
	out := newTensor("Relu", t.shape)
	for i, x := range t.data {
		if x > 0 || x != x {
			out.data[i] = x
		}
	}
	return out
}

// Sign returns -1, 0 or 1 by the sign of each element (NaN stays NaN).
func (t *Tensor) Sign() *Tensor {
	return t.Apply(func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return x // 0, -0 or NaN
	})
}

// Clamp limits every element to [lo, hi], as numpy.clip; NaN stays NaN.
func (t *Tensor) Clamp(lo, hi float64) *Tensor {
	out := newTensor("Clamp", t.shape)
	for i, x := range t.data {
		switch {
		case x < lo:
			x = lo
		case x > hi:
			x = hi
		}
		out.data[i] = x
	}
	return out
}

// Where returns elements of a where cond is non-zero and of b elsewhere,
// with all three broadcast together, as numpy.where.
func Where(cond, a, b *Tensor) *Tensor {
	s1, err := BroadcastShapes(cond.shape, a.shape)
	if err != nil {
		panic(&ShapeError{Op: "Where", A: cond.Shape(), B: a.Shape(), Msg: "condition and a cannot broadcast"})
	}
	shape, err := BroadcastShapes(s1, b.shape)
	if err != nil {
		panic(&ShapeError{Op: "Where", A: s1, B: b.Shape(), Msg: "condition/a and b cannot broadcast"})
	}
	out := newTensor("Where", shape)
	if len(out.data) == 0 {
		return out
	}
	if len(shape) == 0 {
		shape = []int{1}
	}
	st := [][]int{layout.BroadcastStrides(cond.shape, shape), layout.BroadcastStrides(a.shape, shape), layout.BroadcastStrides(b.shape, shape)}
	last := len(shape) - 1
	L := shape[last]
	sc, sa, sb := st[0][last], st[1][last], st[2][last]
	o := 0
	layout.Walk(shape, st, func(offs []int) {
		for i := 0; i < L; i++ {
			if cond.data[offs[0]+i*sc] != 0 {
				out.data[o+i] = a.data[offs[1]+i*sa]
			} else {
				out.data[o+i] = b.data[offs[2]+i*sb]
			}
		}
		o += L
	})
	return out
}
