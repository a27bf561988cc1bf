package mpc

import (
	"math/bits"

	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/mpc/provider"
)

// The sign bit of a shared value x costs three rounds, whatever the
// number of parties:
//
//  1. The parties open c = x + r, for a mask r uniform over the ring that
//     the provider deals in both sharings (provider.Cmp): arithmetic
//     shares, bit-sliced binary shares of its bits, and binary shares of
//     the products of its bits within each 4-bit digit. Then x = c − r,
//     and the sign of x is c63 ⊕ r63 ⊕ b, b the borrow into bit 63 of the
//     subtraction c − r: the group-generate bit of positions 0..62, where
//     position j generates a borrow when c_j = 0 and r_j = 1 (G_j = ¬c_j
//     ∧ r_j) and passes one on when c_j = r_j (P_j = ¬c_j ⊕ r_j). With c
//     public, each digit's group (generate, propagate) pair is a
//     polynomial in the digit's bits of r, which the parties evaluate
//     locally from the dealt products: 16 digits (the top one holds
//     positions 60..62).
//  2. Four digits combine into one group of 16 positions: the parties
//     open the digits' pairs under masks dealt with the products of their
//     subsets (provider.Carry), and the combination
//     G = G3 ⊕ P3·G2 ⊕ P3·P2·G1 ⊕ P3·P2·P1·G0, P = P3·P2·P1·P0, expanded
//     over the masked values, is again linear in the dealt products.
//  3. The four groups combine into b the same way.
//
// Each party sends 64 + 31 + 7 bits per element to every other party (the
// opened c, and the masked pairs: the lowest group needs no propagate),
// against about 362 for the 1+6 AND rounds of a carry-lookahead adder over
// the parties' shares; and no carry-save rounds are needed with more than
// two parties. The shares of r's bits are laid out per 64 elements, as the
// words the levels work on.

// The polynomial terms of the local steps. A term (bterm) adds coef·share,
// where coef is the AND of the public values of the variables in coef
// (all ones for none) and share is this party's share of the product of
// the dealt variables in share (one, on rank 0 only, for none).
type bterm struct{ coef, share uint8 }

// A termSet evaluates one output: the coefficient masks it needs, in an
// order in which each one's mask without its lowest variable comes first.
type termSet struct {
	terms []bterm
	coefs []uint8
}

// monomialTerms expands the products of the monomials (each a set of
// variables, each variable public ⊕ dealt) into terms.
func monomialTerms(monos ...uint8) termSet {
	var ts termSet
	need := map[uint8]bool{}
	for _, v := range monos {
		for t := v; ; t = (t - 1) & v {
			ts.terms = append(ts.terms, bterm{coef: v &^ t, share: t})
			for m := v &^ t; m != 0; m &= m - 1 {
				need[m] = true
			}
			if t == 0 {
				break
			}
		}
	}
	for m := 1; m < 256; m++ {
		if need[uint8(m)] {
			ts.coefs = append(ts.coefs, uint8(m))
		}
	}
	return ts
}

// digitTerms returns the terms of a digit of width positions (the bits of
// r at positions 0..width−1 of the digit are the dealt variables 0..width−1,
// the complements of c's bits the public ones): G_j = a_j·r_j and
// P_j = a_j ⊕ r_j with a_j = ¬c_j, so a monomial of r's bits U has
// coefficient Π a_k over the positions k ≥ min U outside U \ {min U} in G,
// and over the positions outside U in P.
func digitTerms(width int) (g, p termSet) {
	all := uint8(1)<<width - 1
	coefs := map[uint8]bool{}
	for u := uint8(0); u <= all; u++ {
		if u != 0 {
			lo := u & -u
			above := all &^ (lo - 1) // positions ≥ min U
			g.terms = append(g.terms, bterm{coef: above &^ (u &^ lo), share: u})
		}
		p.terms = append(p.terms, bterm{coef: all &^ u, share: u})
	}
	for _, t := range append(append([]bterm(nil), g.terms...), p.terms...) {
		for m := t.coef; m != 0; m &= m - 1 {
			coefs[m] = true
		}
	}
	for m := 1; m < 256; m++ {
		if coefs[uint8(m)] {
			g.coefs = append(g.coefs, uint8(m))
		}
	}
	p.coefs = g.coefs
	return g, p
}

