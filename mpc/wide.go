package mpc

import (
	"math"

	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/tensor"
)

// WideTensor is an encrypted tensor encoded with twice the party's
// fixed-point precision (2f fractional bits, 2^−32 at f = 16): a product
// left untruncated. Squares of small values keep their digits there (a
// gradient of 10^−3 squares to 10^−6, less than one unit at 16 bits, but
// 4295 units at 32), which is what Adam's second moment and the variance
// of normalization layers need. A WideTensor holds values below 2^(62−2f)
// in magnitude (2^30).
//
// It supports the few operations those uses need: sums and differences,
// multiplication by public numbers, and the square root, inverse square
// root and reciprocal over its whole positive range (by normalization,
// see InvSqrt), each returning an ordinary CrypTensor.
type WideTensor struct {
	p     *Party
	shape []int
	share []uint64
}

// SquareWide returns x∘x without the final truncation, as a WideTensor
// (one round, as Square). No fixed-point error is added.
func (x *CrypTensor) SquareWide() *WideTensor {
	p := x.p
	defer p.op("Square")()
	return &WideTensor{p: p, shape: cloneShape(x.shape), share: p.square(x.share, false)}
}

// MulWide returns x∘y (same shape) without the final truncation, as a
// WideTensor (one round).
func (x *CrypTensor) MulWide(y *CrypTensor) *WideTensor {
	p := x.p
	defer p.op("Mul")()
	if !tensor.SameShape(x.shape, y.shape) {
		p.failf("MulWide", "shapes %v and %v differ", x.shape, y.shape)
	}
	return &WideTensor{p: p, shape: cloneShape(x.shape), share: p.beaverMul(x.share, y.share, false)}
}

// Wide returns x re-encoded with 2f fractional bits (local and exact; x
// must lie below 2^(62−2f) in magnitude).
func (x *CrypTensor) Wide() *WideTensor {
	out := make([]uint64, len(x.share))
	ring.Scale(out, x.share, 1<<x.p.cfg.Precision)
	return &WideTensor{p: x.p, shape: cloneShape(x.shape), share: out}
}

// Narrow returns x at the ordinary precision (a truncation: local with two
// parties, one round with more).
func (x *WideTensor) Narrow() *CrypTensor {
	out := append([]uint64(nil), x.share...)
	x.p.truncate(out, 1<<x.p.cfg.Precision)
	return x.p.newCT(x.shape, out)
}

// Shape returns a copy of x's dimensions.
func (x *WideTensor) Shape() []int { return cloneShape(x.shape) }

// Party returns the party x belongs to.
func (x *WideTensor) Party() *Party { return x.p }

// WideShareOf returns this party's share vector of x (not a copy), for
// trusted code; a function, not a method, so that the jail can deny it.
func WideShareOf(x *WideTensor) []uint64 { return x.share }

// Add returns x + y (same shape).
func (x *WideTensor) Add(y *WideTensor) *WideTensor { return x.addSub("Add", y, false) }

// Sub returns x − y (same shape).
func (x *WideTensor) Sub(y *WideTensor) *WideTensor { return x.addSub("Sub", y, true) }

func (x *WideTensor) addSub(op string, y *WideTensor, sub bool) *WideTensor {
	if x.p != y.p {
		x.p.failf(op, "operands belong to different parties")
	}
	if !tensor.SameShape(x.shape, y.shape) {
		x.p.failf(op, "wide shapes %v and %v differ", x.shape, y.shape)
	}
	out := make([]uint64, len(x.share))
	if sub {
		ring.Sub(out, x.share, y.share)
	} else {
		ring.Add(out, x.share, y.share)
	}
	return &WideTensor{p: x.p, shape: cloneShape(x.shape), share: out}
}

