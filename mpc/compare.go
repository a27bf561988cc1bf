package mpc

import (
	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/tensor/layout"
)

// Comparisons return encryptions of 0 or 1. They rest on the sign bit of
// a difference: msb costs 1+6 AND rounds with two parties (plus one per
// carry-save layer with more), and one more round turns the bit into an
// arithmetic share (or multiplies it into a value, for ReLU, Abs and
// selection). Differences must stay below 2^63 units (2^47 at 16-bit
// precision).

// diff returns shares of a − b broadcast, for either order of operands.
func diff(op string, a, b any) (*Party, []int, []uint64) {
	d := addSub(op, a, b, true)
	return d.p, d.shape, d.share
}

// bitsToCT converts packed sign bits to an encrypted 0/1 tensor; flip
// inverts the bits first (local).
func (p *Party) bitsToCT(shape []int, bits []uint64, flip bool) *CrypTensor {
	n := numel(shape)
	if flip {
		p.flipBits(bits, n)
	}
	a := p.bitsToArith(bits, n)
	ring.Scale(a, a, 1<<p.cfg.Precision)
	return p.newCT(shape, a)
}

// flipBits negates n packed shared bits (rank 0 flips its share).
func (p *Party) flipBits(bits []uint64, n int) {
	if p.rank != 0 {
		return
	}
	for i := range bits {
		bits[i] = ^bits[i]
	}
	if n%64 != 0 {
		bits[len(bits)-1] &= 1<<(n%64) - 1
	}
}

// Lt returns a < b elementwise (either operand may be public).
func Lt(a, b any) *CrypTensor {
	p, s, d := diff("Lt", a, b)
	defer p.op("Lt")()
	return p.bitsToCT(s, p.msb(d), false)
}

// Gt returns a > b.
func Gt(a, b any) *CrypTensor {
	p, s, d := diff("Gt", b, a)
	defer p.op("Gt")()
	return p.bitsToCT(s, p.msb(d), false)
}

// Le returns a <= b.
func Le(a, b any) *CrypTensor {
	p, s, d := diff("Le", b, a)
	defer p.op("Le")()
	return p.bitsToCT(s, p.msb(d), true)
}

// Ge returns a >= b.
func Ge(a, b any) *CrypTensor {
	p, s, d := diff("Ge", a, b)
	defer p.op("Ge")()
	return p.bitsToCT(s, p.msb(d), true)
}

// Ne returns a != b: the sign bits of a−b and b−a (one batched msb) are
// never both set, so their sum is the answer.
func Ne(a, b any) *CrypTensor {
	p, s, d := diff("Ne", a, b)
	defer p.op("Ne")()
	return p.newCT(s, p.neArith(d))
}

// Eq returns a == b (1 − Ne).
func Eq(a, b any) *CrypTensor {
	p, s, d := diff("Eq", a, b)
	defer p.op("Eq")()
	ne := p.neArith(d)
	one := uint64(1) << p.cfg.Precision
	for i := range ne {
		ne[i] = -ne[i]
		if p.rank == 0 {
			ne[i] += one
		}
	}
	return p.newCT(s, ne)
}

// neArith returns scaled shares of [d != 0].
func (p *Party) neArith(d []uint64) []uint64 {
	n := len(d)
	both := make([]uint64, 2*n)
	copy(both, d)
	ring.Neg(both[n:], d)
	a := p.bitsToArith(p.msb(both), 2*n)
	out := make([]uint64, n)
	ring.Add(out, a[:n], a[n:])
	ring.Scale(out, out, 1<<p.cfg.Precision)
	return out
}

// Lt returns x < y.
func (x *CrypTensor) Lt(y any) *CrypTensor { return Lt(x, y) }

// Le returns x <= y.
func (x *CrypTensor) Le(y any) *CrypTensor { return Le(x, y) }

// Gt returns x > y.
func (x *CrypTensor) Gt(y any) *CrypTensor { return Gt(x, y) }

