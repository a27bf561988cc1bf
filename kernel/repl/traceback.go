package repl

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/traefik/yaegi/interp"
)

// A panic in interpreted code reaches the kernel as yaegi's interp.Panic
// plus one line per interpreted frame that yaegi prints while the panic
// unwinds ("3:2: panic: main.g(...)"). Two things in them need repair:
//
//   - yaegi's message is often its own, not Go's: an index out of range
//     is "reflect: slice index out of range", a nil pointer "reflect: call
//     of reflect.Value.Field on zero Value". goMessage translates them.
//   - each frame names the first statement of its function, not the one
//     that failed (yaegi v0.16.1 loses the current statement in runCfg).
//     Top-level statements run in evaluations of their own, so their line
//     is exact; in functions, the failing statement is found from what
//     failed (an index, a division, a call of the next frame's function, a
//     call of the compiled function that panicked). When that is not one
//     line, the frame names the function's lines instead of a wrong one.

// reflectMessages maps yaegi's (reflect's) panic messages to Go's.
var reflectMessages = []struct {
	prefix, goMsg string
	kind          failKind
}{
	{"reflect: slice index out of range", "runtime error: index out of range", failIndex},
	{"reflect: array index out of range", "runtime error: index out of range", failIndex},
	{"reflect: string index out of range", "runtime error: index out of range", failIndex},
	{"reflect.Value.Slice: slice index out of bounds", "runtime error: slice bounds out of range", failSlice},
	{"reflect.Value.Slice3: slice index out of bounds", "runtime error: slice bounds out of range", failSlice},
	{"reflect: call of reflect.Value.", "runtime error: invalid memory address or nil pointer dereference", failNil},
	{"reflect: Method on nil interface value", "runtime error: invalid memory address or nil pointer dereference", failNil},
	{"reflect: indirection through nil pointer", "runtime error: invalid memory address or nil pointer dereference", failNil},
	{"reflect.Value.Call: call of nil function", "runtime error: invalid memory address or nil pointer dereference", failNil},
	{"reflect.MakeSlice: negative len", "runtime error: makeslice: len out of range", failMake},
	{"reflect.MakeSlice: negative cap", "runtime error: makeslice: cap out of range", failMake},
	{"reflect.MakeSlice: len > cap", "runtime error: makeslice: cap out of range", failMake},
}

// failKind is what kind of expression made a statement panic.
type failKind int

const (
	failUnknown failKind = iota
	failPanic            // the builtin panic
	failIndex
	failSlice
	failNil
	failMake
	failDivide
	failMap    // assignment to entry in nil map
	failClose  // close of a closed or nil channel
	failAssert // interface conversion
	failCall   // a compiled function panicked: its name is in callee
)

// posPrefixInPanic is the position yaegi puts in front of some panic
// values ("2:40: interface conversion: ...").
var posPrefixInPanic = regexp.MustCompile(`^\d+:\d+: `)

// goMessage returns Go's message for a panic value and the kind of
// expression that raises it.
func goMessage(v any) (string, failKind) {
	msg := fmt.Sprint(v)
	if _, isErr := v.(error); !isErr {
		if _, isStr := v.(string); isStr && !strings.HasPrefix(msg, "reflect") && !strings.HasPrefix(msg, "assignment to entry") &&
			!strings.HasPrefix(msg, "close of ") && !posPrefixInPanic.MatchString(msg) {
			return msg, failPanic
		}
	}
	msg = posPrefixInPanic.ReplaceAllString(msg, "")
	for _, r := range reflectMessages {
		if strings.HasPrefix(msg, r.prefix) {
			return r.goMsg, r.kind
		}
	}
	switch {
	case strings.Contains(msg, "divide by zero"):
		return msg, failDivide
	case strings.HasPrefix(msg, "assignment to entry in nil map"):
		return msg, failMap
	case strings.HasPrefix(msg, "close of "):
		return msg, failClose
	case strings.HasPrefix(msg, "interface conversion"):
		return msg, failAssert
	case strings.HasPrefix(msg, "runtime error: index out of range"):
		return msg, failIndex
	case strings.HasPrefix(msg, "runtime error: slice bounds"):
		return msg, failSlice
	case strings.HasPrefix(msg, "runtime error: invalid memory address"):
		return msg, failNil
	}
	return msg, failUnknown
}