var (
	digitG, digitP   = digitTerms(4)
	digit3G, digit3P = digitTerms(3) // the top digit: positions 60..62
	// The variables of a combination: 0..3 the generates G0..G3 (lowest
	// group first), 4..7 the propagates P0..P3 (as provider.Carry).
	carryG = monomialTerms(1<<3, 1<<7|1<<2, 1<<7|1<<6|1<<1, 1<<7|1<<6|1<<5|1<<0)
	carryP = monomialTerms(1<<7 | 1<<6 | 1<<5 | 1<<4)
)

// coefTable sets cf[m] to the AND of pub over the variables of m, for the
// masks ts needs (cf[0] is all ones).
func coefTable(cf *[256]uint64, ts *termSet, pub *[8]uint64) {
	cf[0] = ^uint64(0)
	for _, m := range ts.coefs {
		lo := m & -m
		cf[m] = cf[m&^lo] & pub[bits.TrailingZeros8(lo)]
	}
}

// eval returns this party's share of the output of ts: singles[v] is its
// share of variable v's dealt value, products(s) of the product over the
// subset s (nil: all zero, as on the trusted first party's ranks above 0).
func (ts *termSet) eval(cf *[256]uint64, first bool, singles *[8]uint64, products []uint64, index func(uint8) int) uint64 {
	var out uint64
	for _, t := range ts.terms {
		var s uint64
		switch {
		case t.share == 0:
			if !first {
				continue
			}
			s = ^uint64(0)
		case t.share&(t.share-1) == 0:
			s = singles[bits.TrailingZeros8(t.share)]
		default:
			if products == nil {
				continue
			}
			s = products[index(t.share)]
		}
		out ^= cf[t.coef] & s
	}
	return out
}

