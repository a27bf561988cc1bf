package syft_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// TestLocalDaemonsCLI: the example end to end through the real
// binary: two `gomplab worker` processes, each running its party as a
// `gomplab party` child process, and a job refused, killed by its limits
// and followed by one that works.
func TestLocalDaemonsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gomplab binary")
	}
	bin := filepath.Join(t.TempDir(), "gomplab")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/gomplab").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var ws []syft.Worker
	for i, id := range []string{"alice", "bob"} {
		d, err := syft.StartLocalDaemon(id, syft.DaemonOptions{Binary: bin, Users: []string{"me"}, Args: []string{"--party-memory", "3072"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Stop() })
		owner, err := d.Connect(d.OwnerToken)
		if err != nil {
			t.Fatal(err)
		}
		stageTensor(t, owner, "crypten_data", tensor.FromSlice(jobData[i]))
		owner.Close()
		w, err := d.Connect(d.Tokens["me"])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		ws = append(ws, w)
	}
	res, err := syft.RunMultiWorkers(ws, "127.0.0.1", jobProduct)
	if err != nil {
		t.Fatal(err)
	}
	want := tensor.FromSlice(jobData[0]).Mul(tensor.FromSlice(jobData[1]))
	if got := res.Tensor(1); got == nil || !tensor.AllClose(got, want, 0, 1e-2) {
		t.Fatalf("got %v, want %v", res.Value(1), want)
	}

	src := "package main\nfunc f() {\n\tvar keep [][]float64\n\tfor {\n\t\tkeep = append(keep, make([]float64, 1<<20))\n\t}\n}\n"
	job := &syft.Job{Workers: ws, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(src, "f"), Timeout: 20 * time.Second}
	res, err = job.Run(t.Context())
	if err == nil || sandbox.KindOf(res.Ranks[0].Err) != sandbox.KindMemory {
		t.Fatalf("runaway allocation: %v", err)
	}
	if !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("error: %v", err)
	}
	res, err = syft.RunMultiWorkers(ws, "127.0.0.1", jobProduct)
	if err != nil || res.Tensor(0) == nil {
		t.Fatalf("next job: %v", err)
	}
}
