package sandbox

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/nn"
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

// TestJailTypesHideShares reads every type of the jail's gomplab tables
// by reflection, so that a new API cannot reopen a closed route:
//   - no exported method (callable in yaegi whatever the tables say)
//     returns raw words ([]uint64), a communicator, a store, or anything
//     of the provider's or the communicator's packages but requests
//     (kinds and public shapes) and traffic counts;
//   - every struct type holding share words by value prints through a
//     Format method of its own on the value (fmt would print the words of
//     a dereferenced pointer otherwise).
func TestJailTypesHideShares(t *testing.T) {
	forbidden := func(r reflect.Type) string {
		for r.Kind() == reflect.Pointer || r.Kind() == reflect.Slice && r.Elem().Kind() != reflect.Uint64 {
			r = r.Elem()
		}
		switch {
		case r.Kind() == reflect.Slice && r.Elem().Kind() == reflect.Uint64:
			return "raw words"
		case r == reflect.TypeOf((*comm.Comm)(nil)).Elem():
			return "the communicator"
		case r == reflect.TypeOf((*mpc.Store)(nil)).Elem(), r == reflect.TypeOf((*nn.ModelStore)(nil)).Elem():
			return "a store"
		case strings.HasSuffix(r.PkgPath(), "/mpc/provider") && r.Name() != "Request" && r.Name() != "Kind":
			// (Requests name kinds and public shapes only.)
			return "the provider's state"
		case strings.HasSuffix(r.PkgPath(), "/mpc/comm") && r.Name() != "Stats" && r.Name() != "Counts":
			return "the communicator's state"
		}
		return ""
	}
	formatter := reflect.TypeOf((*fmt.Formatter)(nil)).Elem()
	types := 0
	for _, pkg := range []string{TensorPath, MPCPath, NNPath} {
		for name, v := range baseExports()[key(pkg)] {
			if v.Kind() != reflect.Pointer || !v.IsNil() || strings.HasPrefix(name, "_") {
				continue // not a type
			}
			typ := v.Type().Elem()
			types++
			for _, tt := range []reflect.Type{typ, reflect.PointerTo(typ)} {
				if tt.Kind() == reflect.Pointer && typ.Kind() == reflect.Interface {
					continue
				}
				for i := 0; i < tt.NumMethod(); i++ {
					m := tt.Method(i)
					for j := 0; j < m.Type.NumOut(); j++ {
						if why := forbidden(m.Type.Out(j)); why != "" {
							t.Errorf("%s.%s.%s returns %s (%s), and methods are callable in the jail: make it a package function and deny it",
								path.Base(pkg), name, m.Name, m.Type.Out(j), why)
						}
					}
				}
			}
			if typ.Kind() == reflect.Struct && holdsWords(typ, 0) && !typ.Implements(formatter) {
				t.Errorf("%s.%s holds share words but its value has no Format method: %%v of a dereferenced pointer would print them",
					path.Base(pkg), name)
			}
		}
	}
	if types < 20 {
		t.Fatalf("only %d types in the tables", types)
	}
}

// holdsWords reports whether a struct holds []uint64 fields by value
// (directly or in nested struct values; pointers print as addresses).
func holdsWords(typ reflect.Type, depth int) bool {
	if depth > 8 {
		return false
	}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i).Type
		switch {
		case f.Kind() == reflect.Slice && f.Elem().Kind() == reflect.Uint64:
			return true
		case f.Kind() == reflect.Struct && holdsWords(f, depth+1):
			return true
		}
	}
	return false
}