// Ge returns x >= y.
func (x *CrypTensor) Ge(y any) *CrypTensor { return Ge(x, y) }

// Eq returns x == y.
func (x *CrypTensor) Eq(y any) *CrypTensor { return Eq(x, y) }

// Ne returns x != y.
func (x *CrypTensor) Ne(y any) *CrypTensor { return Ne(x, y) }

// Relu returns max(x, 0): the sign bit, then one round multiplying x by
// its negation (no truncation, so no fixed-point error is added).
func (x *CrypTensor) Relu() *CrypTensor {
	p := x.p
	defer p.op("Relu")()
	b := p.msb(x.share)
	p.flipBits(b, len(x.share))
	return p.newCT(x.shape, p.mulBits(x.share, b))
}

// Sign returns 1 where x >= 0 and −1 where x < 0 (CrypTen's convention:
// sign(0) = 1).
func (x *CrypTensor) Sign() *CrypTensor {
	p := x.p
	defer p.op("Sign")()
	a := p.bitsToArith(p.msb(x.share), len(x.share))
	one := uint64(1) << p.cfg.Precision
	for i := range a {
		a[i] = -(2 * a[i] * one)
		if p.rank == 0 {
			a[i] += one
		}
	}
	return p.newCT(x.shape, a)
}

// Abs returns |x| = x − 2·x·[x<0], in msb rounds plus one.
func (x *CrypTensor) Abs() *CrypTensor {
	p := x.p
	defer p.op("Abs")()
	xb := p.mulBits(x.share, p.msb(x.share))
	out := make([]uint64, len(xb))
	for i := range out {
		out[i] = x.share[i] - 2*xb[i]
	}
	return p.newCT(x.shape, out)
}

// absSign returns |x| and the packed sign bits of x (1 where x < 0).
func (p *Party) absSign(x []uint64) ([]uint64, []uint64) {
	b := p.msb(x)
	xb := p.mulBits(x, b)
	out := make([]uint64, len(x))
	for i := range out {
		out[i] = x[i] - 2*xb[i]
	}
	return out, b
}

// Where returns cond ? a : b elementwise, with cond an encrypted or public
// 0/1 tensor: b + cond·(a − b).
func Where(cond, a, b any) *CrypTensor {
	oc, err := toOperand(cond)
	if err != nil {
		panic(&Error{Rank: -1, Op: "Where", Err: err})
	}
	if oc.pub != nil {
		// Public condition: select locally.
		d := addSub("Where", a, b, true)
		return Add(b, Mul(oc.pub, d))
	}
	return Add(b, Mul(oc.enc, Sub(a, b)))
}

// Where returns cond ? x : y.
func (x *CrypTensor) Where(cond, y any) *CrypTensor { return Where(cond, x, y) }

// ---- max, min, argmax ----

// Max returns the maximum over dim d.
func (x *CrypTensor) Max(d int, keepdim bool) *CrypTensor {
	defer x.p.op("Max")()
	v, _ := x.maxAlong(x.normDim("Max", d), keepdim, false, false)
	return v
}

// Min returns the minimum over dim d.
func (x *CrypTensor) Min(d int, keepdim bool) *CrypTensor {
	defer x.p.op("Min")()
	v, _ := x.Neg().maxAlong(x.normDim("Min", d), keepdim, false, false)
	return v.Neg()
}

// ArgmaxOneHot returns, with x's shape, 1 at the first maximum along dim
// d and 0 elsewhere.
func (x *CrypTensor) ArgmaxOneHot(d int) *CrypTensor {
	defer x.p.op("Argmax")()
	_, oh := x.maxAlong(x.normDim("Argmax", d), false, true, false)
	return oh
}

// Argmax returns the index of the first maximum along dim d (as an
// encrypted number).
func (x *CrypTensor) Argmax(d int, keepdim bool) *CrypTensor {
	defer x.p.op("Argmax")()
	_, idx := x.maxAlong(x.normDim("Argmax", d), keepdim, false, true)
	return idx
}

