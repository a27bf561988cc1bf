package nn

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// value is what a Variable holds: a plaintext tensor or an encrypted one.
// The autograd engine and every module are written once against value and
// backend, so plaintext and encrypted networks share one implementation and
// the plaintext run is the reference the encrypted one is tested against.
type value interface {
	// dims returns the shape; callers must not modify it.
	dims() []int
	// backend returns the implementation of operations on this kind of value.
	backend() backend
}

// backend implements the operations the modules need. Binary operations
// accept values of either kind: pick chooses the encrypted backend when any
// operand is encrypted, and that backend treats plaintext operands as
// public. Shape errors panic (see guard); so do protocol failures, wrapped
// in opError, and the exported entry points turn both into errors.
type backend interface {
	add(a, b value) value
	sub(a, b value) value
	mul(a, b value) value
	matmul(a, b value) value
	// conv2d is cross-correlation as tensor.Conv2d, without bias.
	conv2d(x, w value, o tensor.ConvOpts) value
	neg(a value) value
	scale(a value, s float64) value // a*s
	shift(a value, s float64) value // a+s
	sum(a value, dim int, keepdim bool) value
	reshape(a value, shape []int) value
	permute(a value, perm []int) value
	pad(a value, widths [][2]int, fill float64) value
	slice(a value, dim, start, stop, step int) value
	flip(a value, dim int) value
	concat(dim int, vs []value) value
	expand(a value, shape []int) value
	// relu returns max(a, 0) and, if mask is set, the 0/1 mask of positive
	// elements that its gradient needs.
	relu(a value, mask bool) (out, m value)
	sign(a value) value
	sigmoid(a value) value
	// logSigmoid returns log(sigmoid(a)) and, when sig is set, sigmoid(a),
	// which the encrypted backend gets almost for free on the way.
	logSigmoid(a value, sig bool) (ls, s value)
	tanh(a value) value
	exp(a value) value
	log(a value) value
	reciprocal(a value) value
	sqrt(a value) value
	invSqrt(a value) value
	softmax(a value, dim int) value
	logSoftmax(a value, dim int) value
	// maxPool2d returns the pooled value and, when grad is set, the function
	// routing an output gradient back to the input's shape.
	maxPool2d(x value, o tensor.PoolOpts, grad bool) (value, func(g value) value)
	// argmaxOneHot returns a 0/1 value marking the (first) maximum along dim.
	argmaxOneHot(a value, dim int) value
	// max is the maximum along dim (no gradient: Variable.Max builds its
	// gradient from argmaxOneHot).
	max(a value, dim int, keep bool) value
	// take gathers the elements at flat indices idx into a value of shape;
	// put is its adjoint: zeros of shape with g[i] added at idx[i].
	take(a value, idx []int, shape []int) value
	put(g value, idx []int, shape []int) value
	// invSqrtFull, sqrtFull and reciprocalFull hold over the whole
	// fixed-point range (the mpc package's normalized functions), for
	// variances and for imported graphs, whose authors know no ranges.
	invSqrtFull(a value) value
	sqrtFull(a value) value
	reciprocalFull(a value) value
	erf(a value) value
	gaussian(a value) value // e^(−a²)
	// clamp limits a to [lo, hi] and, if mask is set, returns the 0/1 mask
	// of lo < a < hi that its gradient needs.
	clamp(a value, lo, hi float64, mask bool) (out, m value)
	// compare returns the 0/1 value of a op b, op one of "eq", "gt", "lt".
	compare(a, b value, op string) value
}

// pick returns the backend for an operation on vs: encrypted if any is.
func pick(vs ...value) backend {
	for _, v := range vs {
		if _, ok := v.(plain); !ok {
			return v.backend()
		}
	}
	return plainBackend{}
}

// plain is a value over a plaintext tensor.
type plain struct{ t *tensor.Tensor }

func (p plain) dims() []int      { return p.t.Shape() }
func (p plain) backend() backend { return plainBackend{} }

// plainBackend computes on *tensor.Tensor.
type plainBackend struct{}

// pt unwraps a plaintext value; an encrypted one here is a bug in pick.
func pt(v value) *tensor.Tensor {
	p, ok := v.(plain)
	if !ok {
		panic(fmt.Sprintf("nn: plaintext backend given %T", v))
	}
	return p.t
}

func wrap(t *tensor.Tensor) value { return plain{t} }

func (plainBackend) add(a, b value) value    { return wrap(pt(a).Add(pt(b))) }
func (plainBackend) sub(a, b value) value    { return wrap(pt(a).Sub(pt(b))) }
func (plainBackend) mul(a, b value) value    { return wrap(pt(a).Mul(pt(b))) }
func (plainBackend) matmul(a, b value) value { return wrap(tensor.MatMul(pt(a), pt(b))) }
func (plainBackend) conv2d(x, w value, o tensor.ConvOpts) value {
	return wrap(tensor.Conv2d(pt(x), pt(w), nil, o))
}
func (plainBackend) neg(a value) value                { return wrap(pt(a).Neg()) }
func (plainBackend) scale(a value, s float64) value   { return wrap(pt(a).MulScalar(s)) }
func (plainBackend) shift(a value, s float64) value   { return wrap(pt(a).AddScalar(s)) }
func (plainBackend) reshape(a value, sh []int) value  { return wrap(pt(a).Clone().Reshape(sh...)) }
func (plainBackend) permute(a value, p []int) value   { return wrap(pt(a).Permute(p...)) }
func (plainBackend) expand(a value, sh []int) value   { return wrap(pt(a).BroadcastTo(sh...)) }
func (plainBackend) sign(a value) value               { return wrap(pt(a).Sign()) }
func (plainBackend) sigmoid(a value) value            { return wrap(pt(a).Sigmoid()) }
func (plainBackend) tanh(a value) value               { return wrap(pt(a).Tanh()) }
func (plainBackend) exp(a value) value                { return wrap(pt(a).Exp()) }
func (plainBackend) log(a value) value                { return wrap(pt(a).Log()) }
func (plainBackend) reciprocal(a value) value         { return wrap(pt(a).Reciprocal()) }
func (plainBackend) sqrt(a value) value               { return wrap(pt(a).Sqrt()) }
func (plainBackend) invSqrt(a value) value            { return wrap(pt(a).Sqrt().Reciprocal()) }
func (plainBackend) softmax(a value, dim int) value   { return wrap(tensor.Softmax(pt(a), dim)) }
func (plainBackend) logSoftmax(a value, d int) value  { return wrap(tensor.LogSoftmax(pt(a), d)) }
func (plainBackend) sum(a value, d int, k bool) value { return wrap(pt(a).Sum(d, k)) }

