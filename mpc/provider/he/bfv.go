// Package he is the lattice homomorphic encryption behind the dealer-free
// provider's matrix and convolution triples: a BFV-style scheme (Brakerski;
// Fan–Vercauteren) over R_Q = Z_Q[X]/(X^N+1) with plaintext modulus
// t = 2^64 and coefficient encoding, so that one product of a ciphertext
// by a plaintext polynomial computes many inner products at once (the
// encoding of Cheetah, Huang et al., USENIX Security 2022). It is built on
// the RNS rings and NTTs of lattigo (github.com/tuneinsight/lattigo/v5);
// lattigo's own BFV needs a prime plaintext modulus, which Z_2^64 is not.
//
// Only what two semi-honest parties need to share a product is provided:
// secret-key encryption with a seeded mask (half the upload), products by
// plaintexts, a masked and noise-flooded result re-randomised with the
// owner's public key, switched down to a small modulus for the reply, and
// decryption. See docs/dealer-free.md for the parameters and their
// security.
package he

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// Parameters (see docs/dealer-free.md): N = 2^13; Q the product of four
// 54-bit NTT-friendly primes (log2 Q ≈ 216, below the 218 bits the
// homomorphic encryption standard allows at N = 8192 for 128-bit security
// with a ternary secret and σ = 3.2); replies travel modulo the first two
// primes (≈ 108 bits).
const (
	LogN      = 13
	N         = 1 << LogN
	limbs     = 4
	downLimbs = 2
	primeBits = 54
	sigma     = 3.2
	// gaussBound truncates the error distribution (6σ): |e| ≤ 19.
	gaussBound = 19.2
	// floodBits: the flooding noise is uniform in [−2^floodBits, 2^floodBits).
	floodBits = 148
	// Slot encoding: slotMods NTT-friendly primes of slotBits bits, whose
	// product (≈ 2^177) holds a sum of products of 64-bit values plus a
	// 40-bit statistical mask exactly.
	slotBits = 59
	slotMods = 3
	// SeedSize is the size of the seed a ciphertext's mask is expanded from.
	SeedSize = 32
)

// Context holds the rings and constants of the scheme. It is safe for
// concurrent use once built.
type Context struct {
	rQ, rD   *ring.Ring
	q        []uint64
	p64      *plain   // t = 2^64, coefficient encoding
	slots    []*plain // prime t ≡ 1 mod 2N, slot (SIMD) encoding
	pow64    []uint64 // 2^64 mod q_i
	pow128   []uint64 // 2^128 mod q_i
	floodOff []uint64 // 2^floodBits mod q_i
	qD       *big.Int // the reply modulus q_0·q_1
	qDHalf   *big.Int
	q0InvQ1  uint64 // q_0^{-1} mod q_1
}

// NewContext builds the scheme's rings.
func NewContext() (*Context, error) {
	g := ring.NewNTTFriendlyPrimesGenerator(primeBits, 2*N)
	q, err := g.NextDownstreamPrimes(limbs)
	if err != nil {
		return nil, fmt.Errorf("he: primes: %w", err)
	}
	rQ, err := ring.NewRing(N, q)
	if err != nil {
		return nil, fmt.Errorf("he: ring: %w", err)
	}
	c := &Context{rQ: rQ, rD: rQ.AtLevel(downLimbs - 1), q: q}
	Q := rQ.Modulus()
	t := new(big.Int).Lsh(big.NewInt(1), 64)
	c.p64 = newPlain(Q, q, t, nil)
	sg := ring.NewNTTFriendlyPrimesGenerator(slotBits, 2*N)
	ts, err := sg.NextDownstreamPrimes(slotMods)
	if err != nil {
		return nil, fmt.Errorf("he: slot primes: %w", err)
	}
	for _, ti := range ts {
		rt, err := ring.NewRing(N, []uint64{ti})
		if err != nil {
			return nil, fmt.Errorf("he: slot ring: %w", err)
		}
		c.slots = append(c.slots, newPlain(Q, q, new(big.Int).SetUint64(ti), rt))
	}
	for _, qi := range q {
		bq := new(big.Int).SetUint64(qi)
		c.pow64 = append(c.pow64, new(big.Int).Mod(t, bq).Uint64())
		c.pow128 = append(c.pow128, new(big.Int).Mod(new(big.Int).Mul(t, t), bq).Uint64())
		c.floodOff = append(c.floodOff, new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), floodBits), bq).Uint64())
	}
	c.qD = new(big.Int).Mul(new(big.Int).SetUint64(q[0]), new(big.Int).SetUint64(q[1]))
	c.qDHalf = new(big.Int).Rsh(c.qD, 1)
	c.q0InvQ1 = new(big.Int).ModInverse(new(big.Int).SetUint64(q[0]), new(big.Int).SetUint64(q[1])).Uint64()
	return c, nil
}

