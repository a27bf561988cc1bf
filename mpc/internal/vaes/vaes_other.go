//go:build !amd64

package vaes

// Have is false: no vector AES on this architecture.
const Have = false

func ecbVAES(rk *[176]byte, dst, src *uint64, chunks int) {
	panic("vaes: no vector AES on this architecture")
}