func (plainBackend) pad(a value, widths [][2]int, fill float64) value {
	return wrap(pt(a).Pad(widths, fill))
}

func (plainBackend) slice(a value, dim, start, stop, step int) value {
	return wrap(pt(a).Slice(dim, start, stop, step))
}

func (plainBackend) flip(a value, dim int) value {
	t := pt(a)
	n := t.Dim(dim)
	return wrap(t.Slice(dim, n-1, -n-1, -1))
}

func (plainBackend) concat(dim int, vs []value) value {
	ts := make([]*tensor.Tensor, len(vs))
	for i, v := range vs {
		ts[i] = pt(v)
	}
	return wrap(tensor.Concat(dim, ts...))
}

func (plainBackend) relu(a value, mask bool) (value, value) {
	t := pt(a)
	if !mask {
		return wrap(t.Relu()), nil
	}
	return wrap(t.Relu()), wrap(t.Gt(tensor.Scalar(0)))
}

// logSigmoid is log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), which
// neither overflows nor takes the log of an underflowed zero.
func (plainBackend) logSigmoid(a value, sig bool) (value, value) {
	ls := wrap(pt(a).Apply(func(x float64) float64 {
		return min(x, 0) - log1pExp(-abs(x))
	}))
	if !sig {
		return ls, nil
	}
	return ls, wrap(pt(a).Sigmoid())
}

func (plainBackend) maxPool2d(x value, o tensor.PoolOpts, grad bool) (value, func(g value) value) {
	t := pt(x)
	if !grad {
		return wrap(tensor.MaxPool2d(t, o)), nil
	}
	out, idx := tensor.MaxPool2dIndices(t, o)
	shape := t.Shape()
	return wrap(out), func(g value) value {
		gt, ok := g.(plain)
		if !ok {
			panic(opError{fmt.Errorf("max pool backward: an encrypted gradient through a plaintext max pool is not supported; encrypt its input")})
		}
		dx := tensor.Zeros(shape...)
		d, gd := dx.Data(), gt.t.Data()
		for i, j := range idx {
			if j >= 0 {
				d[j] += gd[i]
			}
		}
		return wrap(dx)
	}
}

func (plainBackend) max(a value, dim int, keep bool) value { return wrap(pt(a).Max(dim, keep)) }

func (plainBackend) take(a value, idx []int, shape []int) value {
	d := pt(a).Data()
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = d[j]
	}
	return wrap(tensor.MustNew(out, shape...))
}

func (plainBackend) put(g value, idx []int, shape []int) value {
	out := tensor.Zeros(shape...)
	d, gd := out.Data(), pt(g).Data()
	for i, j := range idx {
		d[j] += gd[i]
	}
	return wrap(out)
}

func (plainBackend) invSqrtFull(a value) value    { return wrap(pt(a).Sqrt().Reciprocal()) }
func (plainBackend) sqrtFull(a value) value       { return wrap(pt(a).Sqrt()) }
func (plainBackend) reciprocalFull(a value) value { return wrap(pt(a).Reciprocal()) }
func (plainBackend) erf(a value) value            { return wrap(pt(a).Apply(math.Erf)) }
func (plainBackend) gaussian(a value) value {
	return wrap(pt(a).Apply(func(x float64) float64 { return math.Exp(-x * x) }))
}

func (plainBackend) clamp(a value, lo, hi float64, mask bool) (value, value) {
	t := pt(a)
	if !mask {
		return wrap(t.Clamp(lo, hi)), nil
	}
	m := t.Apply(func(x float64) float64 {
		if x > lo && x < hi {
			return 1
		}
		return 0
	})
	return wrap(t.Clamp(lo, hi)), wrap(m)
}

func (plainBackend) compare(a, b value, op string) value {
	switch op {
	case "eq":
		return wrap(pt(a).Eq(pt(b)))
	case "gt":
		return wrap(pt(a).Gt(pt(b)))
	}
	return wrap(pt(a).Lt(pt(b)))
}

func (plainBackend) argmaxOneHot(a value, dim int) value {
	t := pt(a)
	d, err := tensor.NormDim(dim, t.Dims())
	if err != nil {
		panic(err)
	}
	idx := t.Argmax(d, false)
	oh := tensor.OneHot(idx, t.Dim(d)) // class dim last
	if last := t.Dims() - 1; d != last {
		perm := make([]int, 0, t.Dims())
		for i := 0; i < t.Dims(); i++ {
			switch {
			case i < d:
				perm = append(perm, i)
			case i == d:
				perm = append(perm, last)
			default:
				perm = append(perm, i-1)
			}
		}
		oh = oh.Permute(perm...)
	}
	return wrap(oh)
}
