package provider

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/provider/he"
	"github.com/gomplab/gomplab/mpc/provider/ot"
)

// DealerFree is the provider of two parties that trust no dealer: they
// generate their correlated randomness together, by oblivious transfer
// (elementwise and binary kinds) and lattice homomorphic encryption
// (matrix and convolution triples), so that neither learns the other's
// shares. Each party draws its own random parts from a private stream;
// the derived parts (c = a·b and the like) come out of a protocol whose
// messages are pseudo-random to the receiver. See docs/dealer-free.md.
//
// The protocols run on the parties' communicator, in lock step: either
// inside Get (both parties make the same calls, so both run the same
// protocol at the same point), or ahead of time in Preprocess, which
// fills a pool that later Gets draw from. Preprocessed material is used
// when the pool holds enough of the requested kind (elementwise kinds) or
// a request of the same shape (matrix and convolution triples); anything
// else is generated on the spot.
type DealerFree struct {
	c          comm.Comm
	rank, peer int
	shares     *PRG      // the party's random parts
	rnd        io.Reader // randomness of the protocols (keys, masks, base OTs)

	otS *ot.Sender
	otR *ot.Receiver
	sk  *he.SecretKey
	pk  *he.PublicKey

	elem   map[poolKey]*elemPool
	shaped map[shapeKey][]*Shares
}

// poolKey identifies an elementwise pool: the kind, and a Fan's fan-in.
type poolKey struct {
	kind Kind
	fan  int
}

func poolOf(r Request) poolKey {
	if r.Kind == Fan {
		return poolKey{Fan, r.K}
	}
	return poolKey{kind: r.Kind}
}

// shapeKey identifies a matrix or convolution request for the pool.
type shapeKey struct {
	kind              Kind
	batch, m, k, cols int
	conv              ConvSpec
}

func keyOf(r Request) shapeKey {
	return shapeKey{kind: r.Kind, batch: r.Batch, m: r.M, k: r.K, cols: r.Cols, conv: r.Conv}
}

// NewDealerFree returns the dealer-free provider of this party of a
// two-party world. seed is private to the party: its shares and every
// random choice of its protocols are expanded from it.
func NewDealerFree(c comm.Comm, seed Seed) (*DealerFree, error) {
	if c.Size() != 2 || c.Rank() < 0 || c.Rank() > 1 {
		return nil, fmt.Errorf("provider: the dealer-free provider runs between exactly two parties, not %d (rank %d)", c.Size(), c.Rank())
	}
	return &DealerFree{
		c: c, rank: c.Rank(), peer: 1 - c.Rank(),
		shares: NewPRG(seed.Derive("dealer-free shares")),
		rnd:    prgReader{NewPRG(seed.Derive("dealer-free protocols"))},
		elem:   map[poolKey]*elemPool{},
		shaped: map[shapeKey][]*Shares{},
	}, nil
}

// prgReader reads a PRG's stream as bytes.
type prgReader struct{ g *PRG }

func (r prgReader) Read(b []byte) (int, error) {
	var w [1]uint64
	n := len(b)
	for len(b) >= 8 {
		r.g.Fill(w[:])
		binary.LittleEndian.PutUint64(b, w[0])
		b = b[8:]
	}
	if len(b) > 0 {
		r.g.Fill(w[:])
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], w[0])
		copy(b, t[:])
	}
	return n, nil
}

// Get implements Provider. It panics on a malformed request and on Trunc
// (which only three or more parties use).
func (d *DealerFree) Get(r Request) *Shares {
	rnd, der, err := r.layout()
	if err != nil {
		panic(err)
	}
	if r.Kind == Trunc {
		panic("provider: the dealer-free provider has no truncation masks (two parties truncate locally)")
	}
	var s *Shares
	if r.Kind == MatMul || r.Kind == Conv {
		k := keyOf(r)
		if q := d.shaped[k]; len(q) > 0 {
			s, d.shaped[k] = q[0], q[1:]
			return s
		}
		s, err = d.generate(r)
	} else if p := d.elem[poolOf(r)]; p != nil && p.avail() >= r.N {
		return p.take(r)
	} else {
		s, err = d.generate(r)
	}
	if err != nil {
		// Allocate the parts anyway: callers may read the random parts
		// before they Wait and learn of the failure.
		return &Shares{Parts: append(zeros(rnd), zeros(der)...), err: err, done: true}
	}
	return s
}

