package mpc

import (
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/tensor"
)

// BinTensor is a binary (XOR) sharing of the 64-bit fixed-point encodings
// of a tensor: the XOR over parties of their shares is the encoding. XOR
// and shifts are local; AND costs one round.
type BinTensor struct {
	p     *Party
	shape []int
	share []uint64
}

// Shape returns a copy of x's dimensions.
func (x *BinTensor) Shape() []int { return cloneShape(x.shape) }

// BinShareOf returns this party's share words of x (not a copy), for
// trusted code; a function, not a method, so that the jail can deny it.
func BinShareOf(x *BinTensor) []uint64 { return x.share }

// and returns XOR shares of x&y (words) with a binary Beaver triple: open
// e = x^a and f = y^b in one round; z_i = c_i ^ (e & y_i) ^ (a_i & f).
func (p *Party) and(x, y []uint64) []uint64 {
	n := len(x)
	if n == 0 {
		return nil
	}
	s := p.get(provider.Request{Kind: provider.And, N: n})
	a, b := s.Parts[0], s.Parts[1]
	ef := getScratch(2 * n)
	defer putScratch(ef)
	e, f := ef[:n], ef[n:]
	ring.Xor(e, x, a)
	ring.Xor(f, y, b)
	p.openXor("And", ef)
	c := p.wait("And", s)[2]
	z := make([]uint64, n)
	for i := range z {
		z[i] = c[i] ^ (e[i] & y[i]) ^ (a[i] & f[i])
	}
	s.Release()
	return z
}

// ToBinary converts x to a binary sharing (A2B): every party's arithmetic
// share becomes a summand held by that party alone, carry-save adders
// reduce them to two (one AND round per layer, none with two parties),
// and a Kogge-Stone adder adds the two in 1+6 AND rounds over whole
// 64-bit words, vectorized over all elements.
func (x *CrypTensor) ToBinary() *BinTensor {
	p := x.p
	defer p.op("ToBinary")()
	u, v := p.twoSummands(x.share)
	g := p.and(u, v)
	pr := make([]uint64, len(u))
	ring.Xor(pr, u, v)
	sum := append([]uint64(nil), pr...)
	// Kogge-Stone: (G, P) ← (G ^ P&(G<<s), P & (P<<s)) for s = 1..32;
	// the last level needs no P.
	for s := uint(1); s < 64; s <<= 1 {
		n := len(g)
		if s == 32 {
			sh := make([]uint64, n)
			for i := range sh {
				sh[i] = g[i] << s
			}
			t := p.and(pr, sh)
			ring.XorTo(g, t)
			break
		}
		l := make([]uint64, 2*n)
		r := make([]uint64, 2*n)
		copy(l, pr)
		copy(l[n:], pr)
		for i := 0; i < n; i++ {
			r[i] = g[i] << s
			r[n+i] = pr[i] << s
		}
		t := p.and(l, r)
		ring.XorTo(g, t[:n])
		pr = t[n:]
	}
	for i := range sum {
		sum[i] ^= g[i] << 1
	}
	return &BinTensor{p: p, shape: cloneShape(x.shape), share: sum}
}

// twoSummands returns binary shares of two words per element whose sum
// mod 2^64 is the shared value: party i's arithmetic share is a summand
// only it holds; with more than two parties, layers of carry-save adders
// (one AND round each) reduce the summands to two.
func (p *Party) twoSummands(x []uint64) (u, v []uint64) {
	n := len(x)
	summands := make([][]uint64, p.size)
	for j := range summands {
		summands[j] = make([]uint64, n)
		if j == p.rank {
			copy(summands[j], x)
		}
	}
	if p.size == 1 {
		return summands[0], make([]uint64, n)
	}
	for len(summands) > 2 {
		groups := len(summands) / 3
		// maj(a,b,c) = ((a^c)&(b^c))^c for every triple, in one AND round.
		l := make([]uint64, groups*n)
		r := make([]uint64, groups*n)
		for g := 0; g < groups; g++ {
			a, b, c := summands[3*g], summands[3*g+1], summands[3*g+2]
			for i := 0; i < n; i++ {
				l[g*n+i] = a[i] ^ c[i]
				r[g*n+i] = b[i] ^ c[i]
			}
		}
		t := p.and(l, r)
		next := make([][]uint64, 0, 2*groups+len(summands)%3)
		for g := 0; g < groups; g++ {
			a, b, c := summands[3*g], summands[3*g+1], summands[3*g+2]
			s := make([]uint64, n)
			carry := make([]uint64, n)
			for i := 0; i < n; i++ {
				s[i] = a[i] ^ b[i] ^ c[i]
				carry[i] = (t[g*n+i] ^ c[i]) << 1
			}
			next = append(next, s, carry)
		}
		next = append(next, summands[3*groups:]...)
		summands = next
	}
	return summands[0], summands[1]
}

// bitsToArith converts n packed binary-shared bits to additive shares of
// 0/1 (unscaled) with daBits: open c = b ^ r (one round, one bit per
// element) and set b = c + r − 2cr.
func (p *Party) bitsToArith(bits []uint64, n int) []uint64 {
	s := p.get(provider.Request{Kind: provider.DaBit, N: n})
	c := append([]uint64(nil), bits...)
	ring.XorTo(c, s.Parts[0])
	p.openXor("B2A", c)
	ra := p.wait("B2A", s)[1]
	out := make([]uint64, n)
	for i := range out {
		ci := getBit(c, i)
		out[i] = (1 - 2*ci) * ra[i]
		if p.rank == 0 {
			out[i] += ci
		}
	}
	s.Release()
	return out
}

