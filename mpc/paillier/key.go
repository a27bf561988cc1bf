// Package paillier implements the Paillier cryptosystem, an additively
// homomorphic public-key encryption scheme, with a tensor API on top.
//
// Anyone holding the public key can encrypt, add two ciphertexts, add a
// plaintext to a ciphertext and multiply a ciphertext by a plaintext scalar;
// only the holder of the private key can decrypt. This suits computations
// where one party owns the key and others aggregate encrypted values for it,
// such as summing gradients in federated learning. Two ciphertexts cannot be
// multiplied together; use the secret-sharing engine in package mpc for that.
//
// Plaintexts are integers modulo N, read as signed values in (-N/2, N/2).
// Tensor encodes float64 values in fixed point and tracks the scale, so that
// multiplying by a fractional scalar stays exact and decryption undoes it.
//
// Work on many elements (encryption, decryption, homomorphic operations) is
// spread over GOMAXPROCS goroutines. Encryption randomness always comes from
// crypto/rand. Arithmetic uses math/big, which is not constant-time: see
// docs/paillier.md for the security notes.
package paillier

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
)

const (
	// DefaultKeyBits is the modulus length GenerateKey callers should use
	// unless they have a reason not to: about 112 bits of security, the
	// level NIST recommends for keys in use today.
	DefaultKeyBits = 2048
	// MinKeyBits is the shortest modulus GenerateKey and the decoders
	// accept. Shorter moduli can be factored with public effort, which
	// reveals the private key.
	MinKeyBits = 2048
	// MaxKeyBits bounds key generation and decoding, so that a hostile
	// public key cannot make every later operation arbitrarily slow.
	MaxKeyBits = 16384

	// minInsecureKeyBits keeps test keys long enough for fixed-point
	// headroom; test keys are never accepted by exported entry points.
	minInsecureKeyBits = 128
)

var (
	one = big.NewInt(1)
)

// PublicKey is a Paillier public key. G is always N+1, which lets
// encryption compute g^m mod N² as 1+m·N instead of an exponentiation.
// Build one with GenerateKey, NewPublicKey or UnmarshalBinary; the fields
// must not be modified afterwards.
type PublicKey struct {
	N  *big.Int // modulus, the product of two primes
	G  *big.Int // generator, N+1
	N2 *big.Int // N², the ciphertext modulus
}

// NewPublicKey returns the public key with modulus n (copied). It rejects
// moduli shorter than MinKeyBits, longer than MaxKeyBits, or even.
func NewPublicKey(n *big.Int) (*PublicKey, error) {
	return newPublicKey(n, MinKeyBits)
}

func newPublicKey(n *big.Int, minBits int) (*PublicKey, error) {
	switch {
	case n == nil || n.Sign() <= 0:
		return nil, errors.New("paillier: modulus must be positive")
	case n.BitLen() < minBits:
		return nil, fmt.Errorf("paillier: %d-bit modulus is shorter than the minimum of %d bits", n.BitLen(), minBits)
	case n.BitLen() > MaxKeyBits:
		return nil, fmt.Errorf("paillier: %d-bit modulus is longer than the maximum of %d bits", n.BitLen(), MaxKeyBits)
	case n.Bit(0) == 0:
		return nil, errors.New("paillier: modulus is even, so it is not a product of two odd primes")
	}
	n = new(big.Int).Set(n)
	return &PublicKey{N: n, G: new(big.Int).Add(n, one), N2: new(big.Int).Mul(n, n)}, nil
}

// Equal reports whether pub and o are the same key, that is, have the same
// modulus. Keys decoded separately from the same bytes are equal.
func (pub *PublicKey) Equal(o *PublicKey) bool {
	if pub == o {
		return true
	}
	return pub != nil && o != nil && pub.N.Cmp(o.N) == 0
}

// halfN is the largest magnitude of a signed plaintext, (N-1)/2.
func (pub *PublicKey) halfN() *big.Int { return new(big.Int).Rsh(pub.N, 1) }

// maxScale is the largest fixed-point scale (fraction bits) a tensor under
// pub may carry. It leaves 64 bits for the integer part of values, so that
// a scale at the limit still holds any value whose magnitude is below 2^63.
func (pub *PublicKey) maxScale() int { return pub.N.BitLen() - 2 - 64 }

// noise returns a fresh r^N mod N² for r uniform in Z*_N: the random factor
// that makes encryption probabilistic. It is the costly part of encryption
// (one exponentiation with a |N|-bit exponent modulo N²).
func (pub *PublicKey) noise() (*big.Int, error) {
	r, err := randUnit(pub.N)
	if err != nil {
		return nil, err
	}
	return r.Exp(r, pub.N, pub.N2), nil
}

