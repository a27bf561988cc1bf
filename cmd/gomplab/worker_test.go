package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runCLI runs the gomplab command tree in-process.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	resetFlags(rootCmd)
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs(args)
	err := rootCmd.Execute()
	return out.String(), err
}

// resetFlags sets every flag of c and its subcommands back to its default:
// the command tree is global, so without it a flag given in one runCLI
// (a repeatable --tag, a --replace) would leak into the next.
func resetFlags(c *cobra.Command) {
	reset := func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			_ = sv.Replace(nil)
		} else {
			_ = f.Value.Set(f.DefValue)
		}
		f.Changed = false
	}
	c.Flags().VisitAll(reset)
	c.PersistentFlags().VisitAll(reset)
	for _, sub := range c.Commands() {
		resetFlags(sub)
	}
}

func TestWorkerInitLoadList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	out, err := runCLI(t, "worker", "init", "--id", "alice", "--data", dir)
	if err != nil || !strings.Contains(out, "fingerprint: sha256:") || !strings.Contains(out, "owner token: ") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	csv := filepath.Join(t.TempDir(), "salaries.csv")
	if err := os.WriteFile(csv, []byte("a,b\n1,2\n3,4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "worker", "load", "--data", dir, "--tag", "#salaries", "--description", "pay",
		"--file", csv, "--header", "--private")
	if err != nil || !strings.Contains(out, "shape=[2 2]") || !strings.Contains(out, "private") || !strings.Contains(out, "via store") {
		t.Fatalf("load: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "worker", "load", "--data", dir, "--tag", "#x", "--file", "data.txt"); err == nil {
		t.Fatal("load of an unknown file type succeeded")
	}
	out, err = runCLI(t, "worker", "list", "--data", dir)
	if err != nil || !strings.Contains(out, "#salaries") || !strings.Contains(out, "pay") || !strings.Contains(out, "true") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runCLI(t, "worker", "user", "add", "carol", "--data", dir, "--read-private")
	if err != nil || !strings.Contains(out, "user carol token: ") {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	out, err = runCLI(t, "worker", "user", "list", "--data", dir)
	if err != nil || !strings.Contains(out, "carol\tread-private") || !strings.Contains(out, "owner\tadmin") {
		t.Fatalf("user list: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "worker", "--id", "bob", "--data", dir, "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "belongs to worker") {
		t.Fatalf("worker with the wrong id: %v", err)
	}
	if _, err := runCLI(t, "worker", "--id", "alice", "--data", dir, "--listen", "10.0.0.1:7101", "--insecure-loopback"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("insecure on a non-loopback address: %v", err)
	}
}

// TestCLIErrorsSayWhatToDo: the mistakes of a first hour get messages that
// name the problem and the way out.
func TestCLIErrorsSayWhatToDo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	if out, err := runCLI(t, "worker", "init", "--id", "alice", "--data", dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	headed := filepath.Join(tmp, "h.csv")
	notONNX := filepath.Join(tmp, "x.onnx")
	for p, text := range map[string]string{headed: "a,b\n1,2\n", notONNX: "hello, not a model"} {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args       []string
		want, nots string
	}{
		{[]string{"worker", "list"}, "--data DIR is required", ""},
		{[]string{"worker", "info"}, "--data DIR is required", ""},
		{[]string{"worker", "user", "list"}, "--data DIR is required", ""},
		{[]string{"worker", "user", "add", "bob"}, "--data DIR is required", ""},
		{[]string{"worker", "load", "--tag", "t", "--file", headed}, "--data DIR is required", ""},
		{[]string{"worker", "user", "add", "bob", "--data", filepath.Join(tmp, "nope")}, "is not initialised (run `gomplab worker init", ""},
		// A CSV header: one "load FILE" prefix, and the flag to use.
		{[]string{"worker", "load", "--data", dir, "--tag", "t", "--file", headed}, "if the first line is a header, add --header", "load " + headed + ": load"},
		{[]string{"worker", "load", "--data", dir, "--tag", "m", "--file", notONNX}, "not an ONNX model", ""},
		// A federated round of one contributor would release a model.
		{[]string{"worker", "--data", dir, "--listen", "127.0.0.1:0", "--fl-min-contributors", "1"}, "--fl-min-contributors 1: a federated round needs at least 2", ""},
		// -v is --verbose where it exists, not --version.
		{[]string{"-v"}, "unknown shorthand flag: 'v'", ""},
	} {
		out, err := runCLI(t, c.args...)
		msg := errString(err)
		if err == nil || !strings.Contains(msg, c.want) || c.nots != "" && strings.Contains(msg, c.nots) {
			t.Errorf("gomplab %s: %q (output %q), want an error with %q", strings.Join(c.args, " "), msg, out, c.want)
		}
	}
	if out, err := runCLI(t, "--version"); err != nil || !strings.Contains(out, "gomplab version") {
		t.Errorf("--version: %v %q", err, out)
	}
}