// mulBits returns additive shares of x_i·b_i for arithmetic x and packed
// binary bits b, in one round: with (r in binary and arithmetic form, a,
// c = a·r), open d = b ^ r and e = x − a together; then
// x·b = d·x + (1−2d)·(e·r + c). No truncation: b is an integer.
func (p *Party) mulBits(x, bits []uint64) []uint64 {
	n := len(x)
	s := p.get(provider.Request{Kind: provider.BitMul, N: n})
	rb, a := s.Parts[0], s.Parts[1]
	nw := len(rb)
	msg := make([]uint64, nw+n)
	ring.Xor(msg[:nw], bits[:nw], rb)
	ring.Sub(msg[nw:], x, a)
	if p.size > 1 && !p.failed() {
		all, err := comm.Exchange(p.c, msg)
		if err != nil {
			p.commFail("MulBit", err)
			all = nil
		}
		for q, o := range all {
			if q == p.rank {
				continue
			}
			ring.XorTo(msg[:nw], o[:nw])
			ring.AddTo(msg[nw:], o[nw:])
		}
	}
	d, e := msg[:nw], msg[nw:]
	parts := p.wait("MulBit", s)
	ra, c := parts[2], parts[3]
	out := make([]uint64, n)
	for i := range out {
		di := getBit(d, i)
		out[i] = di*x[i] + (1-2*di)*(e[i]*ra[i]+c[i])
	}
	s.Release()
	return out
}

// ToArithmetic converts x back to an arithmetic sharing (B2A): each of the
// 64 bit planes is converted with daBits, all in one round.
func (x *BinTensor) ToArithmetic() *CrypTensor {
	p := x.p
	defer p.op("ToArithmetic")()
	n := len(x.share)
	// Bit plane k of element i goes to position k*n + i.
	planes := make([]uint64, nwords(64*n))
	for i, w := range x.share {
		for k := 0; k < 64; k++ {
			setBit(planes, k*n+i, w>>k&1)
		}
	}
	a := p.bitsToArith(planes, 64*n)
	out := make([]uint64, n)
	for k := 0; k < 64; k++ {
		for i := range out {
			out[i] += a[k*n+i] << k
		}
	}
	return p.newCT(x.shape, out)
}

// Xor returns x ^ y (y a *BinTensor, or a public *tensor.Tensor / number
// XORed as its fixed-point encoding). Local.
func (x *BinTensor) Xor(y any) *BinTensor {
	out := append([]uint64(nil), x.share...)
	switch t := y.(type) {
	case *BinTensor:
		x.sameParty("Xor", t)
		x.sameShape("Xor", t.shape)
		ring.XorTo(out, t.share)
	default:
		pub := x.publicWords("Xor", y)
		if x.p.rank == 0 {
			ring.XorTo(out, pub)
		}
	}
	return &BinTensor{p: x.p, shape: cloneShape(x.shape), share: out}
}

// And returns x & y: one round for a *BinTensor, local for a public value.
func (x *BinTensor) And(y any) *BinTensor {
	defer x.p.op("And")()
	var out []uint64
	switch t := y.(type) {
	case *BinTensor:
		x.sameParty("And", t)
		x.sameShape("And", t.shape)
		out = x.p.and(x.share, t.share)
	default:
		pub := x.publicWords("And", y)
		out = make([]uint64, len(x.share))
		ring.And(out, x.share, pub)
	}
	return &BinTensor{p: x.p, shape: cloneShape(x.shape), share: out}
}

// LeftShift shifts every encoding left by k bits. Local.
func (x *BinTensor) LeftShift(k uint) *BinTensor {
	out := make([]uint64, len(x.share))
	for i, w := range x.share {
		out[i] = w << k
	}
	return &BinTensor{p: x.p, shape: cloneShape(x.shape), share: out}
}

// RightShift shifts every encoding right by k bits (logical). Local.
func (x *BinTensor) RightShift(k uint) *BinTensor {
	out := make([]uint64, len(x.share))
	for i, w := range x.share {
		out[i] = w >> k
	}
	return &BinTensor{p: x.p, shape: cloneShape(x.shape), share: out}
}

// GetPlainText reveals x to every party (one round), decoding the words
// as fixed point. On a restricted party it needs the reveal policy to
// allow every party, as CrypTensor.GetPlainText.
func (x *BinTensor) GetPlainText() (*tensor.Tensor, error) {
	defer x.p.op("GetPlainText")()
	v := append([]uint64(nil), x.share...)
	if err := x.p.reveal("GetPlainText", -1, v, true); err != nil {
		return nil, err
	}
	return x.p.decode(v, x.shape), nil
}

// sameParty fails op unless y belongs to x's party.
func (x *BinTensor) sameParty(op string, y *BinTensor) {
	if x.p != y.p {
		x.p.failf(op, "operands belong to different parties")
	}
}

func (x *BinTensor) sameShape(op string, s []int) {
	if !tensor.SameShape(x.shape, s) {
		x.p.failf(op, "shapes %v and %v differ", x.shape, s)
	}
}

// publicWords encodes a public operand broadcast to x's shape.
func (x *BinTensor) publicWords(op string, y any) []uint64 {
	o, err := toOperand(y)
	if err != nil || o.pub == nil {
		x.p.failf(op, "operand %T is neither a *BinTensor nor a public value", y)
	}
	s := x.p.broadcast(op, x.shape, o.pub.Shape())
	if !tensor.SameShape(s, x.shape) {
		x.p.failf(op, "public shape %v does not broadcast to %v", o.pub.Shape(), x.shape)
	}
	return expandTo(x.p.encodePublic(op, o.pub), o.pub.Shape(), x.shape)
}