// plain is a plaintext modulus t and what encoding and decoding under it
// need: Q = Δ·t + r.
type plain struct {
	t      uint64 // 0 stands for 2^64
	tBig   *big.Int
	deltaQ []uint64   // Δ mod q_i
	remQ   uint64     // r
	rt     *ring.Ring // the ring Z_t[X]/(X^N+1) of slot encoding (nil for 2^64)
}

func newPlain(Q *big.Int, q []uint64, t *big.Int, rt *ring.Ring) *plain {
	delta, rem := new(big.Int).QuoRem(Q, t, new(big.Int))
	p := &plain{tBig: t, remQ: rem.Uint64(), rt: rt}
	if t.BitLen() <= 64 && t.Cmp(new(big.Int).Lsh(big.NewInt(1), 64)) < 0 {
		p.t = t.Uint64()
	}
	for _, qi := range q {
		p.deltaQ = append(p.deltaQ, new(big.Int).Mod(delta, new(big.Int).SetUint64(qi)).Uint64())
	}
	return p
}

// roundRemTimes returns ⌊r·m/t⌉ for m < t.
func (p *plain) roundRemTimes(m uint64) uint64 {
	hi, lo := bits.Mul64(p.remQ, m)
	if p.t == 0 {
		return hi + lo>>63
	}
	q, rem := bits.Div64(hi, lo, p.t)
	if rem >= p.t-rem {
		q++
	}
	return q
}

// LogQ returns log2 of the ciphertext modulus.
func (c *Context) LogQ() float64 { return c.rQ.LogModuli() }

// Moduli returns the RNS primes of Q.
func (c *Context) Moduli() []uint64 { return append([]uint64(nil), c.q...) }

// prng is an AES-CTR stream as an io.Reader, for lattigo's samplers.
type prng struct{ s cipher.Stream }

func (p prng) Read(b []byte) (int, error) {
	clear(b)
	p.s.XORKeyStream(b, b)
	return len(b), nil
}

func newPRNG(seed []byte) prng {
	b, err := aes.NewCipher(seed[:16])
	if err != nil {
		panic(err)
	}
	iv := make([]byte, 16)
	copy(iv, seed[16:32])
	return prng{cipher.NewCTR(b, iv)}
}

// readSeed draws a seed from rnd.
func readSeed(rnd io.Reader) ([SeedSize]byte, error) {
	var s [SeedSize]byte
	_, err := io.ReadFull(rnd, s[:])
	if err != nil {
		err = fmt.Errorf("he: randomness: %w", err)
	}
	return s, err
}

// uniformNTT returns the uniform polynomial (read as NTT values) of seed.
func (c *Context) uniformNTT(seed [SeedSize]byte) ring.Poly {
	p := c.rQ.NewPoly()
	ring.NewUniformSampler(newPRNG(seed[:]), c.rQ).Read(p)
	return p
}

// SecretKey is a party's key: a ternary secret s, its public key, and its
// private randomness.
type SecretKey struct {
	c      *Context
	s      ring.Poly // NTT form, all limbs
	rnd    io.Reader
	gauss  ring.Sampler
	pkSeed [SeedSize]byte
	pkB    ring.Poly // −a·s + e, NTT
}