// MulScalar returns c·x for a public c. Integers multiply exactly and
// reciprocals of integers divide (one truncation by the integer), so the
// shares stay as small as the value; other constants are encoded at the
// ordinary precision and the product truncated, which enlarges what is
// truncated by 2^f and with it the (small) chance that a truncation fails
// (see docs/mpc.md): prefer 1 − 1/n to 0.999.
func (x *WideTensor) MulScalar(c float64) *WideTensor {
	p := x.p
	if math.IsNaN(c) || math.IsInf(c, 0) {
		p.failf("MulScalar", "scalar %v", c)
	}
	out := make([]uint64, len(x.share))
	switch n := math.Round(1 / c); {
	case c == math.Trunc(c) && math.Abs(c) < 1<<31:
		ring.Scale(out, x.share, uint64(int64(c)))
	case n != 0 && math.Abs(n) < 1<<40 && math.Abs(c*n-1) < 1e-12:
		copy(out, x.share)
		if n < 0 {
			ring.Neg(out, out)
			n = -n
		}
		p.truncate(out, uint64(n))
	default:
		e, err := encodeValue(c, p.cfg.Precision)
		if err != nil {
			p.fail("MulScalar", err)
		}
		ring.Scale(out, x.share, e)
		p.truncate(out, 1<<p.cfg.Precision)
	}
	return &WideTensor{p: p, shape: cloneShape(x.shape), share: out}
}

// Sum sums over dim d (keepdim keeps it with size 1). Local.
func (x *WideTensor) Sum(d int, keepdim bool) *WideTensor {
	nd, err := tensor.NormDim(d, len(x.shape))
	if err != nil {
		x.p.failf("Sum", "wide shape %v: %v", x.shape, err)
	}
	data, ns := reduceDim(x.share, x.shape, nd)
	if keepdim {
		ns = cloneShape(x.shape)
		ns[nd] = 1
	}
	return &WideTensor{p: x.p, shape: ns, share: data}
}

// GetPlainText reveals x to every party (one round). On a restricted
// party it needs the reveal policy to allow every party, as
// CrypTensor.GetPlainText.
func (x *WideTensor) GetPlainText() (*tensor.Tensor, error) {
	defer x.p.op("GetPlainText")()
	v := append([]uint64(nil), x.share...)
	if err := x.p.reveal("GetPlainText", -1, v, false); err != nil {
		return nil, err
	}
	out := make([]float64, len(v))
	decodeSlice(out, v, 2*x.p.cfg.Precision)
	return tensor.MustNew(out, cloneShape(x.shape)...), nil
}

// InvSqrt returns 1/√x for positive x anywhere in the wide range,
// [2^−2f, 2^(62−2f)) ([2.3e-10, 1.1e9] at f = 16), at the ordinary
// precision; its relative error is about 2^−f where the result is well
// above one unit. x is normalized first: comparisons with every power of
// 4 (one batched sign-bit computation) pick the bucket k with
// 4^k ≤ x·2^2f < 4^(k+1), and one round selects y = x·2^2f/4^k in [1, 4)
// from the candidates every bucket would give (local shifts). Then
// 1/√y is a quadratic estimate refined by two Newton steps, and a last
// round selects it scaled by the bucket's power of two. Zero (and
// negative noise) lands in the lowest bucket and gives a large finite
// value, 2^f. Like every truncation, the shifts fail with probability
// about x·2^(2f−63) (2^−17 at x = 2^14): keep wide values small.
func (x *WideTensor) InvSqrt() *CrypTensor {
	p := x.p
	defer p.op("InvSqrt")()
	return p.newCT(x.shape, p.normPow(x.share, 2*p.cfg.Precision, powInvSqrt, nil, 0, p.cfg.Precision))
}

// Sqrt returns √x for non-negative x in the wide range (see InvSqrt), at
// the ordinary precision: y·(1/√y) on the normalized y, scaled back.
func (x *WideTensor) Sqrt() *CrypTensor {
	p := x.p
	defer p.op("Sqrt")()
	return p.newCT(x.shape, p.normPow(x.share, 2*p.cfg.Precision, powSqrt, nil, 0, p.cfg.Precision))
}

// Reciprocal returns 1/x for positive x in the wide range (see InvSqrt),
// at the ordinary precision: x is normalized to [1, 4) as for InvSqrt,
// and 1/y is a cubic estimate refined by two Newton steps. Results below
// one unit (x above 2^f) come out as 0 or one unit.
func (x *WideTensor) Reciprocal() *CrypTensor {
	p := x.p
	defer p.op("Reciprocal")()
	return p.newCT(x.shape, p.normPow(x.share, 2*p.cfg.Precision, powReciprocal, nil, 0, p.cfg.Precision))
}

