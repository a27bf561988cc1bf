package layers

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gomplab/gomplab"

// layers assigns every package of the module a layer, from the bottom up
// (docs/architecture.md): the most specific prefix wins. A package found
// in none of them fails the test, so a new package gets its layer when it
// is made.
var layers = []struct {
	prefix string
	layer  int
}{
	{"tensor", 1},
	{"serde", 1},
	{"internal", 1}, // self-contained pieces: log files, connection limits, bbolt checks
	{"mpc", 2},      // the engine: comm, provider, internal/ring, paillier
	{"mpc/nn", 3},
	{"sandbox", 4}, // the jail, its tables and the plan format
	{"workers", 5},
	{"syft", 6},
	{"kernel", 7},
	{"install", 7},
	{"cmd", 8},
}

// exempt are packages outside the layering: programs and test support.
var exempt = []string{"examples", "internal/recording", "internal/faultnet", "internal/layers", "internal/attack", "internal/hostile"}

// layerOf returns the layer of a module package (its path without the
// module prefix), or 0 when it has none.
func layerOf(rel string) int {
	best, layer := -1, 0
	for _, l := range layers {
		if (rel == l.prefix || strings.HasPrefix(rel, l.prefix+"/")) && len(l.prefix) > best {
			best, layer = len(l.prefix), l.layer
		}
	}
	return layer
}

func isExempt(rel string) bool {
	for _, e := range exempt {
		if rel == e || strings.HasPrefix(rel, e+"/") {
			return true
		}
	}
	return false
}

func TestLayerOf(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want int
	}{
		{"tensor", 1}, {"mpc/comm", 2}, {"mpc/nn", 3}, {"mpc/nn/onnx", 3}, {"mpc/nnx", 2},
		{"sandbox/plan", 4}, {"workers/jobs", 5}, {"syft", 6}, {"kernel/repl", 7}, {"cmd/gomplab", 8},
		{"internal/logfile", 1}, {"elsewhere", 0},
	} {
		if got := layerOf(c.rel); got != c.want {
			t.Errorf("layerOf(%q) = %d, want %d", c.rel, got, c.want)
		}
	}
}

// TestNoUpwardImports reads every package's imports (go list -deps, so
// what the build sees, test files aside) and fails on an import of a
// higher layer, naming both packages and their layers.
func TestNoUpwardImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		rel, ok := strings.CutPrefix(f[0], module+"/")
		if !ok || isExempt(rel) {
			continue
		}
		seen++
		from := layerOf(rel)
		if from == 0 {
			t.Errorf("%s has no layer: give it one in layers_test.go and docs/architecture.md", rel)
			continue
		}
		for _, imp := range f[1:] {
			irel, ok := strings.CutPrefix(imp, module+"/")
			if !ok || isExempt(irel) {
				continue
			}
			if to := layerOf(irel); to > from {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package may import only its own layer or those below", rel, from, irel, to)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("go list listed only %d packages of the module", seen)
	}
}
