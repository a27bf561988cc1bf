//go:build unix

package syft_test

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers/jobs"
)

// stop freezes a process (SIGSTOP) until the test ends.
func stop(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
}

// A party that a frozen peer leaves waiting names it in its error.
func TestStuckPeerNamed(t *testing.T) {
	g := daemonJobGrid(t, 3, true)
	var mu sync.Mutex
	pids := map[int]int{}
	for i, d := range g.daemons {
		opts := partyChild(t)
		opts.Started = func(pid int) { mu.Lock(); pids[i] = pid; mu.Unlock() }
		d.Jobs().Configure(jobs.Options{Child: opts, PeerTimeout: 2 * time.Second})
	}
	done := make(chan struct{})
	var res *syft.Results
	go func() {
		defer close(done)
		j := &syft.Job{Workers: g.ws, Func: syft.SourceFunc(loopSrc, "loop"), Timeout: time.Minute, Provider: tfpName(g.ws)}
		res, _ = j.Run(context.Background())
	}()
	time.Sleep(2 * time.Second)
	mu.Lock()
	pid := pids[2]
	mu.Unlock()
	if pid == 0 {
		t.Fatal("rank 2's party did not start")
	}
	stop(t, pid)
	select {
	case <-done:
	// About 20 s on an idle machine (2 s to notice, then collect's 15 s
	// wait for the frozen rank's report before it cancels it); the bound
	// only keeps a hang from lasting, so it leaves room for a loaded one.
	case <-time.After(2 * time.Minute):
		t.Fatal("the job did not end after a party froze")
	}
	for r := 0; r < 2; r++ {
		e := res.Ranks[r].Err
		t.Logf("rank %d: %v", r, e)
		if e == nil {
			t.Errorf("rank %d: no error", r)
			continue
		}
		if b, ok := comm.Blame(e); ok && b != 2 {
			t.Errorf("rank %d blames %d", r, b)
		}
		if !strings.Contains(e.Error(), "party 2") || sandbox.KindOf(e) != sandbox.KindPeer {
			t.Errorf("rank %d: %v, want a peer failure naming party 2", r, e)
		}
	}
}

const loopSrc = `package main

import "github.com/gomplab/gomplab/mpc"

func loop() (any, error) {
	x, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 1000000; i++ {
		x = x.Mul(0.5).Add(x)
	}
	return x.GetPlainText()
}
`
