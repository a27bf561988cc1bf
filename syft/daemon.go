package syft

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gomplab/gomplab/workers/daemon"
)

// LocalDaemon is a worker daemon (`gomplab worker`) that this process
// started on loopback, for notebooks, demos and tests that want real
// workers: separate processes with their own store, TLS, and MPC parties
// run as child processes under resource limits.
type LocalDaemon struct {
	ID          string
	Dir         string // data directory
	Addr        string // host:port it listens on
	Fingerprint string // its TLS certificate, for syft.Options
	OwnerToken  string // the data owner's token
	// Tokens holds the tokens of DaemonOptions.Users, by name.
	Tokens map[string]string

	cmd     *exec.Cmd
	tempDir bool
	done    chan struct{}
	mu      sync.Mutex
	waitErr error
	log     *os.File
}

// DaemonOptions configure StartLocalDaemon.
type DaemonOptions struct {
	// Binary is the gomplab executable (default: this process's own,
	// which is gomplab inside the notebook kernel).
	Binary string
	// Dir is the data directory (default: a new temporary directory,
	// removed by Stop).
	Dir string
	// Args are more flags for `gomplab worker` (--party-memory, ...).
	Args []string
	// Users are ordinary users to create before the daemon starts (their
	// tokens are in LocalDaemon.Tokens).
	Users []string
	// Timeout bounds the start (0: 20 s).
	Timeout time.Duration
}

// StartLocalDaemon initialises a data directory for worker id and starts
// `gomplab worker` on a free loopback port, returning once it listens. Its
// log goes to worker.log in the data directory.
func StartLocalDaemon(id string, opts DaemonOptions) (*LocalDaemon, error) {
	bin := opts.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("syft: locating the gomplab binary: %w", err)
		}
		bin = exe
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	d := &LocalDaemon{ID: id, Dir: opts.Dir, done: make(chan struct{})}
	if d.Dir == "" {
		parent, err := os.MkdirTemp("", "gomplab-worker-")
		if err != nil {
			return nil, err
		}
		d.Dir, d.tempDir = filepath.Join(parent, id), true
	}
	res, err := daemon.InitDataDir(d.Dir, id, nil)
	if err != nil {
		d.cleanup()
		return nil, fmt.Errorf("syft: start worker %s: %w", id, err)
	}
	d.Fingerprint, d.OwnerToken = res.Fingerprint, res.OwnerToken
	d.Tokens = map[string]string{}
	if len(opts.Users) > 0 {
		users, err := res.Dir.Users()
		if err != nil {
			d.cleanup()
			return nil, err
		}
		for _, u := range opts.Users {
			if d.Tokens[u], err = users.Add(u); err != nil {
				d.cleanup()
				return nil, fmt.Errorf("syft: start worker %s: user %s: %w", id, u, err)
			}
		}
	}
	if d.log, err = os.Create(filepath.Join(d.Dir, "worker.log")); err != nil {
		d.cleanup()
		return nil, err
	}
	args := append([]string{"worker", "--data", d.Dir, "--listen", "127.0.0.1:0"}, opts.Args...)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	tieToParent(d.cmd)
	if err := d.cmd.Start(); err != nil {
		d.cleanup()
		return nil, fmt.Errorf("syft: start worker %s: %w", id, err)
	}
	go func() {
		err := d.cmd.Wait()
		d.mu.Lock()
		d.waitErr = err
		d.mu.Unlock()
		close(d.done)
	}()
	deadline := time.Now().Add(timeout)
	for {
		if info, err := res.Dir.ReadDaemonInfo(); err == nil && info.Addr != "" && info.PID == d.cmd.Process.Pid {
			d.Addr = info.Addr
			return d, nil
		}
		select {
		case <-d.done:
			d.cleanup()
			return nil, fmt.Errorf("syft: worker %s exited while starting (%v); see %s", id, d.waitErr, filepath.Join(d.Dir, "worker.log"))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("syft: worker %s did not start within %v", id, timeout)
		}
	}
}

// AddUser creates a user on the worker and returns its token; the running
// daemon reads its user table again within a second.
func (d *LocalDaemon) AddUser(name string, perms ...string) (string, error) {
	dir, err := daemon.OpenDataDir(d.Dir)
	if err != nil {
		return "", err
	}
	users, err := dir.Users()
	if err != nil {
		return "", err
	}
	return users.Add(name, perms...)
}

// Connect opens a session with the worker as the user token belongs to.
func (d *LocalDaemon) Connect(token string) (*RemoteWorker, error) {
	return Connect(d.Addr, Options{Token: token, Fingerprint: d.Fingerprint})
}

// Stop ends the daemon (SIGTERM, then SIGKILL after 10 s) and removes the
// data directory if StartLocalDaemon made it.
func (d *LocalDaemon) Stop() error {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
	}
	d.cleanup()
	d.mu.Lock()
	defer d.mu.Unlock()
	var ee *exec.ExitError
	if d.waitErr != nil && !errors.As(d.waitErr, &ee) {
		return d.waitErr
	}
	return nil
}

func (d *LocalDaemon) cleanup() {
	if d.log != nil {
		d.log.Close()
	}
	if d.tempDir {
		os.RemoveAll(filepath.Dir(d.Dir))
	}
}

// String names the daemon and where it listens.
func (d *LocalDaemon) String() string {
	return fmt.Sprintf("<gomplab worker %s at %s>", d.ID, d.Addr)
}