// msb returns packed binary shares of the sign bit of each shared value
// (bit i of word i/64 for element i), in three rounds (see above).
func (p *Party) msb(x []uint64) []uint64 {
	n := len(x)
	if n == 0 {
		return nil
	}
	nb := nwords(n)
	first := p.rank == 0
	sc := p.get(provider.Request{Kind: provider.Cmp, N: n, OmitZero: true})
	s2 := p.get(provider.Request{Kind: provider.Carry, N: 4 * nb, OmitZero: true})
	s3 := p.get(provider.Request{Kind: provider.Carry, N: nb, OmitZero: true})
	defer sc.Release()
	defer s2.Release()
	defer s3.Release()

	// Round 1: c = x + r, public.
	c := getScratch(64 * nb)
	defer putScratch(c)
	ring.Add(c[:n], x, sc.Parts[0])
	p.openSum("msb", c[:n])
	clear(c[n:])
	cp := p.wait("msb", sc)
	rb, rd := cp[1], cp[2]

	// Digits (local), then round 2: per word, four groups of four digits,
	// 8 masked values each but the lowest group's propagate P0 (31).
	const msg2 = 31
	m2 := getScratch(msg2 * nb)
	defer putScratch(m2)
	masks2 := s2.Parts[0]
	top := make([]uint64, nb) // c63 on rank 0, then the sign
	var gd, pd [16]uint64
	for w := 0; w < nb; w++ {
		var planes [64]uint64
		copy(planes[:], c[64*w:64*w+64])
		ring.Transpose64(&planes)
		if first {
			top[w] = planes[63]
		}
		if rb != nil {
			top[w] ^= rb[64*w+63]
		}
		p.digits(&gd, &pd, &planes, rb, rd, w)
		o := m2[msg2*w:]
		for s := 0; s < 4; s++ {
			mk := masks2[provider.CarryVars*(4*w+s):]
			for v := 0; v < 4; v++ {
				o[v] = gd[4*s+v] ^ mk[v]
			}
			if s == 0 {
				o[4], o[5], o[6] = pd[1]^mk[5], pd[2]^mk[6], pd[3]^mk[7]
				o = o[7:]
				continue
			}
			for v := 0; v < 4; v++ {
				o[4+v] = pd[4*s+v] ^ mk[4+v]
			}
			o = o[8:]
		}
	}
	p.openXor("msb", m2)

	// Combine the groups, then round 3: per word, the four groups' pairs
	// (no P0): 7 masked values.
	const msg3 = 7
	m3 := getScratch(msg3 * nb)
	defer putScratch(m3)
	q2 := p.wait("msb", s2)[1]
	masks3 := s3.Parts[0]
	var cf [256]uint64
	for w := 0; w < nb; w++ {
		var gg, pp [4]uint64
		o := m2[msg2*w:]
		for s := 0; s < 4; s++ {
			var pub, sing [8]uint64
			u := 4*w + s
			copy(sing[:], masks2[provider.CarryVars*u:provider.CarryVars*(u+1)])
			var q []uint64
			if q2 != nil {
				q = q2[provider.CarryProducts*u : provider.CarryProducts*(u+1)]
			}
			if s == 0 {
				copy(pub[:4], o[:4])
				copy(pub[5:], o[4:7])
				o = o[7:]
			} else {
				copy(pub[:], o[:8])
				o = o[8:]
			}
			coefTable(&cf, &carryG, &pub)
			gg[s] = carryG.eval(&cf, first, &sing, q, provider.CarryIndex)
			if s > 0 {
				coefTable(&cf, &carryP, &pub)
				pp[s] = carryP.eval(&cf, first, &sing, q, provider.CarryIndex)
			}
		}
		mk := masks3[provider.CarryVars*w:]
		t := m3[msg3*w:]
		for v := 0; v < 4; v++ {
			t[v] = gg[v] ^ mk[v]
		}
		t[4], t[5], t[6] = pp[1]^mk[5], pp[2]^mk[6], pp[3]^mk[7]
	}
	p.openXor("msb", m3)

	q3 := p.wait("msb", s3)[1]
	for w := 0; w < nb; w++ {
		var pub, sing [8]uint64
		o := m3[msg3*w:]
		copy(pub[:4], o[:4])
		copy(pub[5:], o[4:7])
		copy(sing[:], masks3[provider.CarryVars*w:provider.CarryVars*(w+1)])
		var q []uint64
		if q3 != nil {
			q = q3[provider.CarryProducts*w : provider.CarryProducts*(w+1)]
		}
		coefTable(&cf, &carryG, &pub)
		top[w] ^= carryG.eval(&cf, first, &sing, q, provider.CarryIndex)
	}
	if n%64 != 0 {
		top[nb-1] &= 1<<(n%64) - 1
	}
	return top
}

// digits sets the shares of the 16 digits' (generate, propagate) pairs of
// word w, from c's bit planes and the dealt shares of r's bits (rb) and of
// their products within digits (rd); nil shares count as zero.
func (p *Party) digits(gd, pd *[16]uint64, planes *[64]uint64, rb, rd []uint64, w int) {
	first := p.rank == 0
	if rb == nil && !first {
		*gd, *pd = [16]uint64{}, [16]uint64{}
		return
	}
	var cf [256]uint64
	for d := 0; d < 16; d++ {
		var pub, sing [8]uint64
		for k := 0; k < 4; k++ {
			pub[k] = ^planes[4*d+k]
			if rb != nil {
				sing[k] = rb[64*w+4*d+k]
			}
		}
		var q []uint64
		if rd != nil {
			q = rd[provider.DigitProducts*(16*w+d) : provider.DigitProducts*(16*w+d+1)]
		}
		g, pr := &digitG, &digitP
		if d == 15 {
			g, pr = &digit3G, &digit3P
		}
		coefTable(&cf, g, &pub)
		gd[d] = g.eval(&cf, first, &sing, q, provider.DigitIndex)
		pd[d] = pr.eval(&cf, first, &sing, q, provider.DigitIndex)
	}
}

// andTerms[k] expands the AND of k bits (k = 2, 3, 4), the propagate
// variables P0..P(k−1) of a Carry unit.
var andTerms = [5]termSet{
	2: monomialTerms(1<<4 | 1<<5),
	3: monomialTerms(1<<4 | 1<<5 | 1<<6),
	4: monomialTerms(1<<4 | 1<<5 | 1<<6 | 1<<7),
}

