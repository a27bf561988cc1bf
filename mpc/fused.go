package mpc

import (
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/mpc/provider"
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

// pipeChunk is the number of elements of a product opened per message of
// a pipelined opening (openChunks): large enough that the per-message cost
// vanishes, small enough that computing, sending and using the chunks
// overlap and a chunk is still in cache when it is used.
const pipeChunk = 32 << 10

// openChunks opens v in one round as a pipeline (comm.ExchangeChunks):
// fill(lo, hi) sets v[lo:hi] just before it is sent, and use(lo, hi, o) is
// called as soon as o[lo:hi] holds the other parties' sum for that range
// (the opened value is v + o there). chunk is in elements of v.
func (p *Party) openChunks(op string, v []uint64, chunk int, fill func(lo, hi int), use func(lo, hi int, o []uint64)) {
	if p.size == 1 {
		o := getScratch(len(v))
		clear(o)
		fill(0, len(v))
		use(0, len(v), o)
		putScratch(o)
		return
	}
	out := make([][]uint64, p.size)
	first := -1
	for q := range out {
		if q != p.rank {
			out[q] = getScratch(len(v))
			if first < 0 {
				first = q
			}
		}
	}
	err := comm.ExchangeChunks(p.c, v, out, chunk, fill, func(lo, hi int) {
		o := out[first]
		for q := first + 1; q < p.size; q++ {
			if q != p.rank {
				ring.AddTo(o[lo:hi], out[q][lo:hi])
			}
		}
		use(lo, hi, o)
	})
	for q, b := range out {
		if q != p.rank {
			putScratch(b)
		}
	}
	if err != nil {
		p.fail(op, err)
	}
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

// lazyBlock is the block in which masks generated on demand (Lazy
// requests) are consumed: a few of them stay in the first-level cache.
const lazyBlock = 2048

// blocks calls fn for consecutive blocks [off, off+m) of n elements, with
// the next m values of the mask stream g in part.
func blocks(n int, g *provider.PRG, fn func(off, m int, part []uint64)) {
	buf := getScratch(lazyBlock)
	defer putScratch(buf)
	for off := 0; off < n; off += lazyBlock {
		m := min(lazyBlock, n-off)
		g.Fill(buf[:m])
		fn(off, m, buf[:m])
	}
}

// maskFrom sets d = v − mask with the mask generated by g.
func maskFrom(d, v []uint64, g *provider.PRG) {
	blocks(len(d), g, func(off, m int, mask []uint64) {
		ring.Sub(d[off:off+m], v[off:off+m], mask)
	})
}

// part returns v[off:off+m], or nil for a nil v (a part omitted as zero).
func part(v []uint64, off, m int) []uint64 {
	if v == nil {
		return nil
	}
	return v[off : off+m]
}
