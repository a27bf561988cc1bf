package mpc

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/tensor"
)

// operand is a normalized argument of a binary operation: exactly one of
// enc and pub is set (a scalar becomes a 0-D public tensor).
type operand struct {
	enc *CrypTensor
	pub *tensor.Tensor
}

func (o operand) shape() []int {
	if o.enc != nil {
		return o.enc.shape
	}
	return o.pub.Shape()
}

// toOperand accepts *CrypTensor, *tensor.Tensor and Go numbers.
func toOperand(v any) (operand, error) {
	switch t := v.(type) {
	case *CrypTensor:
		if t == nil {
			return operand{}, fmt.Errorf("nil *CrypTensor operand")
		}
		return operand{enc: t}, nil
	case *tensor.Tensor:
		if t == nil {
			return operand{}, fmt.Errorf("nil *tensor.Tensor operand")
		}
		return operand{pub: t}, nil
	case float64:
		return operand{pub: tensor.Scalar(t)}, nil
	case float32:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case int:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case int64:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case int32:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case int16:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case int8:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case uint:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case uint32:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case uint16:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case uint8:
		return operand{pub: tensor.Scalar(float64(t))}, nil
	case []float64:
		return operand{pub: tensor.FromSlice(t)}, nil
	}
	return operand{}, fmt.Errorf("unsupported operand type %T (want *mpc.CrypTensor, *tensor.Tensor or a number)", v)
}

// operands normalizes both arguments of a binary op; at least one must
// be encrypted, and it supplies the party.
func operands(op string, a, b any) (*Party, operand, operand) {
	oa, errA := toOperand(a)
	ob, errB := toOperand(b)
	var p *Party
	if oa.enc != nil {
		p = oa.enc.p
	} else if ob.enc != nil {
		p = ob.enc.p
	}
	if p == nil {
		if errA == nil && errB == nil {
			errA = fmt.Errorf("no encrypted operand (got %T and %T); use the tensor package for public values", a, b)
		}
		if errA == nil {
			errA = errB
		}
		panic(&Error{Rank: -1, Op: op, Err: errA})
	}
	if errA != nil {
		p.fail(op, errA)
	}
	if errB != nil {
		p.fail(op, errB)
	}
	if oa.enc != nil && ob.enc != nil && oa.enc.p != ob.enc.p {
		p.failf(op, "operands belong to different parties")
	}
	return p, oa, ob
}

// broadcast returns the broadcast shape of a and b or fails op.
func (p *Party) broadcast(op string, a, b []int) []int {
	s, err := tensor.BroadcastShapes(a, b)
	if err != nil {
		p.failf(op, "shapes %v and %v do not broadcast", a, b)
	}
	return s
}

// ---- addition and subtraction ----

// Add returns x + y for y a *CrypTensor, *tensor.Tensor or number.
func (x *CrypTensor) Add(y any) *CrypTensor { return Add(x, y) }

// Sub returns x − y.
func (x *CrypTensor) Sub(y any) *CrypTensor { return Sub(x, y) }

// Add returns a + b; either operand may be public, in either order.
func Add(a, b any) *CrypTensor { return addSub("Add", a, b, false) }

// Sub returns a − b; either operand may be public, in either order.
func Sub(a, b any) *CrypTensor { return addSub("Sub", a, b, true) }

func addSub(op string, a, b any, sub bool) *CrypTensor {
	p, oa, ob := operands(op, a, b)
	shape := p.broadcast(op, oa.shape(), ob.shape())
	n := numel(shape)
	out := make([]uint64, n)
	if oa.enc != nil && ob.enc != nil && tensor.SameShape(oa.enc.shape, ob.enc.shape) {
		// The common case in one pass.
		if sub {
			ring.Sub(out, oa.enc.share, ob.enc.share)
		} else {
			ring.Add(out, oa.enc.share, ob.enc.share)
		}
		return p.newCT(shape, out)
	}
	// Start from a (encrypted share, or public value on rank 0 only).
	if oa.enc != nil {
		copy(out, expandTo(oa.enc.share, oa.enc.shape, shape))
	} else if p.rank == 0 {
		copy(out, expandTo(p.encodePublic(op, oa.pub), oa.pub.Shape(), shape))
	}
	var bv []uint64
	if ob.enc != nil {
		bv = expandTo(ob.enc.share, ob.enc.shape, shape)
	} else if p.rank == 0 {
		bv = expandTo(p.encodePublic(op, ob.pub), ob.pub.Shape(), shape)
	}
	if bv != nil {
		if sub {
			ring.SubFrom(out, bv)
		} else {
			ring.AddTo(out, bv)
		}
	}
	return p.newCT(shape, out)
}