// Preprocess generates the correlated randomness of reqs now and keeps it
// for later Gets: both parties must call it with the same requests. For
// elementwise kinds (mul, square, and, dabit, bitmul, cmp, carry) only the kind and
// the count matter: later requests of any size draw from the pool; matrix
// and convolution triples are kept per shape.
func (d *DealerFree) Preprocess(reqs ...Request) error {
	for _, r := range reqs {
		if _, _, err := r.layout(); err != nil {
			return err
		}
		if r.Kind == Trunc {
			return fmt.Errorf("provider: the dealer-free provider has no truncation masks")
		}
		if bitPacked(r.Kind) {
			// Whole words, so that every pooled element is valid.
			r.N = words(r.N) * 64
		}
		s, err := d.generate(r)
		if err != nil {
			return err
		}
		if r.Kind == MatMul || r.Kind == Conv {
			k := keyOf(r)
			d.shaped[k] = append(d.shaped[k], s)
			continue
		}
		p := d.elem[poolOf(r)]
		if p == nil {
			p = &elemPool{}
			d.elem[poolOf(r)] = p
		}
		p.add(r, s.Parts)
	}
	return nil
}

// Pooled reports how much preprocessed material of kind k is left: for
// elementwise kinds the elements (words for and), for matrix and
// convolution triples the number of requests.
func (d *DealerFree) Pooled(k Kind) int {
	if k == MatMul || k == Conv {
		n := 0
		for key, q := range d.shaped {
			if key.kind == k {
				n += len(q)
			}
		}
		return n
	}
	n := 0
	for key, p := range d.elem {
		if key.kind == k {
			n += p.avail()
		}
	}
	return n
}

// Close implements Provider (the parties' communicator is the caller's).
func (d *DealerFree) Close() error { return nil }

// elemPool holds preprocessed elementwise material: every part in one
// long vector, consumed from the front. Binary parts are word vectors;
// bit-packed kinds (dabit, bitmul) are consumed in whole words (64
// elements at a time).
type elemPool struct {
	parts [][]uint64
	off   int // elements (words for and) consumed
	n     int // elements held
}

// bitPacked reports whether a kind is consumed in whole words of 64
// elements (dabit and bitmul pack one bit per element in their first
// part; cmp lays 64 elements out per word).
func bitPacked(k Kind) bool { return k == DaBit || k == BitMul || k == Cmp }

// partOffset is where part i of kind k starts after off elements (words
// for and and carry) of the pool: a multiple of 64 for bit-packed kinds.
func partOffset(k Kind, i, off int) int {
	switch {
	case (k == DaBit || k == BitMul) && i == 0:
		return off / 64
	case k == Cmp && i == 2:
		return off / 64 * DigitProducts * 16
	case k == Carry && i == 0:
		return off * CarryVars
	case k == Carry && i == 1:
		return off * CarryProducts
	}
	return off
}

// fanOffset is partOffset for a Fan request of fan-in k.
func fanOffset(k, i, off int) int {
	if i == 0 {
		return off * k
	}
	return off * FanProducts(k)
}

func (p *elemPool) avail() int { return p.n - p.off }

func (p *elemPool) add(r Request, parts [][]uint64) {
	n := r.N // a multiple of 64 for bit-packed kinds (see Preprocess)
	if p.parts == nil {
		p.parts = make([][]uint64, len(parts))
	}
	// Drop what was consumed before appending.
	for i := range parts {
		lo := partOffset(r.Kind, i, p.off)
		if r.Kind == Fan {
			lo = fanOffset(r.K, i, p.off)
		}
		p.parts[i] = append(p.parts[i][lo:], parts[i]...)
	}
	p.n, p.off = p.n-p.off+n, 0
}

