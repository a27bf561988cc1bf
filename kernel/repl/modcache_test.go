package repl

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestThirdPartyPackages imports packages that have no symbol table from
// a module cache (a fixture one): the newest version of each module, its
// internal packages and its dependencies, paths with upper-case letters.
// A package that is not in the cache, or that needs unsafe, fails with a
// message saying what to do.
func TestThirdPartyPackages(t *testing.T) {
	cache, err := filepath.Abs(filepath.Join("testdata", "modcache"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{ModuleCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	res, cerr := s.Execute(context.Background(), "import \"example.com/greet\"\ngreet.Hello(\"gopher\")")
	if cerr != nil {
		t.Fatalf("%v %q", cerr, cerr.Traceback)
	}
	if got := resultText(t, res); got != "HELLO, GOPHER!" {
		t.Errorf("greet.Hello = %q", got)
	}
	for _, c := range []struct{ code, want string }{
		{"import \"example.com/nothere/pkg\"", "is not in the Go module cache (" + cache + "): download it with `go mod download example.com/nothere/pkg@latest`"},
		{"import \"example.com/fast\"", "imports \"unsafe\", which the kernel cannot interpret"},
		{"import \"no/such/std\"", "is not available in the gomplab kernel"},
	} {
		_, cerr := s.Execute(context.Background(), c.code)
		if cerr == nil || cerr.Ename != "ImportError" || !strings.Contains(cerr.Evalue, c.want) {
			t.Errorf("%s: %v, want ImportError with %q", c.code, cerr, c.want)
		}
	}
	mods := moduleCache{dir: cache}.Modules(100)
	if got := strings.Join(mods, " "); got != "example.com/Shout example.com/fast example.com/greet" {
		t.Errorf("modules = %q", got)
	}
}

func TestSemverLess(t *testing.T) {
	ordered := []string{"bad", "v0.0.0-20200101000000-abcdef", "v0.1.0", "v1.2.0-rc.1", "v1.2.0", "v1.10.0", "v2.0.0+incompatible"}
	for i := range ordered {
		for j := range ordered {
			if got := semverLess(ordered[i], ordered[j]); got != (i < j) {
				t.Errorf("semverLess(%s, %s) = %v", ordered[i], ordered[j], got)
			}
		}
	}
}
