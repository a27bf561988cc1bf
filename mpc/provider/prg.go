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
	ctr cipher.Stream // portable path
	// Vector path: round keys, counters, and the unread tail of the last
	// 16-block chunk (buf[32-left:]).
	rk   *[176]byte
	st   *ctrState
	buf  [32]uint64
	left int
}

// NewPRG returns the stream of seed s.
func NewPRG(s Seed) *PRG {
	return newPRG(s, haveVAES)
}

func newPRG(s Seed, vector bool) *PRG {
	hi := binary.BigEndian.Uint64(s[16:24])
	if vector {
		rk := expandKey(s[:16])
		return &PRG{rk: &rk, st: newCtrState(hi)}
	}
	block, err := aes.NewCipher(s[:16])
	if err != nil {
		panic(err) // 16-byte keys are always valid
	}
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[:8], hi)
	return &PRG{ctr: cipher.NewCTR(block, iv[:])}
}

// zeroBlock is the plaintext the key stream is XORed with: reading a small
// cached block of zeros saves clearing the destination first.
var zeroBlock [16 << 10]byte

// Fill overwrites v with the next len(v) values of the stream.
func (g *PRG) Fill(v []uint64) {
	if len(v) == 0 {
		return
	}
	if g.st != nil {
		if g.left > 0 {
			n := copy(v, g.buf[32-g.left:])
			g.left -= n
			v = v[n:]
		}
		if chunks := len(v) / 32; chunks > 0 {
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
