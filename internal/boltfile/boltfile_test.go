package boltfile

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// record is one key/value in a bucket path.
type record struct{ bucket, key, value string }

// makeDB writes a database with nested, inline and large buckets, enough
// keys for branch pages, values with overflow pages, and deletions (so
// the freelist has pages). It returns the records it holds.
func makeDB(t testing.TB, path string) map[record]bool {
	cur, _ := makeDBHistory(t, path)
	return cur
}

// makeDBHistory is makeDB, also returning every record ever written
// (what a salvage from an older transaction may bring back).
func makeDBHistory(t testing.TB, path string) (cur, ever map[record]bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[record]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	err = db.Update(func(tx *bolt.Tx) error {
		objs, err := tx.CreateBucket([]byte("objects"))
		if err != nil {
			return err
		}
		for i := range 400 {
			v := make([]byte, 20+rng.IntN(200))
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			if i%50 == 0 {
				v = bytes.Repeat([]byte{byte(i)}, 3*4096+17) // overflow pages
			}
			k := fmt.Sprintf("obj-%04d", i)
			if err := objs.Put([]byte(k), v); err != nil {
				return err
			}
			want[record{"objects", k, string(v)}] = true
		}
		small, err := tx.CreateBucket([]byte("small")) // stays inline
		if err != nil {
			return err
		}
		small.Put([]byte("a"), []byte("1"))
		want[record{"small", "a", "1"}] = true
		outer, err := tx.CreateBucket([]byte("outer"))
		if err != nil {
			return err
		}
		inner, err := outer.CreateBucket([]byte("inner"))
		if err != nil {
			return err
		}
		for i := range 100 {
			k, v := fmt.Sprintf("k%03d", i), strings.Repeat("v", i)
			inner.Put([]byte(k), []byte(v))
			want[record{"outer/inner", k, v}] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ever = map[record]bool{}
	for r := range want {
		ever[r] = true
	}
	// Deletions free pages.
	err = db.Update(func(tx *bolt.Tx) error {
		objs := tx.Bucket([]byte("objects"))
		for i := 100; i < 200; i++ {
			k := fmt.Sprintf("obj-%04d", i)
			v := objs.Get([]byte(k))
			delete(want, record{"objects", k, string(v)})
			if err := objs.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return want, ever
}

func walkAll(t *testing.T, path string) (map[record]bool, *Report) {
	t.Helper()
	got := map[record]bool{}
	r, err := Walk(path, func(buckets [][]byte, k, v []byte) error {
		names := make([]string, len(buckets))
		for i, b := range buckets {
			names[i] = string(b)
		}
		got[record{strings.Join(names, "/"), string(k), string(v)}] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, r
}

func TestSoundFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	want := makeDB(t, path)
	r, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Sound() {
		t.Fatalf("a sound file reported: %v", r.Problems)
	}
	got, _ := walkAll(t, path)
	if len(got) != len(want) {
		t.Errorf("walked %d records, want %d", len(got), len(want))
	}
	for rec := range want {
		if !got[rec] {
			t.Errorf("missing %s/%s", rec.bucket, rec.key)
		}
	}
}

// copyFile copies the test database so each case damages its own.
func copyFile(t *testing.T, src string) string {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "damaged")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestDamage(t *testing.T) {
	src := filepath.Join(t.TempDir(), "db")
	_, ever := makeDBHistory(t, src)
	r0, _ := Check(src)
	ps := int64(r0.PageSize)
	size := r0.Size
	cases := []struct {
		name   string
		damage func(path string)
		want   string
	}{
		{"empty", func(p string) { os.Truncate(p, 0) }, "the file is empty"},
		{"half", func(p string) { os.Truncate(p, size/2) }, "it was truncated"},
		{"one page", func(p string) { os.Truncate(p, ps/2) }, "it was truncated"},
		{"meta page cut", func(p string) { os.Truncate(p, 40) }, "neither meta page is valid"},
		{"newer meta garbage", func(p string) { poke(p, int64(r0.Current)*ps+20, []byte("garbage!")) }, "losing the last write"},
		{"newer meta txid", func(p string) { poke(p, int64(r0.Current)*ps+pageHeader+48, []byte{9}) }, "losing the last write"},
		{"both metas", func(p string) { poke(p, 20, []byte("x")); poke(p, ps+20, []byte("y")) }, "neither meta page is valid"},
		{"page headers", func(p string) {
			for id := int64(2); id*ps < size; id += 3 {
				poke(p, id*ps, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
			}
		}, "says it is page"},
		{"element offsets", func(p string) {
			for id := int64(2); id*ps < size; id++ {
				poke(p, id*ps+pageHeader+4, []byte{0xff, 0xff, 0xff, 0x0f})
			}
		}, "outside the page"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := copyFile(t, src)
			tc.damage(path)
			r, err := Check(path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sound() {
				t.Fatal("damage not found")
			}
			t.Logf("%v", r.Err())
			if !strings.Contains(strings.Join(r.Problems, "\n"), tc.want) {
				t.Errorf("problems %q lack %q", r.Problems, tc.want)
			}
			// Salvage never invents a record (an older transaction may
			// bring back deleted ones).
			got, _ := walkAll(t, path)
			for rec := range got {
				if !ever[rec] {
					t.Errorf("salvaged a record that was never written: %s/%q", rec.bucket, rec.key)
				}
			}
		})
	}
}

// poke overwrites bytes of the file at off.
func poke(path string, off int64, b []byte) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	f.WriteAt(b, off)
}

// FuzzCheck damages a small database at random: Check and Walk never
// panic or hang, whatever the bytes.
func FuzzCheck(f *testing.F) {
	dir := f.TempDir()
	src := filepath.Join(dir, "db")
	makeDB(f, src)
	orig, err := os.ReadFile(src)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{0})
	f.Add(uint32(4096*2+16), []byte{0xff, 0xff})
	f.Add(uint32(24), []byte("junk"))
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		b := append([]byte(nil), orig...)
		o := int(off) % (len(b) + 1)
		copy(b[o:], patch)
		if off&1 == 1 {
			b = b[:o] // sometimes truncate too
		}
		path := filepath.Join(t.TempDir(), "db")
		os.WriteFile(path, b, 0o600)
		if _, err := Check(path); err != nil {
			t.Fatal(err)
		}
		Walk(path, func([][]byte, []byte, []byte) error { return nil })
	})
}

// A damaged older meta page loses nothing: it is noted, not a problem.
func TestOlderMetaDamaged(t *testing.T) {
	src := filepath.Join(t.TempDir(), "db")
	makeDB(t, src)
	r0, _ := Check(src)
	path := copyFile(t, src)
	older := 1 - r0.Current
	poke(path, int64(older*r0.PageSize)+40, []byte("garbage!"))
	r, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Sound() || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "the older one") {
		t.Errorf("problems %q, notes %q", r.Problems, r.Notes)
	}
}
