package syft

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gomplab/gomplab/sandbox"
)

// Func is a job function as source: one Go file holding the entry
// function, the declarations it uses and their imports. It is what
// RunMultiWorkers ships to every worker; FuncOf builds one from a function
// value, ExtractFunc from the declarations of a program or notebook.
type Func struct {
	sandbox.Program
}

// SourceFunc returns the function named entry of src, a complete Go file,
// shipped as is.
func SourceFunc(src, entry string) *Func {
	return &Func{sandbox.Program{Source: src, Entry: entry}}
}

// String names the function and its size.
func (f *Func) String() string {
	return fmt.Sprintf("syft.Func %s (%d bytes of source)", f.Entry, len(f.Source))
}

// A SourceResolver finds the source of a function value that has none on
// disk (a function declared in a notebook cell). It reports ok=false for
// values it does not know.
type SourceResolver func(fn any) (f *Func, ok bool, err error)

var (
	resolverMu sync.RWMutex
	resolvers  []SourceResolver
)

// RegisterSourceResolver adds r to the resolvers FuncOf consults before
// reading source files; the notebook kernel registers one for functions
// declared in cells.
func RegisterSourceResolver(r SourceResolver) {
	resolverMu.Lock()
	resolvers = append(resolvers, r)
	resolverMu.Unlock()
}

// FuncOf returns the source of fn: fn itself when it is a *Func or Func;
// what a registered resolver says; or, for a top-level function of a Go
// program, its declaration and everything it uses, read from the source
// files of its package (which must be on disk, as they are for `go run`
// and `go test`). Closures, methods and generic functions are refused:
// a job is a top-level function.
func FuncOf(fn any) (*Func, error) {
	switch f := fn.(type) {
	case *Func:
		if f == nil {
			return nil, errors.New("syft: nil *Func")
		}
		return f, nil
	case Func:
		return &f, nil
	case nil:
		return nil, errors.New("syft: no function given")
	}
	resolverMu.RLock()
	rs := append([]SourceResolver{}, resolvers...)
	resolverMu.RUnlock()
	for _, r := range rs {
		if f, ok, err := r(fn); ok || err != nil {
			return f, err
		}
	}
	return funcFromFiles(fn)
}

// funcFromFiles finds fn's declaration through the runtime's symbol table
// and extracts it from its package's files.
func funcFromFiles(fn any) (*Func, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return nil, fmt.Errorf("syft: %T is not a function", fn)
	}
	if v.IsNil() {
		return nil, errors.New("syft: nil function")
	}
	rf := runtime.FuncForPC(v.Pointer())
	if rf == nil {
		return nil, errors.New("syft: cannot identify the function (no runtime symbol)")
	}
	full := rf.Name()
	name := full[strings.LastIndex(full, "/")+1:]
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	switch {
	case strings.Contains(name, "[") || strings.Contains(name, "("):
		return nil, fmt.Errorf("syft: %s is a method or generic function; pass a plain top-level function", full)
	case strings.Contains(name, ".") || strings.HasPrefix(name, "glob"):
		return nil, fmt.Errorf("syft: %s is a closure; pass a top-level function (declared with func at package level)", full)
	}
	file, _ := rf.FileLine(rf.Entry())
	if file == "" || file == "?" {
		return nil, fmt.Errorf("syft: no source file recorded for %s", full)
	}
	if f := cachedFunc(full, file); f != nil {
		return f, nil
	}
	f, stamp, err := funcFromPackageDir(file, name)
	if err != nil {
		return nil, fmt.Errorf("syft: source of %s: %w (use RunSource to ship source text instead)", full, err)
	}
	srcCache.Store(full, &cachedSource{f: f, stamp: stamp})
	return f, nil
}

// srcCache keeps extracted functions by name, valid while their package's
// files are unchanged (a program that calls RunMultiWorkers in a loop
// parses its package once).
var srcCache sync.Map // full function name -> *cachedSource

type cachedSource struct {
	f     *Func
	stamp string
}

