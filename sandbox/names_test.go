package sandbox

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
	"time"
)

// injectFile is the attack a Program.File used to carry: a newline ends
// the //line directive the jail writes before the source, the lines after
// it declare an init the checker never saw, which starts a goroutine, and
// the trailing "/*" comments out the real package clause up to the "*/"
// hidden in the source's own comment. Before names were checked, Run
// returned 42: the go statement ran.
const injectFile = "x\npackage main\nimport gomplabjob__ \"gomplab/job\"\nvar hit int\nfunc init() { go func() {}(); hit = 42 }\n/*"

const injectSource = "package main\n//*/\nfunc f() int { return hit }\n"

func TestProgramNames(t *testing.T) {
	ok := "package main\nfunc f() int { return 1 }\n"
	cases := []struct {
		name    string
		p       Program
		wantErr string // "" accepts
	}{
		{"plain", Program{Source: ok, Entry: "f"}, ""},
		{"file name", Program{Source: ok, Entry: "f", File: "notebooks/02 demo (copy)/cell[3]"}, ""},
		{"unicode file and entry", Program{Source: "package main\nfunc größe() int { return 1 }\n", Entry: "größe", File: "données"}, ""},
		{"newline injection", Program{Source: injectSource, Entry: "f", File: injectFile}, `program file name "x\npackage main`},
		{"carriage return", Program{Source: ok, Entry: "f", File: "a\rb"}, `character '\r' is not allowed`},
		{"comment end", Program{Source: ok, Entry: "f", File: "a*/b"}, `character '*' is not allowed`},
		{"quote", Program{Source: ok, Entry: "f", File: `a"b`}, `character '"' is not allowed`},
		{"backtick", Program{Source: ok, Entry: "f", File: "a`b"}, "character '`' is not allowed"},
		{"colon", Program{Source: ok, Entry: "f", File: "a:3"}, `character ':' is not allowed`},
		{"nul", Program{Source: ok, Entry: "f", File: "a\x00b"}, `character '\x00' is not allowed`},
		{"invalid utf-8", Program{Source: ok, Entry: "f", File: "a\xffb"}, "not valid UTF-8"},
		{"long file", Program{Source: ok, Entry: "f", File: strings.Repeat("a", MaxFileName+1)}, "256 bytes, more than 255"},
		{"no entry", Program{Source: ok}, "no entry function named"},
		{"entry with a call", Program{Source: ok, Entry: "f()"}, `entry "f()" is not a Go identifier`},
		{"entry with a newline", Program{Source: ok, Entry: "f\nfunc g() {}"}, `entry "f\nfunc g() {}" is not a Go identifier`},
		{"entry keyword", Program{Source: ok, Entry: "func"}, "is not a Go identifier"},
		{"long entry", Program{Source: ok, Entry: strings.Repeat("f", MaxEntryName+1)}, "is not a Go identifier of at most 128 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := map[string]error{"Check": Check(c.p)}
			_, errs["prepare"] = prepare(c.p)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, errs["Run"] = Run(ctx, c.p, nil, Env{})
			for what, err := range errs {
				if c.wantErr == "" {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					continue
				}
				if err == nil || KindOf(err) != KindCompile || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("%s: error %v, want a compile error containing %q", what, err, c.wantErr)
				}
			}
		})
	}
}

// TestVerifyGenerated: even if a name slipped through, the check of the
// generated source refuses what the injection of injectFile produces.
func TestVerifyGenerated(t *testing.T) {
	p := Program{Source: injectSource, Entry: "f"}
	pr, err := prepare(p)
	if err != nil {
		t.Fatal(err)
	}
	// What prepare wrote with the injected file name.
	injected := strings.Replace(pr.src, "//line job.go:1\n", "//line "+injectFile+"/job.go:1\n", 1)
	if err := verifyGenerated(injected, 1); err == nil || KindOf(err) != KindForbidden {
		t.Fatalf("the injected program passed: %v\n%s", err, injected)
	}
	if err := verifyGenerated(pr.src, 1); err != nil {
		t.Fatalf("the honest program failed: %v", err)
	}
}

