package ot

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"unsafe"

	"github.com/gomplab/gomplab/mpc/internal/vaes"
)

// Block is a 128-bit value: a row of the IKNP matrix, a pad, or Δ.
type Block [2]uint64

// Xor returns b ⊕ c.
func (b Block) Xor(c Block) Block { return Block{b[0] ^ c[0], b[1] ^ c[1]} }

// IKNP extension. The receiver of the extended OTs holds Kappa pairs of
// seeds (k0_i, k1_i) from base OTs in which it was the sender; the sender
// holds a random Δ and, for each i, the seed k_i^{Δ_i} chosen by bit i of
// Δ. To extend m OTs with choice bits r, the receiver expands every seed
// to m bits with a PRG G and sends the columns u_i = G(k0_i) ⊕ G(k1_i) ⊕ r;
// the sender computes q_i = G(k_i^{Δ_i}) ⊕ Δ_i·u_i = G(k0_i) ⊕ Δ_i·r.
// Read by rows, q_j = t_j ⊕ r_j·Δ where t_j is the receiver's row of the
// G(k0_i). Hashing breaks the correlation: the sender's pads are
// H(j, q_j) and H(j, q_j ⊕ Δ), the receiver's H(j, t_j), the pad of its
// choice r_j. The message is Kappa·m bits; the columns are uniform to the
// sender because G(k1_i) is (it never learns k1_i when Δ_i = 0, nor k0_i
// when Δ_i = 1, and each column is masked by the one it lacks).

// maxExtend bounds the OTs of one extension (so a corrupt length cannot
// make a party allocate without limit): 2^24 OTs, a 256 MiB message.
const maxExtend = 1 << 24

// Receiver is the receiving side of an OT extension: it chooses a bit per
// OT and learns one pad of each.
type Receiver struct {
	g0, g1 [Kappa]cipher.Stream
	next   uint64 // OTs extended so far (the hash tweak of the next)
}

// Sender is the sending side of an OT extension: it learns both pads of
// every OT and not the receiver's choices.
type Sender struct {
	delta Block
	g     [Kappa]cipher.Stream
	next  uint64
}

// ReceiverSetup is a Receiver waiting for its base OTs to finish.
type ReceiverSetup struct{ base *BaseSender }

// StartReceiver begins the base OTs of a receiver (which is their sender):
// it returns the first message, for NewSender on the other party.
func StartReceiver(rnd io.Reader) (*ReceiverSetup, []byte, error) {
	bs, msg, err := NewBaseSender(rnd)
	if err != nil {
		return nil, nil, err
	}
	return &ReceiverSetup{base: bs}, msg, nil
}

// Finish completes the receiver's setup with NewSender's message.
func (rs *ReceiverSetup) Finish(msg []byte) (*Receiver, error) {
	k0, k1, err := rs.base.Keys(msg, Kappa)
	if err != nil {
		return nil, err
	}
	r := &Receiver{}
	for i := 0; i < Kappa; i++ {
		r.g0[i], r.g1[i] = stream(k0[i]), stream(k1[i])
	}
	return r, nil
}

// NewSender draws Δ and runs the base OTs as their receiver, choosing by
// the bits of Δ, from StartReceiver's first message; it returns the
// message to pass to ReceiverSetup.Finish.
func NewSender(rnd io.Reader, first []byte) (*Sender, []byte, error) {
	s := &Sender{}
	var d [16]byte
	if _, err := io.ReadFull(rnd, d[:]); err != nil {
		return nil, nil, fmt.Errorf("ot: randomness: %w", err)
	}
	s.delta = Block{binary.LittleEndian.Uint64(d[:8]), binary.LittleEndian.Uint64(d[8:])}
	choices := make([]bool, Kappa)
	for i := range choices {
		choices[i] = s.delta[i/64]>>(i%64)&1 == 1
	}
	msg, keys, err := BaseReceive(rnd, first, choices)
	if err != nil {
		return nil, nil, err
	}
	for i := range keys {
		s.g[i] = stream(keys[i])
	}
	return s, msg, nil
}

// Delta returns the sender's correlation Δ (its pads differ by H's input Δ).
func (s *Sender) Delta() Block { return s.delta }

// stream returns the PRG of a base-OT key: AES-128 in counter mode.
func stream(k Key) cipher.Stream {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // 16-byte keys are always valid
	}
	return cipher.NewCTR(b, make([]byte, aes.BlockSize))
}

