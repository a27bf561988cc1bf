package provider

import "golang.org/x/sys/cpu"

// haveVAES reports whether the 512-bit vector AES path may run.
var haveVAES = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VAES

// ctrVAES writes chunks·16 AES-128 blocks of the counter stream in st to
// dst and advances st's counters.
//
//go:noescape
func ctrVAES(rk *[176]byte, st *ctrState, dst *uint64, chunks int)
