package mpc

import (
	"math/bits"
	"sync"
)

// Temporary ring vectors (masks, opened values) are recycled by size
// class, so a protocol step on a large tensor does not pay for fresh
// zeroed pages each time.
var scratchPools [48]sync.Pool

func getScratch(n int) []uint64 {
	if n == 0 {
		return nil
	}
	c := bits.Len(uint(n - 1))
	if v, ok := scratchPools[c].Get().(*[]uint64); ok {
		return (*v)[:n]
	}
	return make([]uint64, n, 1<<c)
}

func putScratch(v []uint64) {
	if cap(v) == 0 {
		return
	}
	c := bits.Len(uint(cap(v) - 1))
	if 1<<c != cap(v) {
		return
	}
	v = v[:cap(v)]
	scratchPools[c].Put(&v)
}
