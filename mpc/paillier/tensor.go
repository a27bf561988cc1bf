package paillier

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"github.com/gomplab/gomplab/tensor"
)

// DefaultPrecisionBits is the fixed-point precision (fraction bits) to pass
// to EncryptTensor when nothing else is called for; it matches the default
// of the secret-sharing engine in package mpc. Values are encoded to within
// 2^-(bits+1).
const DefaultPrecisionBits = 16

// Tensor is an encrypted tensor: one Paillier ciphertext per element, in
// row-major order, all under one public key. Element i encrypts the integer
// round(x_i · 2^Scale()); the scale starts at the precision chosen at
// encryption and grows when the tensor is multiplied by a fractional scalar,
// so decryption always divides by the right power of two.
//
// A Tensor is immutable; operations return new tensors, which may share
// ciphertexts with their operands.
type Tensor struct {
	pub       *PublicKey
	shape     []int
	c         []*big.Int
	precision int
	scale     int
}

// PublicKey returns the key ct is encrypted under.
func (ct *Tensor) PublicKey() *PublicKey { return ct.pub }

// Shape returns a copy of ct's dimensions.
func (ct *Tensor) Shape() []int { return append([]int{}, ct.shape...) }

// Size returns the number of elements.
func (ct *Tensor) Size() int { return len(ct.c) }

// PrecisionBits returns the fixed-point precision ct was encrypted with.
func (ct *Tensor) PrecisionBits() int { return ct.precision }

// Scale returns the number of fraction bits of the encrypted integers: the
// precision, plus what multiplications by fractional scalars added.
func (ct *Tensor) Scale() int { return ct.scale }

// String describes ct without decrypting it.
func (ct *Tensor) String() string {
	return fmt.Sprintf("paillier.Tensor(shape %v, %d-bit key, scale 2^-%d)", ct.shape, ct.pub.N.BitLen(), ct.scale)
}

// EncryptTensor encrypts every element of t in fixed point with
// precisionBits fraction bits (DefaultPrecisionBits is a good start). It
// fails if an element is not finite or too large for the key, or if the
// precision is negative or leaves no room for the integer part.
func EncryptTensor(pub *PublicKey, t *tensor.Tensor, precisionBits int) (*Tensor, error) {
	return encryptTensor(pub, pub.noise, t, precisionBits)
}

// EncryptTensor is the package function EncryptTensor for the key holder:
// the ciphertexts have exactly the same distribution, but knowing the
// factors of N makes the random factor about three times cheaper.
func (priv *PrivateKey) EncryptTensor(t *tensor.Tensor, precisionBits int) (*Tensor, error) {
	return encryptTensor(&priv.PublicKey, priv.noise, t, precisionBits)
}

