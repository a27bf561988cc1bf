package workers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
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
	if err != nil || u.Name != OwnerUser || !u.Has(PermReadPrivate) {
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
	tok, err := cli.Add("carol", PermReadPrivate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Add("carol"); !errors.Is(err, ErrExists) {
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
	d, err := StartDaemon(DaemonConfig{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	in, via, err = LoadInto(ctx, dir, x, LoadSpec{ID: "online", Tags: []string{"#t"}})
	if err != nil || !strings.HasPrefix(via, "daemon at ") || in.Owner != OwnerUser || in.Provenance.Source != "load" {
		t.Fatalf("online load: %+v %s %v", in, via, err)
	}
	infos, err := d.Handler().Store().Search("#t")
	if err != nil || len(infos) != 2 {
		t.Fatalf("daemon store holds %v, %v", infos, err)
	}
	if _, _, err := LoadInto(ctx, dir, x, LoadSpec{ID: "bad id"}); err == nil {
		t.Fatal("bad id accepted")
	}
}
