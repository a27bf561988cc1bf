package paillier

import (
	"encoding/binary"
	"fmt"
	"math/big"
)

// Binary formats (all integers big-endian):
//
//	public key: "PLPK" version(1) len(u16) N(len bytes, no leading zero)
//	tensor:     "PLTN" version(1) keylen(u16) key(keylen bytes, as above)
//	            precision(u16) scale(u16) ndim(u8) dims(ndim × u32)
//	            ciphertexts(size × w bytes, w = byte length of N², zero-padded)
//
// Every ciphertext has the same width, so the element count is implied by
// the input length and checked against the dims; a decoder never allocates
// more than a small multiple of its input.
const (
	formatVersion = 1
	maxDims       = 32
)

var (
	pubMagic    = []byte("PLPK")
	tensorMagic = []byte("PLTN")
)

// MarshalBinary encodes pub in the package's versioned binary format.
func (pub *PublicKey) MarshalBinary() ([]byte, error) {
	n := pub.N.Bytes()
	b := make([]byte, 0, len(pubMagic)+3+len(n))
	b = append(b, pubMagic...)
	b = append(b, formatVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
	return append(b, n...), nil
}

// UnmarshalBinary decodes a key written by MarshalBinary into pub. It
// rejects malformed input and moduli outside [MinKeyBits, MaxKeyBits].
func (pub *PublicKey) UnmarshalBinary(data []byte) error {
	return pub.unmarshal(data, MinKeyBits)
}

func (pub *PublicKey) unmarshal(data []byte, minBits int) error {
	k, rest, err := decodePublicKey(data, minBits)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("paillier: decode public key: %d trailing bytes", len(rest))
	}
	*pub = *k
	return nil
}

// decodePublicKey reads one encoded key from the front of data.
func decodePublicKey(data []byte, minBits int) (*PublicKey, []byte, error) {
	fail := func(format string, a ...any) (*PublicKey, []byte, error) {
		return nil, nil, fmt.Errorf("paillier: decode public key: "+format, a...)
	}
	if len(data) < len(pubMagic)+3 {
		return fail("%d bytes is too short for a header", len(data))
	}
	if string(data[:len(pubMagic)]) != string(pubMagic) {
		return fail("bad magic %q, want %q", data[:len(pubMagic)], pubMagic)
	}
	if v := data[len(pubMagic)]; v != formatVersion {
		return fail("unsupported version %d, want %d", v, formatVersion)
	}
	n := int(binary.BigEndian.Uint16(data[len(pubMagic)+1:]))
	data = data[len(pubMagic)+3:]
	if n > MaxKeyBits/8 {
		return fail("modulus of %d bytes exceeds the %d-bit maximum", n, MaxKeyBits)
	}
	if len(data) < n {
		return fail("modulus needs %d bytes, only %d left", n, len(data))
	}
	if n == 0 || data[0] == 0 {
		return fail("modulus is not in minimal form (empty or leading zero byte)")
	}
	pub, err := newPublicKey(new(big.Int).SetBytes(data[:n]), minBits)
	if err != nil {
		return nil, nil, fmt.Errorf("paillier: decode public key: %w", err)
	}
	return pub, data[n:], nil
}

