package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
)

// Every value a BoltStore writes is sealed: a 4-byte mark, then the
// SHA-256 of the bucket, the key and the payload, then the payload. A read
// checks the seal before it decodes anything, so a value damaged on disk,
// or moved under another key by a damaged page, is reported and never
// returned.
const (
	sealMark = "\x00gs1"
	sealLen  = len(sealMark) + sha256.Size
)

func sealSum(bucket, key, payload []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(bucket)
	h.Write([]byte{0})
	h.Write(key)
	h.Write([]byte{0})
	h.Write(payload)
	var s [sha256.Size]byte
	h.Sum(s[:0])
	return s
}

// seal returns payload sealed for key in bucket.
func seal(bucket, key, payload []byte) []byte {
	out := make([]byte, sealLen+len(payload))
	copy(out, sealMark)
	sum := sealSum(bucket, key, payload)
	copy(out[len(sealMark):], sum[:])
	copy(out[sealLen:], payload)
	return out
}

// unseal checks the seal of v, stored under key in bucket, and returns its
// payload (aliasing v), or why it is damaged.
func unseal(bucket, key, v []byte) ([]byte, error) {
	if len(v) < sealLen || string(v[:len(sealMark)]) != sealMark {
		return nil, fmt.Errorf("no checksum (%d bytes, not a sealed record)", len(v))
	}
	sum := sealSum(bucket, key, v[sealLen:])
	if !bytes.Equal(sum[:], v[len(sealMark):sealLen]) {
		return nil, errors.New("checksum mismatch")
	}
	return v[sealLen:], nil
}

// ErrDamaged is matched (errors.Is) by errors about damaged records and
// damaged store files.
var ErrDamaged = errors.New("damaged")

// DamageError says a record of the store is damaged: its checksum does not
// match, or it does not decode. The record is never returned.
type DamageError struct {
	// What names the record: "object ID", "metadata of object ID",
	// "grant", "record BUCKET/KEY".
	What string
	Why  string
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("%s is damaged on disk (%s), so it is not returned; `gomplab worker check` lists the damage and `gomplab worker recover` salvages the intact objects into a new store", e.What, e.Why)
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// describe names the record under key in the store's bucket.
func describe(bucket, key []byte) string {
	switch string(bucket) {
	case string(bucketObjects):
		return fmt.Sprintf("object %q", key)
	case string(bucketMeta):
		return fmt.Sprintf("metadata of object %q", key)
	case string(bucketTags):
		tag, id, _ := bytes.Cut(key, []byte{0})
		return fmt.Sprintf("tag %q of object %q", tag, id)
	case string(bucketGrants):
		return "a grant"
	case string(bucketFormat):
		return "the store's format mark"
	case string(bucketUsage):
		return fmt.Sprintf("the bytes stored by %q", bytes.TrimPrefix(key, []byte("u:")))
	}
	return fmt.Sprintf("record %s/%q", strings.TrimPrefix(string(bucket), recordBucketPrefix), key)
}

// open unseals v, returning a DamageError naming the record.
func openSealed(bucket, key, v []byte) ([]byte, error) {
	p, err := unseal(bucket, key, v)
	if err != nil {
		return nil, &DamageError{What: describe(bucket, key), Why: err.Error()}
	}
	return p, nil
}

// guard turns a panic or a memory fault inside bbolt (a damaged page
// that the checks at open did not catch, or damage done after it) into a
// damage error, so a damaged file never takes the daemon down. Use as
//
//	defer guard(&err, what)()
func guard(err *error, what string) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		if r := recover(); r != nil {
			*err = &DamageError{What: what, Why: fmt.Sprintf("reading it failed: %v", r)}
		}
		debug.SetPanicOnFault(old)
	}
}

// Damage is one damaged record found when the store was opened.
type Damage struct {
	What string
	Why  string
}

// damageList keeps what a verification found, bounded.
type damageList struct {
	list  []Damage
	total int
}

const maxDamageListed = 1000

func (d *damageList) add(what, why string) {
	d.total++
	if len(d.list) < maxDamageListed {
		d.list = append(d.list, Damage{What: what, Why: why})
	}
}

func (d *damageList) sorted() []Damage {
	out := append([]Damage(nil), d.list...)
	sort.Slice(out, func(i, j int) bool { return out[i].What < out[j].What })
	return out
}
