package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/store"
)

// storeTestValue is the tensor loaded under tag #vI.
func storeTestValue(i int) *tensor.Tensor {
	v := make([]float64, 64)
	for j := range v {
		v[j] = float64(i) + float64(j)/1000
	}
	return tensor.FromSlice(v)
}

// startStoreDaemon starts the worker of dir in-process, as `gomplab
// worker` does.
func startStoreDaemon(t *testing.T, dir string) (*daemon.Daemon, error) {
	t.Helper()
	d, err := daemon.Start(daemon.Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return d, nil
}

func ownerClient(t *testing.T, d *daemon.Daemon, dir string) *workers.Client {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(dir, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tr, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: d.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := workers.NewClient(ctx, tr, workers.Credentials{Token: strings.TrimSpace(string(tok))}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWorkerStoreDamage walks an operator through a damaged store with
// the CLI: check finds the damaged object by id, the daemon serves the
// others and reports that one as damaged (never its wrong value),
// recover salvages the rest; a truncated, emptied or missing store file
// is refused at start with what to do; backup works while the daemon
// serves.
func TestWorkerStoreDamage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	if _, err := runCLI(t, "worker", "init", "--id", "alice", "--data", dir); err != nil {
		t.Fatal(err)
	}
	ids := map[int]string{}
	for i := range 10 {
		info, _, err := daemon.LoadInto(context.Background(), dir, storeTestValue(i), daemon.LoadSpec{Tags: []string{fmt.Sprintf("#v%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = info.ID
	}
	out, err := runCLI(t, "worker", "check", "--data", dir)
	if err != nil || !strings.Contains(out, "sound: 10 objects") {
		t.Fatalf("check of a sound store: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "store.db")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// One byte of object 3's value changes on disk.
	var pat [16]byte
	binary.LittleEndian.PutUint64(pat[:], math.Float64bits(3.010))
	binary.LittleEndian.PutUint64(pat[8:], math.Float64bits(3.011))
	b := bytes.Clone(orig)
	at := bytes.Index(b, pat[:])
	if at < 0 {
		// serde may write big-endian; look for that too.
		binary.BigEndian.PutUint64(pat[:], math.Float64bits(3.010))
		binary.BigEndian.PutUint64(pat[8:], math.Float64bits(3.011))
		if at = bytes.Index(b, pat[:]); at < 0 {
			t.Fatal("object 3's value not found in the file")
		}
	}
	// bbolt's copy-on-write leaves stale copies in free pages: damage
	// every copy, so the live one is damaged.
	for at >= 0 {
		b[at+3] ^= 0x10
		next := bytes.Index(b[at+1:], pat[:])
		if next < 0 {
			break
		}
		at += 1 + next
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("value damaged", func(t *testing.T) {
		d, err := startStoreDaemon(t, dir)
		if err != nil {
			t.Fatalf("the daemon refused a store with one damaged value: %v", err)
		}
		c := ownerClient(t, d, dir)
		ctx := context.Background()
		for i, id := range ids {
			var rep workers.GetReply
			err := c.Call(ctx, workers.MsgGet, &workers.GetRequest{ID: id, Keep: true}, &rep)
			if i == 3 {
				if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), id) {
					t.Errorf("get of the damaged object: %v, %v", err, rep.Object)
				}
				continue
			}
			if err != nil || !tensor.Equal(rep.Object.Tensor, storeTestValue(i)) {
				t.Errorf("get %d: %v", i, err)
			}
		}
		ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		d.Shutdown(ctx2)
		out, err := runCLI(t, "worker", "check", "--data", dir)
		if err == nil || !strings.Contains(out, fmt.Sprintf("damaged: object %q", ids[3])) {
			t.Fatalf("check: %v\n%s", err, out)
		}
		out, err = runCLI(t, "worker", "recover", "--data", dir)
		if err != nil || !strings.Contains(out, "salvaged 9 objects") || !strings.Contains(out, fmt.Sprintf("lost: object %q", ids[3])) {
			t.Fatalf("recover: %v\n%s", err, out)
		}
		out, err = runCLI(t, "worker", "check", "--data", dir)
		if err != nil || !strings.Contains(out, "sound: 9 objects") {
			t.Fatalf("check after recover: %v\n%s", err, out)
		}
	})

	cases := []struct {
		name string
		hurt func() error
		want string
	}{
		{"truncated to half", func() error { return os.WriteFile(path, orig[:len(orig)/2], 0o600) }, "truncated"},
		{"emptied", func() error { return os.WriteFile(path, nil, 0o600) }, "empty"},
		{"removed", func() error { return os.Remove(path) }, "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.hurt(); err != nil {
				t.Fatal(err)
			}
			_, err := startStoreDaemon(t, dir)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "gomplab worker recover") {
				t.Fatalf("start on a store file %s: %v", c.name, err)
			}
		})
	}
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("backup while serving", func(t *testing.T) {
		d, err := startStoreDaemon(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "snap.db")
		out, err := runCLI(t, "worker", "backup", "--data", dir, "--out", dst)
		if err != nil || !strings.Contains(out, "backup: "+dst) {
			t.Fatalf("backup: %v\n%s", err, out)
		}
		out, err = runCLI(t, "worker", "check", "--file", dst)
		if err != nil || !strings.Contains(out, "sound: 10 objects") {
			t.Fatalf("check of the backup: %v\n%s", err, out)
		}
		// The daemon still serves.
		var rep workers.SearchReply
		if err := ownerClient(t, d, dir).Call(context.Background(), workers.MsgSearch, &workers.SearchRequest{}, &rep); err != nil || len(rep.Objects) != 10 {
			t.Fatalf("search after backup: %d objects, %v", len(rep.Objects), err)
		}
	})
}