func cachedFunc(full, file string) *Func {
	v, ok := srcCache.Load(full)
	if !ok {
		return nil
	}
	c := v.(*cachedSource)
	if s, err := dirStamp(filepath.Dir(file)); err != nil || s != c.stamp {
		return nil
	}
	return c.f
}

// dirStamp summarizes the names, sizes and times of a directory's Go
// files.
func dirStamp(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		in, err := e.Info()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %d %d\n", e.Name(), in.Size(), in.ModTime().UnixNano())
	}
	return b.String(), nil
}

// funcFromPackageDir parses the files of the package file belongs to and
// extracts name; it also returns the directory's stamp.
func funcFromPackageDir(file, name string) (*Func, string, error) {
	stamp, err := dirStamp(filepath.Dir(file))
	if err != nil {
		return nil, "", err
	}
	fset := token.NewFileSet()
	first, err := parser.ParseFile(fset, file, nil, parser.PackageClauseOnly)
	if err != nil {
		return nil, "", err
	}
	pkg := first.Name.Name
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil {
		return nil, "", err
	}
	var files []srcFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		p := filepath.Join(filepath.Dir(file), e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		pc, err := parser.ParseFile(token.NewFileSet(), p, b, parser.PackageClauseOnly)
		if err != nil || pc.Name.Name != pkg {
			continue
		}
		files = append(files, srcFile{name: e.Name(), src: b})
	}
	f, err := extract(files, name)
	return f, stamp, err
}

// ExtractFunc returns the function named entry from src, a Go file of
// declarations (every cell of a notebook, say, with //line directives made
// by sandbox.LineDirective), cut down to entry, the declarations it uses
// (transitively: helpers, types and their methods, constants, variables)
// and the imports those need. Line directives in src carry over.
func ExtractFunc(src, entry string) (*Func, error) {
	return extract([]srcFile{{name: "job.go", src: []byte(src)}}, entry)
}

// srcFile is one source file of a package.
type srcFile struct {
	name string
	src  []byte
}

// decl is one top-level declaration and where it came from.
type decl struct {
	file  int
	node  ast.Decl
	order int
}

