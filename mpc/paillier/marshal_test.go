package paillier

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func TestPublicKeyMarshalRoundTrip(t *testing.T) {
	for _, priv := range []*PrivateKey{defaultKey(t), testKey(t, 0)} {
		b, err := priv.PublicKey.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var pub PublicKey
		if err := pub.unmarshal(b, minInsecureKeyBits); err != nil {
			t.Fatal(err)
		}
		if !pub.Equal(&priv.PublicKey) || pub.G.Cmp(priv.G) != 0 || pub.N2.Cmp(priv.N2) != 0 {
			t.Errorf("%d-bit key does not survive a round trip", priv.N.BitLen())
		}
	}
	// The exported decoder applies the minimum key length.
	b, _ := testKey(t, 0).PublicKey.MarshalBinary()
	if err := new(PublicKey).UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Errorf("UnmarshalBinary of a 512-bit key: error = %v, want a minimum-length error", err)
	}
	b, _ = defaultKey(t).PublicKey.MarshalBinary()
	if err := new(PublicKey).UnmarshalBinary(b); err != nil {
		t.Errorf("UnmarshalBinary of a %d-bit key: %v", DefaultKeyBits, err)
	}
}

func TestTensorMarshalRoundTrip(t *testing.T) {
	priv := testKey(t, 0)
	x := mustEncrypt(t, priv, []float64{1.5, -2, 0, 1e6, -3.75, 0.1}, 3, 1, 2)
	x, err := x.MulScalar(-0.3)
	if err != nil {
		t.Fatal(err)
	}
	empty := mustEncrypt(t, priv, []float64{}, 2, 0)
	for _, ct := range []*Tensor{x, empty, mustEncrypt(t, priv, []float64{7})} {
		b, err := ct.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Tensor
		if err := got.unmarshal(b, minInsecureKeyBits); err != nil {
			t.Fatalf("%v: %v", ct, err)
		}
		if !got.pub.Equal(ct.pub) || !slices.Equal(got.shape, ct.shape) || got.scale != ct.scale || got.precision != ct.precision {
			t.Fatalf("metadata differs: %v vs %v", &got, ct)
		}
		if !slices.Equal(mustDecrypt(t, priv, &got).Data(), mustDecrypt(t, priv, ct).Data()) {
			t.Errorf("%v: values differ after a round trip", ct)
		}
		// Decoded tensors work with tensors encrypted under the original key.
		if _, err := got.Add(ct); err != nil {
			t.Errorf("Add after round trip: %v", err)
		}
	}

	deep := mustEncrypt(t, priv, []float64{1}, slices.Repeat([]int{1}, maxDims+1)...)
	if _, err := deep.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "33 dims") {
		t.Errorf("MarshalBinary of a 33-dim tensor: error = %v", err)
	}

	// A real-size key through the exported decoder.
	real := defaultKey(t)
	ct, err := real.EncryptTensor(tensor.FromSlice([]float64{-1.25, 2.5}), DefaultPrecisionBits)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ct.MarshalBinary()
	var got Tensor
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if d := mustDecrypt(t, real, &got).Data(); !slices.Equal(d, []float64{-1.25, 2.5}) {
		t.Errorf("decoded %d-bit tensor decrypts to %v", DefaultKeyBits, d)
	}
}

// corrupt returns a copy of b with f applied.
func corrupt(b []byte, f func([]byte) []byte) []byte { return f(bytes.Clone(b)) }

func TestTensorUnmarshalErrors(t *testing.T) {
	priv := testKey(t, 0)
	ct := mustEncrypt(t, priv, []float64{1, 2, 3, 4}, 2, 2)
	good, _ := ct.MarshalBinary()
	key, _ := priv.PublicKey.MarshalBinary()
	w := ct.width()
	meta := 7 + len(key) // offset of precision
	dims := meta + 5     // offset of the first dim
	body := dims + 8     // offset of the first ciphertext
	setCipher := func(i int, v *big.Int) func([]byte) []byte {
		return func(b []byte) []byte { v.FillBytes(b[body+i*w : body+(i+1)*w]); return b }
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"magic", corrupt(good, func(b []byte) []byte { b[0] = 'X'; return b }), "bad magic"},
		{"version", corrupt(good, func(b []byte) []byte { b[4] = 9; return b }), "unsupported version 9"},
		{"key length", corrupt(good, func(b []byte) []byte { b[5], b[6] = 0xff, 0xff; return b }), "key needs 65535 bytes"},
		{"key magic", corrupt(good, func(b []byte) []byte { b[7] = 'X'; return b }), "decode public key: bad magic"},
		{"even modulus", corrupt(good, func(b []byte) []byte { b[meta-1] ^= 1; return b }), "even"},
		{"truncated", good[:meta+3], "truncated"},
		{"scale", corrupt(good, func(b []byte) []byte { b[meta+2], b[meta+3] = 0xff, 0xff; return b }), "scale 65535"},
		{"precision over scale", corrupt(good, func(b []byte) []byte { b[meta+1]++; return b }), "precision 17 and scale 16"},
		{"ndim", corrupt(good, func(b []byte) []byte { b[meta+4] = 200; return b }), "200 dims"},
		{"dims short", corrupt(good, func(b []byte) []byte { b[meta+4] = 30; return b[:dims+8] }), "need 120 bytes"},
		{"dims mismatch", corrupt(good, func(b []byte) []byte { b[dims+3] = 3; return b }), "shape [3 2] does not match the 4"},
		{"dims overflow", corrupt(good, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[dims:], 1<<31)
			binary.BigEndian.PutUint32(b[dims+4:], 1<<31)
			return b
		}), "does not match"},
		{"ragged", good[:len(good)-1], "not a multiple"},
		{"extra ciphertext", append(bytes.Clone(good), make([]byte, w)...), "does not match the 5"},
		{"zero ciphertext", corrupt(good, setCipher(2, new(big.Int))), "ciphertext 2 is outside"},
		{"ciphertext too big", corrupt(good, func(b []byte) []byte {
			for i := body + w; i < body+2*w; i++ {
				b[i] = 0xff
			}
			return b
		}), "ciphertext 1 is outside"},
		{"non-unit ciphertext", corrupt(good, setCipher(3, priv.P)), "ciphertext 3 is not a unit"},
	} {
		var got Tensor
		err := got.unmarshal(tc.data, minInsecureKeyBits)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if err := new(Tensor).UnmarshalBinary(good); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Errorf("UnmarshalBinary with a 512-bit key: error = %v, want a minimum-length error", err)
	}
}

