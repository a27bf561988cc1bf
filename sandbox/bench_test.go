package sandbox

import (
	"context"
	"testing"

	"github.com/traefik/yaegi/interp"
)

// BenchmarkRunEmpty is the fixed cost of a jailed run: a fresh
// interpreter, the imported packages' tables, compiling and calling.
func BenchmarkRunEmpty(b *testing.B) {
	for _, c := range []struct{ name, src string }{
		{"no imports", "package main\nfunc f() error { return nil }"},
		{"mpc and tensor", "package main\nimport (\"github.com/gomplab/gomplab/mpc\"; \"github.com/gomplab/gomplab/tensor\")\nfunc f() error { _ = mpc.Add; _ = tensor.Zeros; return nil }"},
		{"fmt", "package main\nimport \"fmt\"\nfunc f() error { _ = fmt.Sprint; return nil }"},
		{"fmt and slices", "package main\nimport (\"fmt\"; \"slices\")\nfunc f() error { _ = fmt.Sprint(slices.Contains([]int{1}, 1)); return nil }"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Run(context.Background(), Program{Source: c.src, Entry: "f"}, nil, Env{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunLoop is interpreted scalar code: 100k loop iterations of
// two statements each (every statement also records its position).
func BenchmarkRunLoop(b *testing.B) {
	src := "package main\nfunc f() int {\n\ts := 0\n\tfor i := 0; i < 100000; i++ {\n\t\ts += i\n\t\ts ^= 1\n\t}\n\treturn s\n}"
	b.Run("jail", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Run(context.Background(), Program{Source: src, Entry: "f"}, nil, Env{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same code in a bare interpreter: the cost of statement tracking.
	b.Run("bare yaegi", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			it := interp.New(interp.Options{})
			if _, err := it.Eval(src); err != nil {
				b.Fatal(err)
			}
			if _, err := it.Eval("f()"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