// DivSqrt returns x/(√v + eps) for non-negative v and eps, x and v wide
// and of one shape, at the ordinary precision: Adam's update. The quotient
// is formed without leaving the fixed-point range or losing the digits of
// a small x: x is scaled by v's bucket (selected in the same round as v's
// normalized y) and multiplied by 1/√y. With eps > 0, √v is computed
// first (at the wide precision, a second normalization), eps added, and
// x divided by the sum the same way. Its error is one unit plus 2^−f
// relative.
func (x *WideTensor) DivSqrt(v *WideTensor, eps float64) *CrypTensor {
	p := x.p
	defer p.op("DivSqrt")()
	if v.p != p {
		p.failf("DivSqrt", "operands belong to different parties")
	}
	if !tensor.SameShape(x.shape, v.shape) {
		p.failf("DivSqrt", "wide shapes %v and %v differ", x.shape, v.shape)
	}
	if !(eps >= 0) {
		p.failf("DivSqrt", "eps %v", eps)
	}
	f := 2 * p.cfg.Precision
	if eps == 0 {
		return p.newCT(x.shape, p.normPow(v.share, f, powInvSqrt, x.share, f, 0))
	}
	s := p.normPow(v.share, f, powSqrt, nil, 0, f)
	p.addConstFrac(s, eps, f)
	return p.newCT(x.shape, p.normPow(s, f, powReciprocal, x.share, f, 0))
}

// Div returns x/d for positive d (an ordinary CrypTensor of x's shape)
// over d's whole positive range, at the ordinary precision (as DivSqrt).
func (x *WideTensor) Div(d *CrypTensor) *CrypTensor {
	p := x.p
	defer p.op("Div")()
	if d.p != p {
		p.failf("Div", "operands belong to different parties")
	}
	if !tensor.SameShape(x.shape, d.shape) {
		p.failf("Div", "shapes %v and %v differ", x.shape, d.shape)
	}
	return p.newCT(x.shape, p.normPow(d.share, p.cfg.Precision, powReciprocal, x.share, 2*p.cfg.Precision, 0))
}

// InvSqrtFull returns 1/√x for positive x anywhere in the fixed-point
// range, [2^−f, 2^(62−f)): WideTensor.InvSqrt's normalization applied to
// an ordinary tensor (14 rounds and about 2 KB per element with two
// parties, against InvSqrt's fitted [0.1, 100]).
func (x *CrypTensor) InvSqrtFull() *CrypTensor {
	p := x.p
	defer p.op("InvSqrt")()
	return p.newCT(x.shape, p.normPow(x.share, p.cfg.Precision, powInvSqrt, nil, 0, p.cfg.Precision))
}

// SqrtFull returns √x for non-negative x anywhere in the fixed-point range
// (see InvSqrtFull).
func (x *CrypTensor) SqrtFull() *CrypTensor {
	p := x.p
	defer p.op("Sqrt")()
	return p.newCT(x.shape, p.normPow(x.share, p.cfg.Precision, powSqrt, nil, 0, p.cfg.Precision))
}

// ReciprocalFull returns 1/x for x of either sign with |x| anywhere in the
// fixed-point range (results below one unit are 0): the sign and |x| (one
// comparison and one round), the normalized reciprocal of |x| (see
// InvSqrtFull), and the sign multiplied back in one round.
func (x *CrypTensor) ReciprocalFull() *CrypTensor {
	p := x.p
	defer p.op("Reciprocal")()
	a, b := p.absSign(x.share)
	r := p.normPow(a, p.cfg.Precision, powReciprocal, nil, 0, p.cfg.Precision)
	rb := p.mulBits(r, b)
	for i := range r {
		r[i] -= 2 * rb[i]
	}
	return p.newCT(x.shape, r)
}

// addConstFrac adds the public c, encoded with frac fractional bits, to
// every shared value (rank 0 only).
func (p *Party) addConstFrac(v []uint64, c float64, frac uint) {
	if p.rank != 0 || c == 0 {
		return
	}
	e, err := encodeValue(c, frac)
	if err != nil {
		p.fail("const", err)
	}
	for i := range v {
		v[i] += e
	}
}

// normFunc is a power function evaluated by normalization.
type normFunc int