func TestPublicKeyUnmarshalErrors(t *testing.T) {
	good, _ := testKey(t, 0).PublicKey.MarshalBinary()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"short", good[:5], "too short"},
		{"magic", corrupt(good, func(b []byte) []byte { b[1] = 'x'; return b }), "bad magic"},
		{"version", corrupt(good, func(b []byte) []byte { b[4] = 0; return b }), "version 0"},
		{"too long", corrupt(good, func(b []byte) []byte { b[5], b[6] = 0x10, 0x00; return b }), "exceeds"},
		{"truncated", good[:len(good)-1], "only 63 left"},
		{"trailing", append(bytes.Clone(good), 0), "1 trailing"},
		{"leading zero", corrupt(good, func(b []byte) []byte { b[7] = 0; return b }), "minimal form"},
		{"zero length", []byte("PLPK\x01\x00\x00"), "minimal form"},
	} {
		err := new(PublicKey).unmarshal(tc.data, minInsecureKeyBits)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *PrivateKey
)

// fuzzSeeds returns valid encodings of keys under a tiny key and a
// real-size one, and of tensors under the tiny key only: the checks past
// the key are the same for every key length, and small inputs keep each
// execution and the fuzzer's input minimization fast.
func fuzzSeeds(f *testing.F) (keys, tensors [][]byte) {
	fuzzKeyOnce.Do(func() {
		k, err := generateKey(rand.Reader, minInsecureKeyBits)
		if err != nil {
			panic(err)
		}
		fuzzKey = k
	})
	for _, priv := range []*PrivateKey{fuzzKey, defaultKey(f)} {
		k, _ := priv.PublicKey.MarshalBinary()
		keys = append(keys, k)
		if priv != fuzzKey {
			continue
		}
		for _, x := range []*tensor.Tensor{tensor.Scalar(-1.5), tensor.MustNew([]float64{1, -2, 3, 0.25}, 2, 2)} {
			ct, err := priv.EncryptTensor(x, 4)
			if err != nil {
				f.Fatal(err)
			}
			b, _ := ct.MarshalBinary()
			tensors = append(tensors, b)
		}
	}
	return keys, tensors
}

func FuzzPublicKeyUnmarshal(f *testing.F) {
	keys, _ := fuzzSeeds(f)
	for _, k := range keys {
		f.Add(k)
	}
	f.Add([]byte("PLPK\x01\x00\x01\x03"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var exported PublicKey
		if exported.UnmarshalBinary(data) == nil && exported.N.BitLen() < MinKeyBits {
			t.Fatalf("UnmarshalBinary accepted a %d-bit key", exported.N.BitLen())
		}
		var pub PublicKey
		if err := pub.unmarshal(data, minInsecureKeyBits); err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes.
		b, err := pub.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs: %x vs %x (%v)", b, data, err)
		}
	})
}

func FuzzTensorUnmarshal(f *testing.F) {
	_, tensors := fuzzSeeds(f)
	for _, b := range tensors {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = new(Tensor).UnmarshalBinary(data)
		var ct Tensor
		if err := ct.unmarshal(data, minInsecureKeyBits); err != nil {
			return
		}
		b, err := ct.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		// A decoded tensor must support every operation without panicking.
		if _, err := ct.Add(ct.Neg()); err != nil {
			t.Fatal(err)
		}
		if _, err := ct.MulScalar(0.5); err != nil && ct.scale < ct.pub.maxScale() {
			t.Fatal(err)
		}
	})
}
