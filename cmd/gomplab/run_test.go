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
		{"tag missing", []string{"--entry", "product", prog}, "failed on 2 ranks",
			[]string{`no object tagged [x]`}},
		{"forbidden import", []string{forbidden}, `import "os" is not allowed`, nil},
		{"bad load flag", []string{"--load", "x=" + a, prog}, "want RANK:TAG=FILE", nil},
		{"load rank too high", []string{"--load", "2:x=" + a, prog}, "there are 2 parties", nil},
		{"unreadable data", []string{"--load", "0:x=" + prog, prog}, "want a .npy or .csv file", nil},
		{"entry missing", []string{"--load", "0:x=" + a, "--load", "1:x=" + b, "--entry", "nope", prog}, "nope", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cmd := newRunCmd()
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
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
