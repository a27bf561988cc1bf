package ring

import (
	"math/bits"
	"sync"
)

// Scratch vectors (masks, opened values, packed matrix blocks, receive
// buffers) are recycled through free lists by power-of-two capacity class.
// Unlike a sync.Pool, which every garbage collection empties, the lists
// keep a party's working set mapped: a fresh 8 MB vector costs the kernel
// about two thousand page faults, more than the pass that fills it, and a
// party runs the same sizes again and again. Retention is bounded
// (maxPerClass vectors per class, maxRetained bytes in all); beyond it a
// vector is left to the garbage collector.
const (
	maxPerClass = 8
	maxRetained = 1 << 30
	// minPooled is the smallest capacity worth a list: below it the
	// allocator is as fast and the memory is already hot.
	minPooled  = 1 << 10
	numClasses = 48
)

var free struct {
	mu       sync.Mutex
	lists    [numClasses][][]uint64
	retained int // bytes held by the lists
}

// Get returns a vector of length n with arbitrary contents. Hand it back
// with Put when done (optional: an unreturned vector is garbage collected).
func Get(n int) []uint64 {
	if n < minPooled {
		return make([]uint64, n)
	}
	c := bits.Len(uint(n - 1))
	free.mu.Lock()
	l := free.lists[c]
	if k := len(l); k > 0 {
		v := l[k-1]
		l[k-1] = nil
		free.lists[c] = l[:k-1]
		free.retained -= 8 * cap(v)
		free.mu.Unlock()
		return v[:n]
	}
	free.mu.Unlock()
	return make([]uint64, n, 1<<c)
}

// GetZero returns a zeroed vector of length n (see Get).
func GetZero(n int) []uint64 {
	v := Get(n)
	clear(v)
	return v
}

// Put hands v back for reuse; the caller must not touch it afterwards.
// Vectors not obtained from Get (capacity not a pooled class) are ignored.
func Put(v []uint64) {
	c := cap(v)
	if c < minPooled || c&(c-1) != 0 {
		return
	}
	k := bits.TrailingZeros(uint(c))
	free.mu.Lock()
	if len(free.lists[k]) < maxPerClass && free.retained+8*c <= maxRetained {
		free.lists[k] = append(free.lists[k], v[:c])
		free.retained += 8 * c
	}
	free.mu.Unlock()
}
