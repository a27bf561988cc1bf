// Package repl runs notebook cells for the gomplab Jupyter kernel: it keeps
// one yaegi interpreter whose state (imports, declarations, variables)
// lives across cells, splits each cell into chunks yaegi can evaluate,
// turns the last expression into a MIME bundle, reports errors with cell
// line numbers, and answers completion and inspection requests.
//
// The kernel process runs a Session in a child process (see Serve) so that
// crashes the Go runtime cannot recover from end only the interpreter.
package repl

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/traefik/yaegi/interp"
)

// The session's own runtime package, imported under a name cells will not
// use: the running marker's function.
const (
	runtimePath = "gomplab/kernel/rt"
	runtimePkg  = "gomplabrt__"
)

// captureFunc is the interpreted helper a cell's last expression is wrapped
// in: a variadic call accepts any number of results (f(g()) forwards all of
// g's results), so the kernel sees every value the expression produced.
const captureFunc = "gomplabCapture__"

// Options configure a Session.
type Options struct {
	// Stdout and Stderr receive cell output; Stdin serves reads from
	// os.Stdin and fmt.Scan. Nil means discard (or, for Stdin, EOF).
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	// Symbols replaces the default symbol tables (DefaultSymbols).
	Symbols interp.Exports
	// Env is the environment cells see through os.Getenv.
	Env []string
	// ModuleCache is the Go module cache third-party packages load from
	// (DefaultModuleCache when empty).
	ModuleCache string
}

// Session is one interpreter with its cell history. Execute, Complete and
// Inspect must not be called concurrently; Interrupt may be called at any
// time from another goroutine.
type Session struct {
	it      *interp.Interpreter
	exports interp.Exports
	stdout  io.Writer
	stderr  *frameFilter
	docs    *docIndex
	modules moduleCache

	// imports maps a cell-visible package name to its import path.
	imports map[string]string
	// pendingImports are the imports of the text being completed.
	pendingImports map[string]string
	// names are top-level identifiers declared by cells, for completion.
	names map[string]string
	// typeSrc holds each declared type's source, to warn on redefinition.
	typeSrc map[string]string

	// blockSeq numbers the functions compound statements run in.
	blockSeq int
	// cellSeq numbers executed cells, naming them in job sources;
	// cellName is the running cell's name.
	cellSeq  int
	cellName string
	// prog keeps the cells' declarations for shipping functions to workers.
	prog programState

	mu     sync.Mutex
	cancel context.CancelFunc // cancels the running cell
	// intr is the interrupt blocking host functions watch; pending are
	// fired interrupts whose stop has not happened yet (interrupt.go).
	intr    *interruption
	pending []*interruption
	// started is closed by the running marker of the statements being
	// evaluated.
	started chan struct{}
	// timing is the running %timeit's options.
	timing timeitOptions
}

// New returns a Session with the standard library, gomplab's packages and
// the display package importable.
func New(opt Options) (*Session, error) {
	s := &Session{
		imports: map[string]string{},
		names:   map[string]string{},
		typeSrc: map[string]string{},
		docs:    newDocIndex(),
		intr:    newInterruption(),
	}
	stdout := opt.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	stderr := opt.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	stdin := opt.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	modDir := opt.ModuleCache
	if modDir == "" {
		modDir = DefaultModuleCache()
	}
	s.modules = moduleCache{dir: modDir}
	s.stdout = stdout
	s.stderr = &frameFilter{w: stderr}
	s.exports = opt.Symbols
	if s.exports == nil {
		s.exports = DefaultSymbols(s.sleep)
	}
	// Special stdio makes os.Stdout, os.Stderr and os.Stdin inside cells
	// the session's streams although they are not files (their type in
	// cells is then io.Writer / io.Reader). yaegi reads the switch from
	// the environment when the interpreter is created.
	os.Setenv("YAEGI_SPECIAL_STDIO", "1")
	it := interp.New(interp.Options{
		Stdout: stdout, Stderr: s.stderr, Stdin: stdin,
		Env: opt.Env, Args: []string{"gomplab-cell"},
		// Packages without a symbol table load from the module cache.
		GoPath: srcRoot, SourcecodeFilesystem: s.modules,
	})
	if err := it.Use(s.exports); err != nil {
		return nil, fmt.Errorf("repl: load symbol tables: %w", err)
	}
	if _, err := it.Eval("func " + captureFunc + "(v ...any) []any { return v }"); err != nil {
		return nil, fmt.Errorf("repl: define capture helper: %w", err)
	}
	rt := interp.Exports{runtimePath + "/rt": s.runtimeSymbols()}
	if err := it.Use(rt); err != nil {
		return nil, fmt.Errorf("repl: load the session's runtime: %w", err)
	}
	if _, err := it.Eval("import " + runtimePkg + " " + strconv.Quote(runtimePath)); err != nil {
		return nil, fmt.Errorf("repl: import the session's runtime: %w", err)
	}
	s.it = it
	s.prog.decls = map[string]cellDecl{}
	s.prog.funcTypes = map[string]reflect.Type{}
	registerResolver(s)
	return s, nil
}

