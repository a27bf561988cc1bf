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