// MarshalBinary encodes ct, with its public key, in the package's versioned
// binary format. The encoding reveals the shape and scale, not the values.
// Tensors of more than 32 dimensions cannot be encoded.
func (ct *Tensor) MarshalBinary() ([]byte, error) {
	if len(ct.shape) > maxDims {
		return nil, fmt.Errorf("paillier: encode tensor: %d dims, more than the maximum of %d", len(ct.shape), maxDims)
	}
	key, err := ct.pub.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w := ct.width()
	b := make([]byte, 0, len(tensorMagic)+3+len(key)+5+4*len(ct.shape)+w*len(ct.c))
	b = append(b, tensorMagic...)
	b = append(b, formatVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint16(b, uint16(ct.precision))
	b = binary.BigEndian.AppendUint16(b, uint16(ct.scale))
	b = append(b, byte(len(ct.shape)))
	for _, d := range ct.shape {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	for _, c := range ct.c {
		start := len(b)
		b = append(b, make([]byte, w)...)
		c.FillBytes(b[start:])
	}
	return b, nil
}

// width is the byte length of every encoded ciphertext.
func (ct *Tensor) width() int { return (ct.pub.N2.BitLen() + 7) / 8 }

// UnmarshalBinary decodes a tensor written by MarshalBinary into ct. It
// checks the key as PublicKey.UnmarshalBinary does, that the dims match the
// number of ciphertexts, that the scale fits the key, and that every
// ciphertext is a unit modulo N², so later operations cannot fail on it.
func (ct *Tensor) UnmarshalBinary(data []byte) error {
	return ct.unmarshal(data, MinKeyBits)
}

func (ct *Tensor) unmarshal(data []byte, minBits int) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("paillier: decode tensor: "+format, a...)
	}
	head := len(tensorMagic) + 3
	if len(data) < head {
		return fail("%d bytes is too short for a header", len(data))
	}
	if string(data[:len(tensorMagic)]) != string(tensorMagic) {
		return fail("bad magic %q, want %q", data[:len(tensorMagic)], tensorMagic)
	}
	if v := data[len(tensorMagic)]; v != formatVersion {
		return fail("unsupported version %d, want %d", v, formatVersion)
	}
	keyLen := int(binary.BigEndian.Uint16(data[len(tensorMagic)+1:]))
	data = data[head:]
	if len(data) < keyLen {
		return fail("key needs %d bytes, only %d left", keyLen, len(data))
	}
	pub, rest, err := decodePublicKey(data[:keyLen], minBits)
	if err != nil {
		return fmt.Errorf("paillier: decode tensor: %w", err)
	}
	if len(rest) != 0 {
		return fail("key field has %d trailing bytes", len(rest))
	}
	data = data[keyLen:]
	if len(data) < 5 {
		return fail("truncated before the dims")
	}
	precision := int(binary.BigEndian.Uint16(data))
	scale := int(binary.BigEndian.Uint16(data[2:]))
	ndim := int(data[4])
	data = data[5:]
	if precision > scale || scale > pub.maxScale() {
		return fail("precision %d and scale %d do not satisfy precision ≤ scale ≤ %d for a %d-bit key",
			precision, scale, pub.maxScale(), pub.N.BitLen())
	}
	if ndim > maxDims {
		return fail("%d dims, more than the maximum of %d", ndim, maxDims)
	}
	if len(data) < 4*ndim {
		return fail("%d dims need %d bytes, only %d left", ndim, 4*ndim, len(data))
	}
	shape := make([]int, ndim)
	for i := range shape {
		shape[i] = int(binary.BigEndian.Uint32(data[4*i:]))
	}
	data = data[4*ndim:]
	w := (pub.N2.BitLen() + 7) / 8
	if len(data)%w != 0 {
		return fail("%d bytes of ciphertexts is not a multiple of the %d-byte width", len(data), w)
	}
	count := len(data) / w
	if n, ok := numelUpTo(shape, count); !ok || n != count {
		return fail("shape %v does not match the %d ciphertexts present", shape, count)
	}
	c := make([]*big.Int, count)
	err = parallelFor(count, func(i int) error {
		x := new(big.Int).SetBytes(data[i*w : (i+1)*w])
		if x.Sign() == 0 || x.Cmp(pub.N2) >= 0 {
			return fmt.Errorf("ciphertext %d is outside [1, N²)", i)
		}
		if new(big.Int).GCD(nil, nil, x, pub.N).Cmp(one) != 0 {
			return fmt.Errorf("ciphertext %d is not a unit modulo N²", i)
		}
		c[i] = x
		return nil
	})
	if err != nil {
		return fmt.Errorf("paillier: decode tensor: %w", err)
	}
	*ct = Tensor{pub: pub, shape: shape, c: c, precision: precision, scale: scale}
	return nil
}

// numelUpTo returns the product of shape, or ok = false once it would
// exceed limit (so hostile dims cannot overflow the product).
func numelUpTo(shape []int, limit int) (n int, ok bool) {
	n = 1
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	for _, d := range shape {
		if d > limit/n {
			return 0, false
		}
		n *= d
	}
	return n, true
}
