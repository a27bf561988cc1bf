package vaes

import (
	"crypto/aes"
	"encoding/binary"
	"testing"
)

// The vector path gives crypto/aes's bytes, for every length.
func TestECB(t *testing.T) {
	key := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	c := New(key)
	ref, _ := aes.NewCipher(key[:])
	for _, n := range []int{1, 15, 16, 17, 48, 100} {
		src := make([]uint64, 2*n)
		for i := range src {
			src[i] = uint64(i+1) * 0x9e3779b97f4a7c15
		}
		dst := make([]uint64, 2*n)
		c.ECB(dst, src)
		for i := 0; i < n; i++ {
			var in, out [16]byte
			binary.LittleEndian.PutUint64(in[:], src[2*i])
			binary.LittleEndian.PutUint64(in[8:], src[2*i+1])
			ref.Encrypt(out[:], in[:])
			if binary.LittleEndian.Uint64(out[:]) != dst[2*i] || binary.LittleEndian.Uint64(out[8:]) != dst[2*i+1] {
				t.Fatalf("n=%d block %d differs from crypto/aes (vector path %v)", n, i, Have)
			}
		}
		c.ECB(src, src) // in place
		for i := range src {
			if src[i] != dst[i] {
				t.Fatalf("n=%d: in-place result differs", n)
			}
		}
	}
}

func BenchmarkECB(b *testing.B) {
	c := New([16]byte{1})
	v := make([]uint64, 2*4096)
	b.SetBytes(int64(8 * len(v)))
	for i := 0; i < b.N; i++ {
		c.ECB(v, v)
	}
}

func BenchmarkBlockByBlock(b *testing.B) {
	c, _ := aes.NewCipher(make([]byte, 16))
	v := make([]byte, 16*4096)
	b.SetBytes(int64(len(v)))
	for i := 0; i < b.N; i++ {
		for j := 0; j < len(v); j += 16 {
			c.Encrypt(v[j:j+16], v[j:j+16])
		}
	}
}
