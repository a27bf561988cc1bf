package repl

import (
	"context"
	"strings"
	"testing"
)

// TestRuntimeErrors: a panic names the failing cell line of every frame
// (top-level statement, functions of this cell and of earlier ones,
// methods, blocks, function literals) and says what Go would say.
func TestRuntimeErrors(t *testing.T) {
	s, _, _ := newTestSession(t)
	earlier := "import \"github.com/gomplab/gomplab/tensor\"\n" +
		"func g() {\n\tvar z []int\n\tz[1] = 2\n}\n" +
		"func h() {\n\tx := 1\n\t_ = x\n\tg()\n}"
	if _, cerr := s.Execute(context.Background(), earlier); cerr != nil {
		t.Fatal(cerr)
	}
	cases := []struct {
		code, evalue string
		frames       []string // in order, innermost first
	}{
		{"x := []int{1, 2}\ni := 5\nx[i]", "runtime error: index out of range [5] with length 2",
			[]string{"in the cell, cell line 3"}},
		{"a := [2]int{}\nj := 2\na[j] = 1", "runtime error: index out of range [2] with length 2",
			[]string{"in the cell, cell line 3"}},
		{"q := []int{1}\nn := 3\nq[1:n]", "runtime error: slice bounds out of range", []string{"cell line 3"}},
		{"type T struct{ A int }\nfunc (t *T) Get() int {\n\tb := 2\n\treturn t.A + b\n}\nvar tp *T\ntp.Get()",
			"runtime error: invalid memory address or nil pointer dereference",
			[]string{"in Get, cell line 4", "in the cell, cell line 7"}},
		{"var e any = \"s\"\ne.(int)", "interface conversion: interface {} is string, not int", []string{"cell line 2"}},
		{"zero := 0\n\n5 % zero", "runtime error: integer divide by zero", []string{"cell line 3"}},
		{"h()", "runtime error: index out of range",
			[]string{"in g, line 4 of the cell that declared it", "in h, line 9 of the cell that declared it", "in the cell, cell line 1"}},
		{"func explode(n int) {\n\tif n > 0 {\n\t\tpanic(\"too big\")\n\t}\n\tpanic(\"other\")\n}\nexplode(3)", "too big",
			[]string{"in explode, cell line 3", "in the cell, cell line 7"}},
		{"func k() {\n\ta, _ := tensor.New([]float64{1, 2}, 2)\n\tb, _ := tensor.New([]float64{1, 2, 3}, 3)\n\ta.Add(b)\n}\nk()",
			"tensor.Add: shapes [2] and [3]", []string{"in k, cell line 4", "in the cell, cell line 6"}},
		{"for i := 0; i < 3; i++ {\n\tif i == 2 {\n\t\tpanic(\"two\")\n\t}\n}", "two",
			[]string{"in the cell, cell line 3", "in the cell, cell line 1"}},
		{"func() {\n\tvar m map[string]int\n\tm[\"x\"] = 1\n}()", "assignment to entry in nil map",
			[]string{"in a function literal, cell line 3", "in the cell, cell line 1"}},
		// Two candidate lines: the frame names the function's lines rather
		// than guess.
		{"func two(a, b []int) int {\n\tx := a[3]\n\treturn x + b[3]\n}\ntwo([]int{1, 2, 3, 4}, nil)", "runtime error: index out of range",
			[]string{"in two, cell lines 1-4", "in the cell, cell line 5"}},
	}
	for _, c := range cases {
		_, cerr := s.Execute(context.Background(), c.code)
		if cerr == nil {
			t.Errorf("%q: no error", c.code)
			continue
		}
		if cerr.Ename != "panic" || !strings.HasPrefix(cerr.Evalue, c.evalue) {
			t.Errorf("%q: %s: %q, want panic: %q", c.code, cerr.Ename, cerr.Evalue, c.evalue)
		}
		var frames []string
		for _, l := range cerr.Traceback {
			if strings.HasPrefix(l, "  in ") {
				frames = append(frames, l)
			}
		}
		if len(frames) != len(c.frames) {
			t.Errorf("%q: frames %q, want %q", c.code, frames, c.frames)
			continue
		}
		for i, want := range c.frames {
			if !strings.Contains(frames[i], want) {
				t.Errorf("%q: frame %d is %q, want %q", c.code, i, frames[i], want)
			}
		}
	}
}

// panicky is a compiled value whose rendering panics.
type panicky struct{}

func (panicky) HTML() string { panic("broken HTML method") }

// unsendable renders to a bundle that is not JSON.
type unsendable struct{}

func (unsendable) JSON() map[string]any { return map[string]any{"c": make(chan int)} }

// TestRenderNeverCrashes: typed nils render as <nil>; a rendering that
// panics or cannot be encoded is an error, not a crash.
func TestRenderNeverCrashes(t *testing.T) {
	s, _, _ := newTestSession(t)
	res, cerr := s.Execute(context.Background(), "import \"github.com/gomplab/gomplab/tensor\"\nvar t *tensor.Tensor\nt")
	if cerr != nil {
		t.Fatal(cerr)
	}
	if got := resultText(t, res); got != "<nil>" {
		t.Errorf("typed nil shows %q", got)
	}
	for _, v := range []any{panicky{}, unsendable{}} {
		if _, _, err := Bundle(Result{Values: []any{v}, HasValue: true}); err == nil {
			t.Errorf("%T: no error", v)
		}
	}
	if res, cerr := s.Execute(context.Background(), "t"); cerr != nil || resultText(t, res) != "<nil>" {
		t.Errorf("after: %v", cerr)
	}
}
