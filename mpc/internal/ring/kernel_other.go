//go:build !amd64

package ring

const haveKernel = false

func kernel(kc int, a, b, c *uint64, ldc int) { panic("ring: no micro-kernel on this architecture") }
