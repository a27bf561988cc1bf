package vaes

import "golang.org/x/sys/cpu"

// Have reports whether the 512-bit vector AES path may run.
var Have = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VAES

// ecbVAES encrypts chunks·16 blocks from src to dst.
//
//go:noescape
func ecbVAES(rk *[176]byte, dst, src *uint64, chunks int)
