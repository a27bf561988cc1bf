package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Records is the part of a store that keeps the records of a worker's
// capabilities other than objects and grants (code requests and their
// approvals, package workers/approvals): opaque bytes under a key, in a
// named bucket, each change atomic and, in a persistent store, durable
// before the method returns. MemStore and BoltStore implement it.
type Records interface {
	// GetRecord returns the record under key in bucket, or ErrNotFound.
	GetRecord(bucket, key string) ([]byte, error)
	// UpdateRecord calls fn with the record under key (nil when there is
	// none) and stores what fn returns in one atomic change: nil deletes
	// the record, and an error from fn changes nothing and is returned.
	// fn must not keep old, nor call the store.
	UpdateRecord(bucket, key string, fn func(old []byte) ([]byte, error)) error
	// ScanRecords calls fn, in key order, with every record of bucket
	// whose key starts with prefix, until fn returns an error (which
	// ScanRecords returns). fn must not keep val, nor call the store.
	ScanRecords(bucket, prefix string, fn func(key string, val []byte) error) error
}

// recordBucketPrefix names a BoltStore bucket of records, apart from the
// store's own buckets.
const recordBucketPrefix = "records/"

// MaxRecordKey bounds a record's key (bbolt's own limit is 32 KiB).
const MaxRecordKey = 1024

func checkRecordName(bucket, key string) error {
	switch {
	case bucket == "" || len(bucket) > 64 || strings.ContainsAny(bucket, "/\x00"):
		return fmt.Errorf("record bucket %q: 1 to 64 bytes, no '/' or NUL", bucket)
	case key == "" || len(key) > MaxRecordKey:
		return fmt.Errorf("record key of %d bytes in %s: want 1 to %d", len(key), bucket, MaxRecordKey)
	}
	return nil
}

// GetRecord implements Records.
func (s *MemStore) GetRecord(bucket, key string) ([]byte, error) {
	if err := checkRecordName(bucket, key); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.records[bucket][key]
	if !ok {
		return nil, fmt.Errorf("record %s/%s: %w", bucket, key, ErrNotFound)
	}
	return slices.Clone(v), nil
}

// UpdateRecord implements Records.
func (s *MemStore) UpdateRecord(bucket, key string, fn func(old []byte) ([]byte, error)) error {
	if err := checkRecordName(bucket, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.records[bucket]
	nv, err := fn(slices.Clone(b[key]))
	if err != nil {
		return err
	}
	if nv == nil {
		delete(b, key)
		return nil
	}
	if b == nil {
		if s.records == nil {
			s.records = map[string]map[string][]byte{}
		}
		b = map[string][]byte{}
		s.records[bucket] = b
	}
	b[key] = slices.Clone(nv)
	return nil
}

// ScanRecords implements Records.
func (s *MemStore) ScanRecords(bucket, prefix string, fn func(key string, val []byte) error) error {
	s.mu.RLock()
	b := s.records[bucket]
	keys := make([]string, 0, len(b))
	for k := range b {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	vals := make([][]byte, len(keys))
	sort.Strings(keys)
	for i, k := range keys {
		vals[i] = b[k]
	}
	s.mu.RUnlock()
	for i, k := range keys {
		if err := fn(k, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// GetRecord implements Records.
func (s *BoltStore) GetRecord(bucket, key string) (_ []byte, err error) {
	if err := checkRecordName(bucket, key); err != nil {
		return nil, err
	}
	var out []byte
	defer guard(&err, describe([]byte(recordBucketPrefix+bucket), []byte(key)))()
	err = s.db.View(func(tx *bolt.Tx) error {
		name := []byte(recordBucketPrefix + bucket)
		if b := tx.Bucket(name); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				p, err := openSealed(name, []byte(key), v)
				if err != nil {
					return err
				}
				out = slices.Clone(p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("record %s/%s: %w", bucket, key, ErrNotFound)
	}
	return out, nil
}

// errNoChange ends an update transaction that has nothing to write.
var errNoChange = errors.New("no change")

// UpdateRecord implements Records: one bbolt transaction, committed
// before it returns.
// A damaged record is an error: fn never sees it.
func (s *BoltStore) UpdateRecord(bucket, key string, fn func(old []byte) ([]byte, error)) (err error) {
	if err := checkRecordName(bucket, key); err != nil {
		return err
	}
	defer guard(&err, describe([]byte(recordBucketPrefix+bucket), []byte(key)))()
	err = s.db.Update(func(tx *bolt.Tx) error {
		name := []byte(recordBucketPrefix + bucket)
		b := tx.Bucket(name)
		var old []byte
		if b != nil {
			if v := b.Get([]byte(key)); v != nil {
				p, err := openSealed(name, []byte(key), v)
				if err != nil {
					return err
				}
				old = slices.Clone(p)
			}
		}
		nv, err := fn(old)
		if err != nil {
			return err
		}
		if nv == nil {
			if b == nil || old == nil {
				return errNoChange
			}
			return b.Delete([]byte(key))
		}
		if b == nil {
			if b, err = tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return put(b, name, []byte(key), nv)
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// ScanRecords implements Records. A damaged record ends the scan with
// its DamageError: a capability's records (approvals) fail closed.
func (s *BoltStore) ScanRecords(bucket, prefix string, fn func(key string, val []byte) error) (err error) {
	defer guard(&err, "records of "+bucket)()
	return s.db.View(func(tx *bolt.Tx) error {
		name := []byte(recordBucketPrefix + bucket)
		b := tx.Bucket(name)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			val, err := openSealed(name, k, v)
			if err != nil {
				return err
			}
			if err := fn(string(k), val); err != nil {
				return err
			}
		}
		return nil
	})
}
