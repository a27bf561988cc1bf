package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeCommands runs the README's commands as written, from the
// repository's root as a fresh clone has it: every `bin/gomplab` line of
// its shell blocks that finishes by itself (worker init, load, user add,
// run), with $D a scratch directory as `D=$(mktemp -d)` makes it. The
// daemon, the demo, benchmarks and the kernel installer (which writes to
// the home directory) have tests of their own.
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	scratch := t.TempDir()
	inShell, ran, sawD := false, map[string]int{}, false
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inShell = true
			continue
		case strings.HasPrefix(line, "```"):
			inShell = false
			continue
		}
		if !inShell {
			continue
		}
		cmd, _, _ := strings.Cut(line, " #")
		cmd = strings.TrimSpace(cmd)
		if cmd == "D=$(mktemp -d)" {
			sawD = true
			continue
		}
		args, ok := strings.CutPrefix(cmd, "bin/gomplab ")
		if !ok {
			continue
		}
		f := strings.Fields(strings.ReplaceAll(args, "$D", scratch))
		kind := strings.Join(f[:min(2, len(f))], " ")
		switch {
		case kind == "worker init", kind == "worker load", kind == "worker user", f[0] == "run":
		default:
			continue // long-running, or tested elsewhere
		}
		if strings.Contains(args, "$D") && !sawD {
			t.Errorf("README uses $D before setting it: %s", cmd)
		}
		out, err := runCLI(t, f...)
		if err != nil {
			t.Errorf("README command %q: %v\n%s", cmd, err, out)
		}
		ran[f[0]]++
	}
	if ran["worker"] < 3 || ran["run"] < 1 {
		t.Errorf("ran %v from the README; want its worker init, load and user add, and its run", ran)
	}
	if _, err := os.Stat(filepath.Join(root, "alice")); err == nil {
		t.Errorf("a README command created ./alice inside the repository")
	}
}
