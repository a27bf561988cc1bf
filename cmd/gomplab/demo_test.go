package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomplab/gomplab/workers/daemon"
)

// TestMain makes this test binary gomplab itself when it is started with
// one of the subcommands the demo's processes run: the demo starts
// `gomplab worker` daemons from its own executable, and they start `gomplab
// party` children the same way.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "worker" || os.Args[1] == "party" || os.Args[1] == "demo") {
		if os.Getenv(demoPauseEnv) != "" {
			// TestDemoInterrupt's demo waits, workers running, for
			// the signal.
			demoStarted = func(ctx context.Context) { <-ctx.Done() }
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// demoPauseEnv makes this test binary, run as `gomplab demo`, wait for a
// signal once its workers are up.
const demoPauseEnv = "GOMPLAB_TEST_DEMO_PAUSE"

func TestDemoCommand(t *testing.T) {
	var out bytes.Buffer
	scratch := t.TempDir()
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs([]string{"demo", "--dir", scratch})
	defer func() {
		rootCmd.SetOut(nil)
		rootCmd.SetErr(nil)
		rootCmd.SetArgs(nil)
	}()
	if err := rootCmd.Execute(); err != nil {
		t.Fatalf("gomplab demo: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`started alice at 127\.0\.0\.1:\d+ and bob at 127\.0\.0\.1:\d+`),
		regexp.MustCompile(`model [0-9a-f]{16} tags=\[crypten_model\] private`),
		regexp.MustCompile(`tensor [0-9a-f]{16} shape=\[200 1 28 28\] tags=\[crypten_data\] private`),
		regexp.MustCompile(`GetCopy: .*permission denied`),
		regexp.MustCompile(`request r-[0-9a-f]{16}: alice pending, bob pending`),
		regexp.MustCompile(`alice's owner reviews it \(\d+ lines[^\n]*\n.*requests approve r-[0-9a-f]{16} --data DIR --runs 1.*: approved`),
		regexp.MustCompile(`bob's owner reviews it .*\n.*: approved`),
		regexp.MustCompile(`labels of bob's first 100 images:\n(  (\d )+\d\n){4}`),
		regexp.MustCompile(`equal to plaintext inference: true \(100 of 100\); correct: (9\d|100) of 100`),
		regexp.MustCompile(`encrypted inference: [0-9.hmµs]+ in the parties, [0-9.hmµs]+ from submission to results; [0-9.]+ MB sent in all, \d+ messages, \d+ rounds`),
		regexp.MustCompile(`alice and bob stopped`),
	} {
		if !want.MatchString(got) {
			t.Errorf("demo output lacks %v", want)
		}
	}
	// The commands the demo prints run as printed (after the binary's
	// name), on the files it left in the scratch directory.
	var cmds [][]string
	for _, l := range strings.Split(got, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "worker" && strings.HasPrefix(l, "  ") {
			cmds = append(cmds, f[1:])
		}
	}
	if len(cmds) != 4 {
		t.Errorf("demo printed %d worker commands, want 4 (init and load for alice and bob)", len(cmds))
	}
	for _, c := range cmds {
		if out, err := runCLI(t, c...); err != nil {
			t.Errorf("printed command %q: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", got)
	}
}

// TestDemoInterrupt: Ctrl-C (SIGINT) or SIGTERM during the demo stops
// its worker daemons and removes their temporary directories. The demo
// runs as a process of its own (this test binary as `gomplab demo`),
// paused once its workers listen, and gets the signal there.
func TestDemoInterrupt(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(os.Args[0], "demo")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp, demoPauseEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			started := regexp.MustCompile(`started alice at (\S+) and bob at (\S+) `)
			lines := bufio.NewScanner(stdout)
			var addrs []string
			var out strings.Builder
			for addrs == nil && lines.Scan() {
				out.WriteString(lines.Text() + "\n")
				if m := started.FindStringSubmatch(lines.Text()); m != nil {
					addrs = m[1:]
				}
			}
			if addrs == nil {
				t.Fatalf("the demo did not start its workers:\n%s%s", out.String(), stderr.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(stdout)
			out.Write(rest)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatalf("the demo did not exit within a minute of %v:\n%s", sig, out.String())
			}
			if err == nil || !strings.Contains(stderr.String(), "demo interrupted") {
				t.Errorf("exit %v, stderr %q: want a failure saying the demo was interrupted", err, stderr.String())
			}
			if !strings.Contains(out.String(), "alice and bob stopped") {
				t.Errorf("the demo did not report stopping its workers:\n%s", out.String())
			}
			for _, addr := range addrs {
				if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
					c.Close()
					t.Errorf("a worker still listens at %s", addr)
				}
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range left {
				t.Errorf("left behind in the temporary directory: %s", e.Name())
				// Do not leave its daemon running past the test.
				for _, id := range []string{"alice", "bob"} {
					if dd, err := daemon.OpenDataDir(filepath.Join(tmp, e.Name(), id)); err == nil {
						if info, err := dd.ReadDaemonInfo(); err == nil && info.PID > 0 {
							syscall.Kill(info.PID, syscall.SIGKILL)
						}
					}
				}
			}
		})
	}
}

// TestDemoModelIsTheFixture: the embedded model is the one the fixture
// script made (it writes both copies), so the demo runs the tested model.
func TestDemoModelIsTheFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "mpc", "nn", "testdata", "digits_mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, demoModel) {
		t.Fatal("cmd/gomplab/demo_model.onnx differs from mpc/nn/testdata/digits_mlp.onnx: run make_fixtures.py")
	}
}

// TestWorkerLoadONNX: `gomplab worker load` stores an ONNX file as a model,
// refuses one it could not run, and refuses a second model under the same
// tag unless told to replace the first.
func TestWorkerLoadONNX(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	if out, err := runCLI(t, "worker", "init", "--id", "alice", "--data", dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cases := []struct {
		file  string
		extra []string
		want  string // output or error substring
		ok    bool
	}{
		{"digits_mlp.onnx", nil, "tags=[crypten_model] private (via store)", true},
		{"unsupported.onnx", nil, "unsupported operator Celu", false},
		{"digits_mlp.onnx", nil, "already tagged [crypten_model]", false},
		{"digits_mlp.onnx", []string{"--replace"}, "tags=[crypten_model] private (via store)", true},
	}
	for _, c := range cases {
		args := append([]string{"worker", "load", "--data", dir, "--tag", "crypten_model", "--private",
			"--file", filepath.Join("..", "..", "mpc", "nn", "testdata", c.file)}, c.extra...)
		out, err := runCLI(t, args...)
		if c.ok != (err == nil) {
			t.Fatalf("%s: %v\n%s", c.file, err, out)
		}
		if !strings.Contains(out+errString(err), c.want) {
			t.Errorf("%s: %q lacks %q", c.file, out+errString(err), c.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