// panicOrigin returns the compiled function called from interpreted code
// in which a panic started, from the stack yaegi captured: "" when it
// started in the interpreter itself (an interpreted panic or a runtime
// error), else, of the compiled functions between the panic and the
// interpreter, the outermost one (the one a cell called).
func panicOrigin(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			last = i
		}
	}
	if last < 0 {
		return ""
	}
	origin := ""
	for _, fn := range lines[last+1:] {
		if strings.HasPrefix(fn, "\t") {
			continue
		}
		if j := strings.LastIndex(fn, "("); j > 0 {
			fn = fn[:j]
		}
		switch {
		case strings.HasPrefix(fn, "runtime."), strings.HasPrefix(fn, "internal/"):
			continue
		case strings.HasPrefix(fn, "reflect."), strings.HasPrefix(fn, "github.com/traefik/yaegi/"):
			return origin
		}
		origin = fn
	}
	return origin
}

// calleeName is the name a call of fn (a Go function name from a stack,
// "pkg/path.(*T).Method" or "pkg/path.Func.func1") uses in source.
func calleeName(fn string) string {
	fn = fn[strings.LastIndex(fn, "/")+1:]
	if i := strings.Index(fn, ".func"); i > 0 {
		fn = fn[:i] // a closure: its enclosing function
	}
	return fn[strings.LastIndex(fn, ".")+1:]
}

// body is a function body found in cell source, with its position.
type body struct {
	name  string // function or method name; "func" for a literal
	block *ast.BlockStmt
	fset  *token.FileSet
	// lines maps a position to its cell line; earlier is set when the
	// function was declared by an earlier cell, whose source is src.
	line    func(token.Pos) int
	src     []string // the declaring cell's lines, for quotes
	earlier bool
}

// firstLine is the line yaegi reports for a frame of this body: its first
// statement's.
func (b body) firstLine() int {
	if len(b.block.List) == 0 {
		return b.line(b.block.Lbrace)
	}
	return b.line(b.block.List[0].Pos())
}

// bodies collects the function bodies (declarations and literals) of a
// source parsed after prefix, whose first line is cell line first.
func bodies(src, prefix string, first int, earlier bool, cellLines []string, blockName string) []body {
	fset := token.NewFileSet()
	full := prefix + src
	suffix := ""
	if prefix == stmtPrefix {
		suffix = "\n}"
	}
	f, err := parser.ParseFile(fset, "cell", full+suffix, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	tf := fset.File(f.Pos())
	line := func(p token.Pos) int { return first + tf.Line(p) - 1 }
	var out []body
	add := func(name string, b *ast.BlockStmt) {
		if b != nil {
			out = append(out, body{name: name, block: b, fset: fset, line: line, src: cellLines, earlier: earlier})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			name := n.Name.Name
			if prefix == stmtPrefix && name == "_" {
				name = blockName
			}
			add(name, n.Body)
		case *ast.FuncLit:
			add("func", n.Body)
		}
		return true
	})
	return out
}

// frameBody finds the body a frame ran in: a function named name (or a
// literal, or a block of top-level statements) whose first statement is
// on line.
func (s *Session) frameBody(name string, line int, code string) (body, bool) {
	lines := strings.Split(code, "\n")
	var all []body
	chunks, _ := SplitCell(code)
	for _, c := range chunks {
		switch c.Kind {
		case DeclChunk:
			all = append(all, bodies(c.Src, declPrefix, c.Line, false, lines, "")...)
		case StmtChunk:
			for _, p := range splitBlocks(c) {
				bn := ""
				if p.Kind == DeclChunk {
					bn = "block"
				}
				all = append(all, bodies(p.Src, stmtPrefix, p.Line, false, lines, bn)...)
			}
		}
	}
	s.prog.mu.Lock()
	for _, d := range s.prog.decls {
		if d.file == s.cellName {
			continue // declared by this cell: found above
		}
		all = append(all, bodies(d.src, declPrefix, d.line, true, strings.Split(strings.Repeat("\n", d.line-1)+d.src, "\n"), "")...)
	}
	s.prog.mu.Unlock()
	want := name
	switch {
	case strings.HasPrefix(name, "gomplabBlock"):
		want = "block"
	case name == "func" || strings.HasSuffix(name, ".func"):
		want = "func"
	}
	for _, b := range all {
		if b.name == want && b.firstLine() == line {
			return b, true
		}
	}
	return body{}, false
}

