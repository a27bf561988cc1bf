package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// damageObjects is how many objects the damage test stores.
const damageObjects = 40

func damageValue(i int) *tensor.Tensor {
	v := make([]float64, 200)
	for j := range v {
		v[j] = float64(i*1000 + j)
	}
	return tensor.FromSlice(v)
}

func damageID(i int) string { return fmt.Sprintf("obj%02d", i) }

// writeDamageStore makes a store of damageObjects tensors (each about
// 1.6 KB, so that they fill a few dozen pages), a grant and a record,
// and returns its file's bytes.
func writeDamageStore(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := OpenBoltStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range damageObjects {
		o := &Object{ID: damageID(i), Kind: KindTensor, Tags: []string{"#d", fmt.Sprintf("#n%d", i)}, Owner: "u",
			Tensor: damageValue(i), Provenance: Provenance{Source: "send"}}
		if err := s.Put(o); err != nil {
			t.Fatal(err)
		}
	}
	// Some churn, so the file has free pages and a freelist.
	for i := range 5 {
		o := tensorObj(fmt.Sprintf("tmp%d", i), "u")
		if err := s.Put(o); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(o.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveGrant(&Grant{ID: "g1", TokenHash: tokenHash("t"), User: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRecord("req", "k", func([]byte) ([]byte, error) { return []byte("approved"), nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pageSize = 4096

// TestStoreDamage damages a store file the ways issue 13 did (truncation,
// random bytes in data pages, garbage in a meta page, an empty file) and
// more, many times over: opening it, reading every object, searching and
// salvaging it never returns a wrong value and never crashes, and every
// object that cannot be read is reported.
func TestStoreDamage(t *testing.T) {
	orig := writeDamageStore(t)
	pages := len(orig) / pageSize
	// The meta page with the higher transaction id is the current one.
	txid := func(b []byte, page int) uint64 {
		off := page*pageSize + 16 + 48
		return uint64(b[off]) | uint64(b[off+1])<<8 | uint64(b[off+2])<<16 | uint64(b[off+3])<<24
	}
	current := 0
	if txid(orig, 1) > txid(orig, 0) {
		current = 1
	}
	// The pages in use: a file cut below them is refused as truncated
	// (bbolt grows its file ahead, so a cut above them loses nothing).
	hwm := int(binary.LittleEndian.Uint64(orig[current*pageSize+16+40:]))
	if hwm < 8 || hwm > pages {
		t.Fatalf("high-water mark %d of %d pages", hwm, pages)
	}
	garbage := func(r *rand.Rand, b []byte) {
		for i := range b {
			b[i] = byte(r.Intn(256))
		}
	}
	cases := []struct {
		name  string
		runs  int
		hurt  func(r *rand.Rand, b []byte) []byte
		must  string // the open must fail with this in its error ("" : it may open)
		loses bool   // some object must be reported lost
	}{
		{"truncated to half", 1, func(_ *rand.Rand, b []byte) []byte { return b[:len(b)/2] }, "truncated", true},
		{"truncated by a page in use", 1, func(_ *rand.Rand, b []byte) []byte { return b[:(hwm-1)*pageSize] }, "truncated", true},
		{"truncated anywhere in use", 10, func(r *rand.Rand, b []byte) []byte { return b[:2*pageSize+r.Intn((hwm-2)*pageSize)] }, "truncated", true},
		{"truncated beyond the pages in use", 1, func(_ *rand.Rand, b []byte) []byte { return b[:hwm*pageSize] }, "", false},
		{"emptied", 1, func(_ *rand.Rand, b []byte) []byte { return b[:0] }, "empty", true},
		{"garbage in the current meta page", 3, func(r *rand.Rand, b []byte) []byte {
			garbage(r, b[current*pageSize+16+r.Intn(40):current*pageSize+16+64])
			return b
		}, "meta page", false},
		{"garbage in the older meta page", 3, func(r *rand.Rand, b []byte) []byte {
			old := 1 - current
			garbage(r, b[old*pageSize+16+56:old*pageSize+16+64]) // its checksum only
			return b
		}, "", false},
		{"both meta pages", 1, func(r *rand.Rand, b []byte) []byte {
			garbage(r, b[16:64])
			garbage(r, b[pageSize+16:pageSize+64])
			return b
		}, "meta page", true},
		{"random bytes in 8 data pages", 40, func(r *rand.Rand, b []byte) []byte {
			for range 8 {
				p := 2 + r.Intn(pages-2)
				off := p*pageSize + r.Intn(pageSize-64)
				garbage(r, b[off:off+1+r.Intn(64)])
			}
			return b
		}, "", false},
		{"a whole data page of garbage", 20, func(r *rand.Rand, b []byte) []byte {
			p := 2 + r.Intn(pages-2)
			garbage(r, b[p*pageSize:(p+1)*pageSize])
			return b
		}, "", false},
		{"one bit flipped", 60, func(r *rand.Rand, b []byte) []byte {
			off := 2*pageSize + r.Intn(len(b)-2*pageSize)
			b[off] ^= 1 << r.Intn(8)
			return b
		}, "", false},
		{"a page zeroed", 20, func(r *rand.Rand, b []byte) []byte {
			p := 2 + r.Intn(pages-2)
			clear(b[p*pageSize : (p+1)*pageSize])
			return b
		}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refused, lossy := 0, 0
			defer func() { t.Logf("%d runs: %d refused at open, %d opened with objects lost", c.runs, refused, lossy) }()
			for run := range c.runs {
				r := rand.New(rand.NewSource(int64(run)*7919 + int64(len(c.name))))
				dir := t.TempDir()
				path := filepath.Join(dir, "store.db")
				b := c.hurt(r, slices.Clone(orig))
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
				lost := checkDamaged(t, path, c.must)
				switch {
				case lost == damageObjects:
					refused++
				case lost > 0:
					lossy++
				}
				if c.loses && lost == 0 {
					t.Errorf("run %d: nothing reported lost", run)
				}
				checkSalvage(t, path, filepath.Join(dir, "salvaged.db"))
			}
		})
	}
}

// checkDamaged opens the damaged store at path: the open fails with a
// damage error (mentioning must, if set), or every object reads back
// exactly or fails as damaged, and any failure is among the damage the
// store reported at open. It returns how many objects could not be read.
func checkDamaged(t *testing.T, path, must string) (lost int) {
	t.Helper()
	s, err := OpenBolt(path, BoltOptions{MustExist: true})
	if err != nil {
		if !errors.Is(err, ErrDamaged) {
			t.Fatalf("open: %v, not reported as damage", err)
		}
		if must != "" && !strings.Contains(err.Error(), must) {
			t.Errorf("open: %v, want it to say %q", err, must)
		}
		if !strings.Contains(err.Error(), "gomplab worker recover") {
			t.Errorf("open: %v does not say what to do", err)
		}
		return damageObjects
	}
	defer s.Close()
	if must != "" {
		t.Fatalf("the damaged store opened (want an error saying %q)", must)
	}
	damaged, total := s.Damaged()
	for i := range damageObjects {
		id := damageID(i)
		o, err := s.Get(id)
		if err != nil {
			lost++
			if total == 0 {
				t.Errorf("Get(%s): %v, but the store reported no damage at open", id, err)
			}
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%s): %v", id, err)
			}
			if errors.Is(err, ErrDamaged) && !strings.Contains(err.Error(), id) {
				t.Errorf("Get(%s): %v does not name the object", id, err)
			}
			continue
		}
		if !tensor.Equal(o.Tensor, damageValue(i)) || o.ID != id || o.Owner != "u" || !slices.Contains(o.Tags, fmt.Sprintf("#n%d", i)) {
			t.Fatalf("Get(%s) returned a wrong object: %v %v", id, o.Info(), o.Tensor.Shape())
		}
	}
	infos, err := s.Search("#d")
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	for _, in := range infos {
		var i int
		if _, err := fmt.Sscanf(in.ID, "obj%02d", &i); err != nil || in.Owner != "u" || !in.HasTags("#d", fmt.Sprintf("#n%d", i)) {
			t.Fatalf("search returned wrong metadata: %+v", in)
		}
	}
	if g, err := s.LoadGrant(tokenHash("t")); err == nil && (g.ID != "g1" || g.User != "u") {
		t.Fatalf("wrong grant: %+v", g)
	}
	if v, err := s.GetRecord("req", "k"); err == nil && string(v) != "approved" {
		t.Fatalf("wrong record: %q", v)
	}
	if lost > 0 && len(damaged) == 0 {
		t.Errorf("%d objects unreadable, no damage listed", lost)
	}
	return lost
}

// checkSalvage salvages the damaged store: every object salvaged is
// exact, and every object not salvaged is named as lost (or the file's
// damage says pages were unreachable).
func checkSalvage(t *testing.T, path, dst string) {
	t.Helper()
	rep, err := Salvage(path, dst)
	if err != nil {
		t.Fatalf("salvage: %v", err)
	}
	s, err := OpenBolt(dst, BoltOptions{MustExist: true})
	if err != nil {
		t.Fatalf("the salvaged store does not open: %v", err)
	}
	defer s.Close()
	if _, total := s.Damaged(); total != 0 {
		t.Fatalf("the salvaged store has %d damaged records", total)
	}
	got := 0
	for i := range damageObjects {
		id := damageID(i)
		o, err := s.Get(id)
		if errors.Is(err, ErrNotFound) {
			named := false
			for _, l := range rep.Lost {
				named = named || strings.Contains(l, fmt.Sprintf("%q", id))
			}
			if !named && len(rep.Problems) == 0 {
				t.Errorf("object %s was not salvaged and the report does not say so:\n%s", id, rep)
			}
			continue
		}
		if err != nil {
			t.Fatalf("salvaged Get(%s): %v", id, err)
		}
		if !tensor.Equal(o.Tensor, damageValue(i)) || !slices.Contains(o.Tags, fmt.Sprintf("#n%d", i)) {
			t.Fatalf("salvage kept a wrong object %s", id)
		}
		got++
	}
	if infos, _ := s.Search("#d"); len(infos) != got {
		t.Errorf("salvaged store: search finds %d objects, %d readable", len(infos), got)
	}
	if got != rep.Objects {
		t.Errorf("report says %d objects salvaged, %d readable", rep.Objects, got)
	}
}

// TestStoreMissing: a daemon's store that vanished is refused, not
// started empty.
func TestStoreMissing(t *testing.T) {
	_, err := OpenBolt(filepath.Join(t.TempDir(), "store.db"), BoltOptions{MustExist: true})
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("missing store: %v", err)
	}
}

// TestBackupWhileWriting takes snapshots while another goroutine writes;
// each snapshot opens cleanly and holds a prefix of the writes.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBoltStore(filepath.Join(dir, "store.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error)
	go func() {
		for i := range 60 {
			if err := s.Put(tensorObj(fmt.Sprintf("w%03d", i), "u")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for k := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("backup%d.db", k))
		if _, err := s.Backup(p); err != nil {
			t.Fatal(err)
		}
		b, err := OpenBolt(p, BoltOptions{ReadOnly: true})
		if err != nil {
			t.Fatalf("backup %d: %v", k, err)
		}
		infos, err := b.Search()
		if err != nil {
			t.Fatal(err)
		}
		for j, in := range infos {
			if in.ID != fmt.Sprintf("w%03d", j) {
				t.Fatalf("backup %d: object %d is %s, not a prefix of the writes", k, j, in.ID)
			}
		}
		b.Close()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestQuotaConcurrent: puts that share commits (bbolt's Batch) never take
// an owner past the quota, and the bytes counted match what is stored,
// also after a reopen.
func TestQuotaConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := OpenBoltStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	one := func(id string) *Object {
		return &Object{ID: id, Kind: KindTensor, Owner: "u", Tensor: tensor.Ones(100), Provenance: Provenance{Source: "send"}}
	}
	if err := s.Put(one("probe")); err != nil {
		t.Fatal(err)
	}
	size := s.Usage("u")
	s.SetQuota(10*size + size/2)
	done := make(chan error, 40)
	for i := range 40 {
		go func() { done <- s.Put(one(fmt.Sprintf("p%04d", i))) }() // ids as long as "probe": objects of one size
	}
	ok, refused := 0, 0
	for range 40 {
		switch err := <-done; {
		case err == nil:
			ok++
		case errors.Is(err, ErrQuota):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if ok != 9 || s.Usage("u") != 10*size {
		t.Fatalf("%d puts stored (%d refused), usage %d: want 9 and %d", ok, refused, s.Usage("u"), 10*size)
	}
	if err := s.Delete("probe"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenBoltStore(path, 0); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Usage("u"); got != 9*size {
		t.Fatalf("usage after reopen %d, want %d", got, 9*size)
	}
}

// TestDamageWhileOpen: the file is cut short under an open store (another
// process, a full disk); reads fault inside bbolt's mapping, and each
// comes back as an error or the right value, never a crash.
func TestDamageWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	if err := os.WriteFile(path, writeDamageStore(t), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenBolt(path, BoltOptions{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Truncate(path, 3*pageSize); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i := range damageObjects {
		o, err := s.Get(damageID(i))
		if err != nil {
			if i == 0 {
				t.Logf("Get: %v", err)
			}
			failed++
			continue
		}
		if !tensor.Equal(o.Tensor, damageValue(i)) {
			t.Fatalf("Get(%s) returned a wrong value", damageID(i))
		}
	}
	s.Search()
	if failed == 0 {
		t.Error("every object read back from a file cut to 3 pages")
	}
	t.Logf("%d of %d reads failed", failed, damageObjects)
}
