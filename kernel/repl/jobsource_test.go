package repl

import (
	"context"
	"strings"
	"testing"
)

func TestCellFunctionsShipToWorkers(t *testing.T) {
	s, out, _ := newTestSession(t)
	cells := []string{
		"import (\n\t\"fmt\"\n\t\"github.com/gomplab/gomplab/mpc\"\n\t\"github.com/gomplab/gomplab/syft\"\n\t\"github.com/gomplab/gomplab/tensor\"\n)",
		"const scale = 2.0\nfunc helper(x float64) float64 { return x * scale }",
		"func job() (any, error) {\n\treturn helper(21), nil\n}",
		"func unrelated() {}",
		// A redefinition replaces the earlier declaration.
		"func helper(x float64) float64 { return x * scale * 1 }",
	}
	for _, c := range cells {
		if _, cerr := s.Execute(context.Background(), c); cerr != nil {
			t.Fatalf("%q: %v", c, cerr)
		}
	}
	res, cerr := s.Execute(context.Background(), "f, err := syft.FuncOf(job)\nfmt.Println(err)\nf.Source")
	if cerr != nil {
		t.Fatalf("%v %q", cerr, cerr.Traceback)
	}
	src := resultText(t, res)
	if out.String() != "<nil>\n" || !strings.Contains(src, "func job()") || !strings.Contains(src, "x * scale * 1") ||
		strings.Contains(src, "unrelated") || strings.Count(src, "func helper") != 1 || !strings.Contains(src, "const scale") {
		t.Fatalf("stdout %q, source:\n%s", out.String(), src)
	}
	// A function literal is refused with a clear error.
	out.Reset()
	if _, cerr := s.Execute(context.Background(), "_, err := syft.FuncOf(func() (any, error) { return 1, nil })\nfmt.Println(err)"); cerr != nil {
		t.Fatal(cerr)
	}
	if !strings.Contains(out.String(), "not one declared with func in a cell") {
		t.Fatalf("literal: %q", out.String())
	}
}
