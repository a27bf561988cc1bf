package syft

import (
	"strings"
	"testing"
)

// FuzzExtractFunc: cutting a function out of any source never panics, and
// what it returns parses and keeps the entry.
func FuzzExtractFunc(f *testing.F) {
	f.Add("package main\nimport \"fmt\"\ntype T struct{}\nfunc (T) M() {}\nfunc h() int { return 1 }\nfunc f() { fmt.Println(h(), T{}) }\n", "f")
	f.Add("package main\nvar x, y = 1, 2\nconst c = x\nfunc f() int { return c + y }\n", "f")
	f.Add("package main\nfunc f[T any]() {}\n", "f")
	f.Fuzz(func(t *testing.T, src, entry string) {
		fn, err := ExtractFunc(src, entry)
		if err != nil {
			return
		}
		if fn.Entry != entry || !strings.HasPrefix(fn.Source, "package main\n") {
			t.Fatalf("extracted %q from %q", fn.Entry, entry)
		}
	})
}

// FuzzNotebookRewrite: rewriting any statements never panics and never
// moves lines.
func FuzzNotebookRewrite(f *testing.F) {
	f.Add("import \"github.com/gomplab/gomplab/syft\"", "func p() (any, error) { return 1, nil }", "r, err := syft.RunMultiWorkers(ws, \"\", p)\n_ = r")
	f.Add("import s \"github.com/gomplab/gomplab/syft\"", "func p() {}", "s.FuncOf(p); s.FuncOf(q)")
	f.Fuzz(func(t *testing.T, imports, decls, stmts string) {
		n := NewNotebook()
		n.Record("cell[1]", 1, imports)
		n.Record("cell[2]", 1, decls)
		out := n.Rewrite(stmts)
		if strings.Count(out, "\n") != strings.Count(stmts, "\n") {
			t.Fatalf("rewrite moved lines: %q -> %q", stmts, out)
		}
	})
}
