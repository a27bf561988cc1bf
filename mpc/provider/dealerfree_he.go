package provider

import (
	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/mpc/provider/he"
)

// Matrix and convolution triples come from homomorphic encryption: each
// party encrypts its left operand under its own key, the other multiplies
// the ciphertexts by its right operand, masks every coefficient of the
// results with fresh randomness (keeping minus the mask as its share),
// re-randomises and floods them, and sends them back to be decrypted.
// Both directions run at once: with A = A0 + A1 and B = B0 + B1, party i
// computes A_i·B_i itself and gets shares of A_0·B_1 and A_1·B_0.
//
// A matrix product encrypts the smaller operand (A, or Bᵀ computing
// (A·B)ᵀ = Bᵀ·Aᵀ); a convolution encrypts its kernel and multiplies by
// the im2col matrix of its input, one product per group covering every
// image.

// bilinear returns the derived part (C) of a matmul or conv request.
func (d *DealerFree) bilinear(r Request, parts [][]uint64) ([][]uint64, error) {
	a, b := parts[0], parts[1]
	var dims []he.Dims
	var lefts, rights [][]uint64
	var place func(i int, v, c []uint64) // adds product i's share v to c
	out := make([]uint64, 0)
	switch r.Kind {
	case MatMul:
		m, k, n := r.M, r.K, r.Cols
		out = make([]uint64, r.Batch*m*n)
		ring.BatchMatMul(out, a, b, r.Batch, m, k, n)
		flip := m*k > k*n
		for i := 0; i < r.Batch; i++ {
			ai, bi := a[i*m*k:(i+1)*m*k], b[i*k*n:(i+1)*k*n]
			if flip {
				dims = append(dims, he.Dims{M: n, K: k, C: m})
				lefts = append(lefts, transpose(bi, k, n))
				rights = append(rights, transpose(ai, m, k))
			} else {
				dims = append(dims, he.Dims{M: m, K: k, C: n})
				lefts, rights = append(lefts, ai), append(rights, bi)
			}
		}
		place = func(i int, v, c []uint64) {
			ci := c[i*m*n : (i+1)*m*n]
			if flip {
				v = transpose(v, n, m)
			}
			ring.AddTo(ci, v)
		}
	case Conv:
		s := r.Conv
		out = make([]uint64, s.OutSize())
		ring.Conv2d(out, a, b, s)
		cg, cog := s.C/s.Groups, s.Cout/s.Groups
		kk := cg * s.KH * s.KW
		ho, wo := s.OutH(), s.OutW()
		hw := ho * wo
		for g := 0; g < s.Groups; g++ {
			dims = append(dims, he.Dims{M: cog, K: kk, C: s.N * hw})
			lefts = append(lefts, b[g*cog*kk:(g+1)*cog*kk])
			rights = append(rights, im2col(a, s, g))
		}
		place = func(g int, v, c []uint64) {
			for co := 0; co < cog; co++ {
				for img := 0; img < s.N; img++ {
					dst := c[(img*s.Cout+g*cog+co)*hw : (img*s.Cout+g*cog+co+1)*hw]
					ring.AddTo(dst, v[co*s.N*hw+img*hw:co*s.N*hw+(img+1)*hw])
				}
			}
		}
	}
	c, err := heContext()
	if err != nil {
		return nil, err
	}
	msg, err := d.sk.EncryptLefts(dims, lefts)
	if err != nil {
		return nil, err
	}
	if err := d.send(msg); err != nil {
		return nil, err
	}
	peer, err := d.recv()
	if err != nil {
		return nil, err
	}
	reply, ev, err := c.EvalRights(d.pk, dims, peer, rights, d.rnd)
	if err != nil {
		return nil, err
	}
	if err := d.send(reply); err != nil {
		return nil, err
	}
	mine, err := d.recv()
	if err != nil {
		return nil, err
	}
	dec, err := d.sk.DecryptOutputs(dims, mine)
	if err != nil {
		return nil, err
	}
	for i := range dims {
		place(i, dec[i], out)
		place(i, ev[i], out)
	}
	return [][]uint64{out}, nil
}

// transpose returns the transpose of the rows×cols matrix v.
func transpose(v []uint64, rows, cols int) []uint64 {
	out := make([]uint64, len(v))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[j*rows+i] = v[i*cols+j]
		}
	}
	return out
}