func encryptTensor(pub *PublicKey, noise func() (*big.Int, error), t *tensor.Tensor, precisionBits int) (*Tensor, error) {
	if precisionBits < 0 || precisionBits > pub.maxScale() {
		return nil, fmt.Errorf("paillier: EncryptTensor: precision of %d bits out of range [0, %d] for a %d-bit key",
			precisionBits, pub.maxScale(), pub.N.BitLen())
	}
	res, err := pub.encodeAll(t.Data(), precisionBits)
	if err != nil {
		return nil, fmt.Errorf("paillier: EncryptTensor: %w", err)
	}
	c := make([]*big.Int, len(res))
	err = parallelFor(len(res), func(i int) error {
		s, err := noise()
		if err != nil {
			return err
		}
		c[i] = pub.encryptResidue(res[i], s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("paillier: EncryptTensor: %w", err)
	}
	return &Tensor{pub: pub, shape: t.Shape(), c: c, precision: precisionBits, scale: precisionBits}, nil
}

// DecryptTensor decrypts ct into a plaintext tensor of the same shape. Each
// element is the encrypted integer divided by 2^Scale(), rounded to the
// nearest float64.
func (priv *PrivateKey) DecryptTensor(ct *Tensor) (*tensor.Tensor, error) {
	if !priv.PublicKey.Equal(ct.pub) {
		return nil, fmt.Errorf("paillier: DecryptTensor: %w (the tensor is not under this private key)", ErrKeyMismatch)
	}
	data := make([]float64, len(ct.c))
	// Decryption cannot fail: every Tensor holds valid ciphertexts.
	_ = parallelFor(len(ct.c), func(i int) error {
		data[i] = decodeFixed(priv.fromResidue(priv.decrypt(ct.c[i])), ct.scale)
		return nil
	})
	return tensor.New(data, ct.shape...)
}

// Add returns an encryption of ct + o, elementwise with NumPy broadcasting
// (so a one-element tensor adds to every element). The result carries the
// larger of the two scales. It fails if the keys differ or the shapes do
// not broadcast.
func (ct *Tensor) Add(o *Tensor) (*Tensor, error) { return ct.combine("Add", o, false) }

// Sub returns an encryption of ct - o, with the rules of Add.
func (ct *Tensor) Sub(o *Tensor) (*Tensor, error) { return ct.combine("Sub", o, true) }

func (ct *Tensor) combine(op string, o *Tensor, negate bool) (*Tensor, error) {
	if !ct.pub.Equal(o.pub) {
		return nil, fmt.Errorf("paillier: Tensor.%s: %w", op, ErrKeyMismatch)
	}
	shape, err := tensor.BroadcastShapes(ct.shape, o.shape)
	if err != nil {
		return nil, fmt.Errorf("paillier: Tensor.%s: shapes %v and %v do not broadcast", op, ct.shape, o.shape)
	}
	ia, ib := broadcastIndex(shape, ct.shape), broadcastIndex(shape, o.shape)
	scale := max(ct.scale, o.scale)
	// Bring both to the same scale by multiplying the plaintext by 2^d.
	liftA, liftB := liftExp(scale-ct.scale), liftExp(scale-o.scale)
	pub := ct.pub
	out := make([]*big.Int, tensor.Numel(shape))
	_ = parallelFor(len(out), func(i int) error {
		a, b := ct.c[at(ia, i)], o.c[at(ib, i)]
		if liftA != nil {
			a = pub.pow(a, liftA)
		}
		if liftB != nil {
			b = pub.pow(b, liftB)
		}
		if negate {
			b = pub.inverse(b)
		}
		out[i] = pub.mulMod(a, b)
		return nil
	})
	return &Tensor{pub: pub, shape: shape, c: out, precision: max(ct.precision, o.precision), scale: scale}, nil
}

// AddPlain returns an encryption of ct + t for a plaintext tensor t, with
// broadcasting. t is encoded at ct's scale. The result reuses ct's
// randomness: see Rerandomize before sending it to the key holder if t is
// secret.
func (ct *Tensor) AddPlain(t *tensor.Tensor) (*Tensor, error) {
	shape, err := tensor.BroadcastShapes(ct.shape, t.Shape())
	if err != nil {
		return nil, fmt.Errorf("paillier: Tensor.AddPlain: shapes %v and %v do not broadcast", ct.shape, t.Shape())
	}
	res, err := ct.pub.encodeAll(t.Data(), ct.scale)
	if err != nil {
		return nil, fmt.Errorf("paillier: Tensor.AddPlain: %w", err)
	}
	ia, ib := broadcastIndex(shape, ct.shape), broadcastIndex(shape, t.Shape())
	out := make([]*big.Int, tensor.Numel(shape))
	_ = parallelFor(len(out), func(i int) error {
		out[i] = ct.pub.addResidue(ct.c[at(ia, i)], res[at(ib, i)])
		return nil
	})
	return &Tensor{pub: ct.pub, shape: shape, c: out, precision: ct.precision, scale: ct.scale}, nil
}

// MulScalar returns an encryption of ct · s. The scalar is used exactly: an
// integral s keeps the scale, while a fractional s = m·2^-e (m odd, at most
// 53 bits) multiplies by m and raises the scale by e bits, so 0.5 costs one
// bit and 0.1 costs 55. It fails if s is not finite or the scale would pass
// the limit the key allows (then decrypt and re-encrypt).
func (ct *Tensor) MulScalar(s float64) (*Tensor, error) {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("paillier: Tensor.MulScalar: scalar %v is not finite", s)
	}
	k, up := splitScalar(s)
	if ct.scale+up > ct.pub.maxScale() {
		return nil, fmt.Errorf("paillier: Tensor.MulScalar: multiplying by %g raises the scale from %d to %d bits, over the %d a %d-bit key allows; decrypt and re-encrypt",
			s, ct.scale, ct.scale+up, ct.pub.maxScale(), ct.pub.N.BitLen())
	}
	t := ct.mul(k)
	t.scale += up
	return t, nil
}

// MulInt returns an encryption of ct · k. The scale is unchanged.
func (ct *Tensor) MulInt(k int64) *Tensor { return ct.mul(big.NewInt(k)) }

func (ct *Tensor) mul(k *big.Int) *Tensor {
	out := make([]*big.Int, len(ct.c))
	_ = parallelFor(len(out), func(i int) error {
		out[i] = ct.pub.pow(ct.c[i], k)
		return nil
	})
	return &Tensor{pub: ct.pub, shape: ct.Shape(), c: out, precision: ct.precision, scale: ct.scale}
}

// Neg returns an encryption of -ct.
func (ct *Tensor) Neg() *Tensor {
	out := make([]*big.Int, len(ct.c))
	_ = parallelFor(len(out), func(i int) error {
		out[i] = ct.pub.inverse(ct.c[i])
		return nil
	})
	return &Tensor{pub: ct.pub, shape: ct.Shape(), c: out, precision: ct.precision, scale: ct.scale}
}

// Rerandomize returns an encryption of the same values with fresh
// randomness. Homomorphic operations are deterministic functions of their
// inputs, so whoever saw the inputs can relate them to the output; the key
// holder could, for example, recover a secret plaintext added with AddPlain
// by comparing with the ciphertext it encrypted. Rerandomize before sending
// a result that mixes in your secrets.
func (ct *Tensor) Rerandomize() (*Tensor, error) {
	out := make([]*big.Int, len(ct.c))
	err := parallelFor(len(out), func(i int) error {
		s, err := ct.pub.noise()
		if err != nil {
			return err
		}
		out[i] = ct.pub.mulMod(ct.c[i], s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("paillier: Tensor.Rerandomize: %w", err)
	}
	return &Tensor{pub: ct.pub, shape: ct.Shape(), c: out, precision: ct.precision, scale: ct.scale}, nil
}

// encodeAll encodes each value in fixed point with scale fraction bits and
// maps it to a plaintext residue, naming the first element that does not fit.
func (pub *PublicKey) encodeAll(data []float64, scale int) ([]*big.Int, error) {
	res := make([]*big.Int, len(data))
	for i, x := range data {
		v, err := encodeFixed(x, scale)
		if err == nil {
			v, err = pub.toResidue(v)
		}
		if err != nil {
			return nil, fmt.Errorf("element %d (%g) at scale 2^-%d: %w", i, x, scale, err)
		}
		res[i] = v
	}
	return res, nil
}

// encodeFixed returns round(x · 2^scale), rounding halves away from zero,
// computed exactly in integers.
func encodeFixed(x float64, scale int) (*big.Int, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("value is not finite")
	}
	if x == 0 {
		return new(big.Int), nil
	}
	frac, exp := math.Frexp(x) // x = frac·2^exp, 0.5 ≤ |frac| < 1
	mant := int64(frac * (1 << 53))
	shift := exp - 53 + scale // x·2^scale = mant·2^shift
	v := big.NewInt(mant)
	if shift >= 0 {
		return v.Lsh(v, uint(shift)), nil
	}
	k := -shift
	if k > 53 { // |mant|/2^k < 1/2
		return v.SetInt64(0), nil
	}
	a := uint64(mant)
	if mant < 0 {
		a = uint64(-mant)
	}
	a = (a + 1<<(k-1)) >> k
	v.SetUint64(a)
	if mant < 0 {
		v.Neg(v)
	}
	return v, nil
}

// decodeFixed returns v / 2^scale rounded to the nearest float64.
func decodeFixed(v *big.Int, scale int) float64 {
	f := new(big.Float).SetInt(v) // exact: precision grows to fit v
	f.SetMantExp(f, -scale)
	x, _ := f.Float64()
	return x
}

// splitScalar writes a finite s as k·2^-up with up ≥ 0 as small as
// possible, so multiplying by k and raising the scale by up is exact.
func splitScalar(s float64) (k *big.Int, up int) {
	if s == 0 {
		return new(big.Int), 0
	}
	frac, exp := math.Frexp(s)
	mant := int64(frac * (1 << 53))
	e := exp - 53 // s = mant·2^e
	abs := mant
	if abs < 0 {
		abs = -abs
	}
	tz := bits.TrailingZeros64(uint64(abs))
	mant >>= tz
	e += tz
	k = big.NewInt(mant)
	if e >= 0 {
		return k.Lsh(k, uint(e)), 0
	}
	return k, -e
}

// liftExp returns 2^d as an exponent, or nil for d = 0 (nothing to do).
func liftExp(d int) *big.Int {
	if d == 0 {
		return nil
	}
	return new(big.Int).Lsh(one, uint(d))
}

// broadcastIndex returns, for each flat index into shape out, the flat index
// of the element of shape in that NumPy broadcasting reads there; nil when
// in equals out, meaning the identity.
func broadcastIndex(out, in []int) []int {
	if tensor.SameShape(out, in) {
		return nil
	}
	stride := make([]int, len(out)) // 0 along broadcast dims
	inStride := tensor.Strides(in)
	off := len(out) - len(in)
	for d := range in {
		if in[d] != 1 {
			stride[off+d] = inStride[d]
		}
	}
	n := tensor.Numel(out)
	idx := make([]int, n)
	ctr := make([]int, len(out))
	pos := 0
	for i := range n {
		idx[i] = pos
		for d := len(out) - 1; d >= 0; d-- {
			ctr[d]++
			pos += stride[d]
			if ctr[d] < out[d] {
				break
			}
			pos -= stride[d] * out[d]
			ctr[d] = 0
		}
	}
	return idx
}

// at applies an index map from broadcastIndex.
func at(idx []int, i int) int {
	if idx == nil {
		return i
	}
	return idx[i]
}