// randUnit returns a uniform element of Z*_m, the integers in [1, m) coprime
// to m. For an RSA-style modulus a non-coprime draw means a factor was
// found by chance; it is redrawn rather than trusted to never happen.
func randUnit(m *big.Int) (*big.Int, error) {
	g := new(big.Int)
	for {
		r, err := rand.Int(rand.Reader, m)
		if err != nil {
			return nil, fmt.Errorf("paillier: read randomness: %w", err)
		}
		if r.Sign() != 0 && g.GCD(nil, nil, r, m).Cmp(one) == 0 {
			return r, nil
		}
	}
}

// PrivateKey is a Paillier private key. Lambda and Mu are the textbook
// decryption values; P and Q are the prime factors of N, from which
// GenerateKey precomputes the values for faster decryption and encryption
// through the Chinese remainder theorem (CRT). A PrivateKey built by hand
// without them still works, on the slower textbook path.
type PrivateKey struct {
	PublicKey
	Lambda *big.Int // lcm(P-1, Q-1)
	Mu     *big.Int // Lambda⁻¹ mod N (the textbook μ when G = N+1)
	P, Q   *big.Int // the prime factors of N

	crt *crtValues
}

// crtValues are the constants for working modulo P² and Q² separately,
// where exponentiations are about four times cheaper than modulo N².
type crtValues struct {
	p2, q2   *big.Int // P², Q²
	pm1, qm1 *big.Int // P-1, Q-1
	hp, hq   *big.Int // L_P(G^(P-1) mod P²)⁻¹ mod P, same for Q
	pInvQ    *big.Int // P⁻¹ mod Q, to recombine plaintexts
	p2InvQ2  *big.Int // (P²)⁻¹ mod Q², to recombine noise
}

// GenerateKey returns a new private key whose modulus has exactly bits bits,
// the product of two random primes of about bits/2 bits each. bits must lie
// in [MinKeyBits, MaxKeyBits]; use DefaultKeyBits unless you need more.
//
// random is handed to crypto/rand.Prime, which since Go 1.26 ignores it and
// always uses the system's secure source; nil means crypto/rand.Reader.
func GenerateKey(random io.Reader, bits int) (*PrivateKey, error) {
	if bits < MinKeyBits {
		return nil, fmt.Errorf("paillier: %d-bit keys are insecure; the minimum is %d bits (default %d)", bits, MinKeyBits, DefaultKeyBits)
	}
	return generateKey(random, bits)
}

// generateKey is GenerateKey without the minimum length, for tests only:
// short keys keep the test suite fast but offer no security.
func generateKey(random io.Reader, bits int) (*PrivateKey, error) {
	if bits < minInsecureKeyBits || bits > MaxKeyBits {
		return nil, fmt.Errorf("paillier: key length %d bits out of range [%d, %d]", bits, MinKeyBits, MaxKeyBits)
	}
	if random == nil {
		random = rand.Reader
	}
	for {
		// Prime sets the top two bits of each prime, so the product has
		// exactly (bits+1)/2 + bits/2 = bits bits; the check is defensive.
		p, err := rand.Prime(random, (bits+1)/2)
		if err != nil {
			return nil, fmt.Errorf("paillier: generate prime: %w", err)
		}
		q, err := rand.Prime(random, bits/2)
		if err != nil {
			return nil, fmt.Errorf("paillier: generate prime: %w", err)
		}
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			continue
		}
		pm1 := new(big.Int).Sub(p, one)
		qm1 := new(big.Int).Sub(q, one)
		phi := new(big.Int).Mul(pm1, qm1)
		// gcd(N, φ(N)) = 1 is what makes g = N+1 a valid generator; it also
		// means Q does not divide P-1 (nor P divide Q-1), which the fast
		// key-holder noise relies on.
		if new(big.Int).GCD(nil, nil, n, phi).Cmp(one) != 0 {
			continue
		}
		return newPrivateKey(p, q)
	}
}

