package comm

import (
	"context"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// fdLimitEnv makes a child party cap its open files at the descriptors it
// has open plus the given number, before it joins the mesh.
const fdLimitEnv = "GOMPLAB_COMM_TEST_FDLIMIT"

func limitFiles(extra string) error {
	n, err := strconv.Atoi(extra)
	if err != nil {
		return err
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	lim := uint64(len(fds) + n)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lim, Max: lim})
}

// A rank 0 whose descriptor limit leaves just FilesNeeded for the mesh
// forms its job while hundreds of idle connections flood its rendezvous;
// with a limit far tighter than that, its accept loop runs out of
// descriptors over and over and still never gives up.
func TestRendezvousFloodUnderFileLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra int
	}{
		{"files-needed", FilesNeeded(3)},
		{"starved", 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, 3, false, 20*time.Second)
			job.Secret = testSecret
			var flood []net.Conn
			t.Cleanup(func() {
				for _, c := range flood {
					c.Close()
				}
			})
			for range 4 * MaxPending {
				c, err := net.Dial("tcp", job.MasterAddr())
				if err != nil {
					t.Fatal(err)
				}
				flood = append(flood, c)
			}
			kid := startChild(t, job, 0, "barrier", fdLimitEnv+"="+strconv.Itoa(tc.extra))
			cfgs := []Config{job.Config(1), job.Config(2)}
			job.Close()
			// Keep flooding while the parties join.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					if c, err := net.Dial("tcp", cfgs[0].MasterAddr); err == nil {
						defer c.Close()
					}
				}
			}()
			errs := make(chan error, 2)
			for _, cfg := range cfgs {
				go func() {
					c, err := Dial(context.Background(), cfg)
					if err == nil {
						err = Barrier(c)
						c.Close()
					}
					errs <- err
				}()
			}
			for range cfgs {
				if err := <-errs; err != nil {
					t.Fatalf("%v; rank 0: %s", err, kid.stderr.String())
				}
			}
			if got := kid.line(t); got != "ok" {
				t.Fatalf("rank 0 said %q", got)
			}
			if err := kid.cmd.Wait(); err != nil {
				t.Fatalf("rank 0: %v: %s", err, kid.stderr.String())
			}
		})
	}
}
