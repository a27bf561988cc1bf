package mpc

import (
	"math"

	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/mpc/provider"
)

// Approximations of non-linear functions. Each is a fixed sequence of
// products, so its cost in rounds and bytes does not depend on the data;
// docs/mpc.md lists each one's input range and measured error. Products
// scheduled in the same round share one opening (mulRound).

// mulRound returns the truncated products xs[i]∘ys[i] (ys[i] nil: the
// square of xs[i]), all opened in one round.
func (p *Party) mulRound(xs, ys [][]uint64) [][]uint64 {
	var nm, ns int
	for i, x := range xs {
		if ys[i] == nil {
			ns += len(x)
		} else {
			nm += len(x)
		}
	}
	var sm, ss *shares
	// Masks are generated where they are used (Lazy), each stream
	// running on across the products of its request.
	var ga, gb, gr, ga2, gr2 *provider.PRG
	if nm > 0 {
		sm = p.get(provider.Request{Kind: provider.Mul, N: nm, OmitZero: true, Lazy: true})
		ga, gb, ga2 = sm.Stream(0), sm.Stream(1), sm.Stream(0)
	}
	if ns > 0 {
		ss = p.get(provider.Request{Kind: provider.Square, N: ns, OmitZero: true, Lazy: true})
		gr, gr2 = ss.Stream(0), ss.Stream(0)
	}
	// The opened values are laid out in segments of at most pipeChunk
	// values, product after product: a square's segment holds its e, a
	// product's its e then its f. The opening is a pipeline (openChunks):
	// segments are masked as their slots are about to be sent and finished
	// as soon as their slots have arrived.
	type segment struct {
		i, off, m int  // product i, elements [off, off+m)
		at        int  // first slot in the opened vector
		r         int  // index of the first element in its request
		sq        bool // a square (one opened value per element)
	}
	var segs []segment
	slots, om, os := 0, 0, 0
	for i, x := range xs {
		sq := ys[i] == nil
		bs := pipeChunk / 2
		if sq {
			bs = pipeChunk
		}
		for off := 0; off < len(x); off += bs {
			sg := segment{i: i, off: off, m: min(bs, len(x)-off), at: slots, sq: sq}
			if sq {
				sg.r = os + off
				slots += sg.m
			} else {
				sg.r = om + off
				slots += 2 * sg.m
			}
			segs = append(segs, sg)
		}
		if sq {
			os += len(x)
		} else {
			om += len(x)
		}
	}
	open := getScratch(slots)
	defer putScratch(open)
	all := make([]uint64, nm+ns)
	outs := make([][]uint64, len(xs))
	at := 0
	for i, x := range xs {
		outs[i] = all[at : at+len(x)]
		at += len(x)
	}
	// With two parties the truncation is fused into the loops.
	t := p.fusedTrunc(true)
	var c, r2 []uint64
	waited := false
	filled, used := 0, 0
	p.openChunks("mul", open, pipeChunk, func(lo, hi int) {
		for ; filled < len(segs) && segs[filled].at < hi; filled++ {
			sg := segs[filled]
			x := xs[sg.i][sg.off : sg.off+sg.m]
			if sg.sq {
				maskFrom(open[sg.at:sg.at+sg.m], x, gr)
				continue
			}
			maskFrom(open[sg.at:sg.at+sg.m], x, ga)
			maskFrom(open[sg.at+sg.m:sg.at+2*sg.m], ys[sg.i][sg.off:sg.off+sg.m], gb)
		}
	}, func(lo, hi int, o []uint64) {
		if !waited {
			if sm != nil {
				c = p.wait("mul", sm)[2]
			}
			if ss != nil {
				r2 = p.wait("square", ss)[1]
			}
			waited = true
		}
		for ; used < len(segs); used++ {
			sg := segs[used]
			end := sg.at + sg.m
			if !sg.sq {
				end += sg.m
			}
			if end > hi {
				break
			}
			z := outs[sg.i][sg.off : sg.off+sg.m]
			e0, e1 := open[sg.at:sg.at+sg.m], o[sg.at:sg.at+sg.m]
			if sg.sq {
				blocks(sg.m, gr2, func(off, k int, r []uint64) {
					squareZ(z[off:off+k], part(r2, sg.r+off, k), e0[off:off+k], e1[off:off+k], r, p.rank == 0, t)
				})
				continue
			}
			f0, f1 := open[sg.at+sg.m:sg.at+2*sg.m], o[sg.at+sg.m:sg.at+2*sg.m]
			y := ys[sg.i][sg.off : sg.off+sg.m]
			blocks(sg.m, ga2, func(off, k int, a []uint64) {
				beaverZ(z[off:off+k], part(c, sg.r+off, k), e0[off:off+k], e1[off:off+k], y[off:off+k], a, f0[off:off+k], f1[off:off+k], t)
			})
		}
	})
	if sm != nil {
		sm.Release()
	}
	if ss != nil {
		ss.Release()
	}
	if !t.on {
		p.truncate(all, 1<<p.cfg.Precision)
	}
	return outs
}

