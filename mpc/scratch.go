package mpc

import "github.com/gomplab/gomplab/mpc/internal/ring"

// Temporary ring vectors (masks, opened values) come from the ring
// package's free lists, so a protocol step on a large tensor reuses memory
// already mapped instead of paying for fresh zeroed pages each time.
func getScratch(n int) []uint64 {
	if n == 0 {
		return nil
	}
	return ring.Get(n)
}

func putScratch(v []uint64) { ring.Put(v) }
