package repl

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/kernel/internal/godoc"
)

// TestDocsUpToDate: the documentation embedded for inspect (docs_gen.json)
// names the same identifiers as the packages' sources, so `?mpc.Save` works
// for every exported name. It fails when an exported API changed without
// `go generate ./kernel/repl`; doc comment edits alone do not fail it.
func TestDocsUpToDate(t *testing.T) {
	var embedded map[string]godoc.Entries
	if err := json.Unmarshal(embeddedDocs, &embedded); err != nil {
		t.Fatal(err)
	}
	if len(embedded) == 0 {
		t.Fatal("docs_gen.json holds no package")
	}
	const module = "github.com/gomplab/gomplab/"
	for path, have := range embedded {
		dir := filepath.Join("..", "..", filepath.FromSlash(strings.TrimPrefix(path, module)))
		want, err := godoc.Dir(dir, path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var missing, stale []string
		for k := range want {
			if _, ok := have[k]; !ok {
				missing = append(missing, k)
			}
		}
		for k := range have {
			if _, ok := want[k]; !ok {
				stale = append(stale, k)
			}
		}
		slices.Sort(missing)
		slices.Sort(stale)
		if len(missing)+len(stale) > 0 {
			t.Errorf("%s: docs_gen.json lacks %v and still has %v; run go generate ./kernel/repl", path, missing, stale)
		}
	}
}