// Result is what a successful cell produced as its value.
type Result struct {
	// Values are all the results of the cell's last expression, if the last
	// statement was an expression that produced values.
	Values []any
	// HasValue is set when the last statement was an expression with values.
	HasValue bool
}

// Execute runs one cell. Chunks run in order; the first error stops the
// cell and is returned as a CellError with the cell line it names.
func (s *Session) Execute(ctx context.Context, code string) (Result, *CellError) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cancel = nil
		s.mu.Unlock()
		cancel()
	}()
	s.cellSeq++
	cellName := fmt.Sprintf("cell%d", s.cellSeq)
	s.cellName = cellName
	s.prog.mu.Lock()
	s.prog.cellCode = code
	s.prog.mu.Unlock()
	if name, args, rest, ok := magicLine(code); ok {
		return s.magic(ctx, name, args, rest)
	}
	return s.run(ctx, code)
}

// run executes a cell's code (after any magic).
func (s *Session) run(ctx context.Context, code string) (Result, *CellError) {
	cellName := s.cellName
	if strings.HasPrefix(strings.TrimSpace(code), "package ") {
		// A whole program: run its main once. yaegi would run a function
		// named main again after every later evaluation, so it is
		// declared under another name and called.
		src, mainName := renameMain(code, "", cellName)
		_, err := s.eval(ctx, src)
		if err == nil && mainName != "" {
			_, err = s.evalStmts(ctx, mainName+"()")
		}
		if err != nil {
			return Result{}, s.cellError(err, code, 1)
		}
		return Result{}, nil
	}
	chunks, _ := SplitCell(code)
	var res Result
	for i, c := range chunks {
		last := i == len(chunks)-1
		var err error
		switch c.Kind {
		case ImportChunk:
			err = s.evalImports(ctx, c)
		case DeclChunk:
			s.warnTypeRedefinition(c)
			if _, mainName := renameMain(c.Src, declPrefix, cellName); mainName != "" {
				err = errDeclaredMain
				break
			}
			_, err = s.eval(ctx, c.Padded())
		case StmtChunk:
			res, err = s.evalStatements(ctx, c, last)
		}
		if err != nil {
			return Result{}, s.cellError(err, code, c.Line)
		}
		s.recordNames(c)
		if c.Kind == DeclChunk {
			s.recordDecls(c, cellName)
		}
	}
	return res, nil
}

// eval runs src, a source without statements to run (imports,
// declarations). When ctx is cancelled it returns context.Canceled once
// interpreted code has stopped, or a *StuckError if it did not stop within
// StopGrace (see interrupt.go).
func (s *Session) eval(ctx context.Context, src string) (reflect.Value, error) {
	return s.evalWith(ctx, src, nil)
}

// runningMarker starts every statement source the session evaluates: a
// call that tells the session yaegi has begun running it (interrupt.go
// explains why that matters). Starting with it also keeps yaegi from
// reading a function literal called on the spot as a declaration (which
// makes it the program's main, run again after every later evaluation).
const runningMarker = runtimePkg + ".Running();"

// evalStmts runs statements src (padded to cell lines) as eval does.
func (s *Session) evalStmts(ctx context.Context, src string) (reflect.Value, error) {
	started := make(chan struct{})
	s.mu.Lock()
	s.started = started
	s.mu.Unlock()
	body := strings.TrimLeft(src, "\n")
	return s.evalWith(ctx, src[:len(src)-len(body)]+runningMarker+body, started)
}