// mul1 is one truncated product in its own round.
func (p *Party) mul1(x, y []uint64) []uint64 { return p.mulRound([][]uint64{x}, [][]uint64{y})[0] }

// sq1 is one truncated square in its own round.
func (p *Party) sq1(x []uint64) []uint64 { return p.mulRound([][]uint64{x}, [][]uint64{nil})[0] }

// term is c·v in a linear combination.
type term struct {
	c float64
	v []uint64
}

// lin returns Σ c_i·v_i + c0 with public coefficients: each coefficient is
// encoded once and the sum truncated once (local with two parties).
func (p *Party) lin(c0 float64, terms ...term) []uint64 {
	n := len(terms[0].v)
	out := make([]uint64, n)
	scale := math.Ldexp(1, int(p.cfg.Precision))
	m0 := uint64(int64(math.Round(terms[0].c * scale)))
	t := p.fusedTrunc(true)
	if len(terms) <= 2 && t.on {
		// Two parties: the sum, its truncation and the constant in one pass.
		var k uint64
		if p.rank == 0 && c0 != 0 {
			e, err := encodeValue(c0, p.cfg.Precision)
			if err != nil {
				p.fail("const", err)
			}
			k = e
		}
		v0 := terms[0].v[:n]
		sh, neg := t.sh, t.neg
		if len(terms) == 1 {
			for i, v := range v0 {
				x := (m0*v ^ neg) - neg
				out[i] = (uint64(int64(x)>>sh) ^ neg) - neg + k
			}
			return out
		}
		m1 := uint64(int64(math.Round(terms[1].c * scale)))
		v1 := terms[1].v[:n]
		for i, v := range v0 {
			x := (m0*v + m1*v1[i] ^ neg) - neg
			out[i] = (uint64(int64(x)>>sh) ^ neg) - neg + k
		}
		return out
	}
	return p.linPasses(out, c0, terms)
}

// linPasses is lin one pass per step, for any number of terms and parties.
func (p *Party) linPasses(out []uint64, c0 float64, terms []term) []uint64 {
	n := len(out)
	scale := math.Ldexp(1, int(p.cfg.Precision))
	m0 := uint64(int64(math.Round(terms[0].c * scale)))
	for i, v := range terms[0].v[:n] {
		out[i] = m0 * v
	}
	for _, t := range terms[1:] {
		m := uint64(int64(math.Round(t.c * scale)))
		for i, v := range t.v[:n] {
			out[i] += m * v
		}
	}
	p.truncate(out, 1<<p.cfg.Precision)
	p.addConst(out, c0)
	return out
}

// addConst adds the public c to every shared value (rank 0 only).
func (p *Party) addConst(v []uint64, c float64) {
	if p.rank != 0 || c == 0 {
		return
	}
	e, err := encodeValue(c, p.cfg.Precision)
	if err != nil {
		p.fail("const", err)
	}
	for i := range v {
		v[i] += e
	}
}

// Exp returns e^x as (1 + y + y²/2)^(2^n) with y = x/2^n and n =
// Config.ExpSquarings (7): one round for y², then n squarings. Valid for
// x in [−240, 10] (beyond 10 the result leaves the fixed-point range;
// below −243 the base stops shrinking).
func (x *CrypTensor) Exp() *CrypTensor {
	defer x.p.op("Exp")()
	return x.p.newCT(x.shape, x.p.exp(x.share))
}

