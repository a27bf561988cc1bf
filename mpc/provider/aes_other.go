//go:build !amd64

package provider

const haveVAES = false

func ctrVAES(rk *[176]byte, st *ctrState, dst *uint64, chunks int) {
	panic("provider: no vector AES on this architecture")
}