// evalWith runs src; started, if not nil, is closed once src runs.
func (s *Session) evalWith(ctx context.Context, src string, started chan struct{}) (reflect.Value, error) {
	s.stderr.startCell()
	var v reflect.Value
	var err error
	if ctx.Err() != nil {
		// Interrupted before this evaluation: do not start it, but stop
		// the interpreter all the same.
		s.stopInterpreter()
	} else {
		// yaegi stops only code that was running when the context ended:
		// code that starts after its stop runs on. So the cancellation
		// reaches yaegi only once src has started (or has finished
		// without running, failing to compile).
		runCtx, cancel := context.WithCancel(context.Background())
		finished := make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
				if started != nil {
					select {
					case <-started:
					case <-finished:
						return
					}
				}
				cancel()
			case <-finished:
			}
		}()
		v, err = s.it.EvalWithContext(runCtx, src)
		close(finished)
		if ctx.Err() != nil && runCtx.Err() == nil {
			s.stopInterpreter() // nothing was running; stop goroutines
		}
		cancel()
	}
	if ctx.Err() != nil {
		// The interpreter's run id moved on, so interpreted goroutines of
		// this and every earlier evaluation stop at their next step;
		// blocking host functions may now return. yaegi returns before
		// its evaluating goroutine has unwound: wait for it, so the next
		// cell does not run beside it.
		s.markStopped()
		if err := settle(); err != nil {
			return reflect.Value{}, err
		}
		return reflect.Value{}, context.Canceled
	}
	return v, err
}

// evalLast runs the cell's final statement chunk, capturing the values of
// its last statement when that is an expression.
func (s *Session) evalLast(ctx context.Context, c Chunk) (Result, error) {
	wrapped, ok := captureLast(c.Src)
	if !ok {
		_, err := s.evalStmts(ctx, c.Padded())
		return Result{}, err
	}
	pad := strings.Repeat("\n", c.Line-1)
	v, err := s.evalStmts(ctx, pad+wrapped)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, ErrStuck) || isRunError(err) {
			return Result{}, err
		}
		// The expression has no value (a call of a function without
		// results) or the rewrite confused the compiler: compile errors
		// happen before anything runs, so run the chunk as written.
		_, err = s.evalStmts(ctx, c.Padded())
		return Result{}, err
	}
	vals, ok := v.Interface().([]any)
	if !ok {
		return Result{}, nil
	}
	return Result{Values: vals, HasValue: true}, nil
}

// errDeclaredMain refuses a cell declaring func main without a package
// clause.
var errDeclaredMain = errors.New("a cell cannot declare func main: the interpreter would run it again after every later cell. " +
	"Give it another name (func run() { ... }) and call it, or start the cell with \"package main\" to run it once as a program")

// renameMain finds a function main declared at the top level of src
// (parsed after prefix) and returns src with it renamed to a name made
// from cell, and that name; "" when there is none.
func renameMain(src, prefix, cell string) (string, string) {
	f, err := parser.ParseFile(token.NewFileSet(), "cell", prefix+src, parser.SkipObjectResolution)
	if err != nil {
		return src, ""
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Name.Name != "main" {
			continue
		}
		at := int(fd.Name.Pos()) - 1 - len(prefix)
		if at < 0 || at+4 > len(src) {
			return src, ""
		}
		name := "gomplabMain_" + cell + "__"
		return src[:at] + name + src[at+4:], name
	}
	return src, ""
}

// isRunError reports whether err happened while running (a panic), as
// opposed to while compiling.
func isRunError(err error) bool {
	var p interp.Panic
	return errors.As(err, &p)
}

