package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gomplab/gomplab/internal/boltfile"
	"github.com/gomplab/gomplab/serde"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Buckets of a BoltStore file. Metadata is kept apart from values so that
// listings and searches never decode a tensor.
var (
	bucketObjects = []byte("objects") // id -> sealed encoded Object (value included)
	bucketMeta    = []byte("meta")    // id -> sealed encoded Info
	bucketTags    = []byte("tags")    // tag 0x00 id -> sealed empty value
	bucketGrants  = []byte("grants")  // token hash -> sealed encoded Grant
	bucketFormat  = []byte("format")  // "format" -> sealed formatSealed
	bucketUsage   = []byte("usage")   // "u:" owner -> sealed bytes stored (8 bytes, big-endian)
)

// formatSealed marks a store whose every value is sealed (integrity.go).
// A store without it was written before checksums, and is sealed when a
// writer opens it.
var formatSealed = []byte("sealed-sha256-v1")

var keyFormat = []byte("format")

// storedLimits bound decoding of what the store itself wrote: generous,
// since the file is trusted as much as the process is.
var storedLimits = serde.Limits{MaxBytes: 1 << 40, MaxElements: 1 << 40, MaxDepth: 64}

// ErrLocked is returned by OpenBoltStore when another process (a running
// daemon) holds the store file.
var ErrLocked = errors.New("store file is in use by another process")

// ErrMissing is returned by OpenBolt with MustExist when the store file
// does not exist: a worker whose store vanished must not start empty.
var ErrMissing = errors.New("store file is missing")

// ErrQuota is returned by Put when the object would take its owner past
// the bytes each user may store (BoltStore.SetQuota).
var ErrQuota = errors.New("storage quota exceeded")

// BoltStore is a Store in a bbolt file. Every change is one bbolt
// transaction, committed (written and fsynced) before the method returns,
// so an acknowledged write survives a crash or kill -9; bbolt's
// copy-on-write pages mean a crash mid-write leaves the previous state.
//
// Every value carries a checksum checked on each read: a damaged record
// is reported (DamageError, naming it) and never returned. Before bbolt
// maps a file, OpenBolt checks it by its format (package boltfile: size
// against the meta pages, both meta pages, every page), then runs bbolt's
// own consistency check and verifies every checksum; a file that would
// crash bbolt, go back to an earlier transaction or start empty is
// refused with the damage listed.
//
// Decoded objects are kept in a cache bounded by DefaultStoreCacheBytes of
// values, so repeated use of a large tensor does not decode it each time.
type BoltStore struct {
	db    *bolt.DB
	path  string
	cache *objectCache

	mu     sync.Mutex
	quota  int64
	damage damageList
	notes  []string
}

// DefaultStoreCacheBytes bounds the values a BoltStore keeps decoded in
// memory.
const DefaultStoreCacheBytes = 512 << 20

// BoltOptions configure OpenBolt.
type BoltOptions struct {
	// Wait is how long to wait for another process's lock on the file
	// (0: 50 ms); then OpenBolt fails with ErrLocked.
	Wait time.Duration
	// MustExist refuses a missing file (ErrMissing) instead of creating
	// an empty store: a daemon's store, made by `gomplab worker init`.
	MustExist bool
	// ReadOnly opens the file without writing to it (check, backup and
	// list of a stopped worker); other readers may share it.
	ReadOnly bool
}

// OpenBoltStore opens (creating if needed) the store file at path. The
// file is locked while open; if another process holds it, OpenBoltStore
// waits up to wait and then fails with ErrLocked.
func OpenBoltStore(path string, wait time.Duration) (*BoltStore, error) {
	return OpenBolt(path, BoltOptions{Wait: wait})
}

