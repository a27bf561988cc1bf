// Package provider supplies the correlated randomness of the MPC engine:
// Beaver triples for multiplications, matrix products and convolutions,
// squares, binary AND triples, masks with their quotients for truncation
// with three or more parties, doubly-authenticated bits (daBits) for
// converting binary bits to arithmetic shares, and for comparisons masks
// dealt in both sharings with the products of their bits (Cmp) and masks
// of ANDs of several bits with the products of their subsets (Carry,
// Fan).
//
// Two providers follow CrypTen's threat model, in which parties are
// semi-honest and the dealer of randomness is trusted:
//
//   - TrustedFirstParty: rank 0 is the dealer. Every other party expands
//     its shares from a seed it shares with rank 0; rank 0 replays those
//     streams, so it knows every share, and computes its own correction
//     share (for a triple, c0 = a·b − Σ_{i>0} c_i). No message is sent.
//     Rank 0 therefore learns the masks, and thereby every opened value's
//     secret: this provider is for benchmarks and for settings in which
//     the other parties trust rank 0.
//   - TrustedThirdParty: a separate process (rank Size() on the
//     communicator) is the dealer. Every party expands its shares from
//     streams of a seed the dealer sent it; the dealer pushes rank 0's
//     correction shares ahead of use, per kind (and per matrix or
//     convolution shape), so they cost no round once the dealer has seen
//     a request of that size or shape, or was told of it by Preprocess
//     (see ttp_push.go). No computing party learns anything.
//
// A third needs no dealer at all: DealerFree, for two parties, generates
// the randomness between them with oblivious transfer (package ot) and
// lattice homomorphic encryption (package he), ahead of time into a pool
// (Preprocess) or when a request arrives; neither party learns the
// other's shares (docs/dealer-free.md).
//
// A request's parts are listed per Kind. Random parts are drawn from the
// party's stream and are ready when Get returns; derived parts (those
// that depend on every party's random parts, such as c = a·b) may still
// be computing on rank 0 and are valid once Shares.Wait returns, so rank
// 0 computes them while the masked values are on the wire.
package provider

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// Kind names a type of correlated randomness.
type Kind uint8

// The kinds of correlated randomness. Parts are listed random first, then
// derived; "binary" parts are XOR-shared bit vectors packed 64 per word,
// the others additive shares over Z_2^64.
const (
	// Mul: A, B (N each) | C = A∘B. Beaver triple for elementwise products.
	Mul Kind = iota + 1
	// Square: R (N) | R2 = R∘R.
	Square
	// MatMul: A (Batch·M·K), B (Batch·K·Cols) | C = A·B per batch entry.
	MatMul
	// Conv: A (input), B (kernel) | C = conv2d(A, B) for Conv.
	Conv
	// And: A, B (N words, binary) | C = A&B (binary).
	And
	// Trunc: R (N) | Q = ⌊R/Div⌋, R read as a signed 64-bit integer: a
	// mask and its quotient, for truncation with three or more parties.
	Trunc
	// DaBit: RB (⌈N/64⌉ words, binary: N random bits) | RA (N): the same
	// bits as additive shares of 0 or 1.
	DaBit
	// BitMul: RB (⌈N/64⌉ words, binary), A (N) | RA (N), C = A∘RA: a daBit
	// with a Beaver product of the bit and a random mask, so a product of
	// an arithmetic value and a binary bit costs one round.
	BitMul
	// Cmp: R (N) | RB (64 words per 64 elements, binary), RD (176 words
	// per 64 elements, binary): a comparison mask. R is uniform over the
	// ring; RB holds its bits bit-sliced, and RD the products of its bits
	// within each 4-bit digit (see cmp.go for the layout).
	Cmp
	// Carry: M (8·N words, binary) | MQ (22·N words, binary): for each
	// word, masks of four (generate, propagate) pairs and the products of
	// the mask subsets a carry-lookahead step over them needs (cmp.go).
	Carry
	// Fan: M (K·N words, binary) | MQ (FanProducts(K)·N words, binary):
	// for each word, masks of K bits and the products of every subset of
	// at least two of them, so that an AND of K shared bits costs one
	// round (cmp.go).
	Fan
	numKinds
)

var kindNames = [...]string{"", "mul", "square", "matmul", "conv", "and", "trunc", "dabit", "bitmul", "cmp", "carry", "fan"}