// captureLast rewrites a statement chunk so that its last statement, if it
// is an expression worth showing, is passed to the capture helper. It
// returns false when there is nothing to capture.
func captureLast(src string) (string, bool) {
	const prefix = stmtPrefix
	f, err := parser.ParseFile(token.NewFileSet(), "cell", prefix+src+"\n}", parser.SkipObjectResolution)
	if err != nil {
		return "", false
	}
	body := f.Decls[0].(*ast.FuncDecl).Body.List
	if len(body) == 0 {
		return "", false
	}
	es, ok := body[len(body)-1].(*ast.ExprStmt)
	if !ok || !worthShowing(es.X) {
		return "", false
	}
	start, end := int(es.Pos())-1-len(prefix), int(es.End())-1-len(prefix)
	if start < 0 || end > len(src) || start > end {
		return "", false
	}
	return src[:start] + captureFunc + "(" + src[start:end] + ")" + src[end:], true
}

// evalStatements runs a statement chunk. Each top-level compound
// statement (for, if, switch, select, block) runs as the body of a
// function declared for it and called at once: yaegi v0.16.1 fails to
// declare variables defined from one multi-valued expression
// ("a, err := f()", "v, ok := m[k]") inside blocks of top-level statements
// ("undefined: a") but handles them inside functions. (A function literal
// called on the spot would do too, but yaegi cannot interrupt loops inside
// those.) Statements whose return or goto would change meaning inside a
// function run as written. Every piece keeps its cell line.
func (s *Session) evalStatements(ctx context.Context, c Chunk, last bool) (Result, error) {
	pieces := splitBlocks(c)
	for i, p := range pieces {
		var err error
		switch {
		case p.Kind == DeclChunk: // a compound statement to run as a function
			s.blockSeq++
			name := fmt.Sprintf("gomplabBlock%d__", s.blockSeq)
			pad := strings.Repeat("\n", p.Line-1)
			if _, err = s.eval(ctx, pad+"func "+name+"() { "+p.Src+" }"); err == nil {
				_, err = s.evalStmts(ctx, pad+name+"()")
			}
		case last && i == len(pieces)-1:
			return s.evalLast(ctx, p)
		default:
			_, err = s.evalStmts(ctx, p.Padded())
		}
		if err != nil {
			return Result{}, err
		}
	}
	return Result{}, nil
}

// splitBlocks cuts a statement chunk into single plain statements
// (StmtChunk) and single compound statements to run as functions (marked
// DeclChunk). Each runs in an evaluation of its own: yaegi reports a
// panic at the first statement of the evaluation, so that is the line that
// failed. A chunk with a return, goto or label outside function literals
// stays in one piece: in pieces, a return would end only its own.
func splitBlocks(c Chunk) []Chunk {
	f, err := parser.ParseFile(token.NewFileSet(), "cell", stmtPrefix+c.Src+"\n}", parser.SkipObjectResolution)
	if err != nil {
		return []Chunk{c}
	}
	for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
		if _, ok := st.(*ast.LabeledStmt); ok || escapes(st) {
			return []Chunk{c}
		}
	}
	var out []Chunk
	piece := func(kind ChunkKind, start, end int) {
		src := strings.TrimSpace(c.Src[start:end])
		if src == "" {
			return
		}
		start += strings.Index(c.Src[start:end], src)
		out = append(out, Chunk{Kind: kind, Src: src, Offset: c.Offset + start,
			Line: c.Line + strings.Count(c.Src[:start], "\n")})
	}
	last := 0
	for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
		kind := StmtChunk
		switch st.(type) {
		case *ast.ForStmt, *ast.RangeStmt, *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.BlockStmt:
			kind = DeclChunk
		case *ast.EmptyStmt:
			continue
		}
		start, end := int(st.Pos())-1-len(stmtPrefix), int(st.End())-1-len(stmtPrefix)
		if start < last || end > len(c.Src) {
			return []Chunk{c}
		}
		// Comments between statements are left out: the piece must start
		// with its statement, whose line is the piece's.
		piece(kind, start, end)
		last = end
	}
	return out
}

// escapes reports whether st contains a return, goto or labeled
// break/continue outside nested function literals: control flow that a
// function wrapper would change.
func escapes(st ast.Stmt) bool {
	found := false
	ast.Inspect(st, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			found = true
		case *ast.BranchStmt:
			if n.Tok == token.GOTO || n.Label != nil {
				found = true
			}
		}
		return !found
	})
	return found
}

