package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

const cliJob = `package main

import "github.com/gomplab/gomplab/mpc"

func scaledSum(k float64) (any, error) {
	a, err := mpc.Load("cli_data", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("cli_data", 1)
	if err != nil {
		return nil, err
	}
	return a.Add(b).Mul(k).GetPlainText()
}
`

// TestWorkerRequestsCLI: the owners of two running daemons review a data
// scientist's request with gomplab worker requests list and show, one
// approves it with limits and the other denies it, then approves another
// request with an argument range; the job runs exactly as they decided;
// the commands also work on a stopped worker's store.
func TestWorkerRequestsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	var ds []*syft.LocalDaemon
	var me []syft.Worker
	for i, id := range []string{"alice", "bob"} {
		d, err := syft.StartLocalDaemon(id, syft.DaemonOptions{Users: []string{"me"}, Dir: filepath.Join(t.TempDir(), id)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Stop() })
		owner, err := d.Connect(d.OwnerToken)
		if err != nil {
			t.Fatal(err)
		}
		p, err := syft.Send(tensor.FromSlice([]float64{float64(10 * (i + 1)), 1}), owner, syft.WithTags("cli_data"), syft.AsPrivate())
		if err != nil {
			t.Fatal(err)
		}
		p.Keep()
		owner.Close()
		w, err := d.Connect(d.Tokens["me"])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		ds, me = append(ds, d), append(me, w)
	}
	job := func(k float64) *syft.Job {
		return &syft.Job{Workers: me, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(cliJob, "scaledSum"), Args: []any{k}, Timeout: time.Minute}
	}
	cli := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("gomplab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	_, err := job(2).Run(t.Context())
	var ae *syft.ApprovalError
	if !errors.As(err, &ae) {
		t.Fatalf("unapproved: %v", err)
	}
	id := ae.ID
	for _, d := range ds {
		out := cli("worker", "requests", "list", "--data", d.Dir)
		if !strings.Contains(out, id) || !strings.Contains(out, "pending") || !strings.Contains(out, " me ") || !strings.Contains(out, "cli_data") {
			t.Fatalf("%s's list:\n%s", d.ID, out)
		}
	}
	out := cli("worker", "requests", "show", id, "--data", ds[0].Dir)
	for _, want := range []string{"a.Add(b).Mul(k).GetPlainText()", "[0] float64 2", `tag "cli_data"`, "to approve: gomplab worker requests approve " + id} {
		if !strings.Contains(out, want) {
			t.Errorf("review lacks %q:\n%s", want, out)
		}
	}
	if out := cli("worker", "requests", "approve", id, "--data", ds[0].Dir, "--runs", "1", "--expires", "1h"); !strings.Contains(out, "approved "+id+" of user me (1 runs, until ") {
		t.Errorf("approve: %s", out)
	}
	if out := cli("worker", "requests", "deny", id, "--data", ds[1].Dir, "--reason", "not this week"); !strings.Contains(out, "denied "+id) {
		t.Errorf("deny: %s", out)
	}
	if _, err := job(2).Run(t.Context()); !errors.As(err, &ae) || !strings.Contains(err.Error(), "denied it: not this week") || strings.Contains(err.Error(), "worker alice:") {
		t.Fatalf("denied by bob, approved by alice: %v", err)
	}

	// Another request (its own argument), approved on both with a range
	// for that argument: other values within it run too, outside not.
	st, err := syft.Submit(job(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if out := cli("worker", "requests", "approve", st.ID, "--data", d.Dir, "--arg", "0=1:4"); !strings.Contains(out, "argument 0=1:4") {
			t.Errorf("approve with a range: %s", out)
		}
	}
	for _, k := range []float64{3, 1.5} {
		res, err := job(k).Run(t.Context())
		want := tensor.FromSlice([]float64{30 * k, 2 * k})
		if err != nil || !tensor.AllClose(res.Tensor(0), want, 0, 1e-2) {
			t.Fatalf("k=%v within the approved range: %v %v", k, res, err)
		}
	}
	if _, err := job(5).Run(t.Context()); !errors.As(err, &ae) {
		t.Fatalf("k=5 outside the approved range: %v", err)
	}

	// A stopped worker: the commands open its store.
	if err := ds[1].Stop(); err != nil {
		t.Fatal(err)
	}
	out = cli("worker", "requests", "list", "--data", ds[1].Dir, "--status", "denied")
	if !strings.Contains(out, id) || strings.Contains(out, st.ID) {
		t.Errorf("the stopped worker's denied requests:\n%s", out)
	}
	if _, err := runCLI(t, "worker", "requests", "approve", "r-0000000000000000", "--data", ds[1].Dir); err == nil || !strings.Contains(err.Error(), "requests list --data") {
		t.Errorf("approving an unknown request: %v", err)
	}
}

// TestApproveFlags: approve's limits, and what bad ones say.
func TestApproveFlags(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	lim, err := parseLimits(3, "24h", []string{"0=0.5:2", "2=-1:1"}, now)
	if err != nil || lim.Runs != 3 || lim.Expires != now.Add(24*time.Hour).UnixNano() || len(lim.ArgRanges) != 2 ||
		lim.ArgRanges[0].String() != "0=0.5:2" || lim.ArgRanges[1].String() != "2=-1:1" {
		t.Fatalf("limits %+v %v", lim, err)
	}
	if lim, err := parseLimits(0, "2027-01-02T03:04:05Z", nil, now); err != nil || time.Unix(0, lim.Expires).UTC().Year() != 2027 {
		t.Fatalf("expiry as a time: %+v %v", lim, err)
	}
	for _, c := range []struct {
		runs    int
		expires string
		arg     string
		want    string
	}{
		{-1, "", "", "--runs -1"},
		{0, "tomorrow", "", "want a duration"},
		{0, "-5m", "", "positive duration"},
		{0, "", "0=2:1", "LO <= HI"},
		{0, "", "x=1:2", "want I=LO:HI"},
		{0, "", "0=1", "want I=LO:HI"},
		{0, "", "-1=0:1", "want I=LO:HI"},
	} {
		var args []string
		if c.arg != "" {
			args = []string{c.arg}
		}
		if _, err := parseLimits(c.runs, c.expires, args, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("runs %d expires %q arg %q: %v, want %q", c.runs, c.expires, c.arg, err, c.want)
		}
	}
}
