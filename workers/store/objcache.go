package store

import (
	"container/list"
	"sync"
)

// objectCache keeps recently used decoded objects of a BoltStore, bounded
// by the bytes their values hold. Stored objects are immutable, so an entry
// stays valid until its object is removed; without it every use of a large
// tensor (each op, each federated batch cut from a dataset) would read and
// decode the whole value from the file again.
type objectCache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	order    *list.List // front: most recently used
	entries  map[string]*list.Element
	// epoch counts removals. A reader notes it before reading the file
	// and adds what it read only if no removal happened meanwhile, so an
	// object deleted while it was being read is never cached.
	epoch uint64
}

type cacheEntry struct {
	o    *Object
	size int64
}

func newObjectCache(maxBytes int64) *objectCache {
	return &objectCache{maxBytes: maxBytes, order: list.New(), entries: map[string]*list.Element{}}
}

// valueBytes approximates the memory an object's value holds.
func valueBytes(o *Object) int64 {
	n := int64(len(o.Blob)) + 256
	if o.Tensor != nil {
		n += 8 * int64(o.Tensor.Size())
	}
	return n
}

func (c *objectCache) get(id string) *Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).o
}

// now returns the current epoch, to pass to add.
func (c *objectCache) now() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// add caches o, read from the file after now() returned epoch.
func (c *objectCache) add(o *Object, epoch uint64) {
	size := valueBytes(o)
	if size > c.maxBytes/2 {
		return // one object would crowd out everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if e, ok := c.entries[o.ID]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.entries[o.ID] = c.order.PushFront(&cacheEntry{o, size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		last := c.order.Back()
		c.removeElement(last)
	}
}

// remove forgets the objects with the given ids; call it after the
// removal is committed.
func (c *objectCache) remove(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, id := range ids {
		if e, ok := c.entries[id]; ok {
			c.removeElement(e)
		}
	}
}

func (c *objectCache) removeElement(e *list.Element) {
	ce := e.Value.(*cacheEntry)
	c.order.Remove(e)
	delete(c.entries, ce.o.ID)
	c.bytes -= ce.size
}