const (
	powInvSqrt normFunc = iota
	powSqrt
	powReciprocal
)

// normPow evaluates f(x) = x^(−1/2), x^(1/2) or x^(−1) for shares x of
// positive values with frac fractional bits, over the whole positive range
// of the ring (raw values X = x·2^frac in [1, 2^62)), returning shares
// with ofrac fractional bits; with a numerator num (nfrac fractional bits,
// for x^(−1/2) and x^(−1) only) it returns num·f(x) at the ordinary
// precision f.
//
// With base 2^b (b = 2), bucket k holds 2^(bk) ≤ X < 2^(b(k+1)) (bucket 0 also everything below 2^b).
// One batched sign-bit computation compares X with every 2^(bk); the
// one-hot bucket bits are XORs of neighbouring results (local). The
// normalized y = X/2^(bk) in [1, 2^b) is selected, in one round, from the
// values each bucket would give (X shifted locally); g(y) = y^e is
// evaluated by a polynomial and Newton steps; and f(x) = g(y)·2^(e(bk −
// frac)) is g(y) scaled by the bucket's power of two, selected in a last
// round. A numerator is scaled by that power of two instead, selected
// with y, and multiplied by g(y) (one product round): its small values
// keep their digits.
func (p *Party) normPow(x []uint64, frac uint, fn normFunc, num []uint64, nfrac, ofrac uint) []uint64 {
	n := len(x)
	f := int(p.cfg.Precision)
	const b = 2
	xs := x
	if frac%2 == 1 { // keep the exponents integral: one more fractional bit
		xs = make([]uint64, n)
		ring.Scale(xs, x, 2)
		frac++
	}
	K := 62 / b // buckets 0..K−1; thresholds 2^(bk) for k = 1..K−1
	h := p.buckets(xs, b, K)
	// exponent returns the power of two that bucket k applies: to g(y)
	// without a numerator, to the numerator with one.
	exponent := func(k int) int {
		e2 := 0 // twice the exponent
		switch fn {
		case powInvSqrt:
			e2 = int(frac) - b*k
		case powSqrt:
			e2 = b*k - int(frac)
		case powReciprocal:
			e2 = 2 * (int(frac) - b*k)
		}
		if num != nil {
			e2 += 2 * (f - int(nfrac))
		} else {
			e2 += 2 * (int(ofrac) - f)
		}
		return e2 / 2
	}
	// Candidates, k-major: y_k = X·2^(f−bk), then (with a numerator)
	// num·2^exponent(k).
	groups := 1
	if num != nil {
		groups = 2
	}
	cand := make([]uint64, groups*K*n)
	p.shiftEach(cand[:K*n], xs, K, func(k int) int { return f - b*k })
	if num != nil {
		p.shiftEach(cand[K*n:], num, K, exponent)
	}
	hh := h
	if num != nil {
		hh = make([]uint64, nwords(2*K*n))
		for i := 0; i < K*n; i++ {
			bit := getBit(h, i)
			setBit(hh, i, bit)
			setBit(hh, K*n+i, bit)
		}
	}
	sel := p.mulBits(cand, hh)
	y := p.sumBuckets(sel[:K*n], n, K)
	// g(y) on [1, 4).
	var g []uint64
	switch fn {
	case powInvSqrt, powSqrt:
		g = p.invSqrtUnit(y)
		if fn == powSqrt {
			g = p.mul1(y, g)
		}
	case powReciprocal:
		g = p.recipUnit(y)
	}
	if num != nil {
		return p.mul1(p.sumBuckets(sel[K*n:], n, K), g)
	}
	out := make([]uint64, K*n)
	p.shiftEach(out, g, K, exponent)
	return p.sumBuckets(p.mulBits(out, h), n, K)
}

