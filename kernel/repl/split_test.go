package repl

import (
	"fmt"
	"strings"
	"testing"
)

func TestSplitCell(t *testing.T) {
	cases := []struct {
		src  string
		want string // kind@line:src per chunk, joined by " | "
	}{
		{"1+1", "stmt@1:1+1"},
		{"import \"fmt\"\nfmt.Println(1)", "import@1:import \"fmt\" | stmt@2:fmt.Println(1)"},
		{"x := 1\nfunc f() int {\n\treturn x\n}\nf()", "stmt@1:x := 1 | decl@2:func f() int {\n\treturn x\n} | stmt@5:f()"},
		{"type T struct{}\nfunc (T) M() {}\nvar v T", "decl@1:type T struct{}\nfunc (T) M() {}\nvar v T"},
		{"func() { println(1) }()", "stmt@1:func() { println(1) }()"},
		{"func(a int) (int, error) { return a, nil }(1)", "stmt@1:func(a int) (int, error) { return a, nil }(1)"},
		{"// comment\nimport (\n\t\"a\"\n\t\"b\"\n)\n\n// c2\ny := 2", "import@2:import (\n\t\"a\"\n\t\"b\"\n) | stmt@8:y := 2"},
		{"a := 1; b := 2", "stmt@1:a := 1; b := 2"},
		{"s := `multi\nline`\nconst c = 1", "stmt@1:s := `multi\nline` | decl@3:const c = 1"},
		{"", ""},
	}
	for _, c := range cases {
		chunks, _ := SplitCell(c.src)
		var parts []string
		for _, ch := range chunks {
			parts = append(parts, fmt.Sprintf("%s@%d:%s", ch.Kind, ch.Line, ch.Src))
			if ch.Src != c.src[ch.Offset:ch.Offset+len(ch.Src)] {
				t.Errorf("%q: chunk offset %d does not locate %q", c.src, ch.Offset, ch.Src)
			}
			if got := strings.Count(ch.Padded(), "\n") - strings.Count(ch.Src, "\n"); got != ch.Line-1 {
				t.Errorf("%q: padding %d lines for line %d", c.src, got, ch.Line)
			}
		}
		if got := strings.Join(parts, " | "); got != c.want {
			t.Errorf("SplitCell(%q)\n got %q\nwant %q", c.src, got, c.want)
		}
	}
}

func TestIsComplete(t *testing.T) {
	cases := map[string]string{
		"":                               "complete",
		"1+1":                            "complete",
		"import \"fmt\"\nfmt.Println(1)": "complete",
		"func f() int {\n\treturn 1\n}":  "complete",
		"x := 1\nfunc g() {}\ng()":       "complete",
		"func f() {":                     "incomplete",
		"for i := 0; i < 3; i++ {":       "incomplete",
		"x := []int{1,":                  "incomplete",
		"s := `raw":                      "incomplete",
		"y := 1 +":                       "incomplete",
		"x := )":                         "invalid",
		"func f() { }}":                  "invalid",
		"1 + + ]":                        "invalid",
		"x := 'ab'":                      "invalid",
		// A syntax error comes before the open bracket: invalid.
		"func {":                             "invalid",
		"x := ) + foo(":                      "invalid",
		"if x := 1; x > {\n":                 "invalid",
		"m := map[string]int{\n\t\"a\": 1\n": "incomplete",
		"foo(a,\n":                           "incomplete",
		"type T struct {\n\tA int\n":         "incomplete",
	}
	for code, want := range cases {
		if got := IsComplete(code); got.Status != want {
			t.Errorf("IsComplete(%q) = %q, want %q", code, got.Status, want)
		}
	}
	if got := IsComplete("if true {\n\tfor {"); got.Indent != "\t\t" {
		t.Errorf("indent = %q, want two tabs", got.Indent)
	}
}

func TestCaptureLast(t *testing.T) {
	cases := []struct{ src, want string }{
		{"1+1", captureFunc + "(1+1)"},
		{"x := 1\nx * 2", "x := 1\n" + captureFunc + "(x * 2)"},
		{"fmt.Println(1)", ""},
		{"x := 1", ""},
		{"nil", ""},
		{"f(a,\n b)", captureFunc + "(f(a,\n b))"},
	}
	for _, c := range cases {
		got, ok := captureLast(c.src)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("captureLast(%q) = %q, want %q", c.src, got, c.want)
		}
	}
}

func FuzzSplitCell(f *testing.F) {
	for _, s := range []string{"1+1", "import \"fmt\"\nfmt.Println(1)", "func f() {", "x := `a\nb`", "}}}((("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		chunks, _ := SplitCell(src)
		prev := 0
		for _, c := range chunks {
			if c.Offset < prev || c.Offset+len(c.Src) > len(src) || src[c.Offset:c.Offset+len(c.Src)] != c.Src {
				t.Fatalf("chunk %+v out of place in %q", c, src)
			}
			prev = c.Offset + len(c.Src)
		}
		_ = IsComplete(src)
	})
}