// Argmin returns the index of the first minimum along dim d (as an
// encrypted number): Argmax of −x.
func (x *CrypTensor) Argmin(d int, keepdim bool) *CrypTensor {
	defer x.p.op("Argmin")()
	_, idx := x.Neg().maxAlong(x.normDim("Argmin", d), keepdim, false, true)
	return idx
}

// ArgminOneHot is ArgmaxOneHot of −x.
func (x *CrypTensor) ArgminOneHot(d int) *CrypTensor {
	defer x.p.op("Argmin")()
	_, oh := x.Neg().maxAlong(x.normDim("Argmin", d), false, true, false)
	return oh
}

// maxAlong computes the max over dim d and, on request, the one-hot
// argmax or the index. Short dims compare all pairs at once; long ones
// use a tree of halvings.
func (x *CrypTensor) maxAlong(d int, keepdim, wantOneHot, wantIndex bool) (*CrypTensor, *CrypTensor) {
	p := x.p
	outer, n, inner := layout.Around(x.shape, d)
	if n == 0 {
		p.failf("Max", "empty dim %d of shape %v", d, x.shape)
	}
	rshape := cloneShape(x.shape)
	rshape[d] = 1
	finish := func(v []uint64) *CrypTensor {
		ct := p.newCT(rshape, v)
		if !keepdim {
			ct = ct.Squeeze(d)
		}
		return ct
	}
	if n == 1 {
		oh := p.newCT(x.shape, p.publicConst(len(x.share), 1))
		return finish(append([]uint64(nil), x.share...)), pickSecond(wantOneHot, oh, wantIndex, finish(p.publicConst(outer*inner, 0)))
	}
	if n <= p.cfg.PairwiseMax {
		bits := p.argmaxPairwise(x.share, outer, n, inner)
		// One round: the max as Σ x_i·onehot_i, and the one-hot itself.
		total := len(x.share)
		var vals []uint64
		var oh []uint64
		if wantOneHot || wantIndex {
			both := make([]uint64, 2*total)
			copy(both, x.share)
			one := uint64(1) << p.cfg.Precision
			for i := total; i < 2*total; i++ {
				if p.rank == 0 {
					both[i] = one
				}
			}
			bb := make([]uint64, nwords(2*total))
			for i := 0; i < total; i++ {
				b := getBit(bits, i)
				setBit(bb, i, b)
				setBit(bb, total+i, b)
			}
			prod := p.mulBits(both, bb)
			vals, oh = prod[:total], prod[total:]
		} else {
			vals = p.mulBits(x.share, bits)
		}
		mx, _ := reduceDim(vals, x.shape, d)
		switch {
		case wantOneHot:
			return finish(mx), p.newCT(x.shape, oh)
		case wantIndex:
			idx := make([]uint64, outer*inner)
			for o := 0; o < outer; o++ {
				for i := 0; i < n; i++ {
					for j := 0; j < inner; j++ {
						idx[o*inner+j] += uint64(i) * oh[(o*n+i)*inner+j]
					}
				}
			}
			return finish(mx), finish(idx)
		}
		return finish(mx), nil
	}
	// Tree: halve the candidates each level, carrying values and indices.
	vals, vshape := x.share, []int{outer, n, inner}
	var idx []uint64
	if wantOneHot || wantIndex {
		idx = make([]uint64, len(vals))
		if p.rank == 0 {
			for o := 0; o < outer; o++ {
				for i := 0; i < n; i++ {
					for j := 0; j < inner; j++ {
						idx[(o*n+i)*inner+j] = uint64(i) << p.cfg.Precision
					}
				}
			}
		}
	}
	for vshape[1] > 1 {
		m := vshape[1]
		h := m / 2
		a, _ := sliceDim(vals, vshape, 1, 0, h, 1)
		b, _ := sliceDim(vals, vshape, 1, h, 2*h, 1)
		dd := make([]uint64, len(a))
		ring.Sub(dd, a, b) // a − b < 0  ⇔  b wins (ties keep the earlier a)
		bit := p.msb(dd)
		k := len(a)
		// Select value (and index) in one round: a + bit·(b − a).
		sel := make([]uint64, k)
		ring.Sub(sel, b, a)
		var ia, ib []uint64
		bitsAll := bit
		if idx != nil {
			ia, _ = sliceDim(idx, vshape, 1, 0, h, 1)
			ib, _ = sliceDim(idx, vshape, 1, h, 2*h, 1)
			di := make([]uint64, k)
			ring.Sub(di, ib, ia)
			sel = append(sel, di...)
			bitsAll = make([]uint64, nwords(2*k))
			for i := 0; i < k; i++ {
				bb := getBit(bit, i)
				setBit(bitsAll, i, bb)
				setBit(bitsAll, k+i, bb)
			}
		}
		prod := p.mulBits(sel, bitsAll)
		nv := make([]uint64, k)
		ring.Add(nv, a, prod[:k])
		var ni []uint64
		if idx != nil {
			ni = make([]uint64, k)
			ring.Add(ni, ia, prod[k:])
		}
		if m%2 == 1 {
			last, _ := sliceDim(vals, vshape, 1, m-1, m, 1)
			nv, _, _ = concatDim([][]uint64{nv, last}, [][]int{{outer, h, inner}, {outer, 1, inner}}, 1)
			if idx != nil {
				li, _ := sliceDim(idx, vshape, 1, m-1, m, 1)
				ni, _, _ = concatDim([][]uint64{ni, li}, [][]int{{outer, h, inner}, {outer, 1, inner}}, 1)
			}
			h++
		}
		vals, idx, vshape = nv, ni, []int{outer, h, inner}
	}
	mx := finish(vals)
	switch {
	case wantIndex:
		return mx, finish(idx)
	case wantOneHot:
		ar := make([]float64, n)
		for i := range ar {
			ar[i] = float64(i)
		}
		ashape := make([]int, len(x.shape))
		for i := range ashape {
			ashape[i] = 1
		}
		ashape[d] = n
		oh := Eq(p.newCT(rshape, idx), tensor.MustNew(ar, ashape...))
		return mx, oh
	}
	return mx, nil
}