// fanBudget bounds the mask products (words) of a one-round AND of more
// than four inputs (provider.Fan deals 2^k of them per output word).
const fanBudget = 1 << 17

// andAll returns shares of the AND of the binary shared word vectors xs
// (all of one length): in one round when there are at most four, or at
// most provider.MaxFan and the mask products fit fanBudget; otherwise
// four at a time per round, ⌈log4 len(xs)⌉ rounds. Each input is opened
// once, under a mask dealt with the products of the masks.
func (p *Party) andAll(xs [][]uint64) []uint64 {
	if k := len(xs); k > 4 && k <= provider.MaxFan && len(xs[0])<<k <= fanBudget {
		return p.andFan(xs)
	}
	for len(xs) > 1 {
		nw := len(xs[0])
		groups := (len(xs) + 3) / 4
		// Spread the inputs evenly: groups of 3 rather than 4+4+1 (every
		// group gets at least two).
		sizes := make([]int, groups)
		for i := range xs {
			sizes[i%groups]++
		}
		s := p.get(provider.Request{Kind: provider.Carry, N: groups * nw, OmitZero: true})
		masks := s.Parts[0]
		msg := make([]uint64, len(xs)*nw)
		off, in := 0, 0
		for g, k := range sizes {
			for j := 0; j < k; j++ {
				x := xs[in+j]
				for w := 0; w < nw; w++ {
					msg[off+j*nw+w] = x[w] ^ masks[provider.CarryVars*(g*nw+w)+4+j]
				}
			}
			off += k * nw
			in += k
		}
		p.openXor("And", msg)
		q := p.wait("And", s)[1]
		next := make([][]uint64, groups)
		var cf [256]uint64
		off = 0
		for g, k := range sizes {
			out := make([]uint64, nw)
			ts := &andTerms[k]
			for w := 0; w < nw; w++ {
				u := g*nw + w
				var pub, sing [8]uint64
				for j := 0; j < k; j++ {
					pub[4+j] = msg[off+j*nw+w]
				}
				copy(sing[:], masks[provider.CarryVars*u:provider.CarryVars*(u+1)])
				var qu []uint64
				if q != nil {
					qu = q[provider.CarryProducts*u : provider.CarryProducts*(u+1)]
				}
				coefTable(&cf, ts, &pub)
				out[w] = ts.eval(&cf, p.rank == 0, &sing, qu, provider.CarryIndex)
			}
			next[g] = out
			off += k * nw
		}
		s.Release()
		xs = next
	}
	return xs[0]
}

// andFan returns shares of the AND of the k vectors xs in one round, with
// a provider.Fan unit per word: AND = ⊕ over subsets T of the inputs of
// (AND of the opened values outside T) · (the product of the masks in T).
func (p *Party) andFan(xs [][]uint64) []uint64 {
	k, nw := len(xs), len(xs[0])
	s := p.get(provider.Request{Kind: provider.Fan, N: nw, K: k, OmitZero: true})
	defer s.Release()
	masks := s.Parts[0]
	msg := make([]uint64, k*nw)
	for v, x := range xs {
		for w := 0; w < nw; w++ {
			msg[v*nw+w] = x[w] ^ masks[k*w+v]
		}
	}
	p.openXor("And", msg)
	q := p.wait("And", s)[1]
	np := provider.FanProducts(k)
	full := 1<<k - 1
	coef := make([]uint64, 1<<k)
	out := make([]uint64, nw)
	for w := 0; w < nw; w++ {
		coef[0] = ^uint64(0)
		for m := 1; m <= full; m++ {
			lo := m & -m
			coef[m] = coef[m&^lo] & msg[bits.TrailingZeros(uint(lo))*nw+w]
		}
		var z uint64
		if p.rank == 0 {
			z = coef[full]
		}
		for v := 0; v < k; v++ {
			z ^= coef[full&^(1<<v)] & masks[k*w+v]
		}
		if q != nil {
			qw := q[np*w : np*(w+1)]
			for t := 3; t <= full; t++ {
				if t&(t-1) != 0 {
					z ^= coef[full&^t] & qw[provider.FanIndex(uint16(t))]
				}
			}
		}
		out[w] = z
	}
	return out
}
