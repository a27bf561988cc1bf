package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomplab/gomplab/internal/boltfile"
	bolt "go.etcd.io/bbolt"
)

// WriteTo writes a consistent snapshot of the store (one read transaction,
// while writers go on) to w.
func (s *BoltStore) WriteTo(w io.Writer) (n int64, err error) {
	defer guard(&err, "the store file")()
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Backup writes a consistent snapshot of the store to path (which must not
// exist) while the store serves, syncs it, and checks the copy as OpenBolt
// would. It returns the snapshot's size.
func (s *BoltStore) Backup(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	n, err := s.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		var rep *boltfile.Report
		if rep, err = boltfile.Check(path); err == nil {
			err = rep.Err()
		}
	}
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	return n, nil
}

// CheckReport is what CheckFile found in a store file.
type CheckReport struct {
	// File is boltfile's report on the file's structure.
	File *boltfile.Report
	// Open is why the store could not be opened (nil when it could).
	Open error
	// Damaged lists damaged records (at most a thousand); DamagedTotal
	// counts them all.
	Damaged      []Damage
	DamagedTotal int
	// Objects is the number of objects whose metadata is intact.
	Objects int
}

// Sound reports whether nothing is damaged.
func (r *CheckReport) Sound() bool {
	return r.Open == nil && r.DamagedTotal == 0 && (r.File == nil || r.File.Sound())
}

// CheckFile checks the store file at path without changing it: its
// structure, bbolt's consistency check, and every record's checksum. The
// file must not be held by a running worker (ErrLocked).
func CheckFile(path string) (*CheckReport, error) {
	rep, err := checkLocked(path, true, 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	r := &CheckReport{File: rep}
	if !rep.Sound() {
		r.Open = rep.Err()
		return r, nil
	}
	s, err := OpenBolt(path, BoltOptions{ReadOnly: true})
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, err
		}
		r.Open = err
		return r, nil
	}
	defer s.Close()
	r.Damaged, r.DamagedTotal = s.Damaged()
	infos, err := s.Search()
	if err != nil {
		r.Open = err
	}
	r.Objects = len(infos)
	return r, nil
}

// SalvageReport says what Salvage kept and what was lost.
type SalvageReport struct {
	Objects, Grants, Records int
	// Lost names each object known (by its id in the metadata or the tag
	// index) but not salvaged, and each other damaged record, with why.
	Lost []string
	// Problems are the damage boltfile found in the file's structure;
	// records on unreachable pages cannot be named.
	Problems []string
}

// Salvage copies every intact record of the store file src (which may be
// damaged in any way) into a new store file dst: objects whose checksum
// holds (their metadata and tag index rebuilt from them), grants and other
// records whose checksum holds. Nothing damaged is copied.
func Salvage(src, dst string) (*SalvageReport, error) {
	if _, err := os.Stat(dst); err == nil {
		return nil, fmt.Errorf("salvage into %s: the file exists", dst)
	}
	out, err := OpenBolt(dst, BoltOptions{})
	if err != nil {
		return nil, fmt.Errorf("salvage into %s: %w", dst, err)
	}
	out.db.NoSync, out.db.MaxBatchDelay = true, 0
	rep := &SalvageReport{}
	known := map[string]bool{}     // object ids named anywhere
	saved := map[string]bool{}     // object ids salvaged
	damaged := map[string]string{} // object id -> why
	var others []string
	visit := func(path [][]byte, key, val []byte) error {
		if len(path) != 1 {
			return nil
		}
		name := path[0]
		switch {
		case bytes.Equal(name, bucketObjects):
			id := string(key)
			known[id] = true
			o, err := decodeStored(id, val)
			if err != nil {
				damaged[id] = damageWhy(err)
				return nil
			}
			if err := o.Validate(); err != nil {
				damaged[id] = "sealed but invalid: " + err.Error()
				return nil
			}
			if err := out.Put(o); err != nil {
				if errors.Is(err, ErrExists) {
					return nil
				}
				return fmt.Errorf("salvage object %s: %w", id, err)
			}
			saved[id] = true
			rep.Objects++
		case bytes.Equal(name, bucketMeta):
			known[string(key)] = true
		case bytes.Equal(name, bucketTags):
			if _, id, ok := bytes.Cut(key, []byte{0}); ok && ValidateID(string(id)) == nil {
				known[string(id)] = true
			}
		case bytes.Equal(name, bucketGrants), bytes.HasPrefix(name, []byte(recordBucketPrefix)):
			p, err := unseal(name, key, val)
			if err != nil {
				others = append(others, fmt.Sprintf("%s: %v", describe(name, key), err))
				return nil
			}
			err = out.db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(name)
				if err != nil {
					return err
				}
				return put(b, name, key, p)
			})
			if err != nil {
				return fmt.Errorf("salvage %s: %w", describe(name, key), err)
			}
			if bytes.Equal(name, bucketGrants) {
				rep.Grants++
			} else {
				rep.Records++
			}
		}
		return nil
	}
	frep, err := boltfile.Walk(src, visit)
	if err == nil {
		err = out.db.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return nil, fmt.Errorf("salvage %s: %w", src, err)
	}
	if frep != nil {
		rep.Problems = frep.Problems
	}
	for id := range known {
		if saved[id] {
			continue
		}
		why, ok := damaged[id]
		if !ok {
			why = "its value was on a damaged or unreachable page"
		}
		rep.Lost = append(rep.Lost, fmt.Sprintf("object %q: %s", id, why))
	}
	sort.Strings(rep.Lost)
	rep.Lost = append(rep.Lost, others...)
	return rep, nil
}

// damageWhy is the reason of a DamageError, or the error's text.
func damageWhy(err error) string {
	var de *DamageError
	if errors.As(err, &de) {
		return de.Why
	}
	return err.Error()
}

// RecoverDataFile salvages the store file at path into a new one, keeps
// the old file beside it (path.damaged-STAMP) and puts the new one in its
// place. A missing file becomes an empty store. It returns the report and
// where the old file went ("" when there was none).
func RecoverDataFile(path, stamp string) (*SalvageReport, string, error) {
	tmp := path + ".recovering-" + stamp
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		s, err := OpenBolt(path, BoltOptions{})
		if err != nil {
			return nil, "", err
		}
		return &SalvageReport{}, "", s.Close()
	}
	// Refuse while a worker holds the file, and hold it meanwhile.
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	if err := lockFile(f, path, false, 100*time.Millisecond); err != nil {
		return nil, "", err
	}
	rep, err := Salvage(path, tmp)
	if err != nil {
		return nil, "", err
	}
	old := path + ".damaged-" + stamp
	if err := os.Rename(path, old); err != nil {
		os.Remove(tmp)
		return nil, "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, old, fmt.Errorf("salvaged store left at %s: %w", tmp, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return rep, old, nil
}

// String summarises a salvage for the operator.
func (r *SalvageReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "salvaged %d objects, %d grants, %d other records\n", r.Objects, r.Grants, r.Records)
	if len(r.Lost) == 0 && len(r.Problems) == 0 {
		b.WriteString("nothing was lost\n")
		return b.String()
	}
	for _, l := range r.Lost {
		fmt.Fprintf(&b, "lost: %s\n", l)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "damage: %s\n", p)
	}
	return b.String()
}
