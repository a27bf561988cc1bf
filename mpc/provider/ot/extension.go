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

// The extension is SoftSpoken OT (Roy, CRYPTO 2022) with k = 4, the
// semi-honest variant: IKNP's correlation with a quarter of its
// communication. Δ is cut into Kappa/k blocks δ_i of k bits. For each
// block the receiver of the extended OTs holds 2^k seeds s_{i,x} (the
// leaves of a GGM tree), the sender all of them but s_{i,δ_i} (it punctured
// the tree with k base OTs, choosing by the bits of δ_i). To extend m OTs
// with choice bits u, the receiver expands every leaf to m bits r_x with a
// PRG and sends c_i = u ⊕ ⊕_x r_x; its columns are t_{i,j} = ⊕_{x: x_j=1}
// r_x (j < k). The sender computes q_{i,j} = ⊕_{x≠δ_i} (x ⊕ δ_i)_j·r_x ⊕
// (δ_i)_j·c_i, which is t_{i,j} ⊕ (δ_i)_j·u: read by rows, q_l = t_l ⊕
// u_l·Δ, exactly IKNP's relation, and the same hash breaks it into pads:
// the sender's H(l, q_l) and H(l, q_l ⊕ Δ), the receiver's H(l, t_l), the
// pad of its choice u_l. c_i is uniform to the sender because r_{δ_i} is.
// The message is Kappa/k·m bits: 32 per OT instead of IKNP's 128.

// spK is SoftSpoken's k, and spBlocks the blocks of Δ.
const (
	spK      = 4
	spBlocks = Kappa / spK
	spLeaves = 1 << spK
)

// maxExtend bounds the OTs of one extension (so a corrupt length cannot
// make a party allocate without limit): 2^24 OTs, a 64 MiB message.
const maxExtend = 1 << 24

// Receiver is the receiving side of an OT extension: it chooses a bit per
// OT and learns one pad of each.
type Receiver struct {
	g    [spBlocks][spLeaves]cipher.Stream // every leaf's PRG
	next uint64                            // OTs extended so far (the hash tweak of the next)
}

// Sender is the sending side of an OT extension: it learns both pads of
// every OT and not the receiver's choices.
type Sender struct {
	delta Block
	keys  []Key                             // base-OT keys (chosen by the bits of Δ)
	g     [spBlocks][spLeaves]cipher.Stream // every leaf's PRG but the punctured one
	next  uint64
}

// ReceiverSetup is a Receiver waiting for its base OTs to finish.
type ReceiverSetup struct {
	base *BaseSender
	rnd  io.Reader
}

// StartReceiver begins the base OTs of a receiver (which is their sender):
// it returns the first message, for NewSender on the other party.
func StartReceiver(rnd io.Reader) (*ReceiverSetup, []byte, error) {
	bs, msg, err := NewBaseSender(rnd)
	if err != nil {
		return nil, nil, err
	}
	return &ReceiverSetup{base: bs, rnd: rnd}, msg, nil
}

// treeMsgBytes is the size of the receiver's tree message: two level sums
// of 16 bytes per base OT.
const treeMsgBytes = Kappa * 2 * 16

// Finish completes the receiver's base OTs with NewSender's message: it
// grows a GGM tree per block and returns the message that lets the sender
// puncture them (Sender.Finish).
func (rs *ReceiverSetup) Finish(msg []byte) (*Receiver, []byte, error) {
	k0, k1, err := rs.base.Keys(msg, Kappa)
	if err != nil {
		return nil, nil, err
	}
	r := &Receiver{}
	out := make([]byte, 0, treeMsgBytes)
	for i := 0; i < spBlocks; i++ {
		var root Key
		if _, err := io.ReadFull(rs.rnd, root[:]); err != nil {
			return nil, nil, fmt.Errorf("ot: randomness: %w", err)
		}
		level := []Key{root}
		for l := 0; l < spK; l++ {
			// Children of node y are y (bit l clear) and y | 1<<l.
			next := make([]Key, 2*len(level))
			var sum [2]Key
			for y, node := range level {
				c0, c1 := children(node)
				next[y], next[y|1<<l] = c0, c1
				sum[0], sum[1] = xorKey(sum[0], c0), xorKey(sum[1], c1)
			}
			// A sender with base key k^b learns the sum of the side it
			// did not choose: E_b = K_{1−b} ⊕ k^b.
			o := i*spK + l
			e0, e1 := xorKey(sum[1], k0[o]), xorKey(sum[0], k1[o])
			out = append(append(out, e0[:]...), e1[:]...)
			level = next
		}
		for x, leaf := range level {
			r.g[i][x] = stream(leaf)
		}
	}
	return r, out, nil
}

// children expands a GGM node into its two children: AES keyed by the
// node, on the blocks 0 and 1.
func children(node Key) (Key, Key) {
	b, err := aes.NewCipher(node[:])
	if err != nil {
		panic(err)
	}
	var in, c0, c1 Key
	b.Encrypt(c0[:], in[:])
	in[0] = 1
	b.Encrypt(c1[:], in[:])
	return c0, c1
}

func xorKey(a, b Key) Key {
	for i := range a {
		a[i] ^= b[i]
	}
	return a
}

