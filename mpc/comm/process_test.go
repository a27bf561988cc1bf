package comm

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as a party process: with childEnv set, TestMain
// runs childMain instead of the tests, as a child started by a test.
const childEnv = "GOMPLAB_COMM_TEST_CHILD"

// noInlineEnv makes a test process (and its children) send every message
// through the writer goroutine, to measure what inline sends save.
const noInlineEnv = "GOMPLAB_COMM_TEST_NOINLINE"

func TestMain(m *testing.M) {
	noInline = os.Getenv(noInlineEnv) != ""
	switch mode := os.Getenv(childEnv); mode {
	case "":
	case "wire":
		os.Exit(wireChild())
	default:
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

func childMain(mode string) int {
	if v := os.Getenv(fdLimitEnv); v != "" {
		if err := limitFiles(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	c, err := DialEnv(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", c.Rank(), err)
		return 1
	}
	n := c.Size()
	switch mode {
	case "allreduce":
		v := []uint64{uint64(c.Rank() + 1)}
		if err := AllReduce(c, v); err != nil {
			return fail(err)
		}
		if v[0] != uint64(n*(n+1)/2) {
			return fail(fmt.Errorf("sum %d", v[0]))
		}
		fmt.Println("ok", c.Stats().Total().Rounds)
	case "exchange-then-hang":
		if _, err := Exchange(c, []uint64{1}); err != nil {
			return fail(err)
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
	case "bigsend-then-hang":
		if err := SendUint64s(c, 0, make([]uint64, 8<<20)); err != nil {
			return fail(err)
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
	case "bench":
		return benchChild(c)
	case "barrier":
		if err := Barrier(c); err != nil {
			return fail(err)
		}
		fmt.Println("ok")
	default:
		return fail(fmt.Errorf("unknown child mode %q", mode))
	}
	return 0
}

// child is a party process started by a test.
type child struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr strings.Builder
}

func startChild(t testing.TB, job *LocalJob, rank int, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Env = append(cmd.Env, env...)
	if err := job.Prepare(cmd, rank); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd}
	cmd.Stderr = &ch.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ch.out = bufio.NewReader(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return ch
}

// line reads the child's next stdout line, failing on a crash.
func (ch *child) line(t testing.TB) string {
	t.Helper()
	s, err := ch.out.ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v; stderr: %s", err, ch.stderr.String())
	}
	return strings.TrimSpace(s)
}

// TestChildProcesses runs a 3-party job with ranks 0 and 2 in child
// processes (rank 0 serving the rendezvous socket this process bound) and
// rank 1 here: the launcher pieces a parent needs.
func TestChildProcesses(t *testing.T) {
	job := newJob(t, 3, false, 10*time.Second)
	kids := []*child{startChild(t, job, 0, "allreduce"), startChild(t, job, 2, "allreduce")}
	cfg := job.Config(1)
	job.Close() // children hold the socket now
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := []uint64{2}
	if err := AllReduce(c, v); err != nil {
		t.Fatal(err)
	}
	if v[0] != 6 {
		t.Errorf("sum = %d, want 6", v[0])
	}
	for i, k := range kids {
		if got := k.line(t); got != "ok 1" {
			t.Errorf("child %d said %q", i, got)
		}
		if err := k.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v; %s", i, err, k.stderr.String())
		}
	}
}

// TestPeerKilled kills a party process mid-protocol: the survivors' calls
// fail promptly with an error naming the dead rank.
func TestPeerKilled(t *testing.T) {
	cases := []struct {
		name string
		n    int
		mode string
		// survivor runs as each in-process rank after the child is ready;
		// kill happens while it is blocked.
		survivor func(c Comm) error
	}{
		{"blocked-in-exchange", 2, "exchange-then-hang", func(c Comm) error {
			if _, err := Exchange(c, []uint64{1}); err != nil {
				return fmt.Errorf("first exchange: %w", err)
			}
			_, err := Exchange(c, make([]uint64, 1000))
			return err
		}},
		{"mid-frame", 2, "bigsend-then-hang", func(c Comm) error {
			time.Sleep(300 * time.Millisecond) // let the child fill the pipe, then die
			return RecvUint64s(c, 1, make([]uint64, 8<<20))
		}},
		{"three-parties", 3, "exchange-then-hang", func(c Comm) error {
			if _, err := Exchange(c, []uint64{1}); err != nil {
				return fmt.Errorf("first exchange: %w", err)
			}
			return AllReduce(c, make([]uint64, 10))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dead := tc.n - 1
			job := newJob(t, tc.n, false, 10*time.Second)
			kid := startChild(t, job, dead, tc.mode)
			errs := make([]error, dead)
			var wg sync.WaitGroup
			for r := 0; r < dead; r++ {
				cfg := job.Config(r)
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := Dial(context.Background(), cfg)
					if err != nil {
						errs[r] = err
						return
					}
					defer c.Close()
					errs[r] = tc.survivor(c)
				}()
			}
			if got := kid.line(t); got != "ready" {
				t.Fatalf("child said %q", got)
			}
			time.Sleep(100 * time.Millisecond)
			killed := time.Now()
			kid.cmd.Process.Kill()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("survivors hung after the peer was killed")
			}
			t.Logf("survivors failed %v after the kill", time.Since(killed))
			for r, err := range errs {
				// A survivor may hear of the death from the other
				// survivor first; either way the dead rank is blamed.
				if b, ok := Blame(err); !ok || b != dead || !strings.Contains(err.Error(), "party "+strconv.Itoa(dead)) {
					t.Errorf("rank %d: %v, want an error naming party %d", r, err, dead)
					continue
				}
				t.Logf("rank %d: %v", r, err)
			}
		})
	}
}
