package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

func TestInitDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	res, err := InitDataDir(dir, "alice", []string{"worker.example", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Fingerprint, "sha256:") || len(res.OwnerToken) != 64 {
		t.Fatalf("init result %+v", res)
	}
	if _, err := InitDataDir(dir, "alice", nil); err == nil {
		t.Fatal("re-initialising an initialised directory succeeded")
	}
	d, err := OpenDataDir(dir)
	if err != nil || d.WorkerID != "alice" {
		t.Fatalf("OpenDataDir = %+v, %v", d, err)
	}
	if fp, _ := d.Fingerprint(); fp != res.Fingerprint {
		t.Fatalf("fingerprint %s, init printed %s", fp, res.Fingerprint)
	}
	if tok, _ := d.OwnerToken(); tok != res.OwnerToken {
		t.Fatal("owner token file differs from the printed token")
	}
	for _, f := range []string{fileKey, fileOwnerToken, fileUsers} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, %v; want no group/other access", f, fi.Mode(), err)
		}
	}
	users, _ := d.Users()
	u, err := users.Authenticate(res.OwnerToken)
	if err != nil || u.Name != workers.OwnerUser || !u.Has(workers.PermReadPrivate) {
		t.Fatalf("owner: %+v %v", u, err)
	}
	if _, err := OpenDataDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "worker init") {
		t.Fatalf("uninitialised dir: %v", err)
	}
}

func TestUsersReloadAndRemove(t *testing.T) {
	res, err := InitDataDir(filepath.Join(t.TempDir(), "w"), "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	running, _ := res.Dir.Users() // as a daemon holds it
	cli, _ := res.Dir.Users()     // as `gomplab worker user add` does
	tok, err := cli.Add("carol", workers.PermReadPrivate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Add("carol"); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate user: %v", err)
	}
	if _, err := cli.Add("dave", "superuser"); err == nil {
		t.Fatal("unknown permission accepted")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		u, err := running.Authenticate(tok)
		if err == nil && u.Name == "carol" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("running table never picked up the new user")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cli.Remove("carol"); err != nil {
		t.Fatal(err)
	}
	fresh, _ := res.Dir.Users()
	if _, err := fresh.Authenticate(tok); err == nil {
		t.Fatal("removed user still authenticates")
	}
}

func TestLoadIntoStoreAndDaemon(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	if _, err := InitDataDir(dir, "w", nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	x := tensor.FromSlice([]float64{1, 2, 3})
	in, via, err := LoadInto(ctx, dir, x, LoadSpec{ID: "offline", Tags: []string{"#t"}, Private: true, File: "/data/x.csv"})
	if err != nil || via != "store" || !in.Private || in.Provenance.File != "x.csv" {
		t.Fatalf("offline load: %+v %s %v", in, via, err)
	}
	d, err := Start(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	in, via, err = LoadInto(ctx, dir, x, LoadSpec{ID: "online", Tags: []string{"#u"}})
	if err != nil || !strings.HasPrefix(via, "daemon at ") || in.Owner != workers.OwnerUser || in.Provenance.Source != "load" {
		t.Fatalf("online load: %+v %s %v", in, via, err)
	}
	infos, err := d.Handler().Store().Search()
	if err != nil || len(infos) != 2 {
		t.Fatalf("daemon store holds %v, %v", infos, err)
	}
	if _, _, err := LoadInto(ctx, dir, x, LoadSpec{ID: "bad id"}); err == nil {
		t.Fatal("bad id accepted")
	}
}

// TestLoadRefusesAmbiguousTags loads twice under one tag, into the store
// and through a running daemon: the second load is refused (ErrExists,
// naming the object and the way out) unless it replaces the first, so a
// later lookup by the tag never finds two objects.
func TestLoadRefusesAmbiguousTags(t *testing.T) {
	for _, online := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "w")
		if _, err := InitDataDir(dir, "w", nil); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		x := tensor.FromSlice([]float64{1, 2, 3})
		if _, _, err := LoadInto(ctx, dir, x, LoadSpec{ID: "first", Tags: []string{"#x", "v1"}, File: "x.csv"}); err != nil {
			t.Fatal(err)
		}
		var storeOf func() store.Store
		if online {
			d, err := Start(Config{Dir: dir, Listen: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Shutdown(context.Background())
			storeOf = d.Handler().Store
		}
		cases := []struct {
			tags    []string
			replace bool
			ok      bool
		}{
			{[]string{"#x"}, false, false},               // a lookup by #x would find two
			{[]string{"#x", "v1", "more"}, false, false}, // a lookup by #x v1 would
			{[]string{"#y"}, false, true},                // another tag
			{[]string{"#x", "v2"}, false, true},          // neither contains the other
			{[]string{"#x", "v1"}, true, true},           // replaces "first"
		}
		for i, c := range cases {
			_, _, err := LoadInto(ctx, dir, x, LoadSpec{ID: fmt.Sprintf("o%d", i), Tags: c.tags, Replace: c.replace})
			if c.ok != (err == nil) {
				t.Fatalf("online=%v load %v (replace %v): %v", online, c.tags, c.replace, err)
			}
			if err != nil && (!errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), "first") || !strings.Contains(err.Error(), "--replace")) {
				t.Errorf("online=%v: refusal %q does not name the object and --replace", online, err)
			}
		}
		if storeOf == nil {
			s, err := store.OpenBoltStore(filepath.Join(dir, fileStore), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			storeOf = func() store.Store { return s }
		}
		all, err := storeOf().Search()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, in := range all {
			ids = append(ids, in.ID)
		}
		if got := strings.Join(ids, " "); got != "o2 o3 o4" {
			t.Errorf("online=%v: store holds %s, want o2 o3 o4 (first replaced)", online, got)
		}
	}
}

// TestLoadONNXInto stores an ONNX model into a worker's data directory,
// directly and through its running daemon, as `gomplab worker load --file
// model.onnx` does.
func TestLoadONNXInto(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	if _, err := InitDataDir(dir, "alice", nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := readFixture(t, "digits_mlp.onnx")
	in, via, err := LoadONNXInto(ctx, dir, data, LoadSpec{ID: "offline", Tags: []string{"crypten_model"}, Private: true, File: "/m/model.onnx"})
	if err != nil || via != "store" || in.Kind != store.KindModel || !in.Private || in.Provenance.File != "model.onnx" || in.Description != "ONNX model" {
		t.Fatalf("offline load: %+v %s %v", in, via, err)
	}
	if _, _, err := LoadONNXInto(ctx, dir, readFixture(t, "unsupported.onnx"), LoadSpec{Tags: []string{"x"}}); err == nil {
		t.Fatal("a model with an unsupported operator was stored")
	}
	d, err := Start(Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	in, via, err = LoadONNXInto(ctx, dir, data, LoadSpec{ID: "online", Tags: []string{"other_model"}})
	if err != nil || !strings.HasPrefix(via, "daemon at ") || in.Kind != store.KindModel {
		t.Fatalf("online load: %+v %s %v", in, via, err)
	}
	// (TestJobLoadsONNXModel: a job finds such a model by tag.)
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "mpc", "nn", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
