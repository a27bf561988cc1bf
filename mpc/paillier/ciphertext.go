package paillier

import (
	"errors"
	"fmt"
	"math/big"
)

// ErrKeyMismatch is wrapped by the error an operation returns when its
// operands were encrypted under different public keys (or a ciphertext is
// given to the wrong private key). Such ciphertexts live in different groups
// and combining them would silently produce garbage.
var ErrKeyMismatch = errors.New("operands are encrypted under different public keys")

// Ciphertext is one encrypted integer. It is immutable: operations return
// new ciphertexts.
type Ciphertext struct {
	pub *PublicKey
	c   *big.Int
}

// PublicKey returns the key ct was encrypted under.
func (ct *Ciphertext) PublicKey() *PublicKey { return ct.pub }

// Int returns a copy of the ciphertext as an integer in [1, N²).
func (ct *Ciphertext) Int() *big.Int { return new(big.Int).Set(ct.c) }

// Encrypt encrypts the signed integer m, which must satisfy |m| ≤ (N-1)/2.
// Negative values are encoded as N+m. Encryption is probabilistic:
// encrypting the same m twice gives unrelated ciphertexts.
func Encrypt(pub *PublicKey, m *big.Int) (*Ciphertext, error) {
	r, err := pub.toResidue(m)
	if err != nil {
		return nil, fmt.Errorf("paillier: Encrypt: %w", err)
	}
	s, err := pub.noise()
	if err != nil {
		return nil, err
	}
	return &Ciphertext{pub, pub.encryptResidue(r, s)}, nil
}

// EncryptInt64 is Encrypt for an int64.
func EncryptInt64(pub *PublicKey, m int64) (*Ciphertext, error) {
	return Encrypt(pub, big.NewInt(m))
}

// Decrypt returns the signed integer ct encrypts, in [-(N-1)/2, (N-1)/2].
func (priv *PrivateKey) Decrypt(ct *Ciphertext) (*big.Int, error) {
	if !priv.PublicKey.Equal(ct.pub) {
		return nil, fmt.Errorf("paillier: Decrypt: %w (the ciphertext is not under this private key)", ErrKeyMismatch)
	}
	return priv.fromResidue(priv.decrypt(ct.c)), nil
}

// Add returns an encryption of the sum of the plaintexts of ct and o.
func (ct *Ciphertext) Add(o *Ciphertext) (*Ciphertext, error) {
	if !ct.pub.Equal(o.pub) {
		return nil, fmt.Errorf("paillier: Ciphertext.Add: %w", ErrKeyMismatch)
	}
	return &Ciphertext{ct.pub, ct.pub.mulMod(ct.c, o.c)}, nil
}

// AddPlain returns an encryption of the plaintext of ct plus m, where
// |m| ≤ (N-1)/2.
func (ct *Ciphertext) AddPlain(m *big.Int) (*Ciphertext, error) {
	r, err := ct.pub.toResidue(m)
	if err != nil {
		return nil, fmt.Errorf("paillier: Ciphertext.AddPlain: %w", err)
	}
	return &Ciphertext{ct.pub, ct.pub.addResidue(ct.c, r)}, nil
}

// MulPlain returns an encryption of the plaintext of ct times k. k may be
// negative or zero; the product is taken modulo N.
func (ct *Ciphertext) MulPlain(k *big.Int) *Ciphertext {
	return &Ciphertext{ct.pub, ct.pub.pow(ct.c, k)}
}

// Neg returns an encryption of minus the plaintext of ct.
func (ct *Ciphertext) Neg() *Ciphertext {
	return &Ciphertext{ct.pub, ct.pub.inverse(ct.c)}
}

// toResidue maps a signed plaintext m with |m| ≤ (N-1)/2 into [0, N).
func (pub *PublicKey) toResidue(m *big.Int) (*big.Int, error) {
	if m.CmpAbs(pub.halfN()) > 0 {
		return nil, fmt.Errorf("plaintext of %d bits does not fit a %d-bit key (|m| must be at most (N-1)/2)", m.BitLen(), pub.N.BitLen())
	}
	r := new(big.Int).Set(m)
	if r.Sign() < 0 {
		r.Add(r, pub.N)
	}
	return r, nil
}

// fromResidue maps a plaintext residue in [0, N) to its signed value:
// residues above (N-1)/2 stand for negative numbers.
func (pub *PublicKey) fromResidue(r *big.Int) *big.Int {
	if r.Cmp(pub.halfN()) > 0 {
		r.Sub(r, pub.N)
	}
	return r
}

// encryptResidue returns (1 + r·N)·s mod N², the encryption of residue r
// with noise s: with G = N+1, G^r mod N² = 1 + r·N needs no exponentiation.
func (pub *PublicKey) encryptResidue(r, s *big.Int) *big.Int {
	c := new(big.Int).Mul(r, pub.N)
	c.Add(c, one)
	return c.Mul(c, s).Mod(c, pub.N2)
}

// addResidue returns c·(1 + r·N) mod N², an encryption of the plaintext of c
// plus residue r. The result carries c's randomness unchanged.
func (pub *PublicKey) addResidue(c, r *big.Int) *big.Int {
	x := new(big.Int).Mul(r, pub.N)
	x.Add(x, one)
	return x.Mul(x, c).Mod(x, pub.N2)
}

// mulMod returns a·b mod N², an encryption of the sum of the plaintexts.
func (pub *PublicKey) mulMod(a, b *big.Int) *big.Int {
	x := new(big.Int).Mul(a, b)
	return x.Mod(x, pub.N2)
}

// inverse returns c⁻¹ mod N², an encryption of the negated plaintext. Valid
// ciphertexts are units modulo N², so the inverse exists.
func (pub *PublicKey) inverse(c *big.Int) *big.Int {
	x := new(big.Int).ModInverse(c, pub.N2)
	if x == nil {
		panic("paillier: ciphertext is not invertible modulo N²; it was not produced by this package")
	}
	return x
}

// pow returns c^k mod N², an encryption of k times the plaintext. A negative
// k inverts c first, which is far cheaper than raising to N² - |k|.
func (pub *PublicKey) pow(c, k *big.Int) *big.Int {
	if k.Sign() < 0 {
		return new(big.Int).Exp(pub.inverse(c), new(big.Int).Neg(k), pub.N2)
	}
	return new(big.Int).Exp(c, k, pub.N2)
}
