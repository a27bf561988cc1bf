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