func pickSecond(wantOneHot bool, oh *CrypTensor, wantIndex bool, idx *CrypTensor) *CrypTensor {
	switch {
	case wantOneHot:
		return oh
	case wantIndex:
		return idx
	}
	return nil
}

// publicConst returns shares of n copies of the public value v.
func (p *Party) publicConst(n int, v float64) []uint64 {
	out := make([]uint64, n)
	if p.rank == 0 && v != 0 {
		e, err := encodeValue(v, p.cfg.Precision)
		if err != nil {
			p.fail("const", err)
		}
		for i := range out {
			out[i] = e
		}
	}
	return out
}

// argmaxPairwise returns packed binary shares, laid out like x, of the
// one-hot first argmax along the middle dim of (outer, n, inner): one
// batched msb over all n(n−1)/2 differences, then a tree of ANDs over
// each candidate's n−1 conditions, four at a time (andAll).
func (p *Party) argmaxPairwise(x []uint64, outer, n, inner int) []uint64 {
	pairs := n * (n - 1) / 2
	cols := outer * inner
	d := make([]uint64, pairs*cols)
	pairIdx := make([][]int, n)
	for i := range pairIdx {
		pairIdx[i] = make([]int, n)
	}
	k := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			pairIdx[i][j] = k
			for o := 0; o < outer; o++ {
				for c := 0; c < inner; c++ {
					// x_i − x_j < 0  ⇔  x_i < x_j
					d[k*cols+o*inner+c] = x[(o*n+i)*inner+c] - x[(o*n+j)*inner+c]
				}
			}
			k++
		}
	}
	lt := p.msb(d) // bit (k, col): x_i < x_j for pair k = (i, j)
	total := outer * n * inner
	conds := make([][]uint64, n-1)
	for c := range conds {
		conds[c] = make([]uint64, nwords(total))
	}
	for o := 0; o < outer; o++ {
		for i := 0; i < n; i++ {
			for c := 0; c < inner; c++ {
				pos := (o*n+i)*inner + c
				col := o*inner + c
				slot := 0
				for j := 0; j < n; j++ {
					if j == i {
						continue
					}
					var b uint64
					if j < i {
						// x_i > x_j ⇔ x_j < x_i: pair (j, i).
						b = getBit(lt, pairIdx[j][i]*cols+col)
					} else {
						// x_i >= x_j ⇔ not (x_i < x_j): pair (i, j).
						b = getBit(lt, pairIdx[i][j]*cols+col)
						if p.rank == 0 {
							b ^= 1
						}
					}
					setBit(conds[slot], pos, b)
					slot++
				}
			}
		}
	}
	return p.andAll(conds)
}