// expand overwrites col (words) with the next 64·len(col) bits of g.
func expand(g cipher.Stream, col []uint64, buf []byte) {
	buf = buf[:8*len(col)]
	clear(buf)
	g.XORKeyStream(buf, buf)
	for i := range col {
		col[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
}

// checkM validates an extension size.
func checkM(m int) error {
	if m <= 0 || m%64 != 0 || m > maxExtend {
		return fmt.Errorf("ot: cannot extend %d OTs (a positive multiple of 64, at most %d)", m, maxExtend)
	}
	return nil
}

// Extend runs the receiver's step for m OTs (a multiple of 64) with the
// packed choice bits (m/64 words; bit j of the OTs is bit j%64 of word
// j/64). It returns the message for the sender (Kappa columns of m/64
// words) and the pads of the chosen messages.
func (r *Receiver) Extend(choices []uint64, m int) (msg []uint64, pads []Block, err error) {
	if err := checkM(m); err != nil {
		return nil, nil, err
	}
	w := m / 64
	if len(choices) != w {
		return nil, nil, fmt.Errorf("ot: %d choice words for %d OTs, want %d", len(choices), m, w)
	}
	t := make([]uint64, Kappa*w)
	msg = make([]uint64, Kappa*w)
	buf := make([]byte, 8*w)
	for i := 0; i < Kappa; i++ {
		ti, ui := t[i*w:(i+1)*w], msg[i*w:(i+1)*w]
		expand(r.g0[i], ti, buf)
		expand(r.g1[i], ui, buf)
		for k := range ui {
			ui[k] ^= ti[k] ^ choices[k]
		}
	}
	pads = rows(t, m)
	hashRows(pads, r.next)
	r.next += uint64(m)
	return msg, pads, nil
}

// Extend runs the sender's step for m OTs from the receiver's message and
// returns the pads of both messages of every OT.
func (s *Sender) Extend(msg []uint64, m int) (p0, p1 []Block, err error) {
	if err := checkM(m); err != nil {
		return nil, nil, err
	}
	w := m / 64
	if len(msg) != Kappa*w {
		return nil, nil, fmt.Errorf("ot: extension message of %d words for %d OTs, want %d", len(msg), m, Kappa*w)
	}
	q := make([]uint64, Kappa*w)
	buf := make([]byte, 8*w)
	for i := 0; i < Kappa; i++ {
		qi, ui := q[i*w:(i+1)*w], msg[i*w:(i+1)*w]
		expand(s.g[i], qi, buf)
		if s.delta[i/64]>>(i%64)&1 == 1 {
			for k := range qi {
				qi[k] ^= ui[k]
			}
		}
	}
	p0 = rows(q, m)
	p1 = make([]Block, m)
	for j := range p0 {
		p1[j] = p0[j].Xor(s.delta)
	}
	hashRows(p0, s.next)
	hashRows(p1, s.next)
	s.next += uint64(m)
	return p0, p1, nil
}

// rows transposes Kappa columns of m bits (column-major, m/64 words each)
// into m rows of Kappa bits.
func rows(cols []uint64, m int) []Block {
	w := m / 64
	out := make([]Block, m)
	var blk [64]uint64
	for k := 0; k < w; k++ {
		for h := 0; h < 2; h++ {
			for i := 0; i < 64; i++ {
				blk[i] = cols[(64*h+i)*w+k]
			}
			transpose64(&blk)
			for j := 0; j < 64; j++ {
				out[64*k+j][h] = blk[j]
			}
		}
	}
	return out
}

// transpose64 transposes a 64×64 bit matrix in place: afterwards bit i of
// a[j] is what bit j of a[i] was.
func transpose64(a *[64]uint64) {
	j := 32
	m := uint64(0x00000000FFFFFFFF)
	for j != 0 {
		for k := 0; k < 64; k = (k + j + 1) &^ j {
			t := ((a[k] >> j) ^ a[k+j]) & m
			a[k+j] ^= t
			a[k] ^= t << j
		}
		j >>= 1
		m ^= m << j
	}
}

// fixedKey is the public key of the fixed-key AES permutation π that the
// hash is built from (any constant works).
var fixedKey = [16]byte{0x5b, 0x1e, 0x3c, 0x8a, 0x92, 0x47, 0x0d, 0xe6, 0x71, 0x2f, 0xa8, 0x19, 0xc4, 0x63, 0xb5, 0x0e}

var pi = vaes.New(fixedKey)

// hashRows replaces each row x_j by H(j0+j, x_j), the tweakable
// correlation-robust hash of Guo, Katz, Wang and Yu (IEEE S&P 2020):
// H(j, x) = π(π(x) ⊕ j) ⊕ π(x), with π fixed-key AES-128 (the tweak in
// the block's low word), computed 16 blocks at a time with vector AES.
func hashRows(x []Block, j0 uint64) {
	if len(x) == 0 {
		return
	}
	w := unsafe.Slice((*uint64)(unsafe.Pointer(&x[0])), 2*len(x))
	y := make([]uint64, len(w))
	pi.ECB(y, w)
	for j := range x {
		w[2*j], w[2*j+1] = y[2*j]^(j0+uint64(j)), y[2*j+1]
	}
	pi.ECB(w, w)
	for i := range w {
		w[i] ^= y[i]
	}
}

// WordsBytes views words as bytes, for sending (little-endian machines;
// the transports use the same view).
func WordsBytes(v []uint64) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v))
}
