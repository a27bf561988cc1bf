//go:build multihost

package multihost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// cluster is the compose project under test: three workers, each in a
// container of its own on the project's private network.
type cluster struct {
	root    string // repository root
	project string
	image   string
	files   []string // compose files, in order
	env     []string
	hosts   map[string]*host
	names   []string // alice, bob, carol: ranks 0, 1, 2 unless a test says otherwise
}

// host is one worker as the data scientist and its owner see it.
type host struct {
	name        string
	addr        string // host:port of its client listener, as published
	fingerprint string
	ownerToken  string
	userToken   string
	owner, ds   *syft.RemoteWorker
}

var (
	infoFingerprint = regexp.MustCompile(`fingerprint: (sha256:[0-9a-f]{64})`)
	logOwnerToken   = regexp.MustCompile(`owner token: ([0-9a-f]+)`)
	userToken       = regexp.MustCompile(`token: ([0-9a-f]+)`)
)

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// run runs a command, returning its output or an error with it.
func run(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s%s", name, strings.Join(args, " "), err, errb.String(), out.String())
	}
	return out.String(), nil
}

// compose runs docker-compose on the project.
func (c *cluster) compose(args ...string) (string, error) {
	full := []string{"-p", c.project}
	for _, f := range c.files {
		full = append(full, "-f", f)
	}
	return run(c.root, c.env, "docker-compose", append(full, args...)...)
}

// container is the id of a service's container.
func (c *cluster) container(name string) (string, error) {
	out, err := c.compose("ps", "-q", name)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(out)
	if id == "" {
		return "", fmt.Errorf("no container for %s", name)
	}
	return id, nil
}

// up builds the static binary and the image, and starts the project.
func up() (*cluster, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	c := &cluster{root: root, project: fmt.Sprintf("gomplabmh%d", os.Getpid()),
		files: []string{filepath.Join(root, "deploy", "compose.yaml")},
		names: []string{"alice", "bob", "carol"}, hosts: map[string]*host{}}
	c.image = "gomplab:" + c.project
	ctxDir, err := os.MkdirTemp("", "gomplab-image")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(ctxDir)
	if _, err := run(root, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "gomplab"), "./cmd/gomplab"); err != nil {
		return nil, err
	}
	df, err := os.ReadFile(filepath.Join(root, "deploy", "Dockerfile"))
	if err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), df, 0o644)
	os.Mkdir(filepath.Join(ctxDir, "data"), 0o755)
	if _, err := run(root, nil, "docker", "build", "-q", "-t", c.image, ctxDir); err != nil {
		return nil, err
	}
	c.env = []string{"GOMPLAB_IMAGE=" + c.image, "GOMPLAB_ALICE_PORT=", "GOMPLAB_BOB_PORT=", "GOMPLAB_CAROL_PORT="}
	if _, err := c.compose("up", "-d"); err != nil {
		c.down()
		return nil, err
	}
	for _, name := range c.names {
		if err := c.attach(name); err != nil {
			c.down()
			return nil, err
		}
	}
	return c, nil
}

// down removes the project, its volumes and its image.
func (c *cluster) down() {
	for _, h := range c.hosts {
		if h.owner != nil {
			h.owner.Close()
		}
		if h.ds != nil {
			h.ds.Close()
		}
	}
	if out, err := c.compose("logs", "--no-color", "--tail", "40"); err == nil && os.Getenv("MULTIHOST_LOGS") != "" {
		fmt.Fprintln(os.Stderr, out)
	}
	c.compose("down", "-v", "--timeout", "5")
	run(c.root, nil, "docker", "rmi", "-f", c.image)
}