func (p *Party) exp(x []uint64) []uint64 {
	s := p.cfg.ExpSquarings
	y := append([]uint64(nil), x...)
	p.truncate(y, 1<<s)
	y2 := p.square(y, false) // y², not truncated yet
	p.truncate(y2, 1<<(p.cfg.Precision+1))
	b := make([]uint64, len(y))
	ring.Add(b, y, y2)
	p.addConst(b, 1)
	for i := 0; i < s; i++ {
		b = p.sq1(b)
	}
	return b
}

// logInit is the range reduction of log: y0 = a + b·x + c·exp(−d·x) is
// within 0.62 of ln x on [0.05, 200] (fitted for the minimax error, with
// the MPC exp inside), so w = x·exp(−y0) lies in [0.54, 1.85].
var logInit = struct{ a, b, c, d, wlo, whi float64 }{
	2.440430271756868, 0.017356286585878553, -4.959972716640859, 0.5573447159460918, 0.54, 1.85,
}

// Log returns ln x for x in [0.05, 200]: a fitted estimate y0 (one exp),
// then y0 + ln(x·e^(−y0)) with the last logarithm, of a number in
// [0.54, 1.85], a Chebyshev polynomial of degree Config.LogDegree.
func (x *CrypTensor) Log() *CrypTensor {
	defer x.p.op("Log")()
	return x.p.newCT(x.shape, x.p.log(x.share))
}

func (p *Party) log(x []uint64) []uint64 {
	y0, e2 := p.logReduce(x)
	w := p.mul1(x, e2)
	c, h := (logInit.wlo+logInit.whi)/2, (logInit.whi-logInit.wlo)/2
	t := p.lin(-c/h, term{1 / h, w})
	coef := chebMonomial(func(t float64) float64 { return math.Log(c + h*t) }, p.cfg.LogDegree)
	out := p.poly(t, coef)
	ring.AddTo(out, y0)
	return out
}

// logReduce returns y0 ≈ ln x and exp(−y0) ≈ 1/x (two exps).
func (p *Party) logReduce(x []uint64) (y0, e2 []uint64) {
	li := logInit
	e1 := p.exp(p.lin(0, term{-li.d, x}))
	y0 = p.lin(li.a, term{li.b, x}, term{li.c, e1})
	neg := make([]uint64, len(y0))
	ring.Neg(neg, y0)
	return y0, p.exp(neg)
}

// poly evaluates Σ coef[k]·t^k with the powers of t computed in
// ⌈log2 degree⌉ rounds (each round doubles the highest power known).
func (p *Party) poly(t []uint64, coef []float64) []uint64 {
	deg := len(coef) - 1
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
	terms := make([]term, 0, deg)
	for k := 1; k <= deg; k++ {
		terms = append(terms, term{coef[k], pow[k]})
	}
	return p.lin(coef[0], terms...)
}

// Polynomial returns Σ coef[k]·x^k (coef[0] the constant term), in
// ⌈log2 degree⌉ rounds.
func (x *CrypTensor) Polynomial(coef []float64) *CrypTensor {
	p := x.p
	defer p.op("Polynomial")()
	if len(coef) == 0 {
		return p.newCT(x.shape, make([]uint64, len(x.share)))
	}
	if len(coef) == 1 {
		v := make([]uint64, len(x.share))
		p.addConst(v, coef[0])
		return p.newCT(x.shape, v)
	}
	return p.newCT(x.shape, p.poly(x.share, coef))
}