// failingLines returns the lines of b (outside nested literals) holding an
// expression of kind k; callee names the function called, for failCall
// and for frames that called the next one in.
func failingLines(b body, k failKind, callee, panicText string) []int {
	seen := map[int]bool{}
	var lines []int
	mark := func(n ast.Node) {
		if l := b.line(n.Pos()); !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	calls := func(c *ast.CallExpr, name string) bool {
		switch fn := ast.Unparen(c.Fun).(type) {
		case *ast.Ident:
			return fn.Name == name
		case *ast.SelectorExpr:
			return fn.Sel.Name == name
		case *ast.FuncLit:
			return name == "func"
		}
		return false
	}
	var panics []*ast.CallExpr
	ast.Inspect(b.block, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false // a frame of its own
		}
		switch n := n.(type) {
		case *ast.IndexExpr:
			if k == failIndex {
				mark(n)
			}
		case *ast.SliceExpr:
			if k == failSlice {
				mark(n)
			}
		case *ast.StarExpr:
			if k == failNil {
				mark(n)
			}
		case *ast.SelectorExpr:
			if k == failNil {
				if id, ok := n.X.(*ast.Ident); !ok || !isPackageLike(id.Name) {
					mark(n)
				}
			}
		case *ast.BinaryExpr:
			if k == failDivide && (n.Op == token.QUO || n.Op == token.REM) {
				mark(n)
			}
		case *ast.AssignStmt:
			if k == failDivide && (n.Tok == token.QUO_ASSIGN || n.Tok == token.REM_ASSIGN) {
				mark(n)
			}
			if k == failMap {
				for _, l := range n.Lhs {
					if _, ok := ast.Unparen(l).(*ast.IndexExpr); ok {
						mark(n)
					}
				}
			}
		case *ast.IncDecStmt:
			if _, ok := ast.Unparen(n.X).(*ast.IndexExpr); ok && k == failMap {
				mark(n)
			}
		case *ast.TypeAssertExpr:
			if k == failAssert && n.Type != nil {
				mark(n)
			}
		case *ast.CallExpr:
			switch {
			case k == failPanic && calls(n, "panic"):
				panics = append(panics, n)
			case k == failClose && calls(n, "close"), k == failMake && calls(n, "make"),
				(k == failCall || k == failUnknown) && callee != "" && calls(n, callee):
				mark(n)
			}
		}
		return true
	})
	if k == failPanic {
		// Several panics: the one whose literal argument is the message.
		for _, c := range panics {
			if len(c.Args) == 1 {
				if lit, ok := c.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil && v == panicText {
						return []int{b.line(c.Pos())}
					}
				}
			}
		}
		for _, c := range panics {
			mark(c)
		}
	}
	return lines
}

// isPackageLike reports whether an identifier before a selector is
// probably a package (fmt.Println cannot dereference a nil pointer).
func isPackageLike(name string) bool {
	switch name {
	case "fmt", "strings", "strconv", "math", "tensor", "mpc", "nn", "syft", "display", "time", "sort", "os", "errors", "rand", "plot", "plotter":
		return true
	}
	return false
}

// tracebackFrame is one frame of an interpreted panic, placed in the cell.
type tracebackFrame struct {
	fn       string
	line     int // 0 when not known to one line
	from, to int // the function's lines, when line is 0
	earlier  bool
	quote    []string
}

