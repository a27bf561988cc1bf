package sandbox

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
)

func runSrc(t *testing.T, src, entry string, timeout time.Duration, args ...any) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Run(ctx, Program{Source: src, Entry: entry}, args, Env{})
}

func TestRunValues(t *testing.T) {
	cases := []struct {
		name, src string
		args      []any
		want      any
	}{
		{"int", "package main\nfunc f() int { return 42 }", nil, 42},
		{"any error", "package main\nfunc f() (any, error) { return \"hi\", nil }", nil, "hi"},
		{"nothing", "package main\nfunc f() { }", nil, nil},
		{"error only nil", "package main\nfunc f() error { return nil }", nil, nil},
		{"args", "package main\nfunc f(a int, b float64, s string) (any, error) { return float64(a) * b + float64(len(s)), nil }",
			[]any{int64(3), 1.5, "abcd"}, 8.5},
		{"float as int arg", "package main\nfunc f(a int) int { return a * 2 }", []any{4.0}, 8},
		{"variadic", "package main\nfunc f(xs ...int) int { s := 0; for _, x := range xs { s += x }; return s }",
			[]any{int64(1), int64(2), int64(3)}, 6},
		{"slice and map", `package main
func f(xs []int, m map[string]float64) float64 {
	s := 0.0
	for _, x := range xs { s += float64(x) }
	for _, v := range m { s += v }
	return s
}`, []any{[]any{int64(1), int64(2)}, map[string]any{"a": 0.5}}, 3.5},
		{"tensor arg", `package main
import "github.com/gomplab/gomplab/tensor"
func f(x *tensor.Tensor) (*tensor.Tensor, error) { return x.MulScalar(2), nil }`,
			[]any{tensor.FromSlice([]float64{1, 2})}, tensor.FromSlice([]float64{2, 4})},
		{"nil tensor result", `package main
import "github.com/gomplab/gomplab/tensor"
func f() *tensor.Tensor { return nil }`, nil, nil},
		{"package renamed", "package jobs\nfunc f() int { return helper() }\nfunc helper() int { return 7 }", nil, 7},
		{"stdlib", `package main
import ("fmt"; "math"; "strings"; "sort")
func f() string {
	xs := []float64{3, 1, 2}
	sort.Float64s(xs)
	return strings.ToUpper(fmt.Sprintf("%v %.2f", xs, math.Sqrt(2)))
}`, nil, "[1 2 3] 1.41"},
		{"types and closures", `package main
type acc struct{ n int }
func (a *acc) add(k int) { a.n += k }
const base = 10
func f() int {
	a := &acc{n: base}
	inc := func() { a.add(1) }
	for i := 0; i < 5; i++ { inc() }
	switch { case a.n > 12: a.add(100) }
	return a.n
}`, nil, 115},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runSrc(t, c.src, "f", 10*time.Second, c.args...)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if gt, ok := got.(*tensor.Tensor); ok {
				if !tensor.Equal(gt, c.want.(*tensor.Tensor)) {
					t.Fatalf("got %v, want %v", got, c.want)
				}
				return
			}
			if got != c.want {
				t.Fatalf("got %#v (%T), want %#v", got, got, c.want)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	cases := []struct {
		name, src string
		args      []any
		kind      Kind
		line      int
		msg       string
	}{
		{"import os", "package main\n\nimport \"os\"\nfunc f() { os.Exit(1) }", nil, KindForbidden, 3, `import "os" is not allowed`},
		{"import unsafe grouped", "package main\nimport (\n\t\"fmt\"\n\t\"unsafe\"\n)\nfunc f() { fmt.Println(unsafe.Sizeof(1)) }", nil, KindForbidden, 4, `import "unsafe"`},
		{"import net", "package main\nimport \"net\"\nfunc f() { net.Dial(\"tcp\", \"x\") }", nil, KindForbidden, 2, "network"},
		{"import reflect", "package main\nimport \"reflect\"\nfunc f() { reflect.ValueOf(1) }", nil, KindForbidden, 2, "reflect"},
		{"import syscall", "package main\nimport \"syscall\"\nfunc f() { syscall.Getpid() }", nil, KindForbidden, 2, "syscall"},
		{"import exec", "package main\nimport \"os/exec\"\nfunc f() { exec.Command(\"sh\") }", nil, KindForbidden, 2, "processes"},
		{"import relative", "package main\nimport \"./evil\"\nfunc f() { evil.X() }", nil, KindForbidden, 2, "not allowed"},
		{"go statement", "package main\nfunc f() {\n\tgo func() {}()\n}", nil, KindForbidden, 3, "goroutines"},
		{"syntax", "package main\nfunc f() {\n\tx := \n}", nil, KindCompile, 4, ""},
		{"undefined", "package main\nfunc f() int {\n\treturn y\n}", nil, KindCompile, 3, "undefined: y"},
		{"denied symbol", "package main\nimport \"github.com/gomplab/gomplab/tensor\"\nfunc f() {\n\ttensor.LoadNPY(\"/etc/passwd\")\n}", nil, KindCompile, 4, "LoadNPY"},
		{"no entry", "package main\nfunc g() {}", nil, KindCompile, 0, "entry function f not found"},
		{"bad results", "package main\nfunc f() (int, int) { return 1, 2 }", nil, KindCompile, 2, "must return"},
		{"panic", "package main\nfunc f() {\n\tx := 1\n\t_ = x\n\tpanic(\"boom\")\n}", nil, KindPanic, 5, "boom"},
		{"index in helper", "package main\nfunc h(n int) int {\n\tvar xs []int\n\treturn xs[n]\n}\nfunc f() int {\n\ty := 2\n\treturn h(y)\n}", nil, KindPanic, 4, "index out of range"},
		{"host panic", "package main\nimport \"github.com/gomplab/gomplab/tensor\"\nfunc f() {\n\ta := tensor.Zeros(2)\n\tb := tensor.Zeros(3)\n\t_ = a.Add(b)\n}", nil, KindPanic, 6, "broadcast"},
		{"returned error", "package main\nimport \"errors\"\nfunc f() (any, error) {\n\treturn nil, errors.New(\"nope\")\n}", nil, KindError, 4, "nope"},
		{"arg count", "package main\nfunc f(a int) int { return a }", nil, KindArgs, 0, "takes 1 arguments, got 0"},
		{"arg type", "package main\nfunc f(a int) int { return a }", []any{"x"}, KindArgs, 0, "cannot use string as int"},
		{"arg fraction", "package main\nfunc f(a int) int { return a }", []any{2.5}, KindArgs, 0, "not an integer"},
		{"chan result", "package main\nfunc f() any { return make(chan int) }", nil, KindResult, 0, "cannot be sent back"},
		{"mpc outside job", "package main\nimport \"github.com/gomplab/gomplab/mpc\"\nfunc f() any {\n\treturn mpc.Rank()\n}", nil, KindPanic, 4, "only inside an MPC job"},
		{"loop", "package main\nfunc f() int {\n\tx := 0\n\tfor {\n\t\tx++\n\t}\n}", nil, KindTimeout, 4, "deadline"},
		{"sleep", "package main\nimport \"time\"\nfunc f() {\n\ttime.Sleep(time.Hour)\n}", nil, KindTimeout, 4, "deadline"},
		{"blocked channel", "package main\nfunc f() {\n\tc := make(chan int)\n\t<-c\n}", nil, KindTimeout, 4, "deadline"},
		{"after func removed", "package main\nimport \"time\"\nfunc f() {\n\ttime.AfterFunc(0, func() {})\n}", nil, KindCompile, 4, "AfterFunc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := runSrc(t, c.src, "f", 300*time.Millisecond, c.args...)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Kind != c.kind {
				t.Fatalf("kind %q, want %q (%v)", e.Kind, c.kind, e)
			}
			if c.line != 0 && e.Line != c.line {
				t.Errorf("line %d, want %d (%v)", e.Line, c.line, e)
			}
			if !strings.Contains(e.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", e.Error(), c.msg)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestRunStdout(t *testing.T) {
	var buf bytes.Buffer
	src := "package main\nimport \"fmt\"\nfunc f() { fmt.Println(\"hello\", 1); println(\"raw\") }"
	if _, err := Run(context.Background(), Program{Source: src, Entry: "f"}, nil, Env{Stdout: &buf}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.Contains(got, "hello 1\n") || !strings.Contains(got, "raw") {
		t.Fatalf("stdout %q", got)
	}
}

func TestRunLineDirectives(t *testing.T) {
	src := "package main\nimport \"errors\"\n" + LineDirective("cell[3]", 10) + "func f() {\n\tpanic(errors.New(\"x\"))\n}\n"
	_, err := runSrc(t, src, "f", 5*time.Second)
	var e *Error
	if !errors.As(err, &e) || e.File != "cell[3]" || e.Line != 11 {
		t.Fatalf("err %v: want cell[3]:11", err)
	}
}

// TestRunStdlibBindings: printing reaches the run's output with or without
// the generic packages loaded, String methods are honoured, and generic
// functions of slices work.
func TestRunStdlibBindings(t *testing.T) {
	cases := []struct{ name, src, out string }{
		{"fmt alone", `package main
import "fmt"
type v struct{ n int }
func (x v) String() string { return fmt.Sprintf("v%d", x.n) }
func f() { fmt.Println(v{3}, fmt.Sprint(v{4})) }`, "v3 v4\n"},
		{"fmt and slices", `package main
import ("fmt"; "slices")
func f() { xs := []int{3, 1, 2}; fmt.Println(slices.Contains(xs, 2), slices.Index(xs, 2)) }`, "true 2\n"},
		{"slices without fmt", `package main
import "slices"
func f() { println(slices.Contains([]int{4, 9, 2}, 9)) }`, "true\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := Run(context.Background(), Program{Source: c.src, Entry: "f"}, nil, Env{Stdout: &buf}); err != nil {
				t.Fatal(err)
			}
			if buf.String() != c.out {
				t.Fatalf("printed %q, want %q", buf.String(), c.out)
			}
		})
	}
}