// Neg returns −x.
func (x *CrypTensor) Neg() *CrypTensor {
	out := make([]uint64, len(x.share))
	ring.Neg(out, x.share)
	return x.p.newCT(x.shape, out)
}

// ---- multiplication ----

// Mul returns x ∘ y (elementwise, broadcasting).
func (x *CrypTensor) Mul(y any) *CrypTensor { return Mul(x, y) }

// Mul returns a ∘ b elementwise with broadcasting; either operand may be
// public, in either order. Two encrypted operands cost one round (a
// Beaver triple: 2·8 bytes per element sent to each other party); a
// public operand costs nothing with two parties (one round with three or
// more, for truncation) and nothing at all when it holds only integers.
func Mul(a, b any) *CrypTensor {
	p, oa, ob := operands("Mul", a, b)
	defer p.op("Mul")()
	if oa.enc == nil {
		oa, ob = ob, oa
	}
	shape := p.broadcast("Mul", oa.shape(), ob.shape())
	x := expandTo(oa.enc.share, oa.enc.shape, shape)
	if ob.enc == nil {
		return p.newCT(shape, p.mulPublic("Mul", x, ob.pub, shape))
	}
	y := expandTo(ob.enc.share, ob.enc.shape, shape)
	return p.newCT(shape, p.beaverMul(x, y, true))
}

// mulPublic multiplies share x (already of shape) by a public tensor
// broadcast to shape, truncating unless the tensor is integral. The
// public values are encoded with publicBits fractional bits, so small
// constants keep f significant bits (a learning rate of 0.001 is not
// rounded to 66/65536).
func (p *Party) mulPublic(op string, x []uint64, t *tensor.Tensor, shape []int) []uint64 {
	out := make([]uint64, len(x))
	if integral(t) {
		iv := make([]uint64, t.Size())
		for i, v := range t.Data() {
			iv[i] = uint64(int64(v))
		}
		ring.Mul(out, x, expandTo(iv, t.Shape(), shape))
		return out
	}
	bits := p.publicBits(t)
	enc := make([]uint64, t.Size())
	if err := encodeSlice(enc, t.Data(), bits); err != nil {
		p.fail(op, err)
	}
	ring.Mul(out, x, expandTo(enc, t.Shape(), shape))
	p.truncate(out, 1<<bits)
	return out
}

// publicBits returns the fractional bits to encode the public multipliers
// t with: the precision f, and more when every value is below 1/2, so that
// the largest keeps f significant bits. The products are then no larger
// than with multipliers up to 1 at f bits, and neither is the (small)
// chance that their truncation fails.
func (p *Party) publicBits(t *tensor.Tensor) uint {
	m := 0.0
	for _, v := range t.Data() {
		m = max(m, math.Abs(v))
	}
	f := p.cfg.Precision
	if m == 0 || m >= 0.5 {
		return f
	}
	_, e := math.Frexp(m) // m = frac·2^e, frac in [1/2, 1)
	return min(f+uint(-e), 2*f+8)
}

