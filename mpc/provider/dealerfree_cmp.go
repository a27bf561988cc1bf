package provider

import "math/bits"

// The comparison kinds without a dealer. Each party draws its binary
// shares of the random bits (r's bits for Cmp, the masks for Carry) from
// its private stream; a Cmp's arithmetic r comes from converting each bit
// with a daBit's correlated OT (the arithmetic sum of the bits times their
// powers of two), and the products of subsets of bits are computed with
// AND triples (two rounds: the pairs, then triples and quadruples as a
// pair times a bit or a pair). So a comparison mask costs 64 daBit OTs and
// 16·11 AND triples per element, all of it offline.

// cmpMasks fills a Cmp request's parts: parts[0] (R) is replaced by the
// arithmetic shares of the bits it returns.
func (d *DealerFree) cmpMasks(r Request, parts [][]uint64) ([][]uint64, error) {
	w := words(r.N)
	rb := make([]uint64, 64*w)
	d.shares.Fill(rb)
	// Bit j of element 64v+i is bit 64·(64v+j)+i of rb: one daBit each.
	ra := make([]uint64, 64*len(rb))
	for lo := 0; lo < len(ra); lo += 64 * otChunk {
		hi := min(len(ra), lo+64*otChunk)
		if err := d.bitChunk(rb[lo/64:hi/64], nil, ra[lo:hi], nil); err != nil {
			return nil, err
		}
	}
	R := parts[0]
	for e := range R {
		v, i := e/64, e%64
		var x uint64
		for j := 0; j < 64; j++ {
			x += ra[64*(64*v+j)+i] << j
		}
		R[e] = x
	}
	// Digit products: variable m of digit (v, dg) is plane 4dg+m of word v.
	vars := make([][]uint64, 4)
	for m := range vars {
		vars[m] = make([]uint64, 16*w)
		for v := 0; v < w; v++ {
			for dg := 0; dg < 16; dg++ {
				vars[m][16*v+dg] = rb[64*v+4*dg+m]
			}
		}
	}
	prods, err := d.subsetProducts(vars, widen(digitSubsets))
	if err != nil {
		return nil, err
	}
	rd := make([]uint64, DigitProducts*16*w)
	for k := range digitSubsets {
		for u, x := range prods[k] {
			rd[DigitProducts*u+k] = x
		}
	}
	return [][]uint64{rb, rd}, nil
}

// carryMasks fills a Carry request's mask products.
func (d *DealerFree) carryMasks(r Request, parts [][]uint64) ([][]uint64, error) {
	m := parts[0]
	vars := make([][]uint64, CarryVars)
	for v := range vars {
		vars[v] = make([]uint64, r.N)
		for u := 0; u < r.N; u++ {
			vars[v][u] = m[CarryVars*u+v]
		}
	}
	prods, err := d.subsetProducts(vars, widen(carrySubsets))
	if err != nil {
		return nil, err
	}
	q := make([]uint64, CarryProducts*r.N)
	for k := range carrySubsets {
		for u, x := range prods[k] {
			q[CarryProducts*u+k] = x
		}
	}
	return [][]uint64{q}, nil
}

// subsetProducts returns shares of the product of the variables of each
// subset (at least two of them), word by word, in ⌈log2 of the largest
// subset⌉ rounds of AND triples: a subset of s variables is the product
// of its lowest ⌈s/2⌉ and the others, which are single variables or
// subsets of an earlier round (every part must itself be among the
// subsets).
func (d *DealerFree) subsetProducts(vars [][]uint64, subsets []uint16) ([][]uint64, error) {
	n := len(vars[0])
	out := make([][]uint64, len(subsets))
	index := map[uint16]int{}
	for k, s := range subsets {
		index[s] = k
	}
	operand := func(s uint16) []uint64 {
		if s&(s-1) == 0 {
			return vars[bits.TrailingZeros16(s)]
		}
		return out[index[s]]
	}
	for size := 2; ; size *= 2 {
		var ks []int
		var xs, ys []uint64
		more := false
		for k, s := range subsets {
			c := bits.OnesCount16(s)
			if c > size {
				more = true
			}
			if c <= size/2 || c > size {
				continue
			}
			lo := s
			for i := 0; i < c-(c+1)/2; i++ {
				lo &^= 1 << (15 - bits.LeadingZeros16(lo))
			}
			ks = append(ks, k)
			xs = append(xs, operand(lo)...)
			ys = append(ys, operand(s&^lo)...)
		}
		if len(ks) > 0 {
			z, err := d.andShared(xs, ys)
			if err != nil {
				return nil, err
			}
			for i, k := range ks {
				out[k] = z[i*n : (i+1)*n]
			}
		}
		if !more {
			return out, nil
		}
	}
}

// andShared returns shares of x&y for XOR-shared words, with fresh AND
// triples: one round of OTs for the triples, one for the openings.
func (d *DealerFree) andShared(x, y []uint64) ([]uint64, error) {
	n := len(x)
	t, err := d.generate(Request{Kind: And, N: n})
	if err != nil {
		return nil, err
	}
	a, b, c := t.Parts[0], t.Parts[1], t.Parts[2]
	msg := make([]uint64, 2*n)
	for i := range x {
		msg[i] = x[i] ^ a[i]
		msg[n+i] = y[i] ^ b[i]
	}
	in, err := d.swap(msg, 2*n)
	if err != nil {
		return nil, err
	}
	z := make([]uint64, n)
	for i := range z {
		e, f := msg[i]^in[i], msg[n+i]^in[n+i]
		z[i] = c[i] ^ e&b[i] ^ a[i]&f
		if d.rank == 0 {
			z[i] ^= e & f
		}
	}
	return z, nil
}

func widen(s []uint8) []uint16 {
	out := make([]uint16, len(s))
	for i, v := range s {
		out[i] = uint16(v)
	}
	return out
}

// fanMasks fills a Fan request's subset products.
func (d *DealerFree) fanMasks(r Request, parts [][]uint64) ([][]uint64, error) {
	m, k := parts[0], r.K
	vars := make([][]uint64, k)
	for v := range vars {
		vars[v] = make([]uint64, r.N)
		for u := 0; u < r.N; u++ {
			vars[v][u] = m[k*u+v]
		}
	}
	var subsets []uint16
	for s := 3; s < 1<<k; s++ {
		if s&(s-1) != 0 {
			subsets = append(subsets, uint16(s))
		}
	}
	prods, err := d.subsetProducts(vars, subsets)
	if err != nil {
		return nil, err
	}
	np := FanProducts(k)
	q := make([]uint64, np*r.N)
	for i, s := range subsets {
		for u, x := range prods[i] {
			q[np*u+FanIndex(s)] = x
		}
	}
	return [][]uint64{q}, nil
}