// extract cuts the package made of files down to entry and what it uses.
func extract(files []srcFile, entry string) (*Func, error) {
	fset := token.NewFileSet()
	parsed := make([]*ast.File, len(files))
	for i, f := range files {
		pf, err := parser.ParseFile(fset, f.name, f.src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		parsed[i] = pf
	}
	byName := map[string]*decl{}                     // functions, types, vars, consts
	methods := map[string][]*decl{}                  // by receiver type name
	topNodes := map[ast.Node]*decl{}                 // FuncDecls and specs, for resolved idents
	imports := make([]map[string]string, len(files)) // per file: name -> path
	dotImports := make([][]string, len(files))
	order := 0
	for i, pf := range parsed {
		imports[i] = map[string]string{}
		for _, im := range pf.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			switch {
			case im.Name == nil:
				imports[i][importName(p)] = p
			case im.Name.Name == ".":
				dotImports[i] = append(dotImports[i], p)
			case im.Name.Name != "_":
				imports[i][im.Name.Name] = p
			}
		}
		for _, d := range pf.Decls {
			order++
			dd := &decl{file: i, node: d, order: order}
			switch n := d.(type) {
			case *ast.FuncDecl:
				topNodes[n] = dd
				if n.Recv != nil && len(n.Recv.List) == 1 {
					methods[recvName(n.Recv.List[0].Type)] = append(methods[recvName(n.Recv.List[0].Type)], dd)
				} else if n.Name.Name != "_" && n.Name.Name != "init" {
					byName[n.Name.Name] = dd
				}
			case *ast.GenDecl:
				for _, s := range n.Specs {
					switch sp := s.(type) {
					case *ast.TypeSpec:
						topNodes[sp] = dd
						byName[sp.Name.Name] = dd
					case *ast.ValueSpec:
						topNodes[sp] = dd
						for _, id := range sp.Names {
							if id.Name != "_" {
								byName[id.Name] = dd
							}
						}
					}
				}
			}
		}
	}
	root := byName[entry]
	if root == nil {
		return nil, fmt.Errorf("no top-level function %s in the source", entry)
	}
	if fd, ok := root.node.(*ast.FuncDecl); !ok || fd.Recv != nil {
		return nil, fmt.Errorf("%s is not a function", entry)
	}

	keep := map[*decl]bool{}
	type imp struct{ name, path string }
	needImports := map[imp]bool{}
	queue := []*decl{root}
	add := func(d *decl) {
		if d != nil && !keep[d] {
			queue = append(queue, d)
		}
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if keep[d] {
			continue
		}
		keep[d] = true
		for _, p := range dotImports[d.file] {
			needImports[imp{".", p}] = true
		}
		// A type brings its methods (they may satisfy interfaces).
		if gd, ok := d.node.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
			for _, s := range gd.Specs {
				for _, m := range methods[s.(*ast.TypeSpec).Name.Name] {
					add(m)
				}
			}
		}
		ast.Inspect(d.node, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Obj == nil {
					if p, ok := imports[d.file][id.Name]; ok {
						needImports[imp{id.Name, p}] = true
						return false
					}
				}
				ast.Inspect(x.X, func(n ast.Node) bool { return visitIdent(n, byName, topNodes, add) })
				return false
			}
			return visitIdent(n, byName, topNodes, add)
		})
	}

	// Imports: one name, one path.
	names := map[string]string{}
	var impLines []string
	for im := range needImports {
		if im.name != "." {
			if p, ok := names[im.name]; ok && p != im.path {
				return nil, fmt.Errorf("the name %s imports both %q and %q in different files; alias one of them", im.name, p, im.path)
			}
			names[im.name] = im.path
		}
		if im.name == importName(im.path) {
			impLines = append(impLines, "\t"+strconv.Quote(im.path))
		} else {
			impLines = append(impLines, "\t"+im.name+" "+strconv.Quote(im.path))
		}
	}
	sort.Strings(impLines)
	kept := make([]*decl, 0, len(keep))
	for d := range keep {
		kept = append(kept, d)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].order < kept[j].order })

	var sb strings.Builder
	sb.WriteString("package main\n")
	if len(impLines) > 0 {
		sb.WriteString("\nimport (\n" + strings.Join(impLines, "\n") + "\n)\n")
	}
	for _, d := range kept {
		start, end := fset.Position(d.node.Pos()), fset.Position(d.node.End())
		// Position (adjusted) gives the user's file and line, so //line
		// directives in a notebook's source carry over.
		sb.WriteString("\n" + sandbox.LineDirective(displayName(start.Filename), start.Line))
		src := files[d.file].src
		sb.Write(src[start.Offset:end.Offset])
		sb.WriteString("\n")
	}
	return &Func{sandbox.Program{Source: sb.String(), Entry: entry}}, nil
}

// visitIdent queues the top-level declaration an identifier refers to.
func visitIdent(n ast.Node, byName map[string]*decl, top map[ast.Node]*decl, add func(*decl)) bool {
	id, ok := n.(*ast.Ident)
	if !ok {
		return true
	}
	if id.Obj != nil {
		// Resolved within its file: top-level only if declared there.
		if node, ok := id.Obj.Decl.(ast.Node); ok {
			if d := top[node]; d != nil {
				add(d)
			}
		}
		return true
	}
	add(byName[id.Name])
	return true
}

// displayName turns a position's file name into the one errors show:
// the LineDirective suffix goes (it is added back when shipping), and a
// path is cut to its base name.
func displayName(name string) string {
	name = strings.TrimSuffix(name, "/job.go")
	if strings.Contains(name, string(filepath.Separator)) && strings.HasSuffix(name, ".go") {
		return filepath.Base(name)
	}
	return name
}

// importName is the name a package is imported under without an alias:
// the last path element, less a major-version suffix.
func importName(p string) string {
	base := path.Base(p)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" && path.Dir(p) != "." {
		base = path.Base(path.Dir(p))
	}
	return base
}

// recvName is the type name of a method receiver (T or *T, generic or not).
func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}
