package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestRecords(t *testing.T) {
	bolt, err := OpenBoltStore(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	for name, s := range map[string]Records{"mem": NewMemStore(), "bolt": bolt} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.GetRecord("b", "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing record: %v", err)
			}
			put := func(k, v string) {
				if err := s.UpdateRecord("b", k, func(old []byte) ([]byte, error) { return []byte(v), nil }); err != nil {
					t.Fatal(err)
				}
			}
			put("a/1", "x")
			put("a/2", "y")
			put("b/1", "z")
			boom := errors.New("boom")
			if err := s.UpdateRecord("b", "a/1", func(old []byte) ([]byte, error) {
				if string(old) != "x" {
					t.Errorf("old = %q", old)
				}
				return []byte("changed"), boom
			}); !errors.Is(err, boom) {
				t.Fatalf("failed update: %v", err)
			}
			if v, _ := s.GetRecord("b", "a/1"); string(v) != "x" {
				t.Errorf("a failed update changed the record to %q", v)
			}
			var keys []string
			if err := s.ScanRecords("b", "a/", func(k string, v []byte) error { keys = append(keys, k+"="+string(v)); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(keys) != 2 || keys[0] != "a/1=x" || keys[1] != "a/2=y" {
				t.Errorf("scan: %v", keys)
			}
			if err := s.UpdateRecord("b", "a/1", func([]byte) ([]byte, error) { return nil, nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetRecord("b", "a/1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("deleted record: %v", err)
			}
			if err := s.UpdateRecord("none", "k", func([]byte) ([]byte, error) { return nil, nil }); err != nil {
				t.Errorf("deleting from a missing bucket: %v", err)
			}
			if err := s.UpdateRecord("bad/name", "k", func([]byte) ([]byte, error) { return []byte{}, nil }); err == nil {
				t.Error("a bucket name with a slash was accepted")
			}
		})
	}
}