// beaverMul returns shares of x∘y, truncated by 2^f when trunc is set:
// with a triple (a, b, c = a∘b), the parties open e = x − a and f = y − b
// in one round and party i sets z_i = c_i + e∘y_i + a_i∘f, whose sum is
// x∘y. The sum of the opened parts, the product and (with two parties)
// the truncation are one pass.
func (p *Party) beaverMul(x, y []uint64, trunc bool) []uint64 {
	n := len(x)
	// The masks a and b are generated block by block where they are used
	// (a twice: for e, then for z), never stored whole; the opening is a
	// pipeline of chunks, each laid out as e then f for its elements.
	s := p.get(provider.Request{Kind: provider.Mul, N: n, OmitZero: true, Lazy: true})
	ga, gb, ga2 := s.Stream(0), s.Stream(1), s.Stream(0)
	ef := getScratch(2 * n)
	z := make([]uint64, n)
	t := p.fusedTrunc(trunc)
	var c []uint64
	waited := false
	p.openChunks("Mul", ef, 2*pipeChunk, func(lo, hi int) {
		i, m := lo/2, (hi-lo)/2
		maskFrom(ef[lo:lo+m], x[i:i+m], ga)
		maskFrom(ef[lo+m:hi], y[i:i+m], gb)
	}, func(lo, hi int, o []uint64) {
		if !waited {
			c, waited = p.wait("Mul", s)[2], true
		}
		i, m := lo/2, (hi-lo)/2
		e0, e1, f0, f1 := ef[lo:lo+m], o[lo:lo+m], ef[lo+m:hi], o[lo+m:hi]
		blocks(m, ga2, func(off, k int, a []uint64) {
			beaverZ(z[i+off:i+off+k], part(c, i+off, k), e0[off:off+k], e1[off:off+k], y[i+off:i+off+k], a, f0[off:off+k], f1[off:off+k], t)
		})
	})
	putScratch(ef)
	s.Release()
	if trunc && !t.on {
		p.truncate(z, 1<<p.cfg.Precision)
	}
	return z
}

// Square returns x∘x, at half the bytes of Mul (one opened value).
func (x *CrypTensor) Square() *CrypTensor {
	p := x.p
	defer p.op("Square")()
	return p.newCT(x.shape, p.square(x.share, true))
}

// square returns shares of x∘x, truncated by 2^f when trunc is set: with
// (r, r²), open e = x − r and set z_i = r²_i + 2e∘r_i (+ e² on rank 0).
func (p *Party) square(x []uint64, trunc bool) []uint64 {
	n := len(x)
	s := p.get(provider.Request{Kind: provider.Square, N: n, OmitZero: true, Lazy: true})
	gr, gr2 := s.Stream(0), s.Stream(0)
	e := getScratch(n)
	z := make([]uint64, n)
	t := p.fusedTrunc(trunc)
	var r2 []uint64
	waited := false
	p.openChunks("Square", e, pipeChunk, func(lo, hi int) {
		maskFrom(e[lo:hi], x[lo:hi], gr)
	}, func(lo, hi int, o []uint64) {
		if !waited {
			r2, waited = p.wait("Square", s)[1], true
		}
		blocks(hi-lo, gr2, func(off, k int, r []uint64) {
			i := lo + off
			squareZ(z[i:i+k], part(r2, i, k), e[i:i+k], o[i:i+k], r, p.rank == 0, t)
		})
	})
	putScratch(e)
	s.Release()
	if trunc && !t.on {
		p.truncate(z, 1<<p.cfg.Precision)
	}
	return z
}

// ---- truncation ----

// truncate divides shares of a value by the public positive d in place.
// Two parties divide their shares locally (rank 0 rounds down, rank 1
// negates, rounds down and negates back), off by at most one unit and
// wrong only with probability about |x|/2^63. Three or more parties mask
// the value instead (truncateMasked): one round, the same error bound and
// failure probability, and rounding that is unbiased.
func (p *Party) truncate(v []uint64, d uint64) {
	if d == 1 || p.size == 1 {
		if d != 1 {
			for i, x := range v {
				v[i] = uint64(divFloor(int64(x), d))
			}
		}
		return
	}
	if p.size == 2 {
		truncLocal(v, d, p.rank == 0)
		return
	}
	p.truncateMasked(v, d)
}

// divFloor returns ⌊x/d⌋ for d > 0.
func divFloor(x int64, d uint64) int64 {
	if d&(d-1) == 0 {
		return x >> bits.TrailingZeros64(d)
	}
	q := x / int64(d)
	if x%int64(d) != 0 && x < 0 {
		q--
	}
	return q
}

func truncLocal(v []uint64, d uint64, first bool) {
	if d&(d-1) == 0 {
		sh := uint(bits.TrailingZeros64(d))
		if first {
			for i, x := range v {
				v[i] = uint64(int64(x) >> sh)
			}
		} else {
			for i, x := range v {
				v[i] = -uint64(int64(-x) >> sh)
			}
		}
		return
	}
	if first {
		for i, x := range v {
			v[i] = uint64(divFloor(int64(x), d))
		}
	} else {
		for i, x := range v {
			v[i] = -uint64(divFloor(int64(-x), d))
		}
	}
}

