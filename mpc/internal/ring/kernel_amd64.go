package ring

import "golang.org/x/sys/cpu"

// haveKernel reports whether the AVX-512 micro-kernel may run: VPMULLQ
// (64-bit lane multiply) needs AVX512DQ.
var haveKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// kernel computes the mr×nr tile c (row stride ldc) ← apanel·bpanel over
// depth kc, with apanel holding mr values per k and bpanel nr per k, and
// applies the epilogue given by flags, shift and neg (see Epilogue).
//
//go:noescape
func kernel(kc int, a, b, c *uint64, ldc int, flags int, shift uint64, neg uint64)

// kernelOff is kernel with row k of bpanel read at b + off[k] (elements).
//
//go:noescape
func kernelOff(kc int, a, b *uint64, off *int, c *uint64, ldc int, flags int, shift uint64, neg uint64)
