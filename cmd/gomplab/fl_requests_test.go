package main

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
)

// TestWorkerRequestsCLITraining: a data scientist's training on a running
// daemon's private data is refused with a request id; the owner reviews
// the training configuration with gomplab worker requests list and show,
// approves it, and the training runs; the trained model stays private.
func TestWorkerRequestsCLITraining(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a worker daemon")
	}
	d, err := syft.StartLocalDaemon("alice", syft.DaemonOptions{Users: []string{"me"}, Dir: filepath.Join(t.TempDir(), "alice")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	owner, err := d.Connect(d.OwnerToken)
	if err != nil {
		t.Fatal(err)
	}
	r := tensor.NewRNG(3)
	for _, p := range []struct {
		t   *tensor.Tensor
		tag string
	}{{r.Normal(0, 1, 4, 2), "cli_x"}, {r.Normal(0, 1, 4, 1), "cli_y"}} {
		ptr, err := syft.Send(p.t, owner, syft.WithTags(p.tag), syft.AsPrivate())
		if err != nil {
			t.Fatal(err)
		}
		ptr.Keep()
	}
	owner.Close()
	me, err := d.Connect(d.Tokens["me"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { me.Close() })
	fd, err := syft.FederatedFromTags("cli_x", "cli_y", me)
	if err != nil {
		t.Fatal(err)
	}
	part := fd.Parts()[0]
	// A federation of alice and another hospital's worker.
	fed := append(syft.Federation(me), approvals.Party{Worker: "bob", Fingerprint: "sha256:" + strings.Repeat("ab", 32)})
	cfg := syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.1},
		Plan: &syft.TrainPlan{Federation: fed, BatchSize: 4, LocalSteps: 1, Rounds: 3}}
	train := func() (*syft.ModelPointer, error) {
		mp, err := syft.SendModel(nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(7))), me)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mp.Train(part.Data, part.Targets, cfg)
		return mp, err
	}
	_, err = train()
	if !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("training without approval: %v", err)
	}
	id := regexp.MustCompile(`r-[0-9a-f]{16}`).FindString(err.Error())
	cli := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("gomplab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if out := cli("worker", "requests", "list", "--data", d.Dir); !strings.Contains(out, id) || !strings.Contains(out, "training") {
		t.Fatalf("list does not show training request %s:\n%s", id, out)
	}
	out := cli("worker", "requests", "show", id, "--data", d.Dir)
	for _, want := range []string{"loss: mse", "learning rate 0.1", "batches of exactly 4 samples, 1 steps per round, at most 3 rounds", "federation", "bob", part.Data.ID()} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	cli("worker", "requests", "approve", id, "--data", d.Dir)
	mp, err := train()
	if err != nil {
		t.Fatalf("approved training: %v", err)
	}
	if _, err := mp.GetCopy(); !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("got the trained model: %v", err)
	}
}
