package repl

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/syft"
)

// Functions declared in cells are interpreted: the Go runtime knows no
// source for them, so syft.RunMultiWorkers cannot ship them to workers by
// itself. The session keeps the latest source of every top-level
// declaration made by cells and registers a syft.SourceResolver that finds
// which cell function it was given and cuts the cells' declarations down
// to that function and what it uses (syft.ExtractFunc).

// cellDecl is the latest source of one top-level declaration.
type cellDecl struct {
	src  string
	file string // "cell3", for //line directives
	line int
}

// programState is what the resolver reads while a cell runs.
type programState struct {
	mu        sync.Mutex
	order     []string            // declaration keys in order of first definition
	decls     map[string]cellDecl // by key ("func f", "type T", "method T.M", "var a,b")
	funcTypes map[string]reflect.Type
	cellCode  string
}

// activeSession is the session whose cells the resolver consults: the
// interpreter process has exactly one.
var (
	activeSession atomic.Pointer[Session]
	resolverOnce  sync.Once
)

func registerResolver(s *Session) {
	activeSession.Store(s)
	resolverOnce.Do(func() {
		syft.RegisterSourceResolver(func(fn any) (*syft.Func, bool, error) {
			if s := activeSession.Load(); s != nil {
				return s.resolveFunc(fn)
			}
			return nil, false, nil
		})
	})
}

// recordDecls stores the declarations of a chunk that ran, and the types
// of the functions it declared.
func (s *Session) recordDecls(c Chunk, file string) {
	src := declPrefix + c.Src
	f, err := parser.ParseFile(token.NewFileSet(), "cell", src, parser.SkipObjectResolution)
	if err != nil {
		return
	}
	type entry struct {
		key string
		d   cellDecl
	}
	var entries []entry
	var funcs []string
	tf := token.NewFileSet().AddFile("x", -1, len(src))
	tf.SetLinesForContent([]byte(src))
	for _, d := range f.Decls {
		key := declKey(d)
		if key == "" {
			continue
		}
		start := int(d.Pos()) - 1
		entries = append(entries, entry{key, cellDecl{src: src[start : int(d.End())-1], file: file,
			line: c.Line + tf.Line(token.Pos(start+1)) - 1}})
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
			funcs = append(funcs, fd.Name.Name)
		}
	}
	types := map[string]reflect.Type{}
	for _, name := range funcs {
		if v, err := s.it.Eval(name); err == nil && v.IsValid() && v.Kind() == reflect.Func {
			types[name] = v.Type()
		}
	}
	p := &s.prog
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range entries {
		if _, ok := p.decls[e.key]; !ok {
			p.order = append(p.order, e.key)
		}
		p.decls[e.key] = e.d
	}
	for name, t := range types {
		p.funcTypes[name] = t
	}
}

// declKey names what a declaration declares, so a redefinition replaces
// the earlier one.
func declKey(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil && len(d.Recv.List) == 1 {
			return "method " + recvTypeName(d.Recv.List[0].Type) + "." + d.Name.Name
		}
		return "func " + d.Name.Name
	case *ast.GenDecl:
		if d.Tok == token.IMPORT {
			return ""
		}
		var names []string
		for _, sp := range d.Specs {
			switch sp := sp.(type) {
			case *ast.TypeSpec:
				names = append(names, sp.Name.Name)
			case *ast.ValueSpec:
				for _, n := range sp.Names {
					names = append(names, n.Name)
				}
			}
		}
		return d.Tok.String() + " " + strings.Join(names, ",")
	}
	return ""
}

func recvTypeName(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.Ident:
			return t.Name
		default:
			return "?"
		}
	}
}

// ProgramSource returns the cells' imports and latest declarations as one
// Go file, with //line directives naming the cell ("cell3") and line each
// declaration came from.
func (s *Session) ProgramSource() string {
	var b strings.Builder
	b.WriteString("package main\n\n")
	for _, name := range sortedNames(s.imports) {
		fmt.Fprintf(&b, "import %s %q\n", name, s.imports[name])
	}
	p := &s.prog
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, key := range p.order {
		d := p.decls[key]
		b.WriteString("\n")
		b.WriteString(sandbox.LineDirective(d.file, d.line))
		b.WriteString(d.src)
		b.WriteString("\n")
	}
	return b.String()
}

func sortedNames(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// resolveFunc is the syft.SourceResolver for functions declared in cells.
// An interpreted function reaches compiled code as a reflect.MakeFunc
// wrapper that does not say which function it wraps, so the resolver picks
// among the cell functions the running cell mentions those whose type
// matches; it asks for a less ambiguous call when several do.
func (s *Session) resolveFunc(fn any) (*syft.Func, bool, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, false, nil
	}
	if rf := runtime.FuncForPC(v.Pointer()); rf == nil || rf.Name() != "reflect.makeFuncStub" {
		return nil, false, nil // compiled code: syft reads its source files
	}
	p := &s.prog
	p.mu.Lock()
	code := p.cellCode
	var cands []string
	mentioned := identifiers(code)
	for name, t := range p.funcTypes {
		if mentioned[name] && (t == v.Type() || t.String() == v.Type().String()) {
			cands = append(cands, name)
		}
	}
	p.mu.Unlock()
	sort.Strings(cands)
	switch len(cands) {
	case 0:
		return nil, true, errors.New("kernel: the function given is not one declared with func in a cell (closures, methods and function literals cannot be shipped to workers)")
	case 1:
	default:
		return nil, true, fmt.Errorf("kernel: cannot tell which of the cell functions %s was passed (same signature, all used in this cell); "+
			"run the job from a cell that mentions only one of them, or pass syft.ExtractFunc(source, name)", strings.Join(cands, ", "))
	}
	f, err := syft.ExtractFunc(s.ProgramSource(), cands[0])
	if err != nil {
		return nil, true, fmt.Errorf("kernel: source of cell function %s: %w", cands[0], err)
	}
	return f, true, nil
}

// identifiers returns the identifiers appearing in code.
func identifiers(code string) map[string]bool {
	out := map[string]bool{}
	fset := token.NewFileSet()
	f := fset.AddFile("cell", -1, len(code))
	var sc scanner.Scanner
	sc.Init(f, []byte(code), nil, 0)
	for {
		_, tok, lit := sc.Scan()
		if tok == token.EOF {
			return out
		}
		if tok == token.IDENT {
			out[lit] = true
		}
	}
}