// OpenError says why a store file could not be opened because it is
// damaged; Report holds everything boltfile found.
type OpenError struct {
	Path   string
	Report *boltfile.Report // nil when bbolt's own check found the damage
	Err    error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("store %s: %v; the worker does not start on a damaged store: `gomplab worker check` lists the damage, `gomplab worker recover` salvages the intact objects into a new store (and keeps the damaged file)", e.Path, e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDamaged) true.
func (e *OpenError) Is(target error) bool { return target == ErrDamaged }

// OpenBolt opens the store file at path with the checks described on
// BoltStore.
func OpenBolt(path string, o BoltOptions) (s *BoltStore, err error) {
	if o.Wait <= 0 {
		o.Wait = 50 * time.Millisecond
	}
	st, err := os.Stat(path)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("open store %s: %w", path, err)
	case !exists && (o.MustExist || o.ReadOnly):
		return nil, fmt.Errorf("open store %s: %w (it held this worker's objects: restore it from a backup; `gomplab worker recover` starts an empty one)", path, ErrMissing)
	case exists && st.IsDir():
		return nil, fmt.Errorf("open store %s: a directory, not a store file", path)
	}
	var notes []string
	if exists {
		// Check the file by its format before bbolt maps it, holding the
		// lock so that no writer changes it meanwhile.
		rep, err := checkLocked(path, o.ReadOnly, o.Wait)
		if err != nil {
			return nil, err
		}
		if !rep.Sound() {
			return nil, &OpenError{Path: path, Report: rep, Err: rep.Err()}
		}
		notes = rep.Notes
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Wait, ReadOnly: o.ReadOnly})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
		}
		return nil, &OpenError{Path: path, Err: err}
	}
	// Writes arriving together share a commit (Batch): waiting a little
	// for company costs a solo writer 2 ms, and saves a crowd an fsync
	// each.
	db.MaxBatchDelay = 2 * time.Millisecond
	s = &BoltStore{db: db, path: path, cache: newObjectCache(DefaultStoreCacheBytes), notes: notes}
	if err := s.init(exists, o.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init runs bbolt's consistency check, creates the buckets of a new store
// (sealing the values of one written before checksums), and verifies
// every record.
func (s *BoltStore) init(existed, readOnly bool) (err error) {
	defer guard(&err, "store file "+s.path)()
	if existed {
		var problems []string
		err := s.db.View(func(tx *bolt.Tx) error {
			for e := range tx.Check() {
				if len(problems) < 20 {
					problems = append(problems, e.Error())
				}
			}
			return nil
		})
		if err != nil {
			return &OpenError{Path: s.path, Err: err}
		}
		if len(problems) > 0 {
			return &OpenError{Path: s.path, Err: fmt.Errorf("%w: bbolt's consistency check: %s", ErrDamaged, joinLimited(problems, 5))}
		}
	}
	if !readOnly {
		err := s.db.Update(func(tx *bolt.Tx) error {
			fb := tx.Bucket(bucketFormat)
			legacy := fb == nil && tx.Bucket(bucketObjects) != nil
			for _, b := range [][]byte{bucketObjects, bucketMeta, bucketTags, bucketGrants, bucketFormat, bucketUsage} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			if legacy {
				if err := sealLegacy(tx); err != nil {
					return fmt.Errorf("adding checksums to a store written before them: %w", err)
				}
			}
			if fb == nil {
				return tx.Bucket(bucketFormat).Put(keyFormat, seal(bucketFormat, keyFormat, formatSealed))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("open store %s: %w", s.path, err)
		}
	}
	usage, err := s.verify()
	s.dropMapped() // verify read every record
	if err != nil || readOnly {
		return err
	}
	// The bytes each owner stores, as counted now, replace what the file
	// said (a store written before they were kept, or salvaged).
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketUsage); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketUsage)
		if err != nil {
			return err
		}
		for owner, n := range usage {
			if err := putUsage(b, owner, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	return nil
}

func usageKey(owner string) []byte { return append([]byte("u:"), owner...) }

func putUsage(b *bolt.Bucket, owner string, n int64) error {
	k := usageKey(owner)
	if n <= 0 {
		return b.Delete(k)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n))
	return put(b, bucketUsage, k, v[:])
}

// usageOf is the bytes owner stores, as tx sees it.
func usageOf(tx *bolt.Tx, owner string) (int64, error) {
	b := tx.Bucket(bucketUsage)
	if b == nil {
		return 0, nil
	}
	k := usageKey(owner)
	v := b.Get(k)
	if v == nil {
		return 0, nil
	}
	p, err := openSealed(bucketUsage, k, v)
	if err != nil {
		return 0, err
	}
	if len(p) != 8 {
		return 0, &DamageError{What: describe(bucketUsage, k), Why: "not 8 bytes"}
	}
	return int64(binary.BigEndian.Uint64(p)), nil
}

// addUsage changes the bytes owner stores by n, in tx.
func addUsage(tx *bolt.Tx, owner string, n int64) error {
	used, err := usageOf(tx, owner)
	if err != nil {
		used = 0 // damaged: counted afresh at the next open
	}
	return putUsage(tx.Bucket(bucketUsage), owner, used+n)
}

// sealLegacy seals every value of a store written before checksums.
func sealLegacy(tx *bolt.Tx) error {
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		type kv struct{ k, v []byte }
		var all []kv
		err := b.ForEach(func(k, v []byte) error {
			if v != nil { // nested buckets have nil values
				all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range all {
			if err := b.Put(e.k, seal(name, e.k, e.v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// verify checks every record's seal, lists the damaged ones, and counts
// the bytes each owner stores.
func (s *BoltStore) verify() (map[string]int64, error) {
	var dl damageList
	usage := map[string]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if fb := tx.Bucket(bucketFormat); fb != nil {
			if v := fb.Get(keyFormat); v == nil {
				dl.add(describe(bucketFormat, keyFormat), "missing")
			} else if p, err := unseal(bucketFormat, keyFormat, v); err != nil {
				dl.add(describe(bucketFormat, keyFormat), err.Error())
			} else if !bytes.Equal(p, formatSealed) {
				return fmt.Errorf("store %s: format %q, this gomplab reads %q (a newer gomplab wrote it?)", s.path, p, formatSealed)
			}
		} else if tx.Bucket(bucketObjects) != nil {
			return fmt.Errorf("store %s was written before checksums; open it once with a worker (not read-only) to add them", s.path)
		}
		objs := tx.Bucket(bucketObjects)
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					return nil
				}
				p, err := unseal(name, k, v)
				if err != nil {
					dl.add(describe(name, k), err.Error())
					return nil
				}
				if bytes.Equal(name, bucketMeta) {
					var in Info
					if err := serde.DecodeBody(bytes.Clone(p), &in, storedLimits); err != nil || in.ID != string(k) {
						dl.add(describe(name, k), "does not decode")
						return nil
					}
					if ov := objs.Get(k); ov != nil {
						usage[in.Owner] += int64(len(ov))
					} else {
						dl.add(describe(bucketObjects, k), "missing, though its metadata is there")
					}
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.damage = dl
	s.mu.Unlock()
	return usage, nil
}

// Damaged lists the damaged records found when the store was opened
// (at most a thousand; total counts them all). They are never returned;
// the daemon logs them at start.
func (s *BoltStore) Damaged() (list []Damage, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.damage.sorted(), s.damage.total
}

// Notes lists what the checks at open found wrong but harmless (the
// older meta page damaged while the current one is intact).
func (s *BoltStore) Notes() []string { return s.notes }

// Path is the store file.
func (s *BoltStore) Path() string { return s.path }

// SetQuota bounds the bytes one owner's objects may take in the file (0:
// no bound); Put refuses an object over it with ErrQuota.
func (s *BoltStore) SetQuota(bytesPerOwner int64) {
	s.mu.Lock()
	s.quota = bytesPerOwner
	s.mu.Unlock()
}

// SetCacheBytes bounds the decoded objects kept in memory (the default is
// DefaultStoreCacheBytes); call it before the store is used.
func (s *BoltStore) SetCacheBytes(n int64) { s.cache = newObjectCache(n) }

// Usage returns the bytes owner's objects take in the file.
func (s *BoltStore) Usage(owner string) (n int64) {
	s.db.View(func(tx *bolt.Tx) error {
		n, _ = usageOf(tx, owner)
		return nil
	})
	return n
}

func joinLimited(ps []string, n int) string {
	s := ""
	for i, p := range ps {
		if i == n {
			return s + fmt.Sprintf("; and %d more", len(ps)-n)
		}
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}

func tagKey(tag, id string) []byte {
	k := make([]byte, 0, len(tag)+1+len(id))
	k = append(k, tag...)
	k = append(k, 0)
	return append(k, id...)
}

// put stores a sealed value.
func put(b *bolt.Bucket, name, key, payload []byte) error {
	return b.Put(key, seal(name, key, payload))
}

// Put implements Store.
func (s *BoltStore) Put(o *Object) (err error) {
	defer guard(&err, "the store file")()
	full, err := serde.EncodeBody(o)
	if err != nil {
		return fmt.Errorf("store object %s: %w", o.ID, err)
	}
	meta, err := serde.EncodeBody(o.Info())
	if err != nil {
		return fmt.Errorf("store object %s: %w", o.ID, err)
	}
	id := []byte(o.ID)
	sealed := seal(bucketObjects, id, full)
	size := int64(len(sealed))
	epoch := s.cache.now()
	s.mu.Lock()
	quota := s.quota
	s.mu.Unlock()
	// Concurrent puts share one transaction and one fsync (bbolt's
	// Batch): the function may run more than once, and changes nothing
	// outside the transaction.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		objs := tx.Bucket(bucketObjects)
		if objs.Get(id) != nil {
			return fmt.Errorf("object %s: %w", o.ID, ErrExists)
		}
		used, err := usageOf(tx, o.Owner)
		if err != nil {
			return err
		}
		if quota > 0 && used+size > quota {
			return fmt.Errorf("object %s of %d bytes: user %s stores %d bytes, and may store %d on this worker (free objects, or ask its owner for a larger --max-store-per-user): %w",
				o.ID, size, o.Owner, used, quota, ErrQuota)
		}
		if err := objs.Put(id, sealed); err != nil {
			return fmt.Errorf("store object %s: %w", o.ID, err)
		}
		if err := put(tx.Bucket(bucketMeta), bucketMeta, id, meta); err != nil {
			return fmt.Errorf("store object %s: %w", o.ID, err)
		}
		tags := tx.Bucket(bucketTags)
		for _, t := range o.Tags {
			if err := put(tags, bucketTags, tagKey(t, o.ID), nil); err != nil {
				return fmt.Errorf("store object %s: %w", o.ID, err)
			}
		}
		return addUsage(tx, o.Owner, size)
	})
	if err == nil {
		s.cache.add(o, epoch)
		if size >= dropMappedBytes {
			s.dropMapped()
		}
	}
	return err
}

// dropMappedBytes is the size of an object past which writing or removing
// it drops the file's pages from memory (dropMapped).
const dropMappedBytes = 1 << 20

// decodeStored checks and decodes the value of object id.
func decodeStored(id string, b []byte) (*Object, error) {
	p, err := openSealed(bucketObjects, []byte(id), b)
	if err != nil {
		return nil, err
	}
	var o Object
	// b lives in bbolt's memory map only during the transaction.
	if err := serde.DecodeBody(bytes.Clone(p), &o, storedLimits); err != nil {
		return nil, &DamageError{What: describe(bucketObjects, []byte(id)), Why: "sealed but does not decode: " + err.Error()}
	}
	if o.ID != id {
		return nil, &DamageError{What: describe(bucketObjects, []byte(id)), Why: fmt.Sprintf("holds object %q", o.ID)}
	}
	return &o, nil
}

// decodeInfo checks and decodes the metadata of object id.
func decodeInfo(id, v []byte) (Info, error) {
	var in Info
	p, err := openSealed(bucketMeta, id, v)
	if err != nil {
		return in, err
	}
	if err := serde.DecodeBody(bytes.Clone(p), &in, storedLimits); err != nil || in.ID != string(id) {
		return in, &DamageError{What: describe(bucketMeta, id), Why: "sealed but does not decode"}
	}
	return in, nil
}

// Get implements Store.
func (s *BoltStore) Get(id string) (o *Object, err error) {
	if o := s.cache.get(id); o != nil {
		return o, nil
	}
	defer guard(&err, describe(bucketObjects, []byte(id)))()
	epoch := s.cache.now()
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketObjects).Get([]byte(id))
		if b == nil {
			return fmt.Errorf("object %s: %w", id, ErrNotFound)
		}
		var err error
		o, err = decodeStored(id, b)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.cache.add(o, epoch)
	if valueBytes(o) >= dropMappedBytes {
		s.dropMapped()
	}
	return o, nil
}

// removeTx deletes object id in tx and returns the bytes it took and its
// owner. With full set it returns the object, value included (and fails on
// a damaged one); otherwise only its metadata is read (a Delete need not
// decode the value), and a damaged object can be deleted.
func (s *BoltStore) removeTx(tx *bolt.Tx, id string, full bool) (*Object, int64, error) {
	key := []byte(id)
	b := tx.Bucket(bucketObjects).Get(key)
	if b == nil {
		return nil, 0, fmt.Errorf("object %s: %w", id, ErrNotFound)
	}
	size := int64(len(b))
	var o *Object
	var err error
	if full {
		if o = s.cache.get(id); o == nil {
			o, err = decodeStored(id, b)
		}
		if err != nil {
			return nil, 0, err
		}
	} else {
		o = &Object{ID: id}
		if m := tx.Bucket(bucketMeta).Get(key); m != nil {
			if in, err := decodeInfo(key, m); err == nil {
				o.Tags, o.Owner = in.Tags, in.Owner
			} else if o.Tags, err = tagsOf(tx, id); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := tx.Bucket(bucketObjects).Delete(key); err != nil {
		return nil, 0, err
	}
	if err := tx.Bucket(bucketMeta).Delete(key); err != nil {
		return nil, 0, err
	}
	tags := tx.Bucket(bucketTags)
	for _, t := range o.Tags {
		if err := tags.Delete(tagKey(t, id)); err != nil {
			return nil, 0, err
		}
	}
	if err := addUsage(tx, o.Owner, -size); err != nil {
		return nil, 0, err
	}
	return o, size, nil
}

// tagsOf finds the tags of object id in the tag index (for an object
// whose metadata is damaged).
func tagsOf(tx *bolt.Tx, id string) ([]string, error) {
	var tags []string
	suffix := append([]byte{0}, id...)
	err := tx.Bucket(bucketTags).ForEach(func(k, _ []byte) error {
		if bytes.HasSuffix(k, suffix) {
			tags = append(tags, string(k[:len(k)-len(suffix)]))
		}
		return nil
	})
	return tags, err
}

// Take implements Store.
func (s *BoltStore) Take(id string) (o *Object, err error) {
	defer guard(&err, describe(bucketObjects, []byte(id)))()
	var size int64
	err = s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		o, size, err = s.removeTx(tx, id, true)
		return err
	})
	s.cache.remove(id)
	if err == nil {
		if size >= dropMappedBytes {
			s.dropMapped()
		}
	}
	return o, err
}

// Delete implements Store. A damaged object can be deleted.
func (s *BoltStore) Delete(id string) (err error) {
	defer guard(&err, describe(bucketObjects, []byte(id)))()
	var size int64
	err = s.db.Batch(func(tx *bolt.Tx) error {
		var err error
		_, size, err = s.removeTx(tx, id, false)
		return err
	})
	s.cache.remove(id)
	if err == nil {
		if size >= dropMappedBytes {
			s.dropMapped()
		}
	}
	return err
}

// Search implements Store. Objects whose metadata is damaged are left
// out of the result (they are listed by Damaged and `gomplab worker
// check`, and a Get of one says it is damaged).
func (s *BoltStore) Search(tags ...string) (out []Info, err error) {
	defer guard(&err, "the store's metadata")()
	err = s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		add := func(id, v []byte) error {
			in, err := decodeInfo(id, v)
			if err != nil {
				return nil
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

// Clear implements Store. With an owner, objects whose metadata is
// damaged are kept (their owner is unknown).
func (s *BoltStore) Clear(owner string) (n int, err error) {
	defer guard(&err, "the store's metadata")()
	var ids []string
	err = s.db.Update(func(tx *bolt.Tx) error {
		ids = ids[:0]
		err := tx.Bucket(bucketMeta).ForEach(func(k, v []byte) error {
			if owner != "" {
				in, err := decodeInfo(k, v)
				if err != nil || in.Owner != owner {
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
			if _, _, err := s.removeTx(tx, id, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.cache.remove(ids...)
	s.dropMapped()
	return len(ids), nil
}

// SaveGrant implements Store.
func (s *BoltStore) SaveGrant(g *Grant) (err error) {
	defer guard(&err, "the store's grants")()
	b, err := serde.EncodeBody(g)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return put(tx.Bucket(bucketGrants), bucketGrants, []byte(g.TokenHash), b)
	})
}

// LoadGrant implements Store. A damaged grant is an error: it grants
// nothing.
func (s *BoltStore) LoadGrant(tokenHash string) (g *Grant, err error) {
	defer guard(&err, "a grant")()
	g = new(Grant)
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGrants).Get([]byte(tokenHash))
		if b == nil {
			return fmt.Errorf("grant: %w", ErrNotFound)
		}
		p, err := openSealed(bucketGrants, []byte(tokenHash), b)
		if err != nil {
			return err
		}
		if err := serde.DecodeBody(bytes.Clone(p), g, storedLimits); err != nil {
			return &DamageError{What: "a grant", Why: "sealed but does not decode"}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// DeleteGrant implements Store.
func (s *BoltStore) DeleteGrant(tokenHash string) (err error) {
	defer guard(&err, "the store's grants")()
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGrants).Delete([]byte(tokenHash))
	})
}

// Close implements Store.
func (s *BoltStore) Close() error { return s.db.Close() }
