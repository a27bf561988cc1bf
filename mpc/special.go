package mpc

import (
	"math"

	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// Powers, norms, the trigonometric functions and the error function.
// docs/mpc.md lists each one's valid range, rounds, bytes and measured
// error.

// Pow returns x^e for an integer e (CrypTen's pow): e ≥ 0 by repeated
// squaring, the squares and the products collecting the bits of e
// sharing rounds (⌊log2 e⌋ + 1 rounds at most); e < 0 as
// Reciprocal().Pow(−e), so |x| must lie in Reciprocal's range. x^0 is 1.
func (x *CrypTensor) Pow(e int) *CrypTensor {
	p := x.p
	defer p.op("Pow")()
	if e < 0 {
		return x.Reciprocal().Pow(-e)
	}
	return p.newCT(x.shape, p.powInt(x.share, e))
}

func (p *Party) powInt(x []uint64, e int) []uint64 {
	if e == 0 {
		return p.publicConst(len(x), 1)
	}
	var acc []uint64
	base := x
	for {
		var xs, ys [][]uint64
		mul := false
		if e&1 == 1 {
			if acc == nil {
				acc = base
			} else {
				xs, ys, mul = append(xs, acc), append(ys, base), true
			}
		}
		e >>= 1
		if e > 0 {
			xs, ys = append(xs, base), append(ys, nil)
		}
		if len(xs) == 0 {
			return acc
		}
		res := p.mulRound(xs, ys)
		if mul {
			acc, res = res[0], res[1:]
		}
		if e == 0 {
			return acc
		}
		base = res[0]
	}
}

// PosPow returns x^e for positive x and a real e (CrypTen's pos_pow):
// Pow for an integer e, otherwise exp(e·ln x), so x must lie in Log's
// range and e·ln x in Exp's.
func (x *CrypTensor) PosPow(e float64) *CrypTensor {
	if e == math.Trunc(e) && math.Abs(e) < 1<<20 {
		return x.Pow(int(e))
	}
	p := x.p
	defer p.op("PosPow")()
	l := x.Log()
	return l.Mul(e).Exp()
}

// Norm returns the p-norm of x along dim d (torch.norm; p = math.Inf(1)
// for the largest magnitude). p = 2 sums the squares at twice the
// precision (SquareWide) and takes the normalized square root, valid for
// sums up to 2^30 (and as small as one unit squared); p = 1 and ∞ use Abs
// (and Max); other p ≥ 1 use PosPow.
func (x *CrypTensor) Norm(pn float64, d int, keepdim bool) *CrypTensor {
	p := x.p
	defer p.op("Norm")()
	nd := x.normDim("Norm", d)
	switch {
	case !(pn >= 1):
		p.failf("Norm", "p-norm needs p ≥ 1, not %v", pn)
	case pn == 1:
		return x.Abs().Sum(nd, keepdim)
	case pn == 2:
		return x.SquareWide().Sum(nd, keepdim).Sqrt()
	case math.IsInf(pn, 1):
		return x.Abs().Max(nd, keepdim)
	}
	return x.Abs().PosPow(pn).Sum(nd, keepdim).PosPow(1 / pn)
}

// NormAll returns the p-norm of all of x's elements as a 0-D tensor.
func (x *CrypTensor) NormAll(pn float64) *CrypTensor {
	return x.Reshape(-1).Norm(pn, 0, false)
}

// trigTaylor holds the Taylor coefficients of e^(iy) to degree 8:
// cos (even powers) and sin (odd powers).
var trigTaylor = func() (c [9]float64) {
	f := 1.0
	for k := range c {
		if k > 0 {
			f *= float64(k)
		}
		c[k] = 1 / f
	}
	return c
}()

// CosSin returns cos x and sin x for any x, at once. x is first reduced by
// a multiple of 2π: the truncation of x/2π to an integer (local with two
// parties) rounds up or down, either of which leaves z = x − 2π·⌊·⌉ in
// (−2π, 2π); then e^(iz) = (e^(iz/8))^8 with e^(iy), |y| < π/4, from its
// Taylor polynomial of degree 8 and three complex squarings (each
// (a + ib)² = a² − b² + 2ab·i, one round). CrypTen computes
// (1 + ix/2^10)^(2^10), accurate to 1% only for |x| below about 4.5.
func (x *CrypTensor) CosSin() (cos, sin *CrypTensor) {
	p := x.p
	defer p.op("CosSin")()
	c, s := p.cosSin(x.share)
	return p.newCT(x.shape, c), p.newCT(x.shape, s)
}

// Cos returns cos x for any x (see CosSin).
func (x *CrypTensor) Cos() *CrypTensor { c, _ := x.CosSin(); return c }

// Sin returns sin x for any x (see CosSin).
func (x *CrypTensor) Sin() *CrypTensor { _, s := x.CosSin(); return s }

// twoPiBits is the extra precision of 2π in the range reduction, so that
// 2π·k stays exact to a unit for |k| up to 2^8 (|x| up to about 1600) and
// within 2^−(f+8)·|k| beyond.
const twoPiBits = 8

func (p *Party) cosSin(x []uint64) (cos, sin []uint64) {
	n := len(x)
	f := p.cfg.Precision
	// k ≈ x/2π as an integer: the fixed-point quotient truncated by 2^f.
	q := p.newCT([]int{n}, x).Mul(1 / (2 * math.Pi)).share
	p.truncate(q, 1<<f)
	// z = x − 2π·k, with 2π carried to f + twoPiBits bits.
	z := make([]uint64, n)
	ring.Scale(z, q, uint64(math.Round(2*math.Pi*math.Ldexp(1, int(f+twoPiBits)))))
	p.truncate(z, 1<<twoPiBits)
	ring.Sub(z, x, z)
	// e^(iy) with y = z/8, by its Taylor polynomial.
	y := append([]uint64(nil), z...)
	p.truncate(y, 8)
	pow := p.powers(y, 8)
	re := []term{}
	im := []term{}
	for k := 1; k <= 8; k++ {
		sign := 1.0
		if (k/2)%2 == 1 {
			sign = -1
		}
		if k%2 == 0 {
			re = append(re, term{sign * trigTaylor[k], pow[k]})
		} else {
			im = append(im, term{sign * trigTaylor[k], pow[k]})
		}
	}
	a, b := p.lin(1, re...), p.lin(0, im...)
	for i := 0; i < 3; i++ {
		r := p.mulRound([][]uint64{a, b, a}, [][]uint64{nil, nil, b})
		a = make([]uint64, n)
		ring.Sub(a, r[0], r[1])
		b = r[2]
		ring.Scale(b, b, 2)
	}
	return a, b
}

// powers returns t^1..t^deg (index k holds t^k; index 0 is nil) in
// ⌈log2 deg⌉ rounds, each doubling the highest power known.
func (p *Party) powers(t []uint64, deg int) [][]uint64 {
	pow := make([][]uint64, deg+1)
	pow[1] = t
	have := 1
	for have < deg {
		var xs, ys [][]uint64
		var ks []int
		for k := have + 1; k <= min(2*have, deg); k++ {
			a, b := have, k-have
			ks = append(ks, k)
			xs = append(xs, pow[a])
			if a == b {
				ys = append(ys, nil)
			} else {
				ys = append(ys, pow[b])
			}
		}
		res := p.mulRound(xs, ys)
		for i, k := range ks {
			pow[k] = res[i]
		}
		have = min(2*have, deg)
	}
	return pow
}

// erfApprox holds erf's pieces: erf on [−1, 1] (degree 9 in x), the
// scaled complement erfcx(a) = e^(a²)·erfc(a) on [1, 4] (degree 8 in
// t = (2a − 5)/3) and e^(−v) on [0, 4] (degree 9 in t = v/2 − 1), all
// Chebyshev interpolants.
var erfApprox = struct{ inner, erfcx, expNeg []float64 }{
	inner:  chebMonomial(math.Erf, 9),
	erfcx:  chebMonomial(func(t float64) float64 { a := 2.5 + 1.5*t; return math.Erfc(a) * math.Exp(a*a) }, 8),
	expNeg: chebMonomial(func(t float64) float64 { return math.Exp(-(2 + 2*t)) }, 9),
}

// Erf returns the error function of x for any x. One batched sign-bit
// computation places x in one of five regions: |x| < 1, where erf is a
// polynomial; 1 ≤ |x| < 4, where erf(x) = ±(1 − erfcx(|x|)·e^(−x²)), with
// erfcx a polynomial and e^(−x²) = q(x²/4)^4 for a polynomial q; and
// |x| ≥ 4, where erf is ±1 (to 1.6e-8). All branches are computed and one
// round selects among them. CrypTen's erf is a Taylor series that holds
// only for |x| below about 2.
func (x *CrypTensor) Erf() *CrypTensor {
	p := x.p
	defer p.op("Erf")()
	return p.newCT(x.shape, p.erf(x.share))
}

func (p *Party) erf(x []uint64) []uint64 {
	n := len(x)
	// Comparisons: x < 0, x < ±1, x < ±4, as x − c < 0.
	cs := []float64{0, -1, 1, -4, 4}
	d := make([]uint64, len(cs)*n)
	for j, c := range cs {
		copy(d[j*n:(j+1)*n], x)
		p.addConst(d[j*n:(j+1)*n], -c)
	}
	lt := p.msb(d)
	bit := func(j, i int) uint64 { return getBit(lt, j*n+i) }
	sign := make([]uint64, nwords(n))
	sel := make([]uint64, nwords(5*n)) // inner, +tail, −tail, +1, −1
	for i := 0; i < n; i++ {
		setBit(sign, i, bit(0, i))
		setBit(sel, i, bit(2, i)^bit(1, i))     // −1 ≤ x < 1
		setBit(sel, n+i, bit(4, i)^bit(2, i))   // 1 ≤ x < 4
		setBit(sel, 2*n+i, bit(1, i)^bit(3, i)) // −4 ≤ x < −1
		out := bit(4, i)                        // x ≥ 4
		if p.rank == 0 {
			out ^= 1
		}
		setBit(sel, 3*n+i, out)
		setBit(sel, 4*n+i, bit(3, i)) // x < −4
	}
	// |x| = x − 2·x·[x < 0].
	a := p.mulBits(x, sign)
	for i := range a {
		a[i] = x[i] - 2*a[i]
	}
	inner := p.poly(x, erfApprox.inner)
	// erfcx(|x|)·e^(−x²).
	cx := p.poly(p.lin(-5.0/3, term{2.0 / 3, a}), erfApprox.erfcx)
	tail := p.mul1(cx, p.gaussInner(a))
	one := p.publicConst(n, 1)
	rest := make([]uint64, n)
	ring.Sub(rest, one, tail)
	v := make([]uint64, 5*n)
	copy(v, inner)
	copy(v[n:], rest)
	copy(v[2*n:], rest)
	copy(v[3*n:], one)
	copy(v[4*n:], one)
	s := p.mulBits(v, sel)
	res := make([]uint64, n)
	for i := range res {
		res[i] = s[i] + s[n+i] - s[2*n+i] + s[3*n+i] - s[4*n+i]
	}
	return res
}

// gaussInner returns e^(−x²) for |x| < 4 as q(x²/4)^4, q the degree-9
// interpolant of e^(−v) on [0, 4] (three rounds for x², the powers and
// the two squarings: 7 in all). Elsewhere the result is meaningless.
func (p *Party) gaussInner(x []uint64) []uint64 {
	u := p.sq1(x)
	e := p.poly(p.lin(-1, term{1.0 / 8, u}), erfApprox.expNeg)
	return p.sq1(p.sq1(e))
}

// Gaussian returns e^(−x²) for any x (the derivative of erf is
// 2/√π·e^(−x²)): q(x²/4)^4 (see Erf) where |x| < 4 and 0 beyond (where
// the function is below 1.2e-7), selected after one batched sign-bit
// computation. Exp of −x² would leave exp's range beyond |x| = 15.
func (x *CrypTensor) Gaussian() *CrypTensor {
	p := x.p
	defer p.op("Gaussian")()
	n := len(x.share)
	d := make([]uint64, 2*n)
	copy(d, x.share)
	p.addConst(d[:n], -4)
	copy(d[n:], x.share)
	p.addConst(d[n:], 4)
	lt := p.msb(d) // x < 4, x < −4
	in := make([]uint64, nwords(n))
	for i := 0; i < n; i++ {
		setBit(in, i, getBit(lt, i)^getBit(lt, n+i))
	}
	return p.newCT(x.shape, p.mulBits(p.gaussInner(x.share), in))
}

// Clamp returns x limited to [lo, hi] (torch.clamp, CrypTen's hardtanh):
// lo + relu(x − lo) − relu(x − hi), both sign bits in one batch and both
// products in one round (8 rounds, as one ReLU).
func (x *CrypTensor) Clamp(lo, hi float64) *CrypTensor {
	y, _ := x.clamp(lo, hi, false)
	return y
}

// ClampWithMask is Clamp that also returns the 0/1 mask of lo ≤ x < hi,
// its gradient, from the same round.
func (x *CrypTensor) ClampWithMask(lo, hi float64) (y, mask *CrypTensor) {
	return x.clamp(lo, hi, true)
}

func (x *CrypTensor) clamp(lo, hi float64, wantMask bool) (*CrypTensor, *CrypTensor) {
	p := x.p
	defer p.op("Clamp")()
	if !(lo <= hi) {
		p.failf("Clamp", "bounds [%v, %v]", lo, hi)
	}
	n := len(x.share)
	parts := 2
	if wantMask {
		parts = 3
	}
	v := make([]uint64, parts*n)
	copy(v, x.share)
	p.addConst(v[:n], -lo)
	copy(v[n:], x.share)
	p.addConst(v[n:2*n], -hi)
	lt := p.msb(v[:2*n]) // x < lo, x < hi
	bits := make([]uint64, nwords(parts*n))
	for i := 0; i < n; i++ {
		geLo, geHi := getBit(lt, i), getBit(lt, n+i)
		if p.rank == 0 {
			geLo, geHi = geLo^1, geHi^1
		}
		setBit(bits, i, geLo)
		setBit(bits, n+i, geHi)
		if wantMask {
			setBit(bits, 2*n+i, geLo^geHi) // lo ≤ x < hi
		}
	}
	if wantMask {
		copy(v[2*n:], p.publicConst(n, 1))
	}
	r := p.mulBits(v, bits)
	y := make([]uint64, n)
	for i := range y {
		y[i] = r[i] - r[n+i]
	}
	p.addConst(y, lo)
	var mask *CrypTensor
	if wantMask {
		mask = p.newCT(x.shape, r[2*n:])
	}
	return p.newCT(x.shape, y), mask
}

// Var returns the variance along dim d (torch.var): the mean of the
// squared deviations, divided by n − 1 when unbiased. One square.
func (x *CrypTensor) Var(d int, keepdim, unbiased bool) *CrypTensor {
	p := x.p
	defer p.op("Var")()
	nd := x.normDim("Var", d)
	n := x.shape[nd]
	if n < 1 || (unbiased && n < 2) {
		p.failf("Var", "dim %d of shape %v is too short", d, x.shape)
	}
	dev := x.Sub(x.Mean(nd, true))
	div := n
	if unbiased {
		div = n - 1
	}
	return dev.Square().Sum(nd, keepdim).Div(div)
}

// Prod returns the product along dim d (torch.prod): a tree of
// elementwise products, ⌈log2 n⌉ rounds.
func (x *CrypTensor) Prod(d int, keepdim bool) *CrypTensor {
	p := x.p
	defer p.op("Prod")()
	nd := x.normDim("Prod", d)
	cur := x
	for cur.shape[nd] > 1 {
		m := cur.shape[nd]
		h := m / 2
		prod := cur.Slice(nd, 0, h, 1).Mul(cur.Slice(nd, h, 2*h, 1))
		if m%2 == 1 {
			prod = Concat(nd, prod, cur.Slice(nd, m-1, m, 1))
		}
		cur = prod
	}
	if !keepdim {
		cur = cur.Squeeze(nd)
	}
	return cur
}