// truncateMasked is the truncation for three or more parties. The dealer
// supplies a mask r (uniform over the ring) with shares of q = ⌊r/d⌋;
// each party sends x_i + r_i to rank 0 (one round), which adds them up to
// c = x + r, public to it and uniformly random; then x/d ≈ ⌊c/d⌋ − q,
// rank 0 adding ⌊c/d⌋ to its share of −q. The result is ⌊x/d⌋ or
// ⌊x/d⌋ + 1, the latter with probability frac(x/d) (over r): unbiased
// stochastic rounding, within one unit. It is wrong only when x + r
// overflows as signed integers, with probability about |x|/2^63 (as the
// two-party truncation).
func (p *Party) truncateMasked(v []uint64, d uint64) {
	p.truncateMaskedEach(v, len(v), func(int) uint64 { return d })
}

// truncateMaskedEach is truncateMasked for consecutive blocks of n values
// with a divisor each (div(j) for block j), all in one round.
func (p *Party) truncateMaskedEach(v []uint64, n int, div func(j int) uint64) {
	if len(v) == 0 {
		return
	}
	blocks := (len(v) + n - 1) / n
	ss := make([]*shares, blocks)
	z := make([]uint64, len(v))
	for j := range ss {
		lo, hi := j*n, min((j+1)*n, len(v))
		ss[j] = p.get(provider.Request{Kind: provider.Trunc, N: hi - lo, Div: div(j)})
		ring.Add(z[lo:hi], v[lo:hi], ss[j].Parts[0])
	}
	// Rank 0 gathers every z_i.
	p.c.Stats().Round()
	if p.rank == 0 {
		buf := make([]uint64, len(v))
		for q := 1; q < p.size; q++ {
			p.recv("truncate", q, buf)
			ring.AddTo(z, buf)
		}
	} else {
		p.send("truncate", 0, z)
	}
	for j, s := range ss {
		lo, hi := j*n, min((j+1)*n, len(v))
		q := p.wait("truncate", s)[1]
		d := div(j)
		for i := lo; i < hi; i++ {
			v[i] = -q[i-lo]
			if p.rank == 0 {
				v[i] += uint64(divFloor(int64(z[i]), d))
			}
		}
		s.Release()
	}
}

// ---- division ----

// Div returns x / y. An encrypted y uses Reciprocal; a public integer
// scalar divides shares exactly (truncation); other public values
// multiply by their reciprocal.
func (x *CrypTensor) Div(y any) *CrypTensor { return Div(x, y) }

// Div returns a / b; either may be public.
func Div(a, b any) *CrypTensor {
	p, oa, ob := operands("Div", a, b)
	defer p.op("Div")()
	if ob.enc != nil {
		return Mul(operandValue(oa), ob.enc.Reciprocal())
	}
	t := ob.pub
	if t.Size() == 1 && t.Dims() == 0 {
		v := t.Item()
		if v == 0 {
			p.failf("Div", "division by zero")
		}
		if v == math.Trunc(v) && math.Abs(v) < 1<<40 {
			out := append([]uint64(nil), oa.enc.share...)
			if v < 0 {
				ring.Neg(out, out)
				v = -v
			}
			p.truncate(out, uint64(v))
			return p.newCT(oa.enc.shape, out)
		}
		return Mul(oa.enc, 1/v)
	}
	for _, v := range t.Data() {
		if v == 0 {
			p.failf("Div", "division by a tensor holding zero")
		}
	}
	return Mul(oa.enc, t.Reciprocal())
}

func operandValue(o operand) any {
	if o.enc != nil {
		return o.enc
	}
	return o.pub
}

// ---- reductions ----

// Sum sums over dim d (keepdim keeps it with size 1). Local.
func (x *CrypTensor) Sum(d int, keepdim bool) *CrypTensor {
	nd := x.normDim("Sum", d)
	data, ns := reduceDim(x.share, x.shape, nd)
	if keepdim {
		ns = cloneShape(x.shape)
		ns[nd] = 1
	}
	return x.p.newCT(ns, data)
}

// SumAll sums every element into a 0-D tensor. Local.
func (x *CrypTensor) SumAll() *CrypTensor {
	var s uint64
	for _, v := range x.share {
		s += v
	}
	return x.p.newCT(nil, []uint64{s})
}