// chebMonomial interpolates f on [−1, 1] at deg+1 Chebyshev nodes and
// returns the monomial coefficients of the interpolant (near-minimax).
func chebMonomial(f func(float64) float64, deg int) []float64 {
	n := deg + 1
	fx := make([]float64, n)
	for k := range fx {
		fx[k] = f(math.Cos(math.Pi * (float64(k) + 0.5) / float64(n)))
	}
	cheb := make([]float64, n)
	for j := range cheb {
		s := 0.0
		for k := range fx {
			s += fx[k] * math.Cos(math.Pi*float64(j)*(float64(k)+0.5)/float64(n))
		}
		cheb[j] = 2 * s / float64(n)
	}
	cheb[0] /= 2
	// T_j in the monomial basis by the recurrence T_{j+1} = 2t·T_j − T_{j−1}.
	out := make([]float64, n)
	tPrev, tCur := []float64{1}, []float64{0, 1}
	out[0] += cheb[0]
	for j := 1; j < n; j++ {
		for i, c := range tCur {
			out[i] += cheb[j] * c
		}
		next := make([]float64, len(tCur)+1)
		for i, c := range tCur {
			next[i+1] += 2 * c
		}
		for i, c := range tPrev {
			next[i] -= c
		}
		tPrev, tCur = tCur, next
	}
	return out
}

// Reciprocal returns 1/x for |x| in [0.05, 200] (either sign): the sign
// and |x| (msb and one round), the estimate e^(−y0) of log's range
// reduction refined once by a minimax linear step in w = |x|·e^(−y0),
// then Config.ReciprocalNewton Newton steps r ← r(2 − |x|r), and the
// sign multiplied back in one round.
func (x *CrypTensor) Reciprocal() *CrypTensor {
	p := x.p
	defer p.op("Reciprocal")()
	a, b := p.absSign(x.share)
	r := p.recipPos(a)
	// r·(1 − 2b) = r − 2·r·b
	rb := p.mulBits(r, b)
	for i := range r {
		r[i] -= 2 * rb[i]
	}
	return p.newCT(x.shape, r)
}

// ReciprocalPositive is Reciprocal for inputs known to be positive: it
// skips the sign (the inputs of softmax's normalization, for example).
func (x *CrypTensor) ReciprocalPositive() *CrypTensor {
	defer x.p.op("Reciprocal")()
	return x.p.newCT(x.shape, x.p.recipPos(x.share))
}

func (p *Party) recipPos(a []uint64) []uint64 {
	_, e2 := p.logReduce(a)
	w := p.mul1(a, e2)
	// Minimax linear estimate of 1/w on [l, u]: B(u+l) − B·w with
	// B = 8/((u+l)² + 4ul), relative error 1 − B·u·l.
	l, u := logInit.wlo, logInit.whi
	bb := 8 / ((u+l)*(u+l) + 4*u*l)
	v := p.lin(bb*(u+l), term{-bb, w})
	r := p.mul1(e2, v)
	for i := 0; i < p.cfg.ReciprocalNewton; i++ {
		r = p.newton(a, r)
	}
	return r
}

// newton is one step r ← r(2 − a·r) toward 1/a (two rounds).
func (p *Party) newton(a, r []uint64) []uint64 {
	ar := p.mul1(a, r)
	two := make([]uint64, len(ar))
	ring.Neg(two, ar)
	p.addConst(two, 2)
	return p.mul1(r, two)
}

// Sigmoid returns 1/(1+e^−x), computed as 1/(1+e^−|x|) (a number in
// [1/2, 1]: a minimax linear estimate on [1, 2] and Config.SigmoidNewton
// Newton steps) reflected to 1 − s for negative x, so no intermediate
// leaves a small range. Valid for |x| ≤ 240.
func (x *CrypTensor) Sigmoid() *CrypTensor {
	defer x.p.op("Sigmoid")()
	return x.p.newCT(x.shape, x.p.sigmoid(x.share))
}

func (p *Party) sigmoid(x []uint64) []uint64 {
	a, b := p.absSign(x)
	neg := make([]uint64, len(a))
	ring.Neg(neg, a)
	e := p.exp(neg)
	d := append([]uint64(nil), e...)
	p.addConst(d, 1)
	// 1/d on [1, 2]: 24/17 − (8/17)·d, relative error at most 1/17.
	r := p.lin(24.0/17, term{-8.0 / 17, d})
	for i := 0; i < p.cfg.SigmoidNewton; i++ {
		r = p.newton(d, r)
	}
	// s = r for x ≥ 0, 1 − r for x < 0: r + b·(1 − 2r).
	one2r := p.lin(1, term{-2, r})
	sel := p.mulBits(one2r, b)
	ring.AddTo(r, sel)
	return r
}

