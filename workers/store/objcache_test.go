package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func cachedObject(id string, n int) *Object {
	return &Object{ID: id, Kind: KindTensor, Owner: "me", Tags: []string{"#t"}, Tensor: tensor.Zeros(n)}
}

// TestBoltStoreCache: the decoded-object cache never serves an object
// after its removal, including when a read races with the removal.
func TestBoltStoreCache(t *testing.T) {
	s, err := OpenBoltStore(filepath.Join(t.TempDir(), "store.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, remove := range []func(id string) error{
		s.Delete,
		func(id string) error { _, err := s.Take(id); return err },
		func(string) error { _, err := s.Clear(""); return err },
	} {
		id := fmt.Sprintf("obj%d", i)
		if err := s.Put(cachedObject(id, 4)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(id); err != nil { // cached now
			t.Fatal(err)
		}
		if err := remove(id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("removal %d: Get after removal: %v, want ErrNotFound", i, err)
		}
		if infos, _ := s.Search("#t"); len(infos) != 0 {
			t.Errorf("removal %d: search finds %v", i, infos)
		}
	}

	// Readers racing a deletion must not leave it cached.
	for round := 0; round < 50; round++ {
		id := fmt.Sprintf("race%d", round)
		if err := s.Put(cachedObject(id, 1000)); err != nil {
			t.Fatal(err)
		}
		s.cache.remove(id) // start uncached, so readers go to the file
		var wg sync.WaitGroup
		for r := 0; r < 4; r++ {
			wg.Add(1)
			go func() { defer wg.Done(); s.Get(id) }()
		}
		if err := s.Delete(id); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: deleted object still served: %v", round, err)
		}
	}
}

func TestObjectCacheBound(t *testing.T) {
	c := newObjectCache(100_000)
	for i := 0; i < 100; i++ {
		c.add(cachedObject(fmt.Sprint(i), 1000), c.now()) // ~8 KB each
	}
	if c.bytes > c.maxBytes {
		t.Fatalf("cache holds %d bytes, bound %d", c.bytes, c.maxBytes)
	}
	if c.get("99") == nil || c.get("0") != nil {
		t.Error("least recently used entries should go first")
	}
	c.add(cachedObject("huge", 1_000_000), c.now())
	if c.get("huge") != nil {
		t.Error("an object larger than half the bound was cached")
	}
}