// Mean averages over dim d (division by the public count: exact up to
// one unit with two parties).
func (x *CrypTensor) Mean(d int, keepdim bool) *CrypTensor {
	nd := x.normDim("Mean", d)
	return x.Sum(nd, keepdim).Div(x.shape[nd])
}

// MeanAll averages every element.
func (x *CrypTensor) MeanAll() *CrypTensor { return x.SumAll().Div(len(x.share)) }

// ---- matrix products ----

// MatMul returns x @ y with NumPy semantics (1-D promotion, batched with
// broadcast batch dims); y may be public.
func (x *CrypTensor) MatMul(y any) *CrypTensor { return MatMul(x, y) }

// MatMul returns a @ b; either may be public, in either order. Two
// encrypted operands cost one round: a matrix Beaver triple, opening the
// masked a and b (their sizes, not the product's, in bytes).
func MatMul(a, b any) *CrypTensor {
	p, oa, ob := operands("MatMul", a, b)
	defer p.op("MatMul")()
	as, bs := oa.shape(), ob.shape()
	if len(as) == 0 || len(bs) == 0 {
		p.failf("MatMul", "scalar operand (shapes %v and %v); use Mul", as, bs)
	}
	// 1-D promotion.
	a2, b2 := cloneShape(as), cloneShape(bs)
	if len(a2) == 1 {
		a2 = []int{1, a2[0]}
	}
	if len(b2) == 1 {
		b2 = []int{b2[0], 1}
	}
	m, k, k2, n := a2[len(a2)-2], a2[len(a2)-1], b2[len(b2)-2], b2[len(b2)-1]
	if k != k2 {
		p.failf("MatMul", "shapes %v and %v: inner dims %d and %d differ", as, bs, k, k2)
	}
	batch := p.broadcast("MatMul", a2[:len(a2)-2], b2[:len(b2)-2])
	nb := numel(batch)
	av := matOperand(p, oa, a2, append(cloneShape(batch), m, k))
	bv := matOperand(p, ob, b2, append(cloneShape(batch), k, n))
	var z []uint64
	switch {
	case oa.enc != nil && ob.enc != nil:
		z = p.beaverMatMul(av, bv, nb, m, k, n)
	default:
		z = make([]uint64, nb*m*n)
		ring.BatchMatMul(z, av, bv, nb, m, k, n)
		pub := oa.pub
		if pub == nil {
			pub = ob.pub
		}
		if !integral(pub) {
			p.truncate(z, 1<<p.cfg.Precision)
		}
	}
	// Output shape: batch, then m and n unless promoted away.
	out := cloneShape(batch)
	if len(as) > 1 {
		out = append(out, m)
	}
	if len(bs) > 1 {
		out = append(out, n)
	}
	return p.newCT(out, z)
}

// matOperand returns the ring data of an operand viewed as shape view and
// broadcast to shape full. Public values are encoded (as plain integers
// when integral, so no truncation follows).
func matOperand(p *Party, o operand, view, full []int) []uint64 {
	var data []uint64
	if o.enc != nil {
		data = o.enc.share
	} else if integral(o.pub) {
		data = make([]uint64, o.pub.Size())
		for i, v := range o.pub.Data() {
			data[i] = uint64(int64(v))
		}
	} else {
		data = p.encodePublic("MatMul", o.pub)
	}
	return expandTo(data, view, full)
}

