package symbols

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/traefik/yaegi/extract"
)

// TestSymbolsUpToDate regenerates every table in memory with yaegi's
// extractor (what `go generate` runs) and compares it with the committed
// file, so an exported API change without `go generate` fails CI.
func TestSymbolsUpToDate(t *testing.T) {
	// The yaegi binary's module says go 1.21, so it type-checks with
	// aliases resolved to their targets (gotypesalias=0); match it.
	t.Setenv("GODEBUG", "gotypesalias=0")
	checkGenerated(t, "symbols", Packages)
}

// checkGenerated compares each package's freshly extracted table with its
// generated file.
func checkGenerated(t *testing.T, dest string, pkgs []string) {
	t.Helper()
	r := strings.NewReplacer("/", "-", ".", "_", "~", "_")
	for _, p := range pkgs {
		var buf bytes.Buffer
		ext := extract.Extractor{Dest: dest}
		if _, err := ext.Extract(p, dest, &buf); err != nil {
			t.Fatalf("extract %s: %v", p, err)
		}
		file := r.Replace(p) + ".go"
		have, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%s: %v (run go generate)", file, err)
		}
		if !bytes.Equal(have, buf.Bytes()) {
			t.Errorf("%s is out of date with %s's exported API: run `go generate ./sandbox/symbols`", file, p)
		}
	}
}

func TestSymbolsLoad(t *testing.T) {
	for _, p := range Packages {
		name := p[strings.LastIndex(p, "/")+1:]
		if len(Symbols[p+"/"+name]) == 0 {
			t.Errorf("no symbols for %s", p)
		}
	}
}
