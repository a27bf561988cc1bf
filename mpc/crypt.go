package mpc

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/tensor/layout"
)

// CrypTensor is a secret-shared tensor of real numbers: this party's
// additive share over Z_2^64 of the fixed-point encoding of each element.
// Operations return new CrypTensors and never modify their receivers.
// Every party must apply the same operations in the same order.
type CrypTensor struct {
	p     *Party
	shape []int
	share []uint64
}

// newCT wraps a share vector.
func (p *Party) newCT(shape []int, share []uint64) *CrypTensor {
	return &CrypTensor{p: p, shape: cloneShape(shape), share: share}
}

// Encrypt secret-shares x, held by party src, among all parties. Every
// party must pass a tensor of the same shape; only src's values are used
// (the others may pass zeros). No communication: shares of zero expanded
// from the pairwise seeds mask src's encoding, so the other parties'
// shares are pure PRG output. It panics if x has values that cannot be
// encoded (NaN, infinities, or beyond 2^(62-Precision)).
func (p *Party) Encrypt(x *tensor.Tensor, src int) *CrypTensor {
	if x == nil {
		p.failf("Encrypt", "nil tensor (every party passes a tensor of the shape to encrypt; use Input to receive the shape from src)")
	}
	return p.encrypt("Encrypt", x.Shape(), x.Data(), src)
}

func (p *Party) encrypt(op string, shape []int, data []float64, src int) *CrypTensor {
	if src < 0 || src >= p.size {
		p.failf(op, "source rank %d out of range [0,%d)", src, p.size)
	}
	sh := p.zeroShares(numel(shape))
	if p.rank == src {
		enc := getScratch(len(sh))
		defer putScratch(enc)
		if err := encodeSlice(enc, data, p.cfg.Precision); err != nil {
			p.fail(op, err)
		}
		for i := range sh {
			sh[i] += enc[i]
		}
	}
	return p.newCT(shape, sh)
}

// Input secret-shares x, held by party src, when the other parties do not
// know its shape: src broadcasts the shape first (one round), and the
// others pass nil. It returns an error (on every rank) when src's x is nil
// or cannot be encoded.
func (p *Party) Input(x *tensor.Tensor, src int) (*CrypTensor, error) {
	return p.input("Input", x, false, nil, src)
}

// Load secret-shares the tensor that party src holds under tag in its
// Store: src reads and encrypts it, the others learn only its shape (one
// round) and receive their shares from the seeds. An error on src (no
// store, unknown tag, values that cannot be encoded) is reported on every
// rank.
//
// When the store says the tensor is restricted (TaggedStore), every party
// becomes restricted (see Restricted): its reveals then follow its
// RevealPolicy.
func (p *Party) Load(tag string, src int) (*CrypTensor, error) {
	var x *tensor.Tensor
	var err error
	var restricted bool
	if p.rank == src {
		if x, restricted, err = p.loadTagged(tag); err == nil && x == nil {
			err = fmt.Errorf("store returned no tensor")
		}
		if err != nil {
			err = fmt.Errorf("load %q: %w", tag, err)
		}
	}
	ct, err := p.input("Load", x, restricted, err, src)
	if err != nil {
		return nil, fmt.Errorf("mpc: load %q from party %d: %w", tag, src, err)
	}
	return ct, nil
}

// input announces src's shape (or its error, and whether its data is
// restricted) and encrypts.
func (p *Party) input(op string, x *tensor.Tensor, restricted bool, srcErr error, src int) (ct *CrypTensor, err error) {
	if src < 0 || src >= p.size {
		return nil, fmt.Errorf("mpc: %s: source rank %d out of range [0,%d)", op, src, p.size)
	}
	defer p.op(op)()
	var payload []byte
	if p.rank == src {
		if srcErr == nil && x == nil {
			srcErr = fmt.Errorf("nil tensor on the source party")
		}
		if srcErr == nil {
			enc := make([]uint64, x.Size())
			if e := encodeSlice(enc, x.Data(), p.cfg.Precision); e != nil {
				srcErr = e
			}
		}
		if srcErr == nil {
			payload = encodeShape(x.Shape())
		}
	}
	msg, err := Announce(p, src, payload, restricted, srcErr)
	if err != nil {
		return nil, err
	}
	shape, e := decodeShape(msg)
	if e != nil {
		return nil, fmt.Errorf("mpc: %s: shape from party %d: %w", op, src, e)
	}
	var data []float64
	if p.rank == src {
		data = x.Data()
	}
	defer func() {
		if r := recover(); r != nil {
			if me, ok := r.(*Error); ok {
				err = me
				return
			}
			panic(r)
		}
	}()
	return p.encrypt(op, shape, data, src), nil
}