func TestLineDirectiveSanitizes(t *testing.T) {
	for _, file := range []string{"cell[3]", injectFile, "a*/b`c\"d", strings.Repeat("é", 300)} {
		d := LineDirective(file, 7)
		if strings.Count(d, "\n") != 1 || !strings.HasSuffix(d, "/job.go:7\n") || strings.ContainsAny(d[:len(d)-1], "\r*`\"") {
			t.Errorf("LineDirective(%q) = %q", file, d)
		}
		if len(d) > MaxFileName+len("//line /job.go:7\n") {
			t.Errorf("LineDirective of %d bytes", len(d))
		}
	}
	if d := LineDirective("cell[3]", 2); d != "//line cell[3]/job.go:2\n" {
		t.Errorf("a plain name changed: %q", d)
	}
}

// FuzzPrepare: whatever the source, entry and file name, a program the
// jail accepts parses as the interpreter will see it, imports only allowed
// packages and the job runtime, starts no goroutine, and declares, in
// order, the user's declarations (same kinds and names) between the
// runtime's import and the jail's two trailing declarations.
func FuzzPrepare(f *testing.F) {
	f.Add("package main\nfunc f() int { return 1 }", "f", "")
	f.Add(injectSource, "f", injectFile)
	f.Add("package p\nimport \"fmt\"\ntype T struct{ a int `x:\"1\"`; b [2]int }\nfunc f(t T, xs ...float64) (any, error) { fmt.Println(t); return nil, nil }", "f", "cell[1]")
	f.Add("package main\n//line other/job.go:9\nfunc f(x struct{ A int /* c */ }) {}\n", "f", "a b")
	f.Add("package main\nfunc f(x [len(\"*/\")]int) error { return nil }", "f", "x")
	f.Fuzz(func(t *testing.T, src, entry, file string) {
		p := Program{Source: src, Entry: entry, File: file}
		pr, err := prepare(p)
		if err != nil {
			return
		}
		if err := Check(p); err != nil {
			t.Fatalf("prepare accepted what Check refuses: %v", err)
		}
		fset := token.NewFileSet()
		gen, err := parser.ParseFile(fset, "gen.go", pr.src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("accepted program does not parse: %v\n%s", err, pr.src)
		}
		runtime := 0
		for _, im := range gen.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if path == jobPkgPath {
				runtime++
			} else if !Allowed(path) {
				t.Fatalf("accepted program imports %q", path)
			}
		}
		if runtime != 1 {
			t.Fatalf("accepted program imports the runtime %d times", runtime)
		}
		ast.Inspect(gen, func(n ast.Node) bool {
			if _, ok := n.(*ast.GoStmt); ok {
				t.Fatalf("accepted program has a go statement:\n%s", pr.src)
			}
			return true
		})
		user, err := parser.ParseFile(token.NewFileSet(), "user.go", src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("accepted source does not parse alone: %v", err)
		}
		if len(gen.Decls) != len(user.Decls)+3 {
			t.Fatalf("%d declarations for the user's %d", len(gen.Decls), len(user.Decls))
		}
		for i, d := range user.Decls {
			if declName(gen.Decls[i+1]) != declName(d) {
				t.Fatalf("declaration %d is %s, the user's is %s", i, declName(gen.Decls[i+1]), declName(d))
			}
		}
		if declName(gen.Decls[len(gen.Decls)-1]) != "func "+entryWrap {
			t.Fatalf("the last declaration is %s", declName(gen.Decls[len(gen.Decls)-1]))
		}
	})
}

// declName names a declaration by kind and, for functions, name.
func declName(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil {
			return "method " + d.Name.Name
		}
		return "func " + d.Name.Name
	case *ast.GenDecl:
		return d.Tok.String()
	}
	return "bad"
}

// TestErrorMessagesCapped: a job's own error text, panic value or
// misplaced //line file name reaches its worker cut to MaxErrorMsg and
// MaxFileName bytes.
func TestErrorMessagesCapped(t *testing.T) {
	long := strings.Repeat("é", 5000)
	for _, src := range []string{
		"package main\nimport (\"errors\"; \"strings\")\nfunc f() error { return errors.New(strings.Repeat(\"é\", 5000)) }",
		"package main\nimport \"strings\"\nfunc f() { panic(strings.Repeat(\"é\", 5000)) }",
		"package main\n//line " + long + "/job.go:1\nfunc f() { var m map[int]int; m[1] = 1 }",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := Run(ctx, Program{Source: src, Entry: "f"}, nil, Env{})
		cancel()
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("error %v", err)
		}
		if len(e.Msg) > MaxErrorMsg || len(e.File) > MaxFileName || len(e.Error()) > MaxErrorMsg+MaxFileName+100 {
			t.Errorf("error of %d bytes (message %d, file %d)", len(e.Error()), len(e.Msg), len(e.File))
		}
	}
}
