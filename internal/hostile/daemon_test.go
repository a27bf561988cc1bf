package hostile

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
)

// rssLimit is how far above its idle size the daemon's resident memory may
// go under any of these tests (issue 13).
const rssLimit = 200 << 20

var gomplabBin string

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" {
		fmt.Println("hostile: the tests read /proc; skipped on", runtime.GOOS)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "hostile")
	if err != nil {
		panic(err)
	}
	gomplabBin = filepath.Join(dir, "gomplab")
	out, err := exec.Command("go", "build", "-o", gomplabBin, "github.com/gomplab/gomplab/cmd/gomplab").CombinedOutput()
	if err != nil {
		fmt.Printf("go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `gomplab worker`.
type proc struct {
	cmd         *exec.Cmd
	dir, addr   string
	fingerprint string
	token       string // user "me"
	stderr      *lineCounter
}

// lineCounter counts what the daemon writes to stderr.
type lineCounter struct {
	mu           sync.Mutex
	lines, bytes int
	started      chan struct{}
	tail         []string
}

func startDaemon(t *testing.T, args ...string) *proc {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "w")
	res, err := daemon.InitDataDir(dir, "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	users, err := res.Dir.Users()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(gomplabBin, append([]string{"worker", "--data", dir, "--listen", addr}, args...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lc := &lineCounter{started: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lc.mu.Lock()
			lc.lines++
			lc.bytes += len(sc.Bytes()) + 1
			if len(lc.tail) < 20 {
				lc.tail = append(lc.tail, sc.Text())
			}
			lc.mu.Unlock()
			if strings.Contains(sc.Text(), "worker started") {
				close(lc.started)
			}
		}
	}()
	p := &proc{cmd: cmd, dir: dir, addr: addr, fingerprint: res.Fingerprint, token: tok, stderr: lc}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	select {
	case <-lc.started:
	case <-time.After(30 * time.Second):
		t.Fatalf("worker did not start: %v", lc.tail)
	}
	return p
}

// client opens an authenticated session as user "me".
func (p *proc) client(ctx context.Context) (*workers.Client, error) {
	tr, err := workers.DialTransport(ctx, p.addr, workers.DialOptions{Fingerprint: p.fingerprint})
	if err != nil {
		return nil, err
	}
	return workers.NewClient(ctx, tr, workers.Credentials{Token: p.token}, workers.ClientOptions{Timeout: 30 * time.Second})
}

// mem reads the daemon's resident set (VmRSS) and its peak (VmHWM), in
// bytes.
func (p *proc) mem(t *testing.T) (rss, hwm int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("daemon gone? %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// watch samples the daemon's VmRSS every 20 ms until stop is called,
// which returns the largest sample and the final VmHWM.
func (p *proc) watch(t *testing.T) (stop func() (peak, hwm int64)) {
	done := make(chan struct{})
	res := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if r, _ := p.mem(t); r > peak {
				peak = r
			}
			select {
			case <-done:
				res <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() (int64, int64) {
		close(done)
		peak := <-res
		_, hwm := p.mem(t)
		return peak, hwm
	}
}

// idle warms the daemon up (one client, a few requests) and returns its
// resident size at rest.
func (p *proc) idle(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := p.client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 10 {
		if err := c.Call(ctx, workers.MsgPing, struct{}{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	rss, _ := p.mem(t)
	return rss
}

// status returns lines of the daemon's /proc status (for logs).
func (p *proc) status(keys ...string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range keys {
			if strings.HasPrefix(line, k+":") {
				out = append(out, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

// checkBound fails t when the peak is more than rssLimit above idle.
func checkBound(t *testing.T, what string, idle, peak, hwm int64) {
	t.Helper()
	top := max(peak, hwm)
	t.Logf("%s: idle %d MB, peak VmRSS %d MB, VmHWM %d MB (limit: idle + %d MB)", what, idle>>20, peak>>20, hwm>>20, rssLimit>>20)
	if top-idle > rssLimit {
		t.Errorf("%s: daemon grew from %d MB to %d MB, more than %d MB above idle", what, idle>>20, top>>20, rssLimit>>20)
	}
}

// stillServes checks that an authenticated client is served.
func (p *proc) stillServes(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := p.client(ctx)
	if err != nil {
		t.Fatalf("after the test, a user cannot connect: %v", err)
	}
	defer c.Close()
	if err := c.Call(ctx, workers.MsgPing, struct{}{}, nil); err != nil {
		t.Fatalf("after the test, ping: %v", err)
	}
}