// encodeShape is the rank, then each dim, 4 bytes little-endian.
func encodeShape(shape []int) []byte {
	b := []byte{byte(len(shape))}
	for _, d := range shape {
		b = append(b, byte(d), byte(d>>8), byte(d>>16), byte(d>>24))
	}
	return b
}

// maxInputElements bounds a received shape, so a corrupt header cannot
// make a party allocate without limit (2^31 elements = 16 GiB of shares).
const maxInputElements = 1 << 31

func decodeShape(b []byte) ([]int, error) {
	if len(b) < 1 || len(b) != 1+4*int(b[0]) {
		return nil, fmt.Errorf("malformed shape header of %d bytes", len(b))
	}
	shape := make([]int, b[0])
	n := 1
	for i := range shape {
		v := int(uint32(b[1+4*i]) | uint32(b[2+4*i])<<8 | uint32(b[3+4*i])<<16 | uint32(b[4+4*i])<<24)
		if v < 0 || v > maxInputElements {
			return nil, fmt.Errorf("dimension %d out of range", v)
		}
		shape[i] = v
		n *= v
		if n > maxInputElements {
			return nil, fmt.Errorf("shape %v too large", shape[:i+1])
		}
	}
	return shape, nil
}

// Zeros returns an encryption of zeros (fresh zero shares, no round).
func (p *Party) Zeros(shape ...int) *CrypTensor {
	return p.newCT(shape, p.zeroShares(numel(shape)))
}

// FromShares wraps p's share vector (already encoded at the party's
// precision) as a CrypTensor, for protocols built on top of mpc in trusted
// code. It is a function, not a method, so that the jail can deny it.
func FromShares(p *Party, share []uint64, shape ...int) *CrypTensor {
	if len(share) != numel(shape) {
		p.failf("FromShares", "%d shares for shape %v", len(share), shape)
	}
	return p.newCT(shape, share)
}

// ShareOf returns this party's share vector of x (not a copy), for trusted
// code: protocols built on top of mpc, and the worker returning a share to
// the requester. It is a function, not a method, so that the jail can deny
// it: job code never holds a share.
func ShareOf(x *CrypTensor) []uint64 { return x.share }

// Party returns the party x belongs to.
func (x *CrypTensor) Party() *Party { return x.p }

// Shape returns a copy of x's dimensions.
func (x *CrypTensor) Shape() []int { return cloneShape(x.shape) }

// Dims returns the number of dimensions.
func (x *CrypTensor) Dims() int { return len(x.shape) }

// Size returns the number of elements.
func (x *CrypTensor) Size() int { return len(x.share) }

// Dim returns the size of dimension d (negative counts from the end).
func (x *CrypTensor) Dim(d int) int { return x.shape[x.normDim("Dim", d)] }

func (x *CrypTensor) normDim(op string, d int) int {
	nd, err := tensor.NormDim(d, len(x.shape))
	if err != nil {
		x.p.failf(op, "shape %v: %v", x.shape, err)
	}
	return nd
}

// Clone returns a copy of x.
func (x *CrypTensor) Clone() *CrypTensor {
	return x.p.newCT(x.shape, append([]uint64(nil), x.share...))
}

// GetPlainText reveals x to every party (one round) and returns it. On a
// restricted party it needs the reveal policy to allow every party (see
// WithRevealPolicy); a refusal stops the party.
func (x *CrypTensor) GetPlainText() (*tensor.Tensor, error) {
	defer x.p.op("GetPlainText")()
	v := append([]uint64(nil), x.share...)
	if err := x.p.reveal("GetPlainText", -1, v, false); err != nil {
		return nil, err
	}
	return x.p.decode(v, x.shape), nil
}