// worthShowing filters out expressions whose values are noise: printing
// calls (whose byte counts nobody wants to see) and a bare nil.
func worthShowing(x ast.Expr) bool {
	switch e := x.(type) {
	case *ast.Ident:
		return e.Name != "nil"
	case *ast.CallExpr:
		switch fn := e.Fun.(type) {
		case *ast.Ident:
			switch fn.Name {
			case "print", "println", "panic", "close", "delete", "clear", "copy":
				return false
			}
		case *ast.SelectorExpr:
			if pkg, ok := fn.X.(*ast.Ident); ok {
				name := fn.Sel.Name
				switch pkg.Name {
				case "fmt":
					return !strings.HasPrefix(name, "Print") && !strings.HasPrefix(name, "Fprint")
				case "log":
					return false
				case "display":
					return !(name == "Display" || name == "Show" || name == "DisplayWithID" || name == "Update" || name == "ClearOutput")
				}
			}
		}
	}
	return true
}

// evalImports evaluates the import specs of c that are not imported yet:
// yaegi refuses to import the same package twice, which would otherwise
// break re-running a cell.
func (s *Session) evalImports(ctx context.Context, c Chunk) error {
	f, err := parser.ParseFile(token.NewFileSet(), "cell", declPrefix+c.Src, parser.ImportsOnly|parser.SkipObjectResolution)
	if err != nil {
		_, err = s.eval(ctx, c.Padded())
		return err
	}
	fset := token.NewFileSet()
	tf := fset.AddFile("x", -1, len(declPrefix)+len(c.Src))
	tf.SetLinesForContent([]byte(declPrefix + c.Src))
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		name := s.packageName(path)
		if spec.Name != nil {
			name = spec.Name.Name
		}
		if prev, ok := s.imports[name]; ok && prev == path {
			continue
		}
		line := c.Line + tf.Line(spec.Pos()) - 1
		src := strings.Repeat("\n", line-1) + "import "
		if spec.Name != nil {
			src += spec.Name.Name + " "
		}
		src += spec.Path.Value
		if _, err := s.eval(ctx, src); err != nil {
			return err
		}
		if name != "_" && name != "." {
			s.imports[name] = path
		}
	}
	return nil
}

// packageName returns the name a package is known by when imported
// without a name: the last element of its symbol-table key.
func (s *Session) packageName(path string) string {
	for k := range s.exports {
		if strings.HasPrefix(k, path+"/") && !strings.Contains(k[len(path)+1:], "/") {
			return k[len(path)+1:]
		}
	}
	return path[strings.LastIndex(path, "/")+1:]
}

// recordNames remembers what a successfully run chunk declared.
func (s *Session) recordNames(c Chunk) {
	switch c.Kind {
	case DeclChunk:
		f, err := parser.ParseFile(token.NewFileSet(), "cell", declPrefix+c.Src, parser.SkipObjectResolution)
		if err != nil {
			return
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					s.names[d.Name.Name] = "func"
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						s.names[sp.Name.Name] = "type"
						s.typeSrc[sp.Name.Name] = nodeSrc(declPrefix+c.Src, sp)
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							s.names[n.Name] = strings.ToLower(d.Tok.String())
						}
					}
				}
			}
		}
	case StmtChunk:
		f, err := parser.ParseFile(token.NewFileSet(), "cell", stmtPrefix+c.Src+"\n}", parser.SkipObjectResolution)
		if err != nil {
			return
		}
		for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
			if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				for _, l := range as.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
						s.names[id.Name] = "var"
					}
				}
			}
		}
	}
}

// warnTypeRedefinition tells the user when a cell changes a type declared
// by an earlier cell: yaegi keeps the first definition.
func (s *Session) warnTypeRedefinition(c Chunk) {
	f, err := parser.ParseFile(token.NewFileSet(), "cell", declPrefix+c.Src, parser.SkipObjectResolution)
	if err != nil {
		return
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, sp := range g.Specs {
			ts := sp.(*ast.TypeSpec)
			if old, ok := s.typeSrc[ts.Name.Name]; ok && old != nodeSrc(declPrefix+c.Src, ts) {
				fmt.Fprintf(s.stderr.w, "warning: type %s changed since an earlier cell; the interpreter keeps the first definition of a type, so restart the kernel to use the new one\n", ts.Name.Name)
			}
		}
	}
}