// beaverMatMul returns shares of x@y (batched, truncated) with a matrix
// triple: z_i = c_i + e@y_i + a_i@f, both products summed in one pass
// over z that also truncates (with two parties).
func (p *Party) beaverMatMul(x, y []uint64, batch, m, k, n int) []uint64 {
	s := p.get(provider.Request{Kind: provider.MatMul, Batch: batch, M: m, K: k, Cols: n, OmitZero: true})
	a, b := s.Parts[0], s.Parts[1]
	nx, ny := len(x), len(y)
	ef := getScratch(nx + ny)
	defer putScratch(ef)
	e, f := ef[:nx], ef[nx:]
	ring.Sub(e, x, a)
	ring.Sub(f, y, b)
	p.openSum("MatMul", ef)
	t := p.fusedTrunc(true)
	ep := ring.Epilogue{Trunc: t.on, Shift: t.sh, Neg: t.neg}
	// The products land on c itself (taken over from the provider) where
	// this party has a share of it. On rank 0 the dealer's a·b may still
	// be computing; waiting for it costs no throughput, as the dealer's
	// and the other parties' products keep the cores busy meanwhile.
	var z []uint64
	c := p.wait("MatMul", s)[2]
	if c != nil {
		z = c[:batch*m*n]
		s.Parts[2] = nil
		ep.Add = true
	} else {
		z = make([]uint64, batch*m*n)
	}
	for i := 0; i < batch; i++ {
		ring.MatMulTo(z[i*m*n:(i+1)*m*n], m, n, ep,
			ring.Product{A: e[i*m*k : (i+1)*m*k], B: y[i*k*n : (i+1)*k*n], K: k},
			ring.Product{A: a[i*m*k : (i+1)*m*k], B: f[i*k*n : (i+1)*k*n], K: k})
	}
	s.Release()
	if !t.on {
		p.truncate(z, 1<<p.cfg.Precision)
	}
	return z
}

// Dot returns the inner product of two 1-D tensors as a 0-D tensor.
func Dot(a, b any) *CrypTensor {
	p, oa, ob := operands("Dot", a, b)
	if len(oa.shape()) != 1 || len(ob.shape()) != 1 {
		p.failf("Dot", "shapes %v and %v are not both 1-D", oa.shape(), ob.shape())
	}
	return MatMul(operandValue(oa), operandValue(ob))
}

// Dot returns the inner product of x and y (both 1-D).
func (x *CrypTensor) Dot(y any) *CrypTensor { return Dot(x, y) }

// Outer returns the outer product of two 1-D tensors.
func Outer(a, b any) *CrypTensor {
	p, oa, ob := operands("Outer", a, b)
	if len(oa.shape()) != 1 || len(ob.shape()) != 1 {
		p.failf("Outer", "shapes %v and %v are not both 1-D", oa.shape(), ob.shape())
	}
	var ua, ub any
	if oa.enc != nil {
		ua = oa.enc.Reshape(-1, 1)
	} else {
		ua = oa.pub.Reshape(-1, 1)
	}
	if ob.enc != nil {
		ub = ob.enc.Reshape(1, -1)
	} else {
		ub = ob.pub.Reshape(1, -1)
	}
	return Mul(ua, ub)
}

// ---- convolution ----

// Conv2d convolves x (NCHW) with kernel w ((Cout, Cin/groups, KH, KW)),
// adding bias (nil or (Cout)); w and bias may be public.
func (x *CrypTensor) Conv2d(w, bias any, opt tensor.ConvOpts) *CrypTensor {
	return Conv2d(x, w, bias, opt)
}

// Conv2d convolves x with w as torch.nn.functional.conv2d; x or w (not
// necessarily both) may be public. Two encrypted operands cost one round:
// a convolution Beaver triple, opening the masked input and kernel.
func Conv2d(x, w, bias any, opt tensor.ConvOpts) *CrypTensor {
	p, ox, ow := operands("Conv2d", x, w)
	defer p.op("Conv2d")()
	xs, ws := ox.shape(), ow.shape()
	if len(xs) != 4 || len(ws) != 4 {
		p.failf("Conv2d", "input %v and kernel %v must both be 4-D (NCHW, OIHW)", xs, ws)
	}
	or1 := func(v int) int {
		if v == 0 {
			return 1
		}
		return v
	}
	spec := ring.ConvSpec{
		N: xs[0], C: xs[1], H: xs[2], W: xs[3], Cout: ws[0], KH: ws[2], KW: ws[3],
		StrideH: or1(opt.Stride[0]), StrideW: or1(opt.Stride[1]), PadH: opt.Padding[0], PadW: opt.Padding[1],
		DilationH: or1(opt.Dilation[0]), DilationW: or1(opt.Dilation[1]), Groups: or1(opt.Groups),
	}
	if err := spec.Check(); err != nil {
		p.fail("Conv2d", err)
	}
	if ws[1]*spec.Groups != spec.C {
		p.failf("Conv2d", "kernel %v expects %d input channels, input %v has %d", ws, ws[1]*spec.Groups, xs, spec.C)
	}
	xv := matOperand(p, ox, xs, xs)
	wv := matOperand(p, ow, ws, ws)
	var z []uint64
	if ox.enc != nil && ow.enc != nil {
		z = p.beaverConv(xv, wv, spec)
	} else {
		z = make([]uint64, spec.OutSize())
		ring.Conv2d(z, xv, wv, spec)
		pub := ox.pub
		if pub == nil {
			pub = ow.pub
		}
		if !integral(pub) {
			p.truncate(z, 1<<p.cfg.Precision)
		}
	}
	out := p.newCT([]int{spec.N, spec.Cout, spec.OutH(), spec.OutW()}, z)
	if bias != nil {
		ob, err := toOperand(bias)
		if err != nil {
			p.fail("Conv2d", err)
		}
		if bs := ob.shape(); len(bs) != 1 || bs[0] != spec.Cout {
			p.failf("Conv2d", "bias shape %v, want (%d)", bs, spec.Cout)
		}
		if ob.enc != nil {
			out = out.Add(ob.enc.Reshape(spec.Cout, 1, 1))
		} else {
			out = out.Add(ob.pub.Reshape(spec.Cout, 1, 1))
		}
	}
	return out
}

