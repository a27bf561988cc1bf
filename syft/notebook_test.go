package syft

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/tensor"
)

// cells of a notebook, as the kernel records them.
var nbCells = []struct {
	cell string
	line int
	src  string
}{
	{"cell[1]", 1, `import (
	"fmt"
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/syft"
	"os"
)`},
	{"cell[2]", 3, `// load loads a tensor or panics.
func load(tag string, src int) *mpc.CrypTensor {
	x, err := mpc.Load(tag, src)
	if err != nil {
		panic(err)
	}
	return x
}

// unused uses os: shipping product must not bring it along.
func unused() { os.Exit(1) }`},
	{"cell[3]", 1, `func product() (any, error) {
	a := load("crypten_data", 0)
	b := load("crypten_data", 1)
	fmt.Println("rank", mpc.Rank())
	return a.Mul(b).GetPlainText()
}

func broken() (any, error) {
	a := load("crypten_data", 0)
	b := load("missing", 1)
	return a.Mul(b).GetPlainText()
}`},
}

// notebookSource renders cells as the kernel does: the imports, then
// each cell's declarations after a //line directive naming the cell.
func notebookSource() string {
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n\t\"fmt\"\n\t\"github.com/gomplab/gomplab/mpc\"\n\t\"os\"\n)\n")
	for _, c := range nbCells[1:] {
		b.WriteString("\n" + sandbox.LineDirective(c.cell, c.line) + c.src + "\n")
	}
	return b.String()
}

// TestNotebookFunc: a function cut out of a notebook's declarations ships
// with what it uses, and its errors name the cell and line.
func TestNotebookFunc(t *testing.T) {
	src := notebookSource()
	f, err := ExtractFunc(src, "product")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f.Source, "unused") || strings.Contains(f.Source, `"os"`) || strings.Contains(f.Source, "broken") {
		t.Errorf("shipped more than product needs:\n%s", f.Source)
	}
	if !strings.Contains(f.Source, "func load(") || !strings.Contains(f.Source, `"fmt"`) {
		t.Errorf("shipped less than product needs:\n%s", f.Source)
	}
	alice, bob := newPair(t)
	res, err := RunMultiWorkers([]Worker{alice, bob}, "127.0.0.1", f)
	if err != nil {
		t.Fatal(err)
	}
	want := tensor.FromSlice([]float64{42 * 101, 53 * 32, 3 * 29, 4})
	if got := res.Tensor(1); got == nil || !tensor.AllClose(got, want, 0, 1e-2) {
		t.Fatalf("got %v, want %v", res.Value(1), want)
	}
	if res.Ranks[1].Output != "rank 1\n" {
		t.Errorf("output %q", res.Ranks[1].Output)
	}

	// Errors point at the cell and line the user wrote.
	fb, err := ExtractFunc(src, "broken")
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunMultiWorkers([]Worker{alice, bob}, "127.0.0.1", fb)
	var se *sandbox.Error
	if !errors.As(err, &se) || se.File != "cell[2]" || se.Line != 7 {
		t.Fatalf("error %v: want it at cell[2]:7 (load's panic)", err)
	}
	if !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("error does not name the tag: %v", err)
	}
}
