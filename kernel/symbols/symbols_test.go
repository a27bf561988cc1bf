package symbols

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/sandbox"
	"github.com/traefik/yaegi/extract"
)

// TestSymbolsUpToDate regenerates this package's tables in memory with
// yaegi's extractor (what `go generate` runs) and compares them with the
// committed files, so an exported API change without `go generate` fails
// CI. The shared tables are checked by pkgsyms' own test.
func TestSymbolsUpToDate(t *testing.T) {
	// The yaegi binary's module says go 1.21, so it type-checks with
	// aliases resolved to their targets (gotypesalias=0); match it.
	t.Setenv("GODEBUG", "gotypesalias=0")
	r := strings.NewReplacer("/", "-", ".", "_", "~", "_")
	for _, p := range Generated {
		var buf bytes.Buffer
		ext := extract.Extractor{Dest: "symbols"}
		if _, err := ext.Extract(p, "symbols", &buf); err != nil {
			t.Fatalf("extract %s: %v", p, err)
		}
		file := r.Replace(p) + ".go"
		have, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./kernel/symbols)", file, err)
		}
		if !bytes.Equal(have, buf.Bytes()) {
			t.Errorf("%s is out of date with %s's exported API: run `go generate ./kernel/symbols`", file, p)
		}
	}
}

// TestOneCopy: every package has exactly one generated table. The
// shared ones are pkgsyms' maps themselves (not copies), no file here
// generates them again, and the notebook-only ones are not in the jail.
func TestOneCopy(t *testing.T) {
	r := strings.NewReplacer("/", "-", ".", "_", "~", "_")
	jail := sandbox.GomplabSymbols()
	for _, p := range sandbox.GomplabPackages() {
		k := key(p)
		if reflect.ValueOf(Symbols[k]).Pointer() != reflect.ValueOf(jail[k]).Pointer() {
			t.Errorf("%s: the kernel's table is not the jail's", p)
		}
		if _, err := os.Stat(r.Replace(p) + ".go"); err == nil {
			t.Errorf("%s is generated here too: remove it (pkgsyms holds it)", r.Replace(p)+".go")
		}
	}
	for _, p := range Generated {
		if _, ok := jail[key(p)]; ok {
			t.Errorf("%s is generated both here and in pkgsyms", p)
		}
	}
}

func TestSymbolsLoad(t *testing.T) {
	for _, p := range Packages {
		if len(Symbols[key(p)]) == 0 {
			t.Errorf("no symbols for %s", p)
		}
	}
}

func key(p string) string { return p + "/" + p[strings.LastIndex(p, "/")+1:] }
