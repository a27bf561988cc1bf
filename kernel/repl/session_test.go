package repl

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func newTestSession(t *testing.T) (*Session, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errb bytes.Buffer
	s, err := New(Options{Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	return s, &out, &errb
}

func resultText(t *testing.T, res Result) string {
	t.Helper()
	b, ok, err := Bundle(res)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	return b["text/plain"].(string)
}

func TestExecuteCells(t *testing.T) {
	s, out, _ := newTestSession(t)
	cases := []struct {
		code, want, stdout string
	}{
		{"1+1", "2", ""},
		{"import \"fmt\"\nx := 40\nfmt.Println(\"hi\")\nx + 2", "42", "hi\n"},
		{"import \"fmt\"\nfunc f(a int) int { return a * 2 }\nfmt.Println(f(x))", "", "80\n"},
		{"func f(a int) int { return a * 3 }\nf(x)", "120", ""},
		{"x := 1\nx", "1", ""},
		{"import \"strconv\"\nstrconv.Atoi(\"12\")", "12", ""},
		{"import \"errors\"\nerrors.New(\"bad\")", "bad", ""},
		{"var y int\n_ = y", "", ""},
		{"import \"gomplab/display\"\ndisplay.HTML(\"<b>x</b>\")", "<b>x</b>", ""},
		{"nil", "", ""},
		{"println(\"p\")", "", "p\n"},
	}
	for _, c := range cases {
		out.Reset()
		res, cerr := s.Execute(context.Background(), c.code)
		if cerr != nil {
			t.Fatalf("%q: %v %q", c.code, cerr, cerr.Traceback)
		}
		if got := resultText(t, res); got != c.want {
			t.Errorf("%q: result %q, want %q", c.code, got, c.want)
		}
		if out.String() != c.stdout {
			t.Errorf("%q: stdout %q, want %q", c.code, out.String(), c.stdout)
		}
	}
}

func TestExecuteErrors(t *testing.T) {
	s, _, errb := newTestSession(t)
	cases := []struct {
		code, ename, inTrace string
	}{
		{"func boom() {\n\tpanic(\"boom\")\n}\nboom()", "panic", "cell line 2"},
		{"x := 1\ny := undefinedThing + x", "CompileError", "cell line 2"},
		{"import \"no/such/pkg\"", "ImportError", "no/such/pkg"},
		{"var a []int\na[3] = 1", "panic", "index out of range"},
	}
	for _, c := range cases {
		_, cerr := s.Execute(context.Background(), c.code)
		if cerr == nil {
			t.Fatalf("%q: no error", c.code)
		}
		if cerr.Ename != c.ename {
			t.Errorf("%q: ename %q, want %q (%v)", c.code, cerr.Ename, c.ename, cerr)
		}
		if tb := strings.Join(cerr.Traceback, "\n") + cerr.Evalue; !strings.Contains(tb, c.inTrace) {
			t.Errorf("%q: traceback %q lacks %q", c.code, tb, c.inTrace)
		}
	}
	if strings.Contains(errb.String(), "panic:") {
		t.Errorf("yaegi frame lines leaked to stderr: %q", errb.String())
	}
	// The session survives.
	res, cerr := s.Execute(context.Background(), "2*21")
	if cerr != nil || resultText(t, res) != "42" {
		t.Fatalf("after errors: %v %v", res, cerr)
	}
}

func TestTypeRedefinitionWarns(t *testing.T) {
	s, _, errb := newTestSession(t)
	for _, code := range []string{"type T struct{ A int }", "type T struct{ A int }"} {
		if _, cerr := s.Execute(context.Background(), code); cerr != nil {
			t.Fatal(cerr)
		}
	}
	if errb.Len() != 0 {
		t.Fatalf("identical redefinition warned: %q", errb.String())
	}
	_, _ = s.Execute(context.Background(), "type T struct{ B int }")
	if !strings.Contains(errb.String(), "type T changed") {
		t.Fatalf("no warning: %q", errb.String())
	}
}

func TestCompleteAndInspect(t *testing.T) {
	s, _, _ := newTestSession(t)
	if _, cerr := s.Execute(context.Background(), "import \"fmt\"\nimport \"github.com/gomplab/gomplab/tensor\"\nmyVar := tensor.Zeros(2, 3)\n"+
		"// twice doubles.\nfunc twice(x int) int {\n\treturn 2 * x\n}"); cerr != nil {
		t.Fatal(cerr)
	}
	cases := []struct {
		code  string
		want  []string
		start int
	}{
		{"fmt.Print", []string{"Print", "Printf", "Println"}, 4},
		{"myV", []string{"myVar"}, 0},
		{"x := myVar.Resh", []string{"Reshape"}, 11},
		{"import \"encoding/js", []string{"encoding/json"}, 8},
		// Before the package is imported.
		{"strings.ToUp", []string{"ToUpper", "ToUpperSpecial"}, 8},
		{"syft.Wor", []string{"Worker"}, 5},
		{"tensor.Ey", []string{"Eye"}, 7},
		// No internal names: yaegi's interface wrappers, the kernel's helpers.
		{"syft._", nil, 5},
		{"gomplab", nil, 0},
	}
	for _, c := range cases {
		m, start, end := s.Complete(c.code, len(c.code))
		if strings.Join(m, ",") != strings.Join(c.want, ",") || start != c.start || end != len(c.code) {
			t.Errorf("complete %q = %v [%d,%d], want %v [%d,%d]", c.code, m, start, end, c.want, c.start, len(c.code))
		}
	}
	if m, _, _ := s.Complete("syft.", 5); len(m) < 10 || strings.HasPrefix(strings.Join(m, ","), "_") {
		t.Errorf("syft. completes %v", m)
	}
	for _, c := range []struct {
		code    string
		cursor  int // -1: the end
		detail  int
		want    string
		wantNot string
	}{
		{"fmt.Println", -1, 0, "Println formats", ""},
		{"tensor.Zeros", -1, 0, "func Zeros", ""},
		{"myVar", -1, 0, "*tensor.Tensor", ""},
		{"strings.Fields", -1, 0, "func Fields", ""},
		{"syft.Send", -1, 0, "func Send", ""},
		// Inside a call's parentheses: the function called.
		{"tensor.MatMul(", -1, 0, "func MatMul", ""},
		{"y := tensor.MatMul(myVar, ", -1, 0, "func MatMul", ""},
		{"fmt.Sprintf(\"%d\", 3)", 14, 0, "func Sprintf", ""},
		// On an argument, the argument.
		{"tensor.MatMul(myVar, myVar)", 16, 0, "*tensor.Tensor", ""},
		// Methods: of a type, of a value; a function mistaken for a method.
		{"tensor.Tensor.Reshape", -1, 0, "func (t *Tensor) Reshape", ""},
		{"myVar.Reshape", -1, 0, "Reshape", ""},
		{"tensor.Tensor.Softmax", -1, 0, "Tensor has no method Softmax; tensor.Softmax is a function", ""},
		// detail_level: 0 is short, 1 has the whole doc and the source.
		{"tensor.Tensor", -1, 0, "(more: ??name", "Methods:"},
		{"tensor.Tensor", -1, 1, "Methods:", "(more:"},
		{"strings.Fields", -1, 1, "func Fields(s string) []string {", ""},
		{"twice", -1, 0, "func twice(x int) int", "return"},
		{"twice", -1, 1, "return 2 * x", ""},
	} {
		cursor := c.cursor
		if cursor < 0 {
			cursor = len(c.code)
		}
		data, found := s.Inspect(c.code, cursor, c.detail)
		text, _ := data["text/plain"].(string)
		if !found || !strings.Contains(text, c.want) || c.wantNot != "" && strings.Contains(text, c.wantNot) {
			t.Errorf("inspect %q at %d (detail %d) = %v %q, want %q without %q", c.code, cursor, c.detail, found, text, c.want, c.wantNot)
		}
	}
	for _, code := range []string{"nothingHere", "syft._Worker", "gomplabCapture__"} {
		if _, found := s.Inspect(code, len(code), 0); found {
			t.Errorf("inspect of %q found something", code)
		}
	}
}

func TestBlocksWithMultiValueDefine(t *testing.T) {
	s, out, _ := newTestSession(t)
	code := "func f(i int) (int, error) { return i * 10, nil }\ntotal := 0\nfor i := 0; i < 3; i++ {\n\ta, err := f(i)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\ttotal += a\n}\nif true {\n\tb, _ := f(5)\n\tprintln(b)\n}\ntotal"
	res, cerr := s.Execute(context.Background(), code)
	if cerr != nil {
		t.Fatalf("%v %q", cerr, cerr.Traceback)
	}
	if got := resultText(t, res); got != "30" || out.String() != "50\n" {
		t.Fatalf("result %q stdout %q", got, out.String())
	}
	// A block with a return runs as written (and the cell stops there).
	if got := splitBlocks(Chunk{Kind: StmtChunk, Src: "x := 1\nif x > 0 {\n\treturn\n}", Line: 1}); len(got) != 1 {
		t.Fatalf("split a returning block: %+v", got)
	}
	got := splitBlocks(Chunk{Kind: StmtChunk, Src: "x := 1\nfor {\n}\ny := 2", Line: 3})
	if len(got) != 3 || got[1].Kind != DeclChunk || got[1].Line != 4 || got[2].Line != 6 || got[2].Src != "y := 2" {
		t.Fatalf("splitBlocks = %+v", got)
	}
}

func TestStdioInCells(t *testing.T) {
	var out, errb bytes.Buffer
	s, err := New(Options{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("gopher\n")})
	if err != nil {
		t.Fatal(err)
	}
	code := "import (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n)\nfmt.Fprintln(os.Stdout, \"out\")\nfmt.Fprintln(os.Stderr, \"err\")\nline, _ := bufio.NewReader(os.Stdin).ReadString('\\n')\nline"
	res, cerr := s.Execute(context.Background(), code)
	if cerr != nil {
		t.Fatalf("%v %q", cerr, cerr.Traceback)
	}
	if out.String() != "out\n" || errb.String() != "err\n" || resultText(t, res) != "gopher\n" {
		t.Fatalf("stdout %q stderr %q result %q", out.String(), errb.String(), resultText(t, res))
	}
}
