package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/gomplab/gomplab/serde"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Buckets of a BoltStore file. Metadata is kept apart from values so that
// listings and searches never decode a tensor.
var (
	bucketObjects = []byte("objects") // id -> encoded Object (value included)
	bucketMeta    = []byte("meta")    // id -> encoded Info
	bucketTags    = []byte("tags")    // tag 0x00 id -> empty
	bucketGrants  = []byte("grants")  // token hash -> encoded Grant
)

// storedLimits bound decoding of what the store itself wrote: generous,
// since the file is trusted as much as the process is.
var storedLimits = serde.Limits{MaxBytes: 1 << 40, MaxElements: 1 << 40, MaxDepth: 64}

// ErrLocked is returned by OpenBoltStore when another process (a running
// daemon) holds the store file.
var ErrLocked = errors.New("store file is in use by another process")

// BoltStore is a Store in a bbolt file. Every change is one bbolt
// transaction, committed (written and fsynced) before the method returns,
// so an acknowledged write survives a crash or kill -9; bbolt's
// copy-on-write pages mean a crash mid-write leaves the previous state.
//
// Decoded objects are kept in a cache bounded by DefaultStoreCacheBytes of
// values, so repeated use of a large tensor does not decode it each time.
type BoltStore struct {
	db    *bolt.DB
	cache *objectCache
}

// DefaultStoreCacheBytes bounds the values a BoltStore keeps decoded in
// memory.
const DefaultStoreCacheBytes = 512 << 20

// OpenBoltStore opens (creating if needed) the store file at path. The
// file is locked while open; if another process holds it, OpenBoltStore
// waits up to wait and then fails with ErrLocked.
func OpenBoltStore(path string, wait time.Duration) (*BoltStore, error) {
	if wait <= 0 {
		wait = 50 * time.Millisecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: wait})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketObjects, bucketMeta, bucketTags, bucketGrants} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &BoltStore{db: db, cache: newObjectCache(DefaultStoreCacheBytes)}, nil
}

func tagKey(tag, id string) []byte {
	k := make([]byte, 0, len(tag)+1+len(id))
	k = append(k, tag...)
	k = append(k, 0)
	return append(k, id...)
}

// Put implements Store.
func (s *BoltStore) Put(o *Object) error {
	full, err := serde.EncodeBody(o)
	if err != nil {
		return fmt.Errorf("store object %s: %w", o.ID, err)
	}
	meta, err := serde.EncodeBody(o.Info())
	if err != nil {
		return fmt.Errorf("store object %s: %w", o.ID, err)
	}
	epoch := s.cache.now()
	err = s.db.Update(func(tx *bolt.Tx) error {
		objs := tx.Bucket(bucketObjects)
		if objs.Get([]byte(o.ID)) != nil {
			return fmt.Errorf("object %s: %w", o.ID, ErrExists)
		}
		if err := objs.Put([]byte(o.ID), full); err != nil {
			return fmt.Errorf("store object %s: %w", o.ID, err)
		}
		if err := tx.Bucket(bucketMeta).Put([]byte(o.ID), meta); err != nil {
			return fmt.Errorf("store object %s: %w", o.ID, err)
		}
		tags := tx.Bucket(bucketTags)
		for _, t := range o.Tags {
			if err := tags.Put(tagKey(t, o.ID), nil); err != nil {
				return fmt.Errorf("store object %s: %w", o.ID, err)
			}
		}
		return nil
	})
	if err == nil {
		s.cache.add(o, epoch)
	}
	return err
}

func decodeStored(id string, b []byte) (*Object, error) {
	var o Object
	// b lives in bbolt's memory map only during the transaction.
	if err := serde.DecodeBody(bytes.Clone(b), &o, storedLimits); err != nil {
		return nil, fmt.Errorf("object %s: corrupt record: %w", id, err)
	}
	return &o, nil
}

