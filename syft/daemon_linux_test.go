package syft_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers/daemon"
)

// envSpawner makes the test binary start a worker daemon, print its pid and
// wait to be killed: a stand-in for a notebook kernel that dies.
const envSpawner = "GOMPLAB_SYFT_TEST_SPAWNER"

func init() {
	bin := os.Getenv(envSpawner)
	if bin == "" {
		return
	}
	d, err := syft.StartLocalDaemon("alice", syft.DaemonOptions{Binary: bin})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(d.Dir)
	select {}
}

// TestLocalDaemonDiesWithParent: a daemon started by StartLocalDaemon does
// not outlive the process that started it (a killed or restarted kernel).
func TestLocalDaemonDiesWithParent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gomplab binary")
	}
	bin := filepath.Join(t.TempDir(), "gomplab")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/gomplab").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spawner := exec.Command(exe)
	spawner.Env = append(os.Environ(), envSpawner+"="+bin)
	out, err := spawner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := spawner.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		spawner.Process.Kill()
		t.Fatalf("spawner: %v", err)
	}
	dir := line[:len(line)-1]
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(dir)) })
	dd, err := daemon.OpenDataDir(dir)
	if err != nil {
		spawner.Process.Kill()
		t.Fatal(err)
	}
	info, err := dd.ReadDaemonInfo()
	if err != nil {
		spawner.Process.Kill()
		t.Fatal(err)
	}
	pid := info.PID
	spawner.Process.Kill()
	spawner.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("worker daemon %d still running after its parent died", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
