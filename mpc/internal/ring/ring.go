// Package ring holds the arithmetic kernels of the MPC engine over the ring
// Z_2^64: vectors of uint64 whose sums and products wrap, as Go's uint64
// arithmetic does. Secret shares, Beaver masks and triples all live here,
// so the kernels are written for speed: matrix products are cache-blocked
// and, on amd64 with AVX-512, run an assembly micro-kernel; elementwise
// loops are plain Go, which the compiler keeps tight.
//
// The package knows nothing of parties or protocols; it is shared by the
// engine (package mpc) and the providers of correlated randomness.
package ring

// Add sets dst[i] = a[i] + b[i].
func Add(dst, a, b []uint64) {
	b = b[:len(dst)]
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// Sub sets dst[i] = a[i] - b[i].
func Sub(dst, a, b []uint64) {
	b = b[:len(dst)]
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

// Mul sets dst[i] = a[i] * b[i].
func Mul(dst, a, b []uint64) {
	b = b[:len(dst)]
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// AddTo sets dst[i] += a[i].
func AddTo(dst, a []uint64) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] += a[i]
	}
}

// SubFrom sets dst[i] -= a[i].
func SubFrom(dst, a []uint64) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] -= a[i]
	}
}

// Xor sets dst[i] = a[i] ^ b[i].
func Xor(dst, a, b []uint64) {
	b = b[:len(dst)]
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] ^ b[i]
	}
}

// XorTo sets dst[i] ^= a[i].
func XorTo(dst, a []uint64) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] ^= a[i]
	}
}

// And sets dst[i] = a[i] & b[i].
func And(dst, a, b []uint64) {
	b = b[:len(dst)]
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] & b[i]
	}
}

// Scale sets dst[i] = a[i] * s.
func Scale(dst, a []uint64, s uint64) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * s
	}
}

// Neg sets dst[i] = -a[i].
func Neg(dst, a []uint64) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = -a[i]
	}
}
