package syft

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gomplab/gomplab/sandbox"
)

// Path is this package's import path.
const Path = "github.com/gomplab/gomplab/syft"

// Notebook collects the top-level declarations and imports of notebook
// cells, so that a job function declared in a cell can be shipped with
// everything it uses from earlier cells. The notebook kernel feeds it
// every declaration chunk (Record) and rewrites every statement chunk
// (Rewrite) before running it: a function passed by name to
// RunMultiWorkers or FuncOf is replaced by its source, on the same line,
// so a cell reads as the user wrote it:
//
//	results, err := syft.RunMultiWorkers([]syft.Worker{alice, bob}, "127.0.0.1", product)
//
// A Notebook is safe for concurrent use.
type Notebook struct {
	mu      sync.Mutex
	imports map[string]string // name -> path
	decls   map[string]*nbDecl
	seq     int
}

// nbDecl is one recorded declaration.
type nbDecl struct {
	cell string
	line int
	text string
	seq  int
}

// NewNotebook returns an empty Notebook.
func NewNotebook() *Notebook {
	return &Notebook{imports: map[string]string{}, decls: map[string]*nbDecl{}}
}

// Record adds the imports and declarations of src, a run of top-level
// declarations that starts on line `line` of the cell named cell
// ("cell[3]"). A later declaration of the same name replaces the earlier
// one, as it does in the kernel.
func (n *Notebook) Record(cell string, line int, src string) error {
	const head = "package main\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "cell.go", head+src, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, im := range f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			continue
		}
		name := importName(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		if name != "_" && name != "." {
			n.imports[name] = p
		}
	}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			continue
		}
		start, end := fset.Position(d.Pos()), fset.Position(d.End())
		n.seq++
		rec := &nbDecl{cell: cell, line: line + start.Line - 2, text: (head + src)[start.Offset:end.Offset], seq: n.seq}
		for _, name := range declNames(d) {
			n.decls[name] = rec
		}
	}
	return nil
}

// declNames are the names a top-level declaration defines; methods are
// keyed "Type.Method" so that redefining one replaces it.
func declNames(d ast.Decl) []string {
	switch x := d.(type) {
	case *ast.FuncDecl:
		if x.Recv != nil && len(x.Recv.List) == 1 {
			return []string{recvName(x.Recv.List[0].Type) + "." + x.Name.Name}
		}
		return []string{x.Name.Name}
	case *ast.GenDecl:
		var out []string
		for _, s := range x.Specs {
			switch sp := s.(type) {
			case *ast.TypeSpec:
				out = append(out, sp.Name.Name)
			case *ast.ValueSpec:
				for _, id := range sp.Names {
					out = append(out, id.Name)
				}
			}
		}
		return out
	}
	return nil
}

// Func returns the job function named entry with the declarations it uses
// and their imports, positioned at the cells they came from.
func (n *Notebook) Func(entry string) (*Func, error) {
	n.mu.Lock()
	d := n.decls[entry]
	if d == nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("syft: no function %s declared in the notebook", entry)
	}
	src := n.fileLocked()
	n.mu.Unlock()
	return ExtractFunc(src, entry)
}

// fileLocked renders every recorded declaration as one Go file.
func (n *Notebook) fileLocked() string {
	var b strings.Builder
	b.WriteString("package main\n")
	var names []string
	for name := range n.imports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := n.imports[name]
		if name == importName(p) {
			fmt.Fprintf(&b, "import %q\n", p)
		} else {
			fmt.Fprintf(&b, "import %s %q\n", name, p)
		}
	}
	seen := map[*nbDecl]bool{}
	var ds []*nbDecl
	for _, d := range n.decls {
		if !seen[d] {
			seen[d] = true
			ds = append(ds, d)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].seq < ds[j].seq })
	for _, d := range ds {
		b.WriteString("\n" + sandbox.LineDirective(d.cell, d.line))
		b.WriteString(d.text + "\n")
	}
	return b.String()
}

// shipping lists the syft functions whose function argument Rewrite
// replaces by its source, and which argument that is.
var shipping = map[string]int{"RunMultiWorkers": 2, "FuncOf": 0}

// Rewrite returns src, a run of statements of a cell, with every function
// passed by name to syft.RunMultiWorkers or syft.FuncOf replaced by
// syft.SourceFunc(<its source>, "<name>"), when the name is a function
// declared in the notebook. Replacements stay on their line, so positions
// in the rest of the cell do not move. Source that does not parse is
// returned unchanged (the interpreter will report it).
func (n *Notebook) Rewrite(src string) string {
	n.mu.Lock()
	syftName := ""
	for name, p := range n.imports {
		if p == Path {
			syftName = name
		}
	}
	n.mu.Unlock()
	if syftName == "" || !strings.Contains(src, syftName+".") {
		return src
	}
	const head = "package p\nfunc _() {\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "cell.go", head+src+"\n}", parser.SkipObjectResolution)
	if err != nil {
		return src
	}
	type edit struct {
		at, end int
		text    string
	}
	var edits []edit
	ast.Inspect(f, func(node ast.Node) bool {
		call, ok := node.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != syftName {
			return true
		}
		i, ok := shipping[sel.Sel.Name]
		if !ok || len(call.Args) <= i {
			return true
		}
		id, ok := call.Args[i].(*ast.Ident)
		if !ok {
			return true
		}
		fn, err := n.Func(id.Name)
		if err != nil {
			return true
		}
		at := fset.Position(id.Pos()).Offset - len(head)
		edits = append(edits, edit{at, at + len(id.Name),
			fmt.Sprintf("%s.SourceFunc(%s, %q)", syftName, strconv.Quote(fn.Source), fn.Entry)})
		return true
	})
	if len(edits) == 0 {
		return src
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].at < edits[j].at })
	var b strings.Builder
	last := 0
	for _, e := range edits {
		if e.at < last || e.end > len(src) {
			return src
		}
		b.WriteString(src[last:e.at])
		b.WriteString(e.text)
		last = e.end
	}
	b.WriteString(src[last:])
	return b.String()
}