// NewSender draws Δ and runs the base OTs as their receiver, choosing by
// the bits of Δ, from StartReceiver's first message; it returns the
// message to pass to ReceiverSetup.Finish. The sender is ready once
// Finish has taken the receiver's tree message.
func NewSender(rnd io.Reader, first []byte) (*Sender, []byte, error) {
	s := &Sender{}
	var d [16]byte
	if _, err := io.ReadFull(rnd, d[:]); err != nil {
		return nil, nil, fmt.Errorf("ot: randomness: %w", err)
	}
	s.delta = Block{binary.LittleEndian.Uint64(d[:8]), binary.LittleEndian.Uint64(d[8:])}
	choices := make([]bool, Kappa)
	for i := range choices {
		choices[i] = s.deltaBit(i) == 1
	}
	msg, keys, err := BaseReceive(rnd, first, choices)
	if err != nil {
		return nil, nil, err
	}
	s.keys = keys
	return s, msg, nil
}

func (s *Sender) deltaBit(i int) uint64 { return s.delta[i/64] >> (i % 64) & 1 }

// block returns δ_i, block i of Δ.
func (s *Sender) block(i int) int { return int(s.delta[i*spK/64] >> (i * spK % 64) & (spLeaves - 1)) }

// Finish punctures the receiver's trees with its tree message: the
// sender learns every leaf but the one at δ_i in each block.
func (s *Sender) Finish(msg []byte) error {
	if len(msg) != treeMsgBytes {
		return fmt.Errorf("ot: tree message of %d bytes, want %d", len(msg), treeMsgBytes)
	}
	if s.keys == nil {
		return fmt.Errorf("ot: sender finished twice")
	}
	for i := 0; i < spBlocks; i++ {
		d := s.block(i)
		var level []Key // level l: nodes y < 2^l, the path node (d's low l bits) unknown
		known := []bool{}
		for l := 0; l < spK; l++ {
			o := i*spK + l
			b := int(s.deltaBit(i*spK + l))
			var e Key
			copy(e[:], msg[(2*o+b)*16:])
			sum := xorKey(e, s.keys[o]) // the sum of side 1−b
			next := make([]Key, 1<<(l+1))
			nk := make([]bool, 1<<(l+1))
			for y := range level {
				if !known[y] {
					continue
				}
				c0, c1 := children(level[y])
				next[y], next[y|1<<l] = c0, c1
				nk[y], nk[y|1<<l] = true, true
			}
			path := d & (1<<l - 1)
			sib := path | (1-b)<<l // the path node's child on side 1−b
			for y := range next {
				if nk[y] && y>>l&1 == 1-b {
					sum = xorKey(sum, next[y])
				}
			}
			next[sib], nk[sib] = sum, true
			level, known = next, nk
		}
		for x := range level {
			if x != d {
				s.g[i][x] = stream(level[x])
			}
		}
	}
	s.keys = nil
	return nil
}

// Delta returns the sender's correlation Δ (its pads differ by H's input Δ).
func (s *Sender) Delta() Block { return s.delta }

// stream returns the PRG of a seed: AES-128 in counter mode.
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

// MessageWords is the size in words of the receiver's extension message
// for m OTs.
func MessageWords(m int) int { return spBlocks * m / 64 }

// Extend runs the receiver's step for m OTs (a multiple of 64) with the
// packed choice bits (m/64 words; bit j of the OTs is bit j%64 of word
// j/64). It returns the message for the sender (MessageWords(m) words)
// and the pads of the chosen messages.
func (r *Receiver) Extend(choices []uint64, m int) (msg []uint64, pads []Block, err error) {
	if err := checkM(m); err != nil {
		return nil, nil, err
	}
	w := m / 64
	if len(choices) != w {
		return nil, nil, fmt.Errorf("ot: %d choice words for %d OTs, want %d", len(choices), m, w)
	}
	t := make([]uint64, Kappa*w) // column i·k+j at [(i·k+j)·w:]
	msg = make([]uint64, spBlocks*w)
	rx := make([]uint64, w)
	buf := make([]byte, 8*w)
	for i := 0; i < spBlocks; i++ {
		c := msg[i*w : (i+1)*w]
		copy(c, choices)
		for x := 0; x < spLeaves; x++ {
			expand(r.g[i][x], rx, buf)
			xorInto(c, rx)
			for j := 0; j < spK; j++ {
				if x>>j&1 == 1 {
					xorInto(t[(i*spK+j)*w:(i*spK+j+1)*w], rx)
				}
			}
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
	if s.keys != nil {
		return nil, nil, fmt.Errorf("ot: sender used before its setup finished")
	}
	w := m / 64
	if len(msg) != spBlocks*w {
		return nil, nil, fmt.Errorf("ot: extension message of %d words for %d OTs, want %d", len(msg), m, spBlocks*w)
	}
	q := make([]uint64, Kappa*w)
	rx := make([]uint64, w)
	buf := make([]byte, 8*w)
	for i := 0; i < spBlocks; i++ {
		d := s.block(i)
		for x := 0; x < spLeaves; x++ {
			if x == d {
				continue
			}
			expand(s.g[i][x], rx, buf)
			for j := 0; j < spK; j++ {
				if (x^d)>>j&1 == 1 {
					xorInto(q[(i*spK+j)*w:(i*spK+j+1)*w], rx)
				}
			}
		}
		c := msg[i*w : (i+1)*w]
		for j := 0; j < spK; j++ {
			if d>>j&1 == 1 {
				xorInto(q[(i*spK+j)*w:(i*spK+j+1)*w], c)
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

func xorInto(dst, src []uint64) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] ^= src[i]
	}
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
