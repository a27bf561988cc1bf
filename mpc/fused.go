package mpc

import (
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// Elementwise Beaver products are memory-bound: on a large tensor every
// pass over a vector costs more than the arithmetic in it. So the opened
// values are not summed in a pass of their own: openParts returns the
// other parties' part, and the loops below read both and finish the
// product (and, with two parties, its truncation) in one pass.

// openParts opens v (the sum over all parties of their v) in one round and
// returns o such that the opened value is v + o elementwise, leaving v as
// it was. Release o with putScratch.
func (p *Party) openParts(op string, v []uint64) []uint64 {
	if p.size == 1 {
		o := getScratch(len(v))
		clear(o)
		return o
	}
	out := make([][]uint64, p.size)
	for q := range out {
		if q != p.rank {
			out[q] = getScratch(len(v))
		}
	}
	if err := comm.ExchangeInto(p.c, v, out); err != nil {
		for q, b := range out {
			if q != p.rank {
				putScratch(b)
			}
		}
		p.fail(op, err)
	}
	var o []uint64
	for q, b := range out {
		switch {
		case q == p.rank:
		case o == nil:
			o = b
		default:
			ring.AddTo(o, b)
			putScratch(b)
		}
	}
	return o
}

// trunc describes the truncation fused into a product loop: with two
// parties, rank 0 shifts its share right arithmetically and rank 1
// negates, shifts and negates back (see truncate). x^neg − neg is x on
// rank 0 (neg = 0) and −x on rank 1 (neg = all ones).
type trunc struct {
	on  bool
	sh  uint
	neg uint64
}

// fusedTrunc returns the truncation by 2^precision that a product loop
// applies itself, which it can only do for two parties (others truncate
// afterwards with p.truncate).
func (p *Party) fusedTrunc(want bool) trunc {
	t := trunc{on: want && p.size == 2, sh: p.cfg.Precision}
	if p.rank == 1 {
		t.neg = ^uint64(0)
	}
	return t
}

// beaverZ sets z = c + e·y + a·f with e = e0 + e1 and f = f0 + f1 (a nil c
// counts as zero), truncated as t says.
func beaverZ(z, c, e0, e1, y, a, f0, f1 []uint64, t trunc) {
	n := len(z)
	e0, e1, y, a, f0, f1 = e0[:n], e1[:n], y[:n], a[:n], f0[:n], f1[:n]
	sh, neg := t.sh, t.neg
	switch {
	case c != nil && t.on:
		c = c[:n]
		for i := range z {
			v := (c[i] + (e0[i]+e1[i])*y[i] + a[i]*(f0[i]+f1[i]) ^ neg) - neg
			z[i] = (uint64(int64(v)>>sh) ^ neg) - neg
		}
	case c != nil:
		c = c[:n]
		for i := range z {
			z[i] = c[i] + (e0[i]+e1[i])*y[i] + a[i]*(f0[i]+f1[i])
		}
	case t.on:
		for i := range z {
			v := ((e0[i]+e1[i])*y[i] + a[i]*(f0[i]+f1[i]) ^ neg) - neg
			z[i] = (uint64(int64(v)>>sh) ^ neg) - neg
		}
	default:
		for i := range z {
			z[i] = (e0[i]+e1[i])*y[i] + a[i]*(f0[i]+f1[i])
		}
	}
}

// squareZ sets z = r2 + 2e·r (+ e² when first) with e = e0 + e1 (a nil r2
// counts as zero), truncated as t says.
func squareZ(z, r2, e0, e1, r []uint64, first bool, t trunc) {
	n := len(z)
	e0, e1, r = e0[:n], e1[:n], r[:n]
	sh, neg := t.sh, t.neg
	var fm uint64
	if first {
		fm = 1
	}
	switch {
	case r2 != nil && t.on:
		r2 = r2[:n]
		for i := range z {
			e := e0[i] + e1[i]
			v := (r2[i] + (2*r[i]+fm*e)*e ^ neg) - neg
			z[i] = (uint64(int64(v)>>sh) ^ neg) - neg
		}
	case r2 != nil:
		r2 = r2[:n]
		for i := range z {
			e := e0[i] + e1[i]
			z[i] = r2[i] + (2*r[i]+fm*e)*e
		}
	case t.on:
		for i := range z {
			e := e0[i] + e1[i]
			v := ((2*r[i]+fm*e)*e ^ neg) - neg
			z[i] = (uint64(int64(v)>>sh) ^ neg) - neg
		}
	default:
		for i := range z {
			e := e0[i] + e1[i]
			z[i] = (2*r[i] + fm*e) * e
		}
	}
}
