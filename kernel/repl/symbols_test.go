package repl

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
	"testing"
)

// TestDisplaySymbolsUpToDate checks that the generated table of package
// display lists exactly display's exported top-level identifiers: the
// table refers to them by name, so a name added or removed without
// `go generate ./kernel/repl` fails here. (Regenerating the table through
// yaegi's extractor, as kernel/symbols' test does, needs type-checking
// gonum plot from source, which takes minutes. The gonum plot tables are
// pinned by go.mod's version.)
func TestDisplaySymbolsUpToDate(t *testing.T) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir("../display")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, "../display/"+e.Name(), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					want[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						if sp.Name.IsExported() {
							want[sp.Name.Name] = true
						}
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							if n.IsExported() {
								want[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	have := map[string]bool{}
	for name := range Symbols["github.com/gomplab/gomplab/kernel/display/display"] {
		if !strings.HasPrefix(name, "_") {
			have[name] = true
		}
	}
	var missing, extra []string
	for n := range want {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	for n := range have {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Fatalf("display symbol table out of date (missing %v, stale %v): run `go generate ./kernel/repl`", missing, extra)
	}
}

func TestDefaultSymbolsBlockList(t *testing.T) {
	ex := DefaultSymbols(nil)
	for k := range blockedStdlib {
		if _, ok := ex[k]; ok {
			t.Errorf("%s is importable", k)
		}
	}
	for _, k := range []string{"fmt/fmt", "github.com/gomplab/gomplab/tensor/tensor", DisplayAlias + "/display", "gonum.org/v1/plot/plot"} {
		if len(ex[k]) == 0 {
			t.Errorf("%s missing", k)
		}
	}
}
