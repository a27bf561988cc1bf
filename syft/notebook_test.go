package syft

import (
	"errors"
	"go/parser"
	"go/token"
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

func newTestNotebook(t *testing.T) *Notebook {
	n := NewNotebook()
	for _, c := range nbCells {
		if err := n.Record(c.cell, c.line, c.src); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestNotebookFunc(t *testing.T) {
	n := newTestNotebook(t)
	f, err := n.Func("product")
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
	fb, err := n.Func("broken")
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

func TestNotebookRewrite(t *testing.T) {
	n := newTestNotebook(t)
	stmt := "x := 1\nresults, err := syft.RunMultiWorkers([]syft.Worker{alice, bob}, \"127.0.0.1\", product)\nf, _ := syft.FuncOf(broken)\n_ = syft.FuncOf(notDeclared)"
	out := n.Rewrite(stmt)
	if strings.Count(out, "\n") != strings.Count(stmt, "\n") {
		t.Fatalf("rewrite moved lines:\n%s", out)
	}
	if !strings.Contains(out, `syft.SourceFunc("package main`) || !strings.Contains(out, `, "product"))`) ||
		!strings.Contains(out, `, "broken"))`) || !strings.Contains(out, "syft.FuncOf(notDeclared)") {
		t.Fatalf("rewrite:\n%s", out)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+out+"\n}", 0); err != nil {
		t.Fatalf("rewritten cell does not parse: %v", err)
	}
	// Cells that do not use syft are left alone.
	if s := "fmt.Println(product)"; n.Rewrite(s) != s {
		t.Error("rewrote a cell without syft calls")
	}
	// A redefinition replaces the earlier declaration.
	if err := n.Record("cell[9]", 1, "func product() (any, error) { return 42, nil }"); err != nil {
		t.Fatal(err)
	}
	f, err := n.Func("product")
	if err != nil || !strings.Contains(f.Source, "return 42") || strings.Contains(f.Source, "func load(") {
		t.Fatalf("after redefinition: %v\n%v", err, f)
	}
}
