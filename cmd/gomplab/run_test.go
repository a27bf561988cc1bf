package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

const runProduct = `package main

import "github.com/gomplab/gomplab/mpc"

func product() (any, error) {
	a, err := mpc.Load("x", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("x", 1)
	if err != nil {
		return nil, err
	}
	return a.Mul(b).GetPlainText()
}
`

// TestRunCommand runs `gomplab run` as a user would: a Go file, private
// data loaded on each party's worker, results or clear errors.
func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	prog := write("product.go", runProduct)
	typo := write("typo.go", "package main\n\nfunc run() (any, error) {\n\treturn undefinedThing, nil\n}\n")
	csvHeader := write("h.csv", "a,b\n1,2\n")
	forbidden := write("bad.go", "package main\n\nimport \"os\"\n\nfunc run() (any, error) { return os.Getpid(), nil }\n")
	a, b := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
	if err := tensor.SaveNPY(a, tensor.FromSlice([]float64{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	if err := tensor.SaveNPY(b, tensor.FromSlice([]float64{4, 5, -6})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string   // "" for success
		want    []string // in the output
	}{
		{"product", []string{"--load", "0:x=" + a, "--load", "1:x=" + b, "--entry", "product", prog}, "",
			[]string{"rank 0 (party0): [  4.  10. -18.]", "rank 1 (party1): [  4.  10. -18.]", "rounds"}},
		{"three parties", []string{"-n", "3", "--load", "0:x=" + a, "--load", "1:x=" + b, "--entry", "product", prog}, "",
			[]string{"rank 2 (party2): [", "-18"}},
		{"tag missing", []string{"--entry", "product", prog}, `no object tagged ["x"]`, nil},
		{"forbidden import", []string{forbidden}, `import "os" is not allowed`, nil},
		{"bad load flag", []string{"--load", "x=" + a, prog}, "want RANK:TAG=FILE", nil},
		{"load rank too high", []string{"--load", "2:x=" + a, prog}, "there are 2 parties", nil},
		{"unreadable data", []string{"--load", "0:x=" + prog, prog}, "want a .npy or .csv file", nil},
		{"entry missing", []string{"--load", "0:x=" + a, "--load", "1:x=" + b, "--entry", "nope", prog}, "nope", nil},
		// The error names the user's file, once for all the ranks it hit.
		{"compile error", []string{typo}, "failed on 2 ranks\n  ranks 0 (party0), 1 (party1): typo.go:4: compile: undefined: undefinedThing", nil},
		{"csv header", []string{"--load", "0:x=" + csvHeader, prog}, "if the first line is a header, add --header", nil},
		{"csv header read", []string{"--header", "--load", "0:x=" + csvHeader, "--load", "1:x=" + csvHeader, "--entry", "product", prog}, "",
			[]string{"rank 0 (party0): [[1. 4.]]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cmd := newRunCmd()
			cmd.SilenceUsage, cmd.SilenceErrors = true, true // as under the root command
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if err != nil && strings.Count(out.String()+err.Error(), "undefinedThing") > 1 {
				t.Errorf("an error is printed more than once:\n%s%v", out.String(), err)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("gomplab run: %v\n%s", err, out.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q\n%s", err, tc.wantErr, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestBenchOnly(t *testing.T) {
	names := []string{"add 1M", "mul 1M", "matmul 100x100 @ 100x100", "softmax 1000x10", "argmax 1000x10 (one-hot)"}
	for _, c := range []struct{ only, want string }{
		{"mul", "mul 1M"},
		{"matmul", "matmul 100x100 @ 100x100"},
		{"softmax|argmax", "softmax 1000x10,argmax 1000x10 (one-hot)"},
		{"", strings.Join(names, ",")},
	} {
		sel, err := onlyMatcher(c.only)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range names {
			if sel(n) {
				got = append(got, n)
			}
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("--only %q selects %q, want %q", c.only, got, c.want)
		}
	}
	if _, err := onlyMatcher("("); err == nil {
		t.Error("a bad expression was accepted")
	}
}