// newPrivateKey derives every other value of the key from its primes.
func newPrivateKey(p, q *big.Int) (*PrivateKey, error) {
	n := new(big.Int).Mul(p, q)
	pub, err := newPublicKey(n, minInsecureKeyBits)
	if err != nil {
		return nil, err
	}
	pm1 := new(big.Int).Sub(p, one)
	qm1 := new(big.Int).Sub(q, one)
	gcd := new(big.Int).GCD(nil, nil, pm1, qm1)
	lambda := new(big.Int).Mul(pm1, qm1)
	lambda.Div(lambda, gcd)
	// With G = N+1, G^λ mod N² = 1 + λN, so L(G^λ mod N²) = λ mod N.
	mu := new(big.Int).ModInverse(lambda, n)
	if mu == nil {
		return nil, errors.New("paillier: λ is not invertible modulo N; primes are unsuitable")
	}
	priv := &PrivateKey{PublicKey: *pub, Lambda: lambda, Mu: mu,
		P: new(big.Int).Set(p), Q: new(big.Int).Set(q)}
	priv.crt = &crtValues{
		p2:  new(big.Int).Mul(p, p),
		q2:  new(big.Int).Mul(q, q),
		pm1: pm1,
		qm1: qm1,
	}
	c := priv.crt
	c.hp = crtH(pub.G, p, c.p2, pm1)
	c.hq = crtH(pub.G, q, c.q2, qm1)
	c.pInvQ = new(big.Int).ModInverse(p, q)
	c.p2InvQ2 = new(big.Int).ModInverse(c.p2, c.q2)
	if c.hp == nil || c.hq == nil || c.pInvQ == nil || c.p2InvQ2 == nil {
		return nil, errors.New("paillier: CRT constants do not exist; primes are unsuitable")
	}
	return priv, nil
}

// crtH returns L_p(g^(p-1) mod p²)⁻¹ mod p, where L_p(x) = (x-1)/p, or nil.
func crtH(g, p, p2, pm1 *big.Int) *big.Int {
	x := new(big.Int).Exp(g, pm1, p2)
	x.Sub(x, one).Div(x, p)
	return x.ModInverse(x, p)
}

// decrypt returns the plaintext residue in [0, N) of ciphertext c, which
// must lie in [1, N²).
func (priv *PrivateKey) decrypt(c *big.Int) *big.Int {
	k := priv.crt
	if k == nil {
		// Textbook: m = L(c^λ mod N²)·μ mod N.
		x := new(big.Int).Exp(c, priv.Lambda, priv.N2)
		x.Sub(x, one).Div(x, priv.N)
		return x.Mul(x, priv.Mu).Mod(x, priv.N)
	}
	mp := crtHalf(c, priv.P, k.p2, k.pm1, k.hp)
	mq := crtHalf(c, priv.Q, k.q2, k.qm1, k.hq)
	// m = mp + P·((mq - mp)·P⁻¹ mod Q), the unique m < N with both residues.
	mq.Sub(mq, mp).Mul(mq, k.pInvQ).Mod(mq, priv.Q)
	return mq.Mul(mq, priv.P).Add(mq, mp)
}

// crtHalf returns m mod p = L_p(c^(p-1) mod p²)·h mod p.
func crtHalf(c, p, p2, pm1, h *big.Int) *big.Int {
	x := new(big.Int).Mod(c, p2)
	x.Exp(x, pm1, p2)
	x.Sub(x, one).Div(x, p)
	return x.Mul(x, h).Mod(x, p)
}

// noise returns a fresh r^N mod N² with the same distribution as
// PublicKey.noise, about three times faster, using the factorization.
//
// Modulo P², r^N depends only on a = r mod P and equals ω(a^Q), where
// ω(b) = b^P mod P² is the unique (P-1)-th root of unity that is ≡ b mod P.
// Since gcd(Q, P-1) = 1 (GenerateKey checks it), a ↦ a^Q permutes Z*_P, so
// ω(b) for a uniform b in Z*_P is distributed exactly as r^N mod P². The same
// holds modulo Q², independently; CRT joins the two halves.
func (priv *PrivateKey) noise() (*big.Int, error) {
	k := priv.crt
	if k == nil {
		return priv.PublicKey.noise()
	}
	bp, err := randUnit(priv.P)
	if err != nil {
		return nil, err
	}
	bq, err := randUnit(priv.Q)
	if err != nil {
		return nil, err
	}
	return priv.noiseFrom(bp, bq), nil
}

// noiseFrom returns the element x of order dividing λ modulo N² with
// x ≡ ω(bp) mod P² and x ≡ ω(bq) mod Q². bp and bq are consumed.
func (priv *PrivateKey) noiseFrom(bp, bq *big.Int) *big.Int {
	k := priv.crt
	xp := bp.Exp(bp, priv.P, k.p2)
	xq := bq.Exp(bq, priv.Q, k.q2)
	// x = xp + P²·((xq - xp)·(P²)⁻¹ mod Q²)
	xq.Sub(xq, xp).Mul(xq, k.p2InvQ2).Mod(xq, k.q2)
	return xq.Mul(xq, k.p2).Add(xq, xp)
}