// GetPlainTextTo reveals x to party dst only (one round): dst gets the
// tensor, the others nil. On a restricted party it needs the reveal policy
// to allow dst.
func (x *CrypTensor) GetPlainTextTo(dst int) (*tensor.Tensor, error) {
	defer x.p.op("GetPlainText")()
	if dst < 0 || dst >= x.p.size {
		return nil, fmt.Errorf("mpc: reveal to rank %d out of range [0,%d)", dst, x.p.size)
	}
	v := append([]uint64(nil), x.share...)
	if err := x.p.reveal("GetPlainTextTo", dst, v, false); err != nil {
		return nil, err
	}
	if x.p.rank != dst {
		return nil, nil
	}
	return x.p.decode(v, x.shape), nil
}

// MustPlainText is GetPlainText that panics on failure, for examples and
// notebook code inside a launcher.
func (x *CrypTensor) MustPlainText() *tensor.Tensor {
	t, err := x.GetPlainText()
	if err != nil {
		x.p.fail("GetPlainText", err)
	}
	return t
}

func (p *Party) decode(v []uint64, shape []int) *tensor.Tensor {
	out := make([]float64, len(v))
	decodeSlice(out, v, p.cfg.Precision)
	return tensor.MustNew(out, cloneShape(shape)...)
}

// encodePublic encodes a public tensor at the party's precision.
func (p *Party) encodePublic(op string, t *tensor.Tensor) []uint64 {
	v := make([]uint64, t.Size())
	if err := encodeSlice(v, t.Data(), p.cfg.Precision); err != nil {
		p.fail(op, err)
	}
	return v
}

// integral reports whether every value of t is an integer small enough to
// multiply shares by directly (no fixed-point scaling, no truncation).
func integral(t *tensor.Tensor) bool {
	for _, v := range t.Data() {
		if v != math.Trunc(v) || math.Abs(v) > 1<<31 {
			return false
		}
	}
	return true
}

// ---- shape operations (local) ----

// Reshape returns x with a new shape of the same size (one dim may be -1).
func (x *CrypTensor) Reshape(shape ...int) *CrypTensor {
	ns, err := layout.Reshape(shape, len(x.share))
	if err != nil {
		x.p.failf("Reshape", "shape %v: %v", x.shape, err)
	}
	return x.p.newCT(ns, x.share)
}

// Flatten returns x as a 1-D tensor.
func (x *CrypTensor) Flatten() *CrypTensor { return x.Reshape(-1) }

// FlattenFrom flattens dims start.. into one (torch.flatten(x, start)).
func (x *CrypTensor) FlattenFrom(start int) *CrypTensor {
	if len(x.shape) == 0 {
		return x.Reshape(1)
	}
	d := x.normDim("FlattenFrom", start)
	return x.Reshape(append(cloneShape(x.shape[:d]), -1)...)
}

// Unsqueeze inserts a dim of size 1 at d (d may equal Dims()).
func (x *CrypTensor) Unsqueeze(d int) *CrypTensor {
	nd, err := tensor.NormDim(d, len(x.shape)+1)
	if err != nil {
		x.p.failf("Unsqueeze", "shape %v: %v", x.shape, err)
	}
	ns := append(cloneShape(x.shape[:nd]), 1)
	ns = append(ns, x.shape[nd:]...)
	return x.p.newCT(ns, x.share)
}

// Squeeze removes the given dims of size 1 (all size-1 dims if none).
func (x *CrypTensor) Squeeze(dims ...int) *CrypTensor {
	drop := map[int]bool{}
	if len(dims) == 0 {
		for i, s := range x.shape {
			if s == 1 {
				drop[i] = true
			}
		}
	}
	for _, d := range dims {
		nd := x.normDim("Squeeze", d)
		if x.shape[nd] != 1 {
			x.p.failf("Squeeze", "dim %d of shape %v is not 1", d, x.shape)
		}
		drop[nd] = true
	}
	var ns []int
	for i, s := range x.shape {
		if !drop[i] {
			ns = append(ns, s)
		}
	}
	return x.p.newCT(ns, x.share)
}

