package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomplab/gomplab/internal/race"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/jobs"
)

// daemonGrid starts alice, bob and carol as worker daemons in this process
// (TLS on loopback, parties in process), each with a user "scientist".
// Their parties wait up to 5 minutes on a silent peer: on a loaded 2-core
// machine a party busy with one of ResNet-18's large convolutions can
// leave its peer's messages unread past the default 10 s.
func daemonGrid(t *testing.T) *grid {
	t.Helper()
	g := &grid{user: "scientist", close: func() {}}
	for _, id := range []string{"alice", "bob", "carol"} {
		dir := filepath.Join(t.TempDir(), id)
		res, err := daemon.InitDataDir(dir, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		users, err := res.Dir.Users()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := users.Add("scientist")
		if err != nil {
			t.Fatal(err)
		}
		d, err := daemon.Start(daemon.Config{Dir: dir, Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d.Shutdown(ctx)
		})
		d.Jobs().Configure(jobs.Options{PeerTimeout: 5 * time.Minute})
		opts := syft.Options{Fingerprint: d.Fingerprint(), Timeout: 60 * time.Second}
		opts.Token = res.OwnerToken
		owner, err := syft.Connect(d.Addr(), opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.Token = tok
		sci, err := syft.Connect(d.Addr(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { owner.Close(); sci.Close() })
		if id == "carol" {
			g.dealer = sci
			continue
		}
		g.owners = append(g.owners, owner)
		g.scientist = append(g.scientist, sci)
	}
	return g
}

// TestResNet18 is CrypTen's mpc_imagenet as CI runs it: ResNet-18 with
// seeded random weights exported by PyTorch at 224x224, alice holding the
// model and bob one image, both private on two workers; encrypted
// inference matches plaintext (Go's import, itself within 1e-3 of
// PyTorch's logits) within 0.05 on every logit, and the top-1 label
// equals plaintext's for each image whose margin exceeds twice the error
// (run fails otherwise; here the one image has a margin of about 0.5).
// The workers are daemons over TLS; carol, a third, deals the randomness;
// each owner approves the scientist's request before it runs.
func TestResNet18(t *testing.T) {
	if race.Enabled {
		t.Skip("ResNet-18 under encryption: too slow under -race")
	}
	if err := CheckPython(defaults.python); err != nil {
		if errors.Is(err, ErrNoTorch) {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
	var out bytes.Buffer
	c := defaults
	c.grid = daemonGrid(t)
	o, err := run(&out, c)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if o.TorchError > 1e-3 {
		t.Errorf("the Go import differs from PyTorch by %.3g", o.TorchError)
	}
	if o.MaxLogitError > 0.05 {
		t.Errorf("max abs logit error %.3g", o.MaxLogitError)
	}
	if o.Checked != 1 || o.AllAgreed != 1 {
		t.Errorf("%d of 1 images checked by margin, %d agreed", o.Checked, o.AllAgreed)
	}
}

func TestBadConfig(t *testing.T) {
	c := defaults
	c.batch = 0
	if _, err := run(&bytes.Buffer{}, c); err == nil {
		t.Error("batch 0 ran")
	}
}
