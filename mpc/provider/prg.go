package provider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"unsafe"
)

// SeedSize is the size in bytes of a PRG seed.
const SeedSize = 32

// Seed is the secret from which a PRG stream is expanded.
type Seed [SeedSize]byte

// NewSeed returns a fresh seed from the operating system's CSPRNG.
func NewSeed() Seed {
	var s Seed
	if _, err := rand.Read(s[:]); err != nil {
		panic("provider: crypto/rand failed: " + err.Error())
	}
	return s
}

// Derive returns the seed of a sub-stream named by label, so one agreed
// seed can feed several independent streams (zero shares, triples, ...).
func (s Seed) Derive(label string) Seed {
	h := sha256.New()
	h.Write(s[:])
	h.Write([]byte(label))
	var out Seed
	h.Sum(out[:0])
	return out
}

// PRG expands a seed into a stream of pseudo-random uint64s with AES-128 in
// counter mode (see aes.go for the exact stream, the same on every
// machine). Two PRGs built from the same seed produce the same stream;
// that is how parties share randomness without talking. A PRG is not safe
// for concurrent use.
type PRG struct {
	ctr   cipher.Stream // portable path
	block cipher.Block  // portable path: the cipher, to reposition
	hi    uint64        // the counter's fixed high half
	pos   uint64        // values of the stream read so far
	// Vector path: round keys, counters, and the unread tail of the last
	// 16-block chunk (buf[32-left:]).
	rk   *[176]byte
	st   *ctrState
	buf  [32]uint64
	left int
	// Replay path: a stored vector read in order (see replay).
	data []uint64
}

// replay returns a PRG whose stream is the stored vector v (and zeros
// past its end): a provider that computed its masks ahead of time serves
// a lazy request's streams from them.
func replay(v []uint64) *PRG { return &PRG{data: v} }

// NewPRG returns the stream of seed s.
func NewPRG(s Seed) *PRG {
	return newPRG(s, haveVAES)
}

func newPRG(s Seed, vector bool) *PRG {
	hi := binary.BigEndian.Uint64(s[16:24])
	if vector {
		rk := expandKey(s[:16])
		return &PRG{rk: &rk, st: newCtrState(hi), hi: hi}
	}
	block, err := aes.NewCipher(s[:16])
	if err != nil {
		panic(err) // 16-byte keys are always valid
	}
	g := &PRG{block: block, hi: hi}
	g.seek(0)
	return g
}

// at returns a new PRG over the same stream, positioned pos values from
// its start: counter mode lets any part of a stream be generated on its
// own, so a dealer can expand a party's parts block by block.
func (g *PRG) at(pos uint64) *PRG {
	h := &PRG{block: g.block, hi: g.hi, rk: g.rk}
	if g.st != nil {
		h.st = new(ctrState)
		*h.st = *g.st
	}
	h.seek(pos)
	return h
}

// seek positions g pos values from the start of its stream.
func (g *PRG) seek(pos uint64) {
	g.pos, g.left = pos, 0
	if g.st != nil {
		// Chunk k holds blocks 16k..16k+15, two values each; lane l of the
		// counter state starts at block 16k+l.
		chunk := pos / 32
		for lane := 0; lane < 4; lane++ {
			g.st.ctr[2*lane+1] = 16*chunk + uint64(lane)
		}
		if r := int(pos % 32); r != 0 {
			ctrVAES(g.rk, g.st, &g.buf[0], 1)
			g.left = 32 - r
		}
		return
	}
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[:8], g.hi)
	binary.BigEndian.PutUint64(iv[8:], pos/2)
	g.ctr = cipher.NewCTR(g.block, iv[:])
	if pos%2 == 1 {
		var skip [8]byte
		g.ctr.XORKeyStream(skip[:], skip[:])
	}
}

// zeroBlock is the plaintext the key stream is XORed with: reading a small
// cached block of zeros saves clearing the destination first.
var zeroBlock [16 << 10]byte

// vaesBatch bounds the chunks of one assembly call (256 KiB of output),
// so that a long fill stays preemptible: the garbage collector waits for
// a goroutine running assembly to return before it can scan its stack.
const vaesBatch = 1024

// Fill overwrites v with the next len(v) values of the stream.
func (g *PRG) Fill(v []uint64) {
	if len(v) == 0 {
		return
	}
	if g.data != nil {
		n := 0
		if g.pos < uint64(len(g.data)) {
			n = copy(v, g.data[g.pos:])
		}
		clear(v[n:])
		g.pos += uint64(len(v))
		return
	}
	g.pos += uint64(len(v))
	if g.st != nil {
		if g.left > 0 {
			n := copy(v, g.buf[32-g.left:])
			g.left -= n
			v = v[n:]
		}
		for len(v) >= 32 {
			chunks := min(len(v)/32, vaesBatch)
			ctrVAES(g.rk, g.st, &v[0], chunks)
			v = v[32*chunks:]
		}
		if len(v) > 0 {
			ctrVAES(g.rk, g.st, &g.buf[0], 1)
			g.left = 32 - copy(v, g.buf[:])
		}
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*8)
	for len(b) > 0 {
		n := min(len(b), len(zeroBlock))
		g.ctr.XORKeyStream(b[:n], zeroBlock[:n])
		b = b[n:]
	}
}

// Uint64s returns the next n values of the stream in a new slice.
func (g *PRG) Uint64s(n int) []uint64 {
	v := make([]uint64, n)
	g.Fill(v)
	return v
}