// Get implements Store.
func (s *BoltStore) Get(id string) (*Object, error) {
	if o := s.cache.get(id); o != nil {
		return o, nil
	}
	epoch := s.cache.now()
	var o *Object
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketObjects).Get([]byte(id))
		if b == nil {
			return fmt.Errorf("object %s: %w", id, ErrNotFound)
		}
		var err error
		o, err = decodeStored(id, b)
		return err
	})
	if err == nil {
		s.cache.add(o, epoch)
	}
	return o, err
}

// removeTx deletes object id in tx. With full set it returns the object,
// value included; otherwise only its metadata is read (a Delete need not
// decode the value).
func (s *BoltStore) removeTx(tx *bolt.Tx, id string, full bool) (*Object, error) {
	b := tx.Bucket(bucketObjects).Get([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("object %s: %w", id, ErrNotFound)
	}
	var o *Object
	var err error
	if full {
		if o = s.cache.get(id); o == nil {
			o, err = decodeStored(id, b)
		}
	} else {
		var in Info
		if m := tx.Bucket(bucketMeta).Get([]byte(id)); m == nil {
			o, err = decodeStored(id, b) // written before metadata was kept apart
		} else if err = serde.DecodeBody(m, &in, storedLimits); err == nil {
			o = &Object{ID: id, Tags: in.Tags}
		}
	}
	if err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketObjects).Delete([]byte(id)); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketMeta).Delete([]byte(id)); err != nil {
		return nil, err
	}
	tags := tx.Bucket(bucketTags)
	for _, t := range o.Tags {
		if err := tags.Delete(tagKey(t, id)); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Take implements Store.
func (s *BoltStore) Take(id string) (*Object, error) {
	var o *Object
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		o, err = s.removeTx(tx, id, true)
		return err
	})
	s.cache.remove(id)
	return o, err
}

// Delete implements Store.
func (s *BoltStore) Delete(id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, err := s.removeTx(tx, id, false)
		return err
	})
	s.cache.remove(id)
	return err
}

// Search implements Store.
func (s *BoltStore) Search(tags ...string) ([]Info, error) {
	var out []Info
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		add := func(id, v []byte) error {
			var in Info
			if err := serde.DecodeBody(v, &in, storedLimits); err != nil {
				return fmt.Errorf("object %s: corrupt metadata: %w", id, err)
			}
			if in.HasTags(tags...) {
				out = append(out, in)
			}
			return nil
		}
		if len(tags) == 0 {
			return meta.ForEach(add)
		}
		prefix := append([]byte(tags[0]), 0)
		c := tx.Bucket(bucketTags).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := k[len(prefix):]
			if v := meta.Get(id); v != nil {
				if err := add(id, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	sortInfos(out)
	return out, err
}

// Clear implements Store.
func (s *BoltStore) Clear(owner string) (int, error) {
	var ids []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids = ids[:0]
		err := tx.Bucket(bucketMeta).ForEach(func(k, v []byte) error {
			if owner != "" {
				var in Info
				if err := serde.DecodeBody(v, &in, storedLimits); err != nil {
					return fmt.Errorf("object %s: corrupt metadata: %w", k, err)
				}
				if in.Owner != owner {
					return nil
				}
			}
			ids = append(ids, string(k))
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := s.removeTx(tx, id, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.cache.remove(ids...)
	return len(ids), nil
}

// SaveGrant implements Store.
func (s *BoltStore) SaveGrant(g *Grant) error {
	b, err := serde.EncodeBody(g)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGrants).Put([]byte(g.TokenHash), b)
	})
}

// LoadGrant implements Store.
func (s *BoltStore) LoadGrant(tokenHash string) (*Grant, error) {
	var g Grant
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGrants).Get([]byte(tokenHash))
		if b == nil {
			return fmt.Errorf("grant: %w", ErrNotFound)
		}
		return serde.DecodeBody(bytes.Clone(b), &g, storedLimits)
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// DeleteGrant implements Store.
func (s *BoltStore) DeleteGrant(tokenHash string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGrants).Delete([]byte(tokenHash))
	})
}

// Close implements Store.
func (s *BoltStore) Close() error { return s.db.Close() }