// NewSecretKey draws a key from rnd (which also feeds every later
// encryption with this key).
func (c *Context) NewSecretKey(rnd io.Reader) (*SecretKey, error) {
	seed, err := readSeed(rnd)
	if err != nil {
		return nil, err
	}
	ts, err := ring.NewSampler(newPRNG(seed[:]), c.rQ, ring.Ternary{P: 2.0 / 3.0}, false)
	if err != nil {
		return nil, err
	}
	k := &SecretKey{c: c, s: ts.ReadNew(), rnd: rnd}
	c.rQ.NTT(k.s, k.s)
	gseed, err := readSeed(rnd)
	if err != nil {
		return nil, err
	}
	k.gauss, err = ring.NewSampler(newPRNG(gseed[:]), c.rQ, ring.DiscreteGaussian{Sigma: sigma, Bound: gaussBound}, false)
	if err != nil {
		return nil, err
	}
	if k.pkSeed, err = readSeed(rnd); err != nil {
		return nil, err
	}
	a := c.uniformNTT(k.pkSeed)
	k.pkB = k.gauss.ReadNew()
	c.rQ.NTT(k.pkB, k.pkB)
	c.rQ.MulCoeffsBarrettThenAdd(a, k.s, k.pkB) // a·s + e
	c.rQ.Neg(k.pkB, k.pkB)                      // −a·s − e: the sign of e is immaterial
	return k, nil
}

// PublicKey is the other party's public key, used to re-randomise results.
type PublicKey struct {
	b, a ring.Poly
}

// Public encodes the public key: its seed and b.
func (k *SecretKey) Public() []byte {
	out := append([]byte(nil), k.pkSeed[:]...)
	return append(out, k.c.polyBytes(k.pkB, limbs)...)
}

// ParsePublic decodes a public key.
func (c *Context) ParsePublic(b []byte) (*PublicKey, error) {
	if len(b) != SeedSize+limbs*limbBytes {
		return nil, fmt.Errorf("he: public key of %d bytes, want %d", len(b), SeedSize+limbs*limbBytes)
	}
	var seed [SeedSize]byte
	copy(seed[:], b)
	pb, err := c.parsePoly(b[SeedSize:], limbs)
	if err != nil {
		return nil, fmt.Errorf("he: public key: %w", err)
	}
	return &PublicKey{b: pb, a: c.uniformNTT(seed)}, nil
}

// limbBytes is the encoded size of one limb: N coefficients of primeBits
// bits each, packed (every prime is below 2^primeBits).
const limbBytes = N * primeBits / 8

// polyBytes encodes the first l limbs of p, primeBits bits per
// coefficient, low bits first.
func (c *Context) polyBytes(p ring.Poly, l int) []byte {
	out := make([]byte, 0, l*limbBytes)
	var acc uint64
	var n uint
	for i := 0; i < l; i++ {
		for _, v := range p.Coeffs[i] {
			// acc holds n < 8 pending bits, so v (< 2^primeBits) fits.
			acc |= v << n
			n += primeBits
			for n >= 8 {
				out = append(out, byte(acc))
				acc >>= 8
				n -= 8
			}
		}
	}
	return out
}

// parsePoly decodes l packed limbs, rejecting a wrong length or a
// coefficient that is not reduced.
func (c *Context) parsePoly(b []byte, l int) (ring.Poly, error) {
	if len(b) != l*limbBytes {
		return ring.Poly{}, fmt.Errorf("he: polynomial of %d bytes, want %d", len(b), l*limbBytes)
	}
	p := ring.NewPoly(N, l-1)
	var acc uint64
	var n uint
	for i := 0; i < l; i++ {
		for j := range p.Coeffs[i] {
			for n < primeBits {
				acc |= uint64(b[0]) << n
				b = b[1:]
				n += 8
			}
			v := acc & (1<<primeBits - 1)
			acc >>= primeBits
			n -= primeBits
			if v >= c.q[i] {
				return ring.Poly{}, fmt.Errorf("he: coefficient %d of limb %d is not reduced", j, i)
			}
			p.Coeffs[i][j] = v
		}
	}
	return p, nil
}

// encodeScaled writes ⌊Q·m/t⌉ mod Q for the coefficients m (m read as
// residues in [0, t); missing coefficients are zero) into p's limbs:
// Δ·m + ⌊r·m/t⌉ with Q = Δ·t + r. This exact scaling keeps the
// noise of a product by a plaintext p at e·p plus at most N·2^62,
// whatever Q mod 2^64 is.
func (c *Context) encodeScaled(pl *plain, m []uint64, p ring.Poly) {
	for i, qi := range c.q[:len(p.Coeffs)] {
		u := c.rQ.SubRings[i].BRedConstant
		d := pl.deltaQ[i]
		out := p.Coeffs[i]
		for j := range out {
			var v uint64
			if j < len(m) {
				v = m[j]
			}
			rnd := pl.roundRemTimes(v)
			out[j] = ring.BRedAdd(ring.BRed(d, ring.BRedAdd(v, qi, u), qi, u)+ring.BRedAdd(rnd, qi, u), qi, u)
		}
	}
}