// im2col returns group g's im2col matrix of the input x: row
// (ci, kh, kw), column (image, oh, ow), zero where the window reads
// padding.
func im2col(x []uint64, s ConvSpec, g int) []uint64 {
	cg := s.C / s.Groups
	ho, wo := s.OutH(), s.OutW()
	hw := ho * wo
	cols := s.N * hw
	out := make([]uint64, cg*s.KH*s.KW*cols)
	for ci := 0; ci < cg; ci++ {
		for kh := 0; kh < s.KH; kh++ {
			for kw := 0; kw < s.KW; kw++ {
				row := out[((ci*s.KH+kh)*s.KW+kw)*cols:]
				for img := 0; img < s.N; img++ {
					plane := x[(img*s.C+g*cg+ci)*s.H*s.W:]
					for oh := 0; oh < ho; oh++ {
						ih := oh*s.StrideH - s.PadH + kh*s.DilationH
						if ih < 0 || ih >= s.H {
							continue
						}
						for ow := 0; ow < wo; ow++ {
							iw := ow*s.StrideW - s.PadW + kw*s.DilationW
							if iw < 0 || iw >= s.W {
								continue
							}
							row[img*hw+oh*wo+ow] = plane[ih*s.W+iw]
						}
					}
				}
			}
		}
	}
	return out
}

// heProductsMin is the size from which elementwise products and squares
// come from slot-encoded homomorphic encryption rather than oblivious
// transfer: a batch of N = 8192 products moves about 2 MB in all (both
// directions, three plaintext primes), against 1032 bytes per product
// with Gilboa's OT products, so from about two thousand products on
// encryption moves fewer bytes.
const heProductsMin = 2048

// heProducts returns the derived part of a mul (c = a∘b) or square
// (r∘r) request through slot-encoded encryption: each party encrypts its
// shares of half the batches (a_i and b_i, or r_i), the other multiplies
// them by its own (b_j and a_j, or 2·r_j) and masks; with its local a_i∘b_i
// each party then holds a share of (a_0 + a_1)∘(b_0 + b_1).
func (d *DealerFree) heProducts(r Request, parts [][]uint64) ([][]uint64, error) {
	n := r.N
	batches := (n + he.N - 1) / he.N
	split := min(n, (batches+1)/2*he.N) // rank 0 encrypts [0, split), rank 1 the rest
	lo, hi := 0, split                  // the elements this party encrypts
	plo, phi := split, n                // the elements the peer encrypts
	if d.rank == 1 {
		lo, hi, plo, phi = plo, phi, lo, hi
	}
	a := parts[0]
	enc := func(lo, hi int) [][]uint64 {
		if r.Kind == Square {
			return [][]uint64{a[lo:hi]}
		}
		return [][]uint64{a[lo:hi], parts[1][lo:hi]}
	}
	eval := func(lo, hi int) [][]uint64 {
		if r.Kind == Square {
			two := make([]uint64, hi-lo)
			for i := range two {
				two[i] = 2 * a[lo+i]
			}
			return [][]uint64{two}
		}
		return [][]uint64{parts[1][lo:hi], a[lo:hi]}
	}
	vectors := 2
	if r.Kind == Square {
		vectors = 1
	}
	c := make([]uint64, n)
	b := a
	if r.Kind == Mul {
		b = parts[1]
	}
	for i := range c {
		c[i] = a[i] * b[i]
	}
	hc, err := heContext()
	if err != nil {
		return nil, err
	}
	if hi > lo {
		msg, err := d.sk.EncryptVectors(enc(lo, hi))
		if err != nil {
			return nil, err
		}
		if err := d.send(msg); err != nil {
			return nil, err
		}
	}
	if phi > plo {
		msg, err := d.recv()
		if err != nil {
			return nil, err
		}
		reply, share, err := hc.EvalProducts(d.pk, msg, eval(plo, phi), d.rnd)
		if err != nil {
			return nil, err
		}
		if err := d.send(reply); err != nil {
			return nil, err
		}
		ring.AddTo(c[plo:phi], share)
	}
	if hi > lo {
		reply, err := d.recv()
		if err != nil {
			return nil, err
		}
		own, err := d.sk.DecryptProducts(reply, hi-lo, vectors)
		if err != nil {
			return nil, err
		}
		ring.AddTo(c[lo:hi], own)
	}
	return [][]uint64{c}, nil
}
