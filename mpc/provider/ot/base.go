// Package ot implements oblivious transfer for the dealer-free provider:
// base OTs with a public-key step (the "simplest OT" of Chou and Orlandi,
// over the prime-order group of edwards25519), and an extension that
// turns 128 base OTs into any number of random OTs at the cost of
// symmetric cryptography: SoftSpoken OT (Roy, CRYPTO 2022) with k = 4,
// IKNP's correlation (Ishai, Kilian, Nissim and Petrank, CRYPTO 2003) at
// 32 bits of communication per OT instead of 128. Security is
// semi-honest, with computational security parameter κ = 128.
//
// The package is transport-free: every protocol step is a pure function
// from the messages received (and the party's private randomness) to the
// messages to send, so the steps are testable in memory and any channel
// can carry them. Randomness comes from the caller as an io.Reader (a
// cryptographic PRG in production, a seeded one in tests that replay a
// party).
package ot

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"filippo.io/edwards25519"
)

// Kappa is the computational security parameter: the number of base OTs
// and the width in bits of an extended OT's pads.
const Kappa = 128

// PointSize is the size of an encoded group element.
const PointSize = 32

// Key is a 128-bit key obtained from a base OT.
type Key [16]byte

// randomScalar draws a uniform scalar from rnd (64 bytes reduced mod ℓ,
// statistically uniform).
func randomScalar(rnd io.Reader) (*edwards25519.Scalar, error) {
	var b [64]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return nil, fmt.Errorf("ot: randomness: %w", err)
	}
	return edwards25519.NewScalar().SetUniformBytes(b[:])
}

// keyOf hashes the transcript of OT i and the shared point into a key.
func keyOf(i int, a, r, shared *edwards25519.Point) Key {
	h := sha256.New()
	var idx [8]byte
	binary.LittleEndian.PutUint64(idx[:], uint64(i))
	h.Write([]byte("gomplab ot base"))
	h.Write(idx[:])
	h.Write(a.Bytes())
	h.Write(r.Bytes())
	h.Write(shared.Bytes())
	var sum [32]byte
	h.Sum(sum[:0])
	var k Key
	copy(k[:], sum[:16])
	return k
}

// decodePoints parses n encoded group elements, rejecting a message of
// the wrong length or an encoding that is not a point of the curve.
func decodePoints(b []byte, n int) ([]*edwards25519.Point, error) {
	if len(b) != n*PointSize {
		return nil, fmt.Errorf("ot: expected %d points (%d bytes), got %d bytes", n, n*PointSize, len(b))
	}
	ps := make([]*edwards25519.Point, n)
	for i := range ps {
		p, err := new(edwards25519.Point).SetBytes(b[i*PointSize : (i+1)*PointSize])
		if err != nil {
			return nil, fmt.Errorf("ot: point %d: %w", i, err)
		}
		ps[i] = p
	}
	return ps, nil
}

// BaseSender is the sender's side of a batch of base OTs: it learns two
// keys per OT, the receiver one of them, chosen by a bit the sender never
// sees.
//
// Protocol (Chou–Orlandi): the sender draws a and sends A = a·G; the
// receiver draws b_i and sends R_i = b_i·G, or A + b_i·G when its choice
// is 1; the keys are k0_i = H(i, A, R_i, a·R_i) and k1_i = H(i, A, R_i,
// a·(R_i − A)), and the receiver computes H(i, A, R_i, b_i·A), which is the
// key of its choice. R_i is uniform whatever the choice (it hides it
// perfectly); the other key needs a Diffie–Hellman value the receiver
// cannot compute.
type BaseSender struct {
	a  *edwards25519.Scalar
	pA *edwards25519.Point
}

// NewBaseSender draws the sender's secret and returns the first message
// (the point A).
func NewBaseSender(rnd io.Reader) (*BaseSender, []byte, error) {
	a, err := randomScalar(rnd)
	if err != nil {
		return nil, nil, err
	}
	pA := new(edwards25519.Point).ScalarBaseMult(a)
	return &BaseSender{a: a, pA: pA}, pA.Bytes(), nil
}

// Keys computes both keys of each of the n OTs from the receiver's message.
func (s *BaseSender) Keys(msg []byte, n int) (k0, k1 []Key, err error) {
	rs, err := decodePoints(msg, n)
	if err != nil {
		return nil, nil, err
	}
	k0, k1 = make([]Key, n), make([]Key, n)
	var t edwards25519.Point
	for i, r := range rs {
		k0[i] = keyOf(i, s.pA, r, t.ScalarMult(s.a, r))
		var d edwards25519.Point
		d.Subtract(r, s.pA)
		k1[i] = keyOf(i, s.pA, r, t.ScalarMult(s.a, &d))
	}
	return k0, k1, nil
}

// BaseReceive is the receiver's side of a batch of len(choices) base OTs:
// from the sender's first message it returns its message (the points R_i)
// and the key of each choice.
func BaseReceive(rnd io.Reader, first []byte, choices []bool) (msg []byte, keys []Key, err error) {
	as, err := decodePoints(first, 1)
	if err != nil {
		return nil, nil, err
	}
	pA := as[0]
	msg = make([]byte, 0, len(choices)*PointSize)
	keys = make([]Key, len(choices))
	var shared edwards25519.Point
	for i, c := range choices {
		b, err := randomScalar(rnd)
		if err != nil {
			return nil, nil, err
		}
		r := new(edwards25519.Point).ScalarBaseMult(b)
		if c {
			r.Add(r, pA)
		}
		msg = append(msg, r.Bytes()...)
		keys[i] = keyOf(i, pA, r, shared.ScalarMult(b, pA))
	}
	return msg, keys, nil
}