// Transpose permutes dims: no argument reverses them, two arguments swap
// those two dims, and a full permutation reorders all of them.
func (x *CrypTensor) Transpose(dims ...int) *CrypTensor {
	nd := len(x.shape)
	perm := make([]int, nd)
	for i := range perm {
		perm[i] = nd - 1 - i
	}
	switch len(dims) {
	case 0:
	case 2:
		for i := range perm {
			perm[i] = i
		}
		a, b := x.normDim("Transpose", dims[0]), x.normDim("Transpose", dims[1])
		perm[a], perm[b] = perm[b], perm[a]
	default:
		return x.Permute(dims...)
	}
	return x.Permute(perm...)
}

// T transposes a 2-D tensor.
func (x *CrypTensor) T() *CrypTensor {
	if len(x.shape) != 2 {
		x.p.failf("T", "shape %v is not 2-D", x.shape)
	}
	return x.Permute(1, 0)
}

// Permute reorders dims: result dim i is x's dim perm[i].
func (x *CrypTensor) Permute(perm ...int) *CrypTensor {
	if len(perm) != len(x.shape) {
		x.p.failf("Permute", "permutation %v for shape %v", perm, x.shape)
	}
	seen := make([]bool, len(perm))
	norm := make([]int, len(perm))
	for i, d := range perm {
		nd := x.normDim("Permute", d)
		if seen[nd] {
			x.p.failf("Permute", "%v is not a permutation", perm)
		}
		seen[nd] = true
		norm[i] = nd
	}
	data, ns := layout.Permute(x.share, x.shape, norm)
	return x.p.newCT(ns, data)
}

// Slice returns elements start:stop:step of dim d (Python-style negative
// start and stop; step > 0).
func (x *CrypTensor) Slice(d, start, stop, step int) *CrypTensor {
	nd := x.normDim("Slice", d)
	n := x.shape[nd]
	if step <= 0 {
		x.p.failf("Slice", "step %d must be positive", step)
	}
	clampIdx := func(i int) int {
		if i < 0 {
			i += n
		}
		return max(0, min(i, n))
	}
	data, ns := sliceDim(x.share, x.shape, nd, clampIdx(start), clampIdx(stop), step)
	return x.p.newCT(ns, data)
}

// Index selects index i of dim d, dropping the dim.
func (x *CrypTensor) Index(d, i int) *CrypTensor {
	nd := x.normDim("Index", d)
	if i < 0 {
		i += x.shape[nd]
	}
	if i < 0 || i >= x.shape[nd] {
		x.p.failf("Index", "index %d out of range for dim %d of shape %v", i, d, x.shape)
	}
	return x.Slice(nd, i, i+1, 1).Squeeze(nd)
}

// IndexSelect gathers the given indices of dim d.
func (x *CrypTensor) IndexSelect(d int, idx []int) *CrypTensor {
	nd := x.normDim("IndexSelect", d)
	n := x.shape[nd]
	for _, i := range idx {
		if i < 0 || i >= n {
			x.p.failf("IndexSelect", "index %d out of range for dim %d of shape %v", i, d, x.shape)
		}
	}
	data, ns := layout.Select(x.share, x.shape, nd, idx)
	return x.p.newCT(ns, data)
}

// Expand broadcasts x to shape (NumPy rules).
func (x *CrypTensor) Expand(shape ...int) *CrypTensor {
	bs, err := tensor.BroadcastShapes(x.shape, shape)
	if err != nil || !tensor.SameShape(bs, shape) {
		x.p.failf("Expand", "cannot broadcast %v to %v", x.shape, shape)
	}
	return x.p.newCT(shape, expandTo(x.share, x.shape, shape))
}