func (p *elemPool) take(r Request) *Shares {
	rnd, der, _ := r.layout()
	all := append(rnd, der...)
	// The parts are views of the pool (no copy): each range is handed
	// out once, and the pool only ever appends after its end.
	s := &Shares{Parts: make([][]uint64, len(all)), borrowed: true}
	for i, pt := range all {
		lo := partOffset(r.Kind, i, p.off)
		if r.Kind == Fan {
			lo = fanOffset(r.K, i, p.off)
		}
		s.Parts[i] = p.parts[i][lo : lo+pt.n : lo+pt.n]
	}
	used := r.N
	if bitPacked(r.Kind) {
		used = words(r.N) * 64
	}
	p.off += used
	return s
}

// ---- setup ----

// setupOT runs the base OTs of both directions and the puncturing of the
// extension's trees (three rounds), once.
func (d *DealerFree) setupOT() error {
	if d.otS != nil {
		return nil
	}
	rs, first, err := ot.StartReceiver(d.rnd)
	if err != nil {
		return err
	}
	if err := d.send(first); err != nil {
		return err
	}
	peerFirst, err := d.recv()
	if err != nil {
		return err
	}
	s, msg, err := ot.NewSender(d.rnd, peerFirst)
	if err != nil {
		return err
	}
	if err := d.send(msg); err != nil {
		return err
	}
	peerMsg, err := d.recv()
	if err != nil {
		return err
	}
	r, tree, err := rs.Finish(peerMsg)
	if err != nil {
		return err
	}
	if err := d.send(tree); err != nil {
		return err
	}
	peerTree, err := d.recv()
	if err != nil {
		return err
	}
	if err := s.Finish(peerTree); err != nil {
		return err
	}
	d.otS, d.otR = s, r
	return nil
}

var (
	heOnce sync.Once
	heCtx  *he.Context
	heErr  error
)

// context returns the shared homomorphic-encryption context.
func heContext() (*he.Context, error) {
	heOnce.Do(func() { heCtx, heErr = he.NewContext() })
	return heCtx, heErr
}

// setupHE draws this party's key and exchanges public keys, once.
func (d *DealerFree) setupHE() error {
	if d.sk != nil {
		return nil
	}
	c, err := heContext()
	if err != nil {
		return err
	}
	sk, err := c.NewSecretKey(d.rnd)
	if err != nil {
		return err
	}
	if err := d.send(sk.Public()); err != nil {
		return err
	}
	m, err := d.recv()
	if err != nil {
		return err
	}
	pk, err := c.ParsePublic(m)
	if err != nil {
		return fmt.Errorf("public key from party %d: %w", d.peer, err)
	}
	d.sk, d.pk = sk, pk
	return nil
}

func (d *DealerFree) send(b []byte) error {
	if err := d.c.Send(d.peer, b); err != nil {
		return err
	}
	return nil
}

func (d *DealerFree) recv() ([]byte, error) { return d.c.Recv(d.peer) }

// ---- generation ----

// generate runs the protocol of one request now.
func (d *DealerFree) generate(r Request) (*Shares, error) {
	rnd, der, _ := r.layout()
	parts := draw(d.shares, rnd)
	var out [][]uint64
	var err error
	switch {
	case r.Kind == MatMul || r.Kind == Conv:
		if err = d.setupHE(); err == nil {
			out, err = d.bilinear(r, parts)
		}
	case r.Kind == Cmp:
		if err = d.setupOT(); err == nil {
			out, err = d.cmpMasks(r, parts)
		}
	case r.Kind == Carry:
		if err = d.setupOT(); err == nil {
			out, err = d.carryMasks(r, parts)
		}
	case r.Kind == Fan:
		if err = d.setupOT(); err == nil {
			out, err = d.fanMasks(r, parts)
		}
	case (r.Kind == Mul || r.Kind == Square) && r.N >= heProductsMin:
		if err = d.setupHE(); err == nil {
			out, err = d.heProducts(r, parts)
		}
	default:
		if err = d.setupOT(); err == nil {
			out, err = d.elementwise(r, parts)
		}
	}
	if err != nil {
		release([][][]uint64{parts})
		return nil, fmt.Errorf("provider: dealer-free %s: %w", r.Kind, err)
	}
	if len(out) != len(der) {
		panic("provider: dealer-free derived parts miscounted")
	}
	return &Shares{Parts: append(parts, out...)}, nil
}
