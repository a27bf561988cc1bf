package pkgsyms

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/traefik/yaegi/extract"
)

// TestSymbolsUpToDate regenerates every table in memory (what `go
// generate` runs) and compares it with the committed file, so an API
// change in tensor, mpc or mpc/nn without regeneration fails CI.
func TestSymbolsUpToDate(t *testing.T) {
	// The yaegi binary type-checks with aliases resolved (gotypesalias=0).
	t.Setenv("GODEBUG", "gotypesalias=0")
	r := strings.NewReplacer("/", "-", ".", "_", "~", "_")
	for _, p := range Packages {
		var buf bytes.Buffer
		ext := extract.Extractor{Dest: "pkgsyms"}
		if _, err := ext.Extract(p, "pkgsyms", &buf); err != nil {
			t.Fatalf("extract %s: %v", p, err)
		}
		file := r.Replace(p) + ".go"
		have, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./sandbox/internal/pkgsyms)", file, err)
		}
		if !bytes.Equal(have, buf.Bytes()) {
			t.Errorf("%s is out of date with %s's exported API: run `go generate ./sandbox/internal/pkgsyms`", file, p)
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
