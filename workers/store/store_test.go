package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func storeFactories(t *testing.T) map[string]func() Store {
	return map[string]func() Store{
		"mem": func() Store { return NewMemStore() },
		"bolt": func() Store {
			s, err := OpenBoltStore(filepath.Join(t.TempDir(), "store.db"), 0)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func tensorObj(id, owner string, tags ...string) *Object {
	return &Object{ID: id, Kind: KindTensor, Tags: tags, Owner: owner,
		Tensor: tensor.FromSlice([]float64{1, 2, 3}), Provenance: Provenance{Source: "send"}}
}

func ids(in []Info) []string {
	var out []string
	for _, i := range in {
		out = append(out, i.ID)
	}
	return out
}

func TestStores(t *testing.T) {
	for name, mk := range storeFactories(t) {
		t.Run(name, func(t *testing.T) {
			s := mk()
			defer s.Close()
			for i, o := range []*Object{
				tensorObj("a", "u1", "#x", "#y"),
				tensorObj("b", "u2", "#x"),
				tensorObj("c", "u1"),
			} {
				o.Created = int64(i)
				if err := s.Put(o); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Put(tensorObj("a", "u1")); !errors.Is(err, ErrExists) {
				t.Fatalf("duplicate put: %v, want ErrExists", err)
			}
			cases := []struct {
				tags []string
				want []string
			}{
				{nil, []string{"a", "b", "c"}},
				{[]string{"#x"}, []string{"a", "b"}},
				{[]string{"#x", "#y"}, []string{"a"}},
				{[]string{"#y", "#x"}, []string{"a"}},
				{[]string{"#z"}, nil},
			}
			for _, c := range cases {
				got, err := s.Search(c.tags...)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), c.want) {
					t.Errorf("Search(%v) = %v, want %v", c.tags, ids(got), c.want)
				}
			}
			if o, err := GetTagged(s, "#y"); err != nil || o.ID != "a" {
				t.Fatalf("GetTagged(#y) = %v, %v", o, err)
			}
			if _, err := GetTagged(s, "#x"); !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("GetTagged(#x): %v", err)
			}
			if _, err := GetTagged(s, "#none"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "#none") {
				t.Fatalf("GetTagged(#none): %v", err)
			}
			o, err := s.Get("a")
			if err != nil || !tensor.Equal(o.Tensor, tensor.FromSlice([]float64{1, 2, 3})) {
				t.Fatalf("Get(a) = %v, %v", o, err)
			}
			if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(nope): %v", err)
			}
			if o, err := s.Take("a"); err != nil || o.ID != "a" {
				t.Fatalf("Take(a) = %v, %v", o, err)
			}
			if _, err := s.Take("a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second Take(a): %v", err)
			}
			// The tag index forgets deleted objects (PySyft's did not).
			if got, _ := s.Search("#y"); len(got) != 0 {
				t.Fatalf("Search(#y) after Take = %v", ids(got))
			}
			if err := s.Delete("zzz"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Delete(zzz): %v", err)
			}
			n, err := s.Clear("u1")
			if err != nil || n != 1 {
				t.Fatalf("Clear(u1) = %d, %v; want 1", n, err)
			}
			if got, _ := s.Search(); !slices.Equal(ids(got), []string{"b"}) {
				t.Fatalf("after Clear(u1): %v", ids(got))
			}
			g := &Grant{ID: "g1", TokenHash: tokenHash("t"), User: "u1", Actions: []string{GrantUse}, Uses: 2}
			if err := s.SaveGrant(g); err != nil {
				t.Fatal(err)
			}
			got, err := s.LoadGrant(tokenHash("t"))
			if err != nil || got.ID != "g1" || got.Uses != 2 {
				t.Fatalf("LoadGrant = %+v, %v", got, err)
			}
			if err := s.DeleteGrant(tokenHash("t")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.LoadGrant(tokenHash("t")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("LoadGrant after delete: %v", err)
			}
			if n, err := s.Clear(""); err != nil || n != 1 {
				t.Fatalf("Clear() = %d, %v", n, err)
			}
		})
	}
}

func TestBoltStoreReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := OpenBoltStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := tensorObj("keep", "u", "#t")
	o.Private = true
	o.Description = "survives"
	if err := s.Put(o); err != nil {
		t.Fatal(err)
	}
	// A second opener is refused while the file is held.
	if _, err := OpenBoltStore(path, 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenBoltStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get("keep")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Private || got.Description != "survives" || !tensor.Equal(got.Tensor, o.Tensor) || !slices.Equal(got.Tags, []string{"#t"}) {
		t.Fatalf("reopened object = %+v", got)
	}
}

// tokenHash hashes a grant token as workers.HashToken does.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