// panicError turns an interpreted panic into the cell's error.
func (s *Session) panicError(p interp.Panic, code string) *CellError {
	msg, kind := goMessage(p.Value)
	callee := ""
	if origin := panicOrigin(p.Stack); origin != "" {
		callee = calleeName(origin)
		if kind == failUnknown || kind == failPanic {
			kind = failCall
		}
	} else if kind == failUnknown {
		kind = failPanic // the builtin panic with an error or other value
	}
	raw := s.stderr.takeFrames()
	cellLines := strings.Split(code, "\n")
	frames := make([]tracebackFrame, 0, len(raw))
	for i, f := range raw {
		fn := f.fn
		tf := tracebackFrame{fn: fn, line: f.line, quote: cellLines}
		if fn == "main" || strings.HasPrefix(fn, "gomplabBlock") {
			tf.fn = "the cell"
		}
		if fn == "func" || strings.HasSuffix(fn, ".func") {
			tf.fn = "a function literal"
		}
		if fn != "main" { // top-level statements run one per evaluation: exact
			if b, ok := s.frameBody(fn, f.line, code); ok {
				tf.earlier, tf.quote = b.earlier, b.src
				var lines []int
				if i == 0 {
					lines = failingLines(b, kind, callee, fmt.Sprint(p.Value))
				} else {
					inner := raw[i-1].fn
					if inner == "func" || strings.HasSuffix(inner, ".func") {
						inner = "func"
					} else {
						inner = inner[strings.LastIndex(inner, ".")+1:]
					}
					lines = failingLines(b, failCall, inner, "")
				}
				if len(lines) == 1 {
					tf.line = lines[0]
				} else {
					tf.line, tf.from, tf.to = 0, b.line(b.block.Lbrace), b.line(b.block.Rbrace)
				}
			}
		}
		frames = append(frames, tf)
	}
	if kind == failIndex && len(frames) > 0 && raw[0].fn == "main" {
		msg += s.indexDetail(cellLines, frames[0].line)
	}
	tb := []string{"\x1b[31mpanic\x1b[0m: " + msg}
	for _, f := range frames {
		tb = append(tb, f.describe()...)
	}
	return &CellError{Ename: "panic", Evalue: msg, Traceback: tb}
}

// describe renders a frame as traceback lines.
func (f tracebackFrame) describe() []string {
	where := "cell line"
	if f.earlier {
		where = "line"
	}
	var out []string
	switch {
	case f.line > 0:
		head := fmt.Sprintf("  in %s, %s %d", f.fn, where, f.line)
		if f.earlier {
			head += " of the cell that declared it"
		}
		out = append(out, head)
		if f.line <= len(f.quote) {
			out = append(out, fmt.Sprintf("  %4d | %s", f.line, f.quote[f.line-1]))
		}
	default:
		head := fmt.Sprintf("  in %s, %ss %d-%d", f.fn, where, f.from, f.to)
		if f.earlier {
			head += " of the cell that declared it"
		}
		out = append(out, head)
	}
	return out
}

// indexDetail completes an index-out-of-range message for a top-level
// statement as Go words it (" [5] with length 2"), when the statement has
// one index expression whose operands can be read without side effects
// and whose index is out of range.
func (s *Session) indexDetail(cellLines []string, line int) string {
	if line < 1 || line > len(cellLines) {
		return ""
	}
	src := cellLines[line-1]
	f, err := parser.ParseFile(token.NewFileSet(), "cell", stmtPrefix+src+"\n}", parser.SkipObjectResolution)
	if err != nil {
		return ""
	}
	detail := ""
	found := 0
	ast.Inspect(f.Decls[0], func(n ast.Node) bool {
		ix, ok := n.(*ast.IndexExpr)
		if !ok || !pure(ix.X) || !pure(ix.Index) {
			return true
		}
		text := func(e ast.Expr) string {
			return (stmtPrefix + src)[int(e.Pos())-1 : int(e.End())-1]
		}
		i, err1 := s.it.Eval("int(" + text(ix.Index) + ")")
		n2, err2 := s.it.Eval("len(" + text(ix.X) + ")")
		if err1 != nil || err2 != nil || !i.IsValid() || !n2.IsValid() || i.Kind() != reflect.Int || n2.Kind() != reflect.Int {
			return true
		}
		if idx, length := i.Int(), n2.Int(); idx < 0 || idx >= length {
			found++
			detail = fmt.Sprintf(" [%d] with length %d", idx, length)
		}
		return true
	})
	if found != 1 {
		return ""
	}
	return detail
}

// pure reports whether evaluating e has no side effects: names,
// selectors, literals and arithmetic on them.
func pure(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident, *ast.BasicLit:
		return true
	case *ast.SelectorExpr:
		return pure(e.X)
	case *ast.ParenExpr:
		return pure(e.X)
	case *ast.UnaryExpr:
		return e.Op != token.ARROW && pure(e.X)
	case *ast.BinaryExpr:
		return pure(e.X) && pure(e.Y)
	case *ast.IndexExpr:
		return pure(e.X) && pure(e.Index)
	}
	return false
}