// Tanh returns tanh(x) = 2·sigmoid(2x) − 1. Valid for |x| ≤ 120.
func (x *CrypTensor) Tanh() *CrypTensor {
	p := x.p
	defer p.op("Tanh")()
	x2 := make([]uint64, len(x.share))
	ring.Scale(x2, x.share, 2)
	s := p.sigmoid(x2)
	ring.Scale(s, s, 2)
	p.addConst(s, -1)
	return p.newCT(x.shape, s)
}

// invSqrtInit is a·exp(−b·x) + c + d·x, fitted so that three Newton
// steps give the smallest sqrt error on [0.1, 100].
var invSqrtInit = struct{ a, b, c, d float64 }{1.882456729544431, 0.6215756376281006, 0.2663079307628068, -0.0018867069146296898}

// InvSqrt returns 1/√x for x in [0.1, 100]: a fitted exp-based estimate,
// then Config.SqrtNewton Newton steps r ← 1.5r − 0.5·x·r³ (two rounds
// each: r² and x·r together, then their product).
func (x *CrypTensor) InvSqrt() *CrypTensor {
	defer x.p.op("InvSqrt")()
	return x.p.newCT(x.shape, x.p.invSqrt(x.share))
}

func (p *Party) invSqrt(x []uint64) []uint64 {
	r := p.invSqrtInit(x)
	for i := 0; i < p.cfg.SqrtNewton; i++ {
		r = p.invSqrtStep(x, r)
	}
	return r
}

func (p *Party) invSqrtInit(x []uint64) []uint64 {
	is := invSqrtInit
	e := p.exp(p.lin(0, term{-is.b, x}))
	return p.lin(is.c, term{is.a, e}, term{is.d, x})
}

// invSqrtStep is r ← 1.5r − 0.5·(x·r)·r² (two rounds).
func (p *Party) invSqrtStep(x, r []uint64) []uint64 {
	res := p.mulRound([][]uint64{r, x}, [][]uint64{nil, r})
	v := p.mul1(res[1], res[0])
	return p.lin(0, term{1.5, r}, term{-0.5, v})
}

// Sqrt returns √x for x in [0.1, 100]: InvSqrt's estimate r after all but
// the last Newton step, then the last step taken on g = x·r directly,
// √x ≈ g·(3 − g·r)/2 (three rounds), so the result carries a few units of
// fixed-point error rather than x times r's.
func (x *CrypTensor) Sqrt() *CrypTensor {
	p := x.p
	defer p.op("Sqrt")()
	r := p.invSqrtInit(x.share)
	for i := 0; i < p.cfg.SqrtNewton-1; i++ {
		r = p.invSqrtStep(x.share, r)
	}
	g := p.mul1(x.share, r)
	h := p.mul1(g, r)
	three := p.lin(3, term{-1, h})
	s := p.mul1(g, three)
	p.truncate(s, 2)
	return p.newCT(x.shape, s)
}

// Softmax returns exp(x − max) / Σ exp(x − max) along dim d: the max
// keeps every exponent in [−240, 0]; the sum (in [1, n]) is inverted by
// ReciprocalPositive, so n must stay within its range (≤ 200).
func (x *CrypTensor) Softmax(d int) *CrypTensor {
	p := x.p
	defer p.op("Softmax")()
	nd := x.normDim("Softmax", d)
	m, _ := x.maxAlong(nd, true, false, false)
	z := x.Sub(m)
	e := p.newCT(z.shape, p.exp(z.share))
	s := e.Sum(nd, true)
	r := p.newCT(s.shape, p.recipPos(s.share))
	return e.Mul(r)
}

// LogSoftmax returns x − max − ln Σ exp(x − max) along dim d.
func (x *CrypTensor) LogSoftmax(d int) *CrypTensor {
	p := x.p
	defer p.op("LogSoftmax")()
	nd := x.normDim("LogSoftmax", d)
	m, _ := x.maxAlong(nd, true, false, false)
	z := x.Sub(m)
	e := p.newCT(z.shape, p.exp(z.share))
	s := e.Sum(nd, true)
	ls := p.newCT(s.shape, p.log(s.share))
	return z.Sub(ls)
}