// attach finds a worker's published address, fingerprint and tokens, and
// connects its owner and the data scientist, waiting for it to serve.
func (c *cluster) attach(name string) error {
	h := c.hosts[name]
	if h == nil {
		h = &host{name: name}
		c.hosts[name] = h
	}
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		last = c.tryAttach(h)
		if last == nil {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("worker %s did not come up: %w", name, last)
}

func (c *cluster) tryAttach(h *host) error {
	out, err := c.compose("port", h.name, "7101")
	if err != nil {
		return err
	}
	h.addr = strings.TrimSpace(out)
	if h.addr == "" || strings.HasSuffix(h.addr, ":0") {
		return fmt.Errorf("port of %s not published yet", h.name)
	}
	if h.fingerprint == "" {
		out, err = c.compose("exec", "-T", h.name, "/gomplab", "worker", "info", "--data", "/data")
		if err != nil {
			return err
		}
		m := infoFingerprint.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no fingerprint in %q", out)
		}
		h.fingerprint = m[1]
	}
	if h.ownerToken == "" {
		out, err = c.compose("logs", "--no-color", h.name)
		if err != nil {
			return err
		}
		m := logOwnerToken.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no owner token in %s's log yet", h.name)
		}
		h.ownerToken = m[1]
	}
	if h.userToken == "" {
		out, err = c.compose("exec", "-T", h.name, "/gomplab", "worker", "user", "add", "ds", "--data", "/data")
		if err != nil {
			return err
		}
		m := userToken.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no token in %q", out)
		}
		h.userToken = m[1]
	}
	return c.connect(h)
}

// connect (re)opens the owner's and the data scientist's connections.
func (c *cluster) connect(h *host) error {
	for _, w := range []*syft.RemoteWorker{h.owner, h.ds} {
		if w != nil {
			w.Close()
		}
	}
	h.owner, h.ds = nil, nil
	var err error
	if h.owner, err = syft.Connect(h.addr, syft.Options{Token: h.ownerToken, Fingerprint: h.fingerprint}); err != nil {
		return err
	}
	if h.ds, err = syft.Connect(h.addr, syft.Options{Token: h.userToken, Fingerprint: h.fingerprint}); err != nil {
		h.owner.Close()
		h.owner = nil
		return err
	}
	_, err = h.ds.Ping()
	return err
}

// workers returns the data scientist's view of the named workers, in
// rank order.
func (c *cluster) workers(names ...string) []syft.Worker {
	ws := make([]syft.Worker, len(names))
	for i, n := range names {
		ws[i] = c.hosts[n].ds
	}
	return ws
}

// stage has each owner load its private tensor under tag.
func (c *cluster) stage(t *testing.T, tag string, data map[string]*tensor.Tensor) {
	t.Helper()
	for name, x := range data {
		p, err := syft.Send(x, c.hosts[name].owner, syft.WithTags(tag), syft.AsPrivate("ds")) // readable by the data scientist: these test the machinery (the approvals are syft's TestApprovalsEndToEnd)
		if err != nil {
			t.Fatalf("staging %s on %s: %v", tag, name, err)
		}
		p.Keep()
	}
}

// restart brings a service back after a fault and reconnects to it.
func (c *cluster) restart(t *testing.T, name string) {
	t.Helper()
	if _, err := c.compose("up", "-d", name); err != nil {
		t.Fatal(err)
	}
	h := c.hosts[name]
	h.addr = "" // the published port may change
	if err := c.attach(name); err != nil {
		t.Fatal(err)
	}
}

// docker runs a docker command on a service's container.
func (c *cluster) docker(t *testing.T, verb, name string, extra ...string) {
	t.Helper()
	id, err := c.container(name)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{verb}, extra...)
	if verb == "network" {
		// network connect|disconnect NETWORK CONTAINER
		args = append(args, id)
	} else {
		args = append(args, id)
	}
	if _, err := run(c.root, nil, "docker", args...); err != nil {
		t.Fatal(err)
	}
}

// network is the project's private network.
func (c *cluster) network() string { return c.project + "_mpc" }

// withTimeout runs fn, failing the test if it takes longer than d.
func withTimeout(t *testing.T, d time.Duration, what string, fn func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatalf("%s took longer than %v", what, d)
		return errors.New("unreachable")
	}
}
