//go:build !amd64

package ring

const haveKernel = false

func kernel(kc int, a, b, c *uint64, ldc int, flags int, shift uint64, neg uint64) {
	panic("ring: no micro-kernel on this architecture")
}

func kernelOff(kc int, a, b *uint64, off *int, c *uint64, ldc int, flags int, shift uint64, neg uint64) {
	panic("ring: no micro-kernel on this architecture")
}