// beaverConv returns shares of conv(x, w), truncated:
// z_i = c_i + conv(e, w_i) + conv(a_i, f).
func (p *Party) beaverConv(x, w []uint64, spec ring.ConvSpec) []uint64 {
	s := p.get(provider.Request{Kind: provider.Conv, Conv: spec, OmitZero: true})
	a, b := s.Parts[0], s.Parts[1]
	nx, nw := len(x), len(w)
	ef := getScratch(nx + nw)
	defer putScratch(ef)
	e, f := ef[:nx], ef[nx:]
	ring.Sub(e, x, a)
	ring.Sub(f, w, b)
	p.openSum("Conv2d", ef)
	// conv(e, w_i) + conv(a_i, f) is one convolution of the inputs stacked
	// along channels (per group) with the kernels stacked likewise: one
	// pass over the output instead of two. It lands on c itself, which
	// this call takes over from the provider (so it is not released with
	// the rest), or, where c is zero, is written fresh; with two parties
	// the truncation happens in the same pass.
	xs, ws, spec2 := stackConv(e, a, w, f, spec)
	t := p.fusedTrunc(true)
	ep := ring.Epilogue{Trunc: t.on, Shift: t.sh, Neg: t.neg}
	var z []uint64
	if c := p.wait("Conv2d", s)[2]; c != nil {
		z = c[:spec.OutSize()]
		s.Parts[2] = nil
		ep.Add = true
	} else {
		z = make([]uint64, spec.OutSize())
	}
	ring.Conv2dTo(z, xs, ws, spec2, ep)
	putScratch(xs)
	putScratch(ws)
	s.Release()
	if !t.on {
		p.truncate(z, 1<<p.cfg.Precision)
	}
	return z
}

// stackConv returns inputs x1, x2 interleaved by group along channels
// (group g: x1's channels then x2's), kernels k1, k2 likewise along input
// channels, and the spec of their convolution, which equals
// conv(x1, k1) + conv(x2, k2).
func stackConv(x1, x2, k1, k2 []uint64, s ring.ConvSpec) ([]uint64, []uint64, ring.ConvSpec) {
	cg := s.C / s.Groups
	hw := s.H * s.W
	xs := getScratch(2 * len(x1))
	for n := 0; n < s.N; n++ {
		for g := 0; g < s.Groups; g++ {
			src := (n*s.C + g*cg) * hw
			dst := (n*2*s.C + 2*g*cg) * hw
			copy(xs[dst:dst+cg*hw], x1[src:src+cg*hw])
			copy(xs[dst+cg*hw:dst+2*cg*hw], x2[src:src+cg*hw])
		}
	}
	kk := cg * s.KH * s.KW
	ks := getScratch(2 * len(k1))
	for co := 0; co < s.Cout; co++ {
		copy(ks[co*2*kk:co*2*kk+kk], k1[co*kk:(co+1)*kk])
		copy(ks[co*2*kk+kk:(co+1)*2*kk], k2[co*kk:(co+1)*kk])
	}
	s2 := s
	s2.C = 2 * s.C
	return xs, ks, s2
}
