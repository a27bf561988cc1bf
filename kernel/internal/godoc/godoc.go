// Package godoc extracts documentation of a package's exported
// identifiers from its source with go/doc, as short text entries the
// kernel shows for inspect requests.
package godoc

import (
	"bytes"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"strings"
)

// Entries maps "Name" (or "Type.Method") to the identifier's declaration
// followed by its doc comment; the key "" holds the package synopsis.
type Entries map[string]string

// Dir reads the Go package in dir (tests excluded) and returns its
// exported identifiers' documentation.
func Dir(dir, importPath string) (Entries, error) {
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var list []*ast.File
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, dir+"/"+name, nil, parser.ParseComments)
		if err != nil {
			continue
		}
		if len(list) > 0 && f.Name.Name != list[0].Name.Name {
			continue
		}
		files[name] = f
		list = append(list, f)
	}
	if len(list) == 0 {
		return nil, fs.ErrNotExist
	}
	p, err := doc.NewFromFiles(fset, list, importPath)
	if err != nil {
		return nil, err
	}
	out := Entries{"": strings.TrimSpace(p.Doc)}
	decl := func(n any) string {
		var b bytes.Buffer
		cfg := printer.Config{Mode: printer.UseSpaces, Tabwidth: 4}
		_ = cfg.Fprint(&b, fset, n)
		return b.String()
	}
	funcDecl := func(f *doc.Func) string {
		d := *f.Decl
		d.Body = nil
		d.Doc = nil
		return decl(&d) + "\n\n" + strings.TrimSpace(f.Doc)
	}
	for _, f := range p.Funcs {
		out[f.Name] = funcDecl(f)
	}
	for _, v := range append(append([]*doc.Value{}, p.Consts...), p.Vars...) {
		text := decl(v.Decl) + "\n\n" + strings.TrimSpace(v.Doc)
		for _, n := range v.Names {
			out[n] = text
		}
	}
	for _, t := range p.Types {
		var methods []string
		for _, m := range t.Methods {
			out[t.Name+"."+m.Name] = funcDecl(m)
			d := *m.Decl
			d.Body, d.Doc = nil, nil
			methods = append(methods, decl(&d))
		}
		text := decl(t.Decl) + "\n\n" + strings.TrimSpace(t.Doc)
		if len(methods) > 0 {
			text += "\n\nMethods:\n  " + strings.Join(methods, "\n  ")
		}
		out[t.Name] = text
		for _, f := range t.Funcs {
			out[f.Name] = funcDecl(f)
		}
		for _, v := range append(append([]*doc.Value{}, t.Consts...), t.Vars...) {
			vt := decl(v.Decl) + "\n\n" + strings.TrimSpace(v.Doc)
			for _, n := range v.Names {
				out[n] = vt
			}
		}
	}
	return out, nil
}

// Source returns the source of the exported declaration name ("Name" or
// "Type.Method") of the Go package in dir, with its doc comment.
func Source(dir, name string) (string, error) {
	typ, member, isMethod := strings.Cut(name, ".")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		fn := e.Name()
		if e.IsDir() || !strings.HasSuffix(fn, ".go") || strings.HasSuffix(fn, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		path := dir + "/" + fn
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		text := func(n ast.Node, doc *ast.CommentGroup) string {
			start := n.Pos()
			if doc != nil {
				start = doc.Pos()
			}
			return string(src[fset.Position(start).Offset:fset.Position(n.End()).Offset])
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !isMethod && d.Recv == nil && d.Name.Name == name {
					return text(d, d.Doc), nil
				}
				if isMethod && d.Recv != nil && d.Name.Name == member && len(d.Recv.List) == 1 && recvName(d.Recv.List[0].Type) == typ {
					return text(d, d.Doc), nil
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					if ts, ok := sp.(*ast.TypeSpec); ok && !isMethod && ts.Name.Name == name {
						if len(d.Specs) == 1 {
							return text(d, d.Doc), nil
						}
						return text(ts, ts.Doc), nil
					}
				}
			}
		}
	}
	return "", fs.ErrNotExist
}

// recvName is the type name of a method receiver (T, *T, T[P]).
func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.IndexExpr:
		return recvName(e.X)
	case *ast.IndexListExpr:
		return recvName(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}