// encodeCentered writes the coefficients m, read as residues mod t
// lifted to (−t/2, t/2] (for t = 2^64: as signed 64-bit integers), into
// p's limbs.
func (c *Context) encodeCentered(pl *plain, m []uint64, p ring.Poly) {
	for i, qi := range c.q[:len(p.Coeffs)] {
		u := c.rQ.SubRings[i].BRedConstant
		out := p.Coeffs[i]
		for j := range out {
			var v int64
			if j < len(m) {
				v = int64(m[j])
				if pl.t != 0 {
					if m[j] > pl.t/2 {
						v = -int64(pl.t - m[j])
					}
				}
			}
			if v >= 0 {
				out[j] = ring.BRedAdd(uint64(v), qi, u)
			} else {
				r := ring.BRedAdd(uint64(-v), qi, u) // |v| ≤ 2^63 fits
				out[j] = (qi - r) % qi
			}
		}
	}
}

// Ciphertext is an encryption under a secret key: c0 in NTT form, and the
// seed of its uniform part c1 = a.
type Ciphertext struct {
	seed [SeedSize]byte
	c0   ring.Poly
}

// ciphertextBytes is the encoded size of a Ciphertext.
const ciphertextBytes = SeedSize + limbs*limbBytes

// Encrypt encrypts the coefficient vector m (len ≤ N) under k:
// c0 = −a·s + e + ⌊Q·m/t⌉, c1 = a expanded from a fresh seed.
func (k *SecretKey) Encrypt(m []uint64) (*Ciphertext, error) { return k.encrypt(k.c.p64, m) }

func (k *SecretKey) encrypt(pl *plain, m []uint64) (*Ciphertext, error) {
	seeds, err := k.seeds()
	if err != nil {
		return nil, err
	}
	return k.encryptWith(pl, m, seeds), nil
}

// ctSeeds are the random choices of one encryption: the public seed of its
// mask a and the private seed of its error.
type ctSeeds struct{ a, e [SeedSize]byte }

// seeds draws one encryption's seeds from the key's randomness.
func (k *SecretKey) seeds() (ctSeeds, error) {
	a, err := readSeed(k.rnd)
	if err != nil {
		return ctSeeds{}, err
	}
	e, err := readSeed(k.rnd)
	return ctSeeds{a, e}, err
}

// encryptWith encrypts m with the given seeds; safe for concurrent use.
func (k *SecretKey) encryptWith(pl *plain, m []uint64, sd ctSeeds) *Ciphertext {
	c := k.c
	ct := &Ciphertext{seed: sd.a, c0: c.rQ.NewPoly()}
	c.encodeScaled(pl, m, ct.c0)
	gs, err := ring.NewSampler(newPRNG(sd.e[:]), c.rQ, ring.DiscreteGaussian{Sigma: sigma, Bound: gaussBound}, false)
	if err != nil {
		panic(err) // constant, valid parameters
	}
	gs.ReadAndAdd(ct.c0)
	c.rQ.NTT(ct.c0, ct.c0)
	a := c.uniformNTT(sd.a)
	c.rQ.MulCoeffsBarrett(a, k.s, a)
	c.rQ.Sub(ct.c0, a, ct.c0)
	return ct
}

