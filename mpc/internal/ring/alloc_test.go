package ring

import "testing"

func TestFreeLists(t *testing.T) {
	for _, n := range []int{0, 1, minPooled - 1, minPooled, minPooled + 1, 3000, 1 << 14} {
		v := Get(n)
		if len(v) != n {
			t.Fatalf("Get(%d) has length %d", n, len(v))
		}
		for i := range v {
			v[i] = uint64(i) + 1
		}
		Put(v)
		z := GetZero(n)
		for i, x := range z {
			if x != 0 {
				t.Fatalf("GetZero(%d): element %d is %d", n, i, x)
			}
		}
		Put(z)
	}
	// A returned vector is handed out again for the same class.
	v := Get(5000)
	v[0] = 42
	Put(v)
	w := Get(4100)
	if &w[0] != &v[0] || cap(w) != 8192 {
		t.Errorf("Get after Put: a fresh vector of capacity %d", cap(w))
	}
	Put(w)
	// Retention is bounded per class.
	var held [][]uint64
	for i := 0; i < 2*maxPerClass; i++ {
		held = append(held, Get(1<<12))
	}
	for _, h := range held {
		Put(h)
	}
	free.mu.Lock()
	got := len(free.lists[12])
	free.mu.Unlock()
	if got != maxPerClass {
		t.Errorf("class 2^12 holds %d vectors, want at most %d", got, maxPerClass)
	}
	// Foreign slices (capacity not a class) are ignored.
	Put(make([]uint64, 3000))
	Put(make([]uint64, 100))
}
