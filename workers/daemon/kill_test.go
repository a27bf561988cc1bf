package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// buildBinary builds bin/gomplab into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gomplab")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/gomplab/gomplab/cmd/gomplab")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startWorkerProcess runs `gomplab worker` and waits until it serves.
func startWorkerProcess(t *testing.T, bin, dir, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "worker", "--data", dir, "--listen", addr)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), "worker started") {
				ready <- nil
				sent = true
			}
		}
		if !sent {
			ready <- errors.New("worker exited before it started")
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("worker did not start")
	}
	return cmd
}

// TestKill9WhileStreaming kills the real daemon with SIGKILL while a client
// streams tensors to it, restarts it, and checks that every acknowledged
// tensor is intact and that the client got a clear error, not a hang.
func TestKill9WhileStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gomplab binary")
	}
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "bob")
	res, err := InitDataDir(dir, "bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	proc := startWorkerProcess(t, bin, dir, addr)

	ctx := context.Background()
	tr, err := workers.DialTransport(ctx, addr, workers.DialOptions{Fingerprint: res.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 10 * time.Second
	c, err := workers.NewClient(ctx, tr, workers.Credentials{Token: res.OwnerToken}, workers.ClientOptions{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	value := func(i int) *tensor.Tensor { return tensor.Full(float64(i), 1000) }
	type result struct {
		acked   []string
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	killAfter := make(chan struct{})
	go func() {
		var r result
		for i := 0; ; i++ {
			id := fmt.Sprintf("obj-%d", i)
			put := &workers.PutRequest{Object: &store.Object{ID: id, Kind: store.KindTensor, Tensor: value(i), Tags: []string{"#stream"}}}
			start := time.Now()
			if err := c.Call(ctx, workers.MsgPut, put, nil); err != nil {
				r.err, r.elapsed = err, time.Since(start)
				done <- r
				return
			}
			r.acked = append(r.acked, id)
			if i == 50 {
				close(killAfter)
			}
		}
	}()
	select {
	case <-killAfter:
	case r := <-done:
		proc.Process.Kill()
		t.Fatalf("streaming failed before the kill: %v", r.err)
	case <-time.After(2 * time.Minute):
		proc.Process.Kill()
		t.Fatal("streaming made no progress")
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()

	var r result
	select {
	case r = <-done:
	case <-time.After(2 * timeout):
		t.Fatal("client hung after the worker was killed")
	}
	if !errors.Is(r.err, workers.ErrUnavailable) || !strings.Contains(r.err.Error(), "unknown") {
		t.Fatalf("client error after kill: %v", r.err)
	}
	t.Logf("acknowledged %d puts; in-flight put failed after %v: %v", len(r.acked), r.elapsed, r.err)

	// Restart on the same data directory (its lock died with the process).
	proc = startWorkerProcess(t, bin, dir, addr)
	defer func() {
		proc.Process.Signal(syscall.SIGTERM)
		if err := proc.Wait(); err != nil {
			t.Errorf("worker exit after SIGTERM: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "daemon.json")); !os.IsNotExist(err) {
			t.Errorf("daemon.json left behind after a clean exit: %v", err)
		}
	}()
	tr, err = workers.DialTransport(ctx, addr, workers.DialOptions{Fingerprint: res.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := workers.NewClient(ctx, tr, workers.Credentials{Token: res.OwnerToken}, workers.ClientOptions{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for i, id := range r.acked {
		var got workers.GetReply
		if err := c2.Call(ctx, workers.MsgGet, &workers.GetRequest{ID: id, Keep: true}, &got); err != nil {
			t.Fatalf("acknowledged %s lost: %v", id, err)
		}
		if !tensor.Equal(got.Object.Tensor, value(i)) {
			t.Fatalf("acknowledged %s corrupted", id)
		}
	}
	var found workers.SearchReply
	if err := c2.Call(ctx, workers.MsgSearch, &workers.SearchRequest{Tags: []string{"#stream"}}, &found); err != nil {
		t.Fatal(err)
	}
	// The put in flight at the kill may or may not have committed.
	if n := len(found.Objects); n != len(r.acked) && n != len(r.acked)+1 {
		t.Fatalf("after restart %d objects, acknowledged %d", n, len(r.acked))
	}
}