// parallel runs f(0..n−1) on up to GOMAXPROCS goroutines and returns the
// failures joined. Each f writes only its own outputs.
func parallel(n int, f func(i int) error) error {
	w := min(n, runtime.GOMAXPROCS(0))
	if w <= 1 {
		for i := 0; i < n; i++ {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	errs := make([]error, w)
	var wg sync.WaitGroup
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Bytes encodes the ciphertext.
func (ct *Ciphertext) Bytes(c *Context) []byte {
	return append(append([]byte(nil), ct.seed[:]...), c.polyBytes(ct.c0, limbs)...)
}

// ParseCiphertext decodes a ciphertext.
func (c *Context) ParseCiphertext(b []byte) (*Ciphertext, error) {
	if len(b) != ciphertextBytes {
		return nil, fmt.Errorf("he: ciphertext of %d bytes, want %d", len(b), ciphertextBytes)
	}
	ct := &Ciphertext{}
	copy(ct.seed[:], b)
	var err error
	ct.c0, err = c.parsePoly(b[SeedSize:], limbs)
	return ct, err
}

// Accumulator sums products of ciphertexts by plaintexts (the evaluator's
// side), in NTT form.
type Accumulator struct {
	c      *Context
	c0, c1 ring.Poly
	terms  int
}

// NewAccumulator returns an empty sum.
func (c *Context) NewAccumulator() *Accumulator {
	return &Accumulator{c: c, c0: c.rQ.NewPoly(), c1: c.rQ.NewPoly()}
}

// Plaintext is a plaintext multiplier in NTT form.
type Plaintext struct{ p ring.Poly }

// NewPlaintext encodes the coefficients m (signed 64-bit) as a multiplier.
func (c *Context) NewPlaintext(m []uint64) *Plaintext { return c.newPlaintext(c.p64, m) }

func (c *Context) newPlaintext(pl *plain, m []uint64) *Plaintext {
	p := c.rQ.NewPoly()
	c.encodeCentered(pl, m, p)
	c.rQ.NTT(p, p)
	return &Plaintext{p}
}

// expanded is a ciphertext with its c1 expanded (for repeated products).
type Expanded struct{ c0, c1 ring.Poly }

// Expand regenerates the ciphertext's uniform part.
func (c *Context) Expand(ct *Ciphertext) *Expanded {
	return &Expanded{c0: ct.c0, c1: c.uniformNTT(ct.seed)}
}

// MulAdd adds ct·pt to the sum.
func (acc *Accumulator) MulAdd(ct *Expanded, pt *Plaintext) {
	r := acc.c.rQ
	r.MulCoeffsBarrettThenAdd(ct.c0, pt.p, acc.c0)
	r.MulCoeffsBarrettThenAdd(ct.c1, pt.p, acc.c1)
	acc.terms++
}

// Reply is an evaluated result switched down to the reply modulus, in
// coefficient form: c0, c1 at two limbs.
type Reply struct{ c0, c1 ring.Poly }

// replyBytes is the encoded size of a Reply.
const replyBytes = 2 * downLimbs * limbBytes

// Finish masks the sum with the plaintext mask (every coefficient, read in
// [0, 2^64)), re-randomises it with an encryption of zero under pk, floods
// its noise, and switches it down for the reply. rnd is the evaluator's
// private randomness. The owner of the key decrypts sum + mask.
func (acc *Accumulator) Finish(pk *PublicKey, mask []uint64, rnd io.Reader) (*Reply, error) {
	return acc.finish(acc.c.p64, pk, mask, rnd)
}

func (acc *Accumulator) finish(pl *plain, pk *PublicKey, mask []uint64, rnd io.Reader) (*Reply, error) {
	c, r := acc.c, acc.c.rQ
	if acc.terms > 1<<20 {
		return nil, fmt.Errorf("he: %d products in one sum exceed the noise budget", acc.terms)
	}
	m := r.NewPoly()
	c.encodeScaled(pl, mask, m)
	r.NTT(m, m)
	r.Add(acc.c0, m, acc.c0)
	// Re-randomise: + (u·b + e0, u·a + e1).
	seed, err := readSeed(rnd)
	if err != nil {
		return nil, err
	}
	src := newPRNG(seed[:])
	ts, err := ring.NewSampler(src, r, ring.Ternary{P: 2.0 / 3.0}, false)
	if err != nil {
		return nil, err
	}
	gs, err := ring.NewSampler(src, r, ring.DiscreteGaussian{Sigma: sigma, Bound: gaussBound}, false)
	if err != nil {
		return nil, err
	}
	u := ts.ReadNew()
	r.NTT(u, u)
	r.MulCoeffsBarrettThenAdd(u, pk.b, acc.c0)
	r.MulCoeffsBarrettThenAdd(u, pk.a, acc.c1)
	r.INTT(acc.c0, acc.c0)
	r.INTT(acc.c1, acc.c1)
	gs.ReadAndAdd(acc.c0)
	gs.ReadAndAdd(acc.c1)
	// Flood c0 with uniform noise in [−2^floodBits, 2^floodBits).
	var w [24]byte
	for j := 0; j < N; j++ {
		src.Read(w[:])
		x0 := binary.LittleEndian.Uint64(w[0:])
		x1 := binary.LittleEndian.Uint64(w[8:])
		x2 := binary.LittleEndian.Uint64(w[16:]) & (1<<(floodBits+1-128) - 1)
		for i, qi := range c.q {
			uu := r.SubRings[i].BRedConstant
			v := ring.BRedAdd(x0, qi, uu)
			v += ring.BRed(ring.BRedAdd(x1, qi, uu), c.pow64[i], qi, uu)
			v += ring.BRed(ring.BRedAdd(x2, qi, uu), c.pow128[i], qi, uu)
			v += qi - c.floodOff[i]
			acc.c0.Coeffs[i][j] = ring.BRedAdd(acc.c0.Coeffs[i][j]+ring.BRedAdd(v, qi, uu), qi, uu)
		}
	}
	// Switch down: divide by the dropped primes, rounding.
	for l := limbs - 1; l >= downLimbs; l-- {
		rl := r.AtLevel(l)
		rl.DivRoundByLastModulus(acc.c0, acc.c0)
		rl.DivRoundByLastModulus(acc.c1, acc.c1)
		acc.c0.Resize(l - 1)
		acc.c1.Resize(l - 1)
	}
	return &Reply{c0: acc.c0, c1: acc.c1}, nil
}

// Bytes encodes the reply.
func (rp *Reply) Bytes(c *Context) []byte {
	return append(c.polyBytes(rp.c0, downLimbs), c.polyBytes(rp.c1, downLimbs)...)
}

// ParseReply decodes a reply.
func (c *Context) ParseReply(b []byte) (*Reply, error) {
	if len(b) != replyBytes {
		return nil, fmt.Errorf("he: reply of %d bytes, want %d", len(b), replyBytes)
	}
	half := replyBytes / 2
	c0, err := c.parsePoly(b[:half], downLimbs)
	if err != nil {
		return nil, err
	}
	c1, err := c.parsePoly(b[half:], downLimbs)
	if err != nil {
		return nil, err
	}
	return &Reply{c0: c0, c1: c1}, nil
}

// Decrypt returns the plaintext coefficients of a reply, in [0, 2^64).
func (k *SecretKey) Decrypt(rp *Reply) []uint64 { return k.decrypt(k.c.p64, rp) }

func (k *SecretKey) decrypt(pl *plain, rp *Reply) []uint64 {
	c := k.c
	rd := c.rD
	x := rd.NewPoly()
	rd.NTT(rp.c1, x)
	s := ring.Poly{Coeffs: k.s.Coeffs[:downLimbs]}
	rd.MulCoeffsBarrett(x, s, x)
	rd.INTT(x, x)
	rd.Add(x, rp.c0, x)
	out := make([]uint64, N)
	q0, q1 := c.q[0], c.q[1]
	u1 := rd.SubRings[1].BRedConstant
	var num, quo, tmp big.Int
	for j := range out {
		// CRT: v = x0 + q0·((x1 − x0)·q0^{-1} mod q1), in [0, q0·q1).
		x0, x1 := x.Coeffs[0][j], x.Coeffs[1][j]
		d := (x1 + q1 - ring.BRedAdd(x0, q1, u1)) % q1
		kk := ring.BRed(d, c.q0InvQ1, q1, u1)
		hi, lo := bits.Mul64(q0, kk)
		lo, carry := bits.Add64(lo, x0, 0)
		hi += carry
		// round(t·v / qD) mod t.
		num.SetUint64(hi)
		num.Lsh(&num, 64)
		tmp.SetUint64(lo)
		num.Or(&num, &tmp)
		if pl.t == 0 {
			num.Lsh(&num, 64)
		} else {
			num.Mul(&num, pl.tBig)
		}
		num.Add(&num, c.qDHalf)
		quo.Quo(&num, c.qD)
		if pl.t != 0 {
			quo.Mod(&quo, pl.tBig)
		}
		ws := quo.Bits()
		if len(ws) > 0 {
			out[j] = uint64(ws[0])
		}
	}
	return out
}
