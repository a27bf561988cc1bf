package sandbox

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// hostImports reach outside the computation: a file importing one of them
// may declare functions a job must not call.
var hostImports = []string{"os", "os/exec", "net", "syscall", "unsafe", "io/fs", "io/ioutil", "plugin", "runtime/debug"}

// vetted are exported functions in such files that are harmless in a job:
// they only compute on the values given to them.
var vetted = map[string][]string{
	// Readers and writers: a job has no file to give them.
	TensorPath: {"ReadCSV", "WriteCSV", "ReadNPY", "WriteNPY"},
}

// TestDeniedSymbols checks every exported package-level function of the
// jail's gomplab packages declared in a file that imports a host package:
// it must be denied (left out of the jail's tables) or vetted. A new API
// that opens files or starts processes fails here until it is classified.
func TestDeniedSymbols(t *testing.T) {
	dirs := map[string]string{TensorPath: "../tensor", MPCPath: "../mpc", NNPath: "../mpc/nn"}
	for pkg, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			host := ""
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				if slices.Contains(hostImports, p) {
					host = p
				}
			}
			if host == "" {
				continue
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv != nil || !fd.Name.IsExported() {
					continue
				}
				name := fd.Name.Name
				if slices.Contains(deniedSymbols[pkg], name) || slices.Contains(vetted[pkg], name) {
					continue
				}
				t.Errorf("%s.%s (in %s, which imports %q) is neither denied nor vetted in the jail: add it to deniedSymbols or vetted",
					pkg, name, filepath.Base(file), host)
			}
		}
		// Denied names are really absent from the jail's tables.
		table := baseExports()[key(pkg)]
		for _, name := range deniedSymbols[pkg] {
			if _, ok := table[name]; ok {
				t.Errorf("%s.%s is denied but still in the jail's table", pkg, name)
			}
		}
	}
}

// TestNoDangerousPackages: the jail's tables hold only whitelisted
// packages, and none of the packages yaegi could reach the host with.
func TestNoDangerousPackages(t *testing.T) {
	for k := range baseExports() {
		p := filepath.Dir(k)
		if !Allowed(p) {
			t.Errorf("the jail's tables hold %s, which is not whitelisted", p)
		}
	}
	for _, p := range []string{"os", "os/exec", "net", "syscall", "unsafe", "reflect", "runtime", "github.com/traefik/yaegi/stdlib", "github.com/traefik/yaegi/interp"} {
		if Allowed(p) {
			t.Errorf("%s is whitelisted", p)
		}
	}
}