func nodeSrc(src string, n ast.Node) string {
	start, end := int(n.Pos())-1, int(n.End())-1
	if start < 0 || end > len(src) || start > end {
		return ""
	}
	return src[start:end]
}

var (
	// posPrefix matches the position yaegi and go/scanner put before
	// messages: "3:5: msg" or "_.go:3:5: msg".
	posPrefix = regexp.MustCompile(`^(?:[^\s:]*\.go:)?(\d+):(\d+): `)
	// importFailed matches each package in yaegi's chain of import errors.
	importFailed = regexp.MustCompile(`import "([^"]+)" error: `)
)

// cellError turns an evaluation error into a Jupyter error naming the cell
// line, with the offending source line quoted.
func (s *Session) cellError(err error, code string, chunkLine int) *CellError {
	lines := strings.Split(code, "\n")
	quote := func(n int) string {
		if n < 1 || n > len(lines) {
			return ""
		}
		return fmt.Sprintf("  %4d | %s", n, lines[n-1])
	}
	if errors.Is(err, context.Canceled) {
		return &CellError{Ename: "Interrupted", Evalue: "the cell was interrupted",
			Traceback: []string{"\x1b[31mInterrupted\x1b[0m: the cell was interrupted"}}
	}
	var stuck *StuckError
	if errors.As(err, &stuck) {
		return &CellError{Ename: "Interrupted", Evalue: stuck.Error(), Stuck: true,
			Traceback: []string{"\x1b[31mInterrupted\x1b[0m: " + stuck.Error()}}
	}
	var p interp.Panic
	if errors.As(err, &p) {
		return s.panicError(p, code)
	}
	msg := err.Error()
	if ie := s.importError(msg); ie != nil {
		return ie
	}
	// Compile errors may be lists; report each with its cell line.
	var tb []string
	first := ""
	for _, part := range strings.Split(msg, "\n") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		line := 0
		if m := posPrefix.FindStringSubmatch(part); m != nil {
			line, _ = strconv.Atoi(m[1])
			part = part[len(m[0]):]
		}
		if line == 0 {
			line = chunkLine
		}
		text := fmt.Sprintf("cell line %d: %s", line, part)
		if first == "" {
			first = text
		}
		tb = append(tb, "\x1b[31mcompile error\x1b[0m: "+text)
		if q := quote(line); q != "" {
			tb = append(tb, q)
		}
	}
	if first == "" {
		first = msg
	}
	return &CellError{Ename: "CompileError", Evalue: first, Traceback: tb}
}

// frameFilter passes writes through to w, except the lines yaegi prints
// for each interpreted frame while a panic unwinds ("4:2: panic: main.g(...)"):
// those become the traceback of the error instead.
type frameFilter struct {
	w      io.Writer
	mu     sync.Mutex
	frames []frame
}

type frame struct {
	line int
	fn   string
}

var frameLine = regexp.MustCompile(`^(\d+):(\d+): panic: (.*)\(\.\.\.\)\n?$`)

func (f *frameFilter) Write(p []byte) (int, error) {
	if m := frameLine.FindSubmatch(p); m != nil {
		line, _ := strconv.Atoi(string(m[1]))
		fn := strings.TrimPrefix(string(m[3]), "main.")
		f.mu.Lock()
		f.frames = append(f.frames, frame{line: line, fn: fn})
		f.mu.Unlock()
		return len(p), nil
	}
	return f.w.Write(p)
}

func (f *frameFilter) startCell() {
	f.mu.Lock()
	f.frames = nil
	f.mu.Unlock()
}

func (f *frameFilter) takeFrames() []frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	fr := f.frames
	f.frames = nil
	return fr
}

// FormatValues renders a cell's values as the text/plain of its result:
// a trailing nil error (the usual "value, err" pair) is dropped and the rest
// are joined with spaces. It returns false when nothing is worth showing.
func FormatValues(vals []any) ([]any, bool) {
	if n := len(vals); n > 1 && vals[n-1] == nil {
		vals = vals[:n-1]
	}
	allNil := true
	for _, v := range vals {
		if v != nil {
			allNil = false
		}
	}
	return vals, !allNil && len(vals) > 0
}
