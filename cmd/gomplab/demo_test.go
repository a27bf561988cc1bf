package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMain makes this test binary gomplab itself when it is started with
// one of the subcommands the demo's processes run: the demo starts
// `gomplab worker` daemons from its own executable, and they start `gomplab
// party` children the same way.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "worker" || os.Args[1] == "party") {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDemoCommand(t *testing.T) {
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs([]string{"demo"})
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
		regexp.MustCompile(`labels of bob's first 100 images:\n(  (\d )+\d\n){4}`),
		regexp.MustCompile(`equal to plaintext inference: true \(100 of 100\); correct: (9\d|100) of 100`),
		regexp.MustCompile(`encrypted inference: [0-9.]+m?s in the parties, [0-9.]+m?s from submission to results; [0-9.]+ MB sent in all, \d+ messages, \d+ rounds`),
		regexp.MustCompile(`alice and bob stopped`),
	} {
		if !want.MatchString(got) {
			t.Errorf("demo output lacks %v", want)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", got)
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
// and refuses one it could not run.
func TestWorkerLoadONNX(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	if out, err := runCLI(t, "worker", "init", "--id", "alice", "--data", dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cases := []struct {
		file string
		want string // output or error substring
		ok   bool
	}{
		{"digits_mlp.onnx", "tags=[crypten_model] private (via store)", true},
		{"unsupported.onnx", "unsupported operator LeakyRelu", false},
	}
	for _, c := range cases {
		out, err := runCLI(t, "worker", "load", "--data", dir, "--tag", "crypten_model", "--private",
			"--file", filepath.Join("..", "..", "mpc", "nn", "testdata", c.file))
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