// buckets returns the binary-shared one-hot bits, k-major (bit k·n+i), of
// the bucket k with 2^(bk) ≤ X_i < 2^(b(k+1)) of each raw value (bucket 0
// for everything below 2^b, K−1 for everything from 2^(b(K−1))): one
// batched sign-bit computation of X − 2^(bk) for k = 1..K−1, whose results
// lt_k = [X < 2^(bk)] give h_0 = lt_1, h_k = lt_k ⊕ lt_(k+1) and
// h_(K−1) = ¬lt_(K−1) locally.
func (p *Party) buckets(x []uint64, b, K int) []uint64 {
	n := len(x)
	d := make([]uint64, (K-1)*n)
	for k := 1; k < K; k++ {
		dk := d[(k-1)*n : k*n]
		copy(dk, x)
		if p.rank == 0 {
			t := uint64(1) << (b * k)
			for i := range dk {
				dk[i] -= t
			}
		}
	}
	lt := p.msb(d)
	h := make([]uint64, nwords(K*n))
	for i := 0; i < n; i++ {
		setBit(h, i, getBit(lt, i))
		for k := 1; k < K-1; k++ {
			setBit(h, k*n+i, getBit(lt, (k-1)*n+i)^getBit(lt, k*n+i))
		}
		top := getBit(lt, (K-2)*n+i)
		if p.rank == 0 {
			top ^= 1
		}
		setBit(h, (K-1)*n+i, top)
	}
	return h
}

// shiftEach sets dst block k (of K blocks of len(v)) to v·2^e(k): a local
// multiplication for e ≥ 0, and for e < 0 a truncation, all of them in one
// (one round with three or more parties). Shifts of 62 bits or more give
// zero (such a bucket's result is beyond the fixed-point range).
func (p *Party) shiftEach(dst, v []uint64, K int, e func(k int) int) {
	n := len(v)
	var down []uint64
	var downK []int
	for k := 0; k < K; k++ {
		d := dst[k*n : (k+1)*n]
		switch s := e(k); {
		case s >= 62 || s <= -62:
			clear(d)
		case s >= 0:
			ring.Scale(d, v, 1<<s)
		default:
			downK = append(downK, k)
			down = append(down, v...)
		}
	}
	p.truncateEach(down, n, func(j int) uint64 { return 1 << -e(downK[j]) })
	for j, k := range downK {
		copy(dst[k*n:(k+1)*n], down[j*n:(j+1)*n])
	}
}

// truncateEach divides consecutive blocks of n values by their own public
// divisors (div(j) for block j), in one truncation (one round for three or
// more parties, none for two).
func (p *Party) truncateEach(v []uint64, n int, div func(j int) uint64) {
	if len(v) == 0 {
		return
	}
	if p.size == 2 || p.size == 1 {
		for j := 0; j < len(v)/n; j++ {
			p.truncate(v[j*n:(j+1)*n], div(j))
		}
		return
	}
	p.truncateMaskedEach(v, n, div)
}

// sumBuckets sums K blocks of n values (k-major) into one block.
func (p *Party) sumBuckets(v []uint64, n, K int) []uint64 {
	out := make([]uint64, n)
	for k := 0; k < K; k++ {
		ring.AddTo(out, v[k*n:(k+1)*n])
	}
	return out
}

// unitInit holds the estimates of 1/√y (quadratic) and 1/y (cubic) on
// [1, 4], as coefficients in t = (2y − 5)/3 ∈ [−1, 1] (Chebyshev
// interpolation).
var unitInit = struct{ invSqrt, recip []float64 }{
	invSqrt: chebMonomial(func(t float64) float64 { return 1 / math.Sqrt(2.5+1.5*t) }, 2),
	recip:   chebMonomial(func(t float64) float64 { return 1 / (2.5 + 1.5*t) }, 3),
}

// invSqrtUnit returns 1/√y for y in [1, 4): the quadratic estimate
// (relative error 3%) and two Newton steps (3e-6, a fraction of a unit).
func (p *Party) invSqrtUnit(y []uint64) []uint64 {
	t := p.lin(-5.0/3, term{2.0 / 3, y})
	r := p.poly(t, unitInit.invSqrt)
	for i := 0; i < 2; i++ {
		r = p.invSqrtStep(y, r)
	}
	return r
}

// recipUnit returns 1/y for y in [1, 4): the cubic estimate (relative
// error 2.5%) and two Newton steps (4e-7).
func (p *Party) recipUnit(y []uint64) []uint64 {
	t := p.lin(-5.0/3, term{2.0 / 3, y})
	r := p.poly(t, unitInit.recip)
	for i := 0; i < 2; i++ {
		r = p.newton(y, r)
	}
	return r
}