// Pad pads dim i by widths[i] = {before, after} with the public value v.
// widths may be shorter than Dims(): it then applies to the last dims.
func (x *CrypTensor) Pad(widths [][2]int, v float64) *CrypTensor {
	if len(widths) > len(x.shape) {
		x.p.failf("Pad", "%d pad widths for shape %v", len(widths), x.shape)
	}
	full := make([][2]int, len(x.shape))
	copy(full[len(x.shape)-len(widths):], widths)
	for _, w := range full {
		if w[0] < 0 || w[1] < 0 {
			x.p.failf("Pad", "negative pad width %v", w)
		}
	}
	var fill uint64
	if v != 0 && x.p.rank == 0 {
		e, err := encodeValue(v, x.p.cfg.Precision)
		if err != nil {
			x.p.fail("Pad", err)
		}
		fill = e
	}
	data, ns := layout.Pad(x.share, x.shape, full, fill)
	return x.p.newCT(ns, data)
}

// Concat joins encrypted tensors along dim d.
func Concat(d int, xs ...*CrypTensor) *CrypTensor {
	if len(xs) == 0 {
		panic(&Error{Rank: -1, Op: "Concat", Err: fmt.Errorf("no tensors")})
	}
	p := xs[0].p
	nd := xs[0].normDim("Concat", d)
	parts := make([][]uint64, len(xs))
	shapes := make([][]int, len(xs))
	for i, x := range xs {
		if x.p != p {
			p.failf("Concat", "operands belong to different parties")
		}
		parts[i], shapes[i] = x.share, x.shape
	}
	data, ns, err := concatDim(parts, shapes, nd)
	if err != nil {
		p.fail("Concat", err)
	}
	return p.newCT(ns, data)
}

// Stack joins encrypted tensors of one shape along a new dim d.
func Stack(d int, xs ...*CrypTensor) *CrypTensor {
	if len(xs) == 0 {
		panic(&Error{Rank: -1, Op: "Stack", Err: fmt.Errorf("no tensors")})
	}
	nd, err := tensor.NormDim(d, len(xs[0].shape)+1)
	if err != nil {
		xs[0].p.failf("Stack", "%v", err)
	}
	us := make([]*CrypTensor, len(xs))
	for i, x := range xs {
		if !tensor.SameShape(x.shape, xs[0].shape) {
			x.p.failf("Stack", "shape %v differs from %v", x.shape, xs[0].shape)
		}
		us[i] = x.Unsqueeze(nd)
	}
	return Concat(nd, us...)
}

// Split cuts x along dim d into pieces of the given sizes.
func (x *CrypTensor) Split(d int, sizes ...int) []*CrypTensor {
	nd := x.normDim("Split", d)
	total := 0
	for _, s := range sizes {
		if s < 0 {
			x.p.failf("Split", "negative size %d", s)
		}
		total += s
	}
	if total != x.shape[nd] {
		x.p.failf("Split", "sizes %v do not sum to dim %d of shape %v", sizes, d, x.shape)
	}
	out := make([]*CrypTensor, len(sizes))
	at := 0
	for i, s := range sizes {
		out[i] = x.Slice(nd, at, at+s, 1)
		at += s
	}
	return out
}

// CombineShares returns the tensor of the given shape whose additive
// shares (over Z_2^64, at precision fractional bits) are shares, one per
// party: what the requester does with the shares every party returned
// (PySyft's get of a shared tensor). Host code only. It fails unless
// every share has one word per element.
func CombineShares(precision uint, shape []int, shares ...[]uint64) (*tensor.Tensor, error) {
	if precision > 30 {
		return nil, fmt.Errorf("mpc: combine shares: precision %d bits is too high", precision)
	}
	n := 1
	for _, d := range shape {
		if d < 0 || d > maxInputElements {
			return nil, fmt.Errorf("mpc: combine shares: shape %v", shape)
		}
		n *= d
		if n > maxInputElements {
			return nil, fmt.Errorf("mpc: combine shares: shape %v too large", shape)
		}
	}
	if len(shares) == 0 {
		return nil, fmt.Errorf("mpc: combine shares: no shares")
	}
	sum := make([]uint64, n)
	for i, s := range shares {
		if len(s) != n {
			return nil, fmt.Errorf("mpc: combine shares: share %d has %d words for shape %v", i, len(s), shape)
		}
		for j, w := range s {
			sum[j] += w
		}
	}
	out := make([]float64, n)
	decodeSlice(out, sum, precision)
	return tensor.New(out, cloneShape(shape)...)
}