// String is the kind's name ("mul", "and", ...).
func (k Kind) String() string {
	if k > 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ConvSpec describes a convolution (see Conv).
type ConvSpec = ring.ConvSpec

// Request asks for one batch of correlated randomness.
type Request struct {
	Kind Kind
	// N is the element count (Mul, Square, Trunc, DaBit, BitMul, Cmp) or
	// the word count (And, Carry, Fan).
	N int
	// Batch, M, K, Cols shape a MatMul request; K is also a Fan request's
	// fan-in.
	Batch, M, K, Cols int
	// Conv shapes a Conv request.
	Conv ConvSpec
	// Div is the divisor of a Trunc request (at least 1).
	Div uint64
	// OmitZero lets the provider leave nil the derived parts that are
	// identically zero on this party (with the trusted first party, on
	// every rank but 0), sparing their allocation and clearing. A caller
	// that sets it must treat a nil part as zeros. It does not travel to a
	// dealer and does not change any party's randomness.
	OmitZero bool
	// Lazy leaves the random parts of a Mul or Square request undrawn
	// (nil in Parts): Shares.Stream(i) generates part i on demand, block
	// by block, so a large product need not store its masks and read
	// them back. The provider's stream moves past them as if drawn, so
	// parties may differ in laziness. Other kinds ignore it.
	Lazy bool
}

// lazy reports whether r's random parts are left undrawn.
func (r Request) lazy() bool { return r.Lazy && (r.Kind == Mul || r.Kind == Square) }

// part describes one part of a request: its length and whether it is
// XOR-shared.
type part struct {
	n      int
	binary bool
}

// layout returns the random and derived parts of r.
func (r Request) layout() (rnd, der []part, err error) {
	a := func(n int) part { return part{n: n} }
	b := func(n int) part { return part{n: n, binary: true} }
	if r.N < 0 || r.Batch < 0 || r.M < 0 || r.K < 0 || r.Cols < 0 || r.N > maxPart {
		return nil, nil, fmt.Errorf("provider: negative size in %s request %+v", r.Kind, r)
	}
	switch r.Kind {
	case Mul:
		return []part{a(r.N), a(r.N)}, []part{a(r.N)}, nil
	case Square:
		return []part{a(r.N)}, []part{a(r.N)}, nil
	case MatMul:
		if !fits(r.Batch, r.M, r.K) || !fits(r.Batch, r.K, r.Cols) || !fits(r.Batch, r.M, r.Cols) {
			return nil, nil, fmt.Errorf("provider: matmul request %dx(%dx%d)@(%dx%d) too large", r.Batch, r.M, r.K, r.K, r.Cols)
		}
		return []part{a(r.Batch * r.M * r.K), a(r.Batch * r.K * r.Cols)}, []part{a(r.Batch * r.M * r.Cols)}, nil
	case Conv:
		c := r.Conv
		if !fits(c.N, c.C, c.H, c.W) || !fits(c.Cout, c.C, c.KH, c.KW) || !fits(c.N, c.Cout, c.H+2*c.PadH, c.W+2*c.PadW) {
			return nil, nil, fmt.Errorf("provider: conv request %+v too large", c)
		}
		if err := c.Check(); err != nil {
			return nil, nil, fmt.Errorf("provider: %w", err)
		}
		return []part{a(c.InSize()), a(c.KernelSize())}, []part{a(c.OutSize())}, nil
	case And:
		return []part{b(r.N), b(r.N)}, []part{b(r.N)}, nil
	case Trunc:
		if r.Div == 0 || r.Div > maxDiv {
			return nil, nil, fmt.Errorf("provider: trunc request with divisor %d outside [1, 2^62]", r.Div)
		}
		return []part{a(r.N)}, []part{a(r.N)}, nil
	case DaBit:
		return []part{b(words(r.N))}, []part{a(r.N)}, nil
	case BitMul:
		return []part{b(words(r.N)), a(r.N)}, []part{a(r.N), a(r.N)}, nil
	case Cmp:
		w := words(r.N)
		return []part{a(r.N)}, []part{b(64 * w), b(DigitProducts * 16 * w)}, nil
	case Carry:
		if !fits(r.N, CarryProducts) {
			return nil, nil, fmt.Errorf("provider: carry request of %d words too large", r.N)
		}
		return []part{b(CarryVars * r.N)}, []part{b(CarryProducts * r.N)}, nil
	case Fan:
		if r.K < 2 || r.K > MaxFan {
			return nil, nil, fmt.Errorf("provider: fan request of fan-in %d outside [2, %d]", r.K, MaxFan)
		}
		if !fits(r.N, FanProducts(r.K)) {
			return nil, nil, fmt.Errorf("provider: fan request of %d words too large", r.N)
		}
		return []part{b(r.K * r.N)}, []part{b(FanProducts(r.K) * r.N)}, nil
	}
	return nil, nil, fmt.Errorf("provider: unknown request kind %d", r.Kind)
}

func words(bits int) int { return (bits + 63) / 64 }

// maxDiv bounds the divisor of a Trunc request.
const maxDiv = 1 << 62

// maxPart bounds the elements of one part of any request (2^31: 16 GiB).
const maxPart = 1 << 31

// fits reports whether the product of non-negative dims stays within
// maxPart, without overflowing.
func fits(dims ...int) bool {
	p := 1
	for _, d := range dims {
		if d < 0 || d > maxPart {
			return false
		}
		if d != 0 && p > maxPart/d {
			return false
		}
		p *= d
	}
	return true
}

// Shares is one party's shares of one request: Parts holds the random
// parts then the derived parts, in the order of the request's Kind.
type Shares struct {
	Parts [][]uint64
	wait  func() error
	err   error
	done  bool
	// borrowed parts are views of a provider's pool, not free-list
	// vectors: Release drops them instead of recycling them.
	borrowed bool
	// Lazy requests: the stream and the position of each random part
	// (srcs, when set, gives each part its own stream).
	src  *PRG
	srcs []*PRG
	from []uint64
}

// Stream returns a generator of random part i of a Lazy request: its
// Fill yields the part's values in order, from the first. Each call
// starts again at the beginning. A provider that stored the part (it
// computed it ahead, as the dealer-free provider does) replays it. It
// panics if part i is neither stored nor left to a stream.
func (s *Shares) Stream(i int) *PRG {
	if i < len(s.srcs) && s.srcs[i] != nil {
		return s.srcs[i].at(s.from[i])
	}
	if s.src == nil && i < len(s.Parts) && s.Parts[i] != nil {
		return replay(s.Parts[i])
	}
	if s.src == nil || i >= len(s.from) {
		panic(fmt.Sprintf("provider: part %d was not left to a stream", i))
	}
	return s.src.at(s.from[i])
}

// skipLazy leaves r's random parts to streams of g: it records where each
// starts and moves g past them. It returns the undrawn (nil) parts.
func (s *Shares) skipLazy(g *PRG, rnd []part) [][]uint64 {
	s.src = g.at(g.pos)
	pos := g.pos
	for _, p := range rnd {
		s.from = append(s.from, pos)
		pos += uint64(p.n)
	}
	g.seek(pos)
	return make([][]uint64, len(rnd))
}

// Placeholder returns zeros in the layout of r's shares, obtained from no
// one: what a party that has already failed to communicate stands in for
// r's randomness, so that its operation runs to its end without
// contacting anyone (package mpc reports the failure at the next reveal).
// It panics on a malformed request, as Get does.
func Placeholder(r Request) *Shares {
	rnd, der, err := r.layout()
	if err != nil {
		panic(err)
	}
	s := &Shares{done: true, borrowed: true}
	for _, p := range append(rnd, der...) {
		s.Parts = append(s.Parts, make([]uint64, p.n))
	}
	return s
}

// Release hands the parts' memory back for reuse by later requests; the
// caller must not touch Parts afterwards. Optional, but it spares the
// allocation (and zeroing) of fresh vectors on every operation.
func (s *Shares) Release() {
	if s.Wait() != nil || s.borrowed {
		s.Parts = nil
		return
	}
	for _, p := range s.Parts {
		putBuf(p)
	}
	s.Parts = nil
}

// getBuf returns a vector of length n with arbitrary contents, recycled
// through the ring package's free lists.
func getBuf(n int) []uint64 {
	if n == 0 {
		return []uint64{}
	}
	return ring.Get(n)
}

func putBuf(v []uint64) { ring.Put(v) }

// Wait blocks until the derived parts are valid and reports a failure to
// obtain them (a lost link to the dealer).
func (s *Shares) Wait() error {
	if !s.done {
		s.done = true
		if s.wait != nil {
			s.err = s.wait()
			s.wait = nil
		}
	}
	return s.err
}

// Provider deals correlated randomness to one party. Every party of a
// computation must make the same sequence of Get calls: streams stay in
// step because they are consumed in the same order everywhere.
type Provider interface {
	// Get returns this party's shares of r. It panics on a malformed
	// request (a programming error); failures to reach the dealer are
	// reported by Shares.Wait.
	Get(r Request) *Shares
	// Close releases the provider (and tells a third-party dealer that
	// this party is done).
	Close() error
}

// derive computes the full (reconstructed) values of r's derived parts
// from every party's random parts: rnd[party][part].
func derive(r Request, rnd [][][]uint64) [][]uint64 {
	_, der, _ := r.layout()
	// Every case below overwrites its outputs entirely.
	full := make([][]uint64, len(der))
	for i, d := range der {
		full[i] = getBuf(d.n)
	}
	// Sums of the parties' random parts; the replicas of the other
	// parties' parts are the dealer's own and are summed into in place.
	sum := func(part int) []uint64 {
		if len(rnd) == 1 {
			return rnd[0][part]
		}
		s := rnd[1][part]
		ring.AddTo(s, rnd[0][part])
		for p := 2; p < len(rnd); p++ {
			ring.AddTo(s, rnd[p][part])
		}
		return s
	}
	xor := func(part int) []uint64 {
		if len(rnd) == 1 {
			return rnd[0][part]
		}
		s := rnd[1][part]
		ring.XorTo(s, rnd[0][part])
		for p := 2; p < len(rnd); p++ {
			ring.XorTo(s, rnd[p][part])
		}
		return s
	}
	switch r.Kind {
	case Mul:
		if len(rnd) == 2 {
			// One pass instead of two sums and a product.
			mulSums(full[0], rnd[0][0], rnd[1][0], rnd[0][1], rnd[1][1])
			break
		}
		ring.Mul(full[0], sum(0), sum(1))
	case Square:
		if len(rnd) == 2 {
			mulSums(full[0], rnd[0][0], rnd[1][0], rnd[0][0], rnd[1][0])
			break
		}
		s := sum(0)
		ring.Mul(full[0], s, s)
	case MatMul:
		ring.BatchMatMul(full[0], sum(0), sum(1), r.Batch, r.M, r.K, r.Cols)
	case Conv:
		ring.Conv2d(full[0], sum(0), sum(1), r.Conv)
	case And:
		ring.And(full[0], xor(0), xor(1))
	case Trunc:
		quotients(full[0], sum(0), r.Div)
	case DaBit:
		unpackBits(full[0], xor(0))
	case BitMul:
		unpackBits(full[0], xor(0))
		ring.Mul(full[1], sum(1), full[0])
	case Cmp:
		deriveCmp(full[0], full[1], sum(0))
	case Carry:
		deriveCarry(full[0], xor(0))
	case Fan:
		deriveFan(full[0], xor(0), r.K)
	}
	return full
}

// mulSums sets c[i] = (a0[i] + a1[i]) · (b0[i] + b1[i]).
func mulSums(c, a0, a1, b0, b1 []uint64) {
	a0, a1, b0, b1 = a0[:len(c)], a1[:len(c)], b0[:len(c)], b1[:len(c)]
	for i := range c {
		c[i] = (a0[i] + a1[i]) * (b0[i] + b1[i])
	}
}

// quotients sets q[j] = ⌊r[j]/d⌋ with r[j] read as a signed integer.
func quotients(q, r []uint64, d uint64) {
	for j := range q {
		x := int64(r[j])
		v := x / int64(d)
		if x%int64(d) != 0 && x < 0 {
			v--
		}
		q[j] = uint64(v)
	}
}

// unpackBits sets dst[j] to bit j of the packed words.
func unpackBits(dst, packed []uint64) {
	for j := range dst {
		dst[j] = packed[j>>6] >> (j & 63) & 1
	}
}

// draw draws the parts of a request from one party's PRG.
func draw(g *PRG, ps []part) [][]uint64 {
	out := make([][]uint64, len(ps))
	for i, p := range ps {
		out[i] = getBuf(p.n)
		g.Fill(out[i])
	}
	return out
}

// release returns the vectors of parts to the pool.
func release(parts [][][]uint64) {
	for _, ps := range parts {
		for _, v := range ps {
			putBuf(v)
		}
	}
}

// zeros returns zero vectors shaped like ps.
func zeros(ps []part) [][]uint64 {
	out := make([][]uint64, len(ps))
	for i, p := range ps {
		out[i] = getBuf(p.n)
		clear(out[i])
	}
	return out
}