// MaxPool2d takes the maximum over each pooling window of x (NCHW), as
// torch.nn.functional.max_pool2d; padded positions never win.
func (x *CrypTensor) MaxPool2d(opt tensor.PoolOpts) *CrypTensor {
	p := x.p
	defer p.op("MaxPool2d")()
	win, oshape := x.poolWindows("MaxPool2d", opt, -(1 << 40))
	v, _ := win.maxAlong(4, false, false, false)
	return v.Reshape(oshape...)
}

// poolWindows gathers every pooling window into a trailing dim:
// (N, C, OH, OW, KH·KW); positions outside the input hold the public fill.
func (x *CrypTensor) poolWindows(op string, opt tensor.PoolOpts, fill float64) (*CrypTensor, []int) {
	p := x.p
	if len(x.shape) != 4 {
		p.failf(op, "input shape %v is not NCHW", x.shape)
	}
	kh, kw := opt.Kernel[0], opt.Kernel[1]
	sh, sw := opt.Stride[0], opt.Stride[1]
	if sh == 0 {
		sh = kh
	}
	if sw == 0 {
		sw = kw
	}
	dh, dw := max(opt.Dilation[0], 1), max(opt.Dilation[1], 1)
	ph, pw := opt.Padding[0], opt.Padding[1]
	if kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || ph < 0 || pw < 0 || 2*ph > kh || 2*pw > kw {
		p.failf(op, "bad pooling options %+v", opt)
	}
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	oh := poolOut(H, kh, sh, ph, dh, opt.CeilMode)
	ow := poolOut(W, kw, sw, pw, dw, opt.CeilMode)
	if oh <= 0 || ow <= 0 {
		p.failf(op, "pooling window %dx%d larger than input %v", kh, kw, x.shape)
	}
	neg := p.publicConst(1, fill)[0]
	k := kh * kw
	out := make([]uint64, N*C*oh*ow*k)
	for nc := 0; nc < N*C; nc++ {
		plane := x.share[nc*H*W : (nc+1)*H*W]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				base := ((nc*oh+oy)*ow + ox) * k
				for a := 0; a < kh; a++ {
					for b := 0; b < kw; b++ {
						iy, ix := oy*sh-ph+a*dh, ox*sw-pw+b*dw
						v := neg
						if iy >= 0 && iy < H && ix >= 0 && ix < W {
							v = plane[iy*W+ix]
						}
						out[base+a*kw+b] = v
					}
				}
			}
		}
	}
	return p.newCT([]int{N, C, oh, ow, k}, out), []int{N, C, oh, ow}
}

// poolOut is PyTorch's pooling output size (a window must start inside
// the input or left padding in ceil mode).
func poolOut(in, k, s, pad, d int, ceil bool) int {
	num := in + 2*pad - d*(k-1) - 1
	if num < 0 {
		return 0
	}
	o := num/s + 1
	if ceil {
		o = (num+s-1)/s + 1
		if (o-1)*s >= in+pad {
			o--
		}
	}
	return o
}
