package repl

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gomplab/gomplab/kernel/internal/godoc"
)

//go:generate go run ../internal/gendocs -o docs_gen.json github.com/gomplab/gomplab/tensor github.com/gomplab/gomplab/mpc github.com/gomplab/gomplab/mpc/nn github.com/gomplab/gomplab/syft github.com/gomplab/gomplab/kernel/display

//go:embed docs_gen.json
var embeddedDocs []byte

// docIndex finds documentation for package members: gomplab's packages
// from the docs embedded at build time, the standard library from the Go
// installation's source when it is present.
type docIndex struct {
	mu   sync.Mutex
	pkgs map[string]godoc.Entries
}

func newDocIndex() *docIndex {
	d := &docIndex{pkgs: map[string]godoc.Entries{}}
	_ = json.Unmarshal(embeddedDocs, &d.pkgs)
	return d
}

// lookup returns the doc text of name (or "Type.Method") in package path.
func (d *docIndex) lookup(path, name string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ents, ok := d.pkgs[path]
	if !ok {
		if root := build.Default.GOROOT; root != "" && !strings.Contains(path, ".") {
			ents, _ = godoc.Dir(filepath.Join(root, "src", filepath.FromSlash(path)), path)
		}
		d.pkgs[path] = ents // nil caches a miss
	}
	text, ok := ents[name]
	return text, ok
}

// source returns the source of name ("Name", "Type.Method") in package
// path when it is in the Go installation (the standard library); the
// docs of gomplab's packages are embedded without their source.
func (d *docIndex) source(path, name string) (string, bool) {
	root := build.Default.GOROOT
	if root == "" || strings.Contains(path, ".") {
		return "", false
	}
	src, err := godoc.Source(filepath.Join(root, "src", filepath.FromSlash(path)), name)
	return src, err == nil
}

// cellDeclDoc documents a function or type declared by a cell: its
// signature (detail 0) or its source (detail 1, and always for types).
func (s *Session) cellDeclDoc(kind, name string, detail int) string {
	s.prog.mu.Lock()
	d, ok := s.prog.decls[kind+" "+name]
	s.prog.mu.Unlock()
	if !ok {
		return fmt.Sprintf("%s %s (declared in a cell)", kind, name)
	}
	src := d.src
	if kind == "func" && detail < 1 {
		if f, err := parser.ParseFile(token.NewFileSet(), "cell", declPrefix+src, parser.SkipObjectResolution); err == nil && len(f.Decls) == 1 {
			if fd, ok := f.Decls[0].(*ast.FuncDecl); ok && fd.Body != nil {
				src = strings.TrimSpace((declPrefix + src)[int(fd.Pos())-1:int(fd.Body.Lbrace)-1]) + "\n\n(the source: ??" + name + ", or inspect with detail_level 1)"
			}
		}
	}
	return src + "\n\n(declared in a cell)"
}

// identChar reports whether c can be part of a Go identifier (ASCII only,
// which covers the identifiers completion deals with).
func identChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// exprBefore returns the dotted identifier chain ending at pos ("t.Sum",
// "fmt.Prin"), its start offset, and the last part.
func exprBefore(code string, pos int) (chain string, start int) {
	start = pos
	for start > 0 && (identChar(code[start-1]) || code[start-1] == '.') {
		start--
	}
	return code[start:pos], start
}

// Complete returns the candidates for the identifier ending at cursor:
// members of a package or of a value's type after a dot, otherwise
// keywords, builtins, imported packages and names declared by cells; inside
// an import path, importable packages.
func (s *Session) Complete(code string, cursor int) (matches []string, start, end int) {
	cursor = clampCursor(code, cursor)
	if p, ok := importPrefix(code[:cursor]); ok {
		var out []string
		for k := range s.exports {
			i := strings.LastIndex(k, "/")
			if i < 0 {
				continue
			}
			path := k[:i]
			if strings.HasPrefix(path, p) && !strings.HasPrefix(path, "github.com/traefik") {
				out = append(out, path)
			}
		}
		return dedupSorted(out), runeOffset(code, cursor-len(p)), runeOffset(code, cursor)
	}
	s.pendingImports = s.importsIn(code[:cursor])
	chain, cstart := exprBefore(code, cursor)
	dot := strings.LastIndex(chain, ".")
	prefix := chain[dot+1:]
	start = cursor - len(prefix)
	var cands []string
	if dot < 0 {
		cands = append(cands, goKeywords...)
		cands = append(cands, goBuiltins...)
		for name := range s.imports {
			cands = append(cands, name)
		}
		for name := range s.names {
			cands = append(cands, name)
		}
	} else {
		cands = s.members(chain[:dot])
	}
	_ = cstart
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) && !internalName(c) {
			matches = append(matches, c)
		}
	}
	return dedupSorted(matches), runeOffset(code, start), runeOffset(code, cursor)
}

// internalName reports whether a name is the kernel's or yaegi's, not the
// user's: the interpreter's helpers (gomplabCapture__, gomplabrt__, blocks)
// end in "__", and yaegi's symbol tables list interface wrappers as
// "_Name".
func internalName(name string) bool {
	return strings.HasPrefix(name, "_") || strings.HasSuffix(name, "__")
}

// runeOffset converts a byte offset into code to the code-point offset
// Jupyter messages use.
func runeOffset(code string, off int) int { return utf8.RuneCountInString(code[:off]) }

func clampCursor(code string, cursor int) int {
	// Jupyter counts the cursor in Unicode code points.
	if cursor < 0 {
		return len(code)
	}
	n := 0
	for i := range code {
		if n == cursor {
			return i
		}
		n++
	}
	return len(code)
}

// importsIn returns the packages imported by the import declarations in
// code (name -> path), so completion knows them before the cell runs.
func (s *Session) importsIn(code string) map[string]string {
	m := map[string]string{}
	chunks, _ := SplitCell(code)
	for _, c := range chunks {
		if c.Kind != ImportChunk {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), "cell", declPrefix+c.Src, parser.ImportsOnly|parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				continue
			}
			name := s.packageName(path)
			if spec.Name != nil {
				name = spec.Name.Name
			}
			m[name] = path
		}
	}
	return m
}

// importPrefix reports whether text ends inside an import path string and
// returns what is typed of the path so far.
func importPrefix(text string) (string, bool) {
	q := strings.LastIndexByte(text, '"')
	if q < 0 || strings.Count(text, "\"")%2 == 0 {
		return "", false
	}
	before := strings.TrimSpace(text[:q])
	f := strings.Fields(before)
	n := len(f)
	inBlock := strings.LastIndex(before, "import (") > strings.LastIndex(before, ")")
	if inBlock || n >= 1 && f[n-1] == "import" || n >= 2 && f[n-2] == "import" {
		return text[q+1:], true
	}
	return "", false
}

// members lists the exported members of base: a package's symbols (also
// of a package not imported yet, known by its name), or the methods and
// fields of a variable's type.
func (s *Session) members(base string) []string {
	path, ok := s.imports[base]
	if !ok {
		path, ok = s.pendingImports[base]
	}
	if !ok {
		if _, isVar := s.names[base]; !isVar {
			path, ok = s.knownPackage(base)
		}
	}
	if ok {
		var out []string
		for name := range s.exports[path+"/"+s.packageName(path)] {
			out = append(out, name)
		}
		return out
	}
	v, ok := s.valueOf(base)
	if !ok {
		return nil
	}
	var out []string
	t := v.Type()
	for i := 0; i < t.NumMethod(); i++ {
		out = append(out, t.Method(i).Name)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// valueOf evaluates a dotted chain of identifiers (no calls, so no side
// effects) and returns its value.
func (s *Session) valueOf(chain string) (reflect.Value, bool) {
	parts := strings.Split(chain, ".")
	for _, p := range parts {
		if !token.IsIdentifier(p) {
			return reflect.Value{}, false
		}
	}
	if _, ok := s.names[parts[0]]; !ok || s.names[parts[0]] == "type" || s.names[parts[0]] == "func" {
		return reflect.Value{}, false
	}
	v, err := s.it.Eval(chain)
	if err != nil || !v.IsValid() {
		return reflect.Value{}, false
	}
	if v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	return v, v.IsValid()
}

// Inspect returns documentation for the identifier at (or just before)
// cursor: a package member's declaration and doc comment, a method's doc,
// or a variable's type and value. When there is none there (the cursor
// is inside a call's parentheses, on an argument or a space), it documents
// the function being called. detail 0 gives the declaration and the first
// paragraph of the doc; 1 the whole doc, a type's methods, and the source
// of functions declared in cells or in the standard library.
func (s *Session) Inspect(code string, cursor, detail int) (map[string]any, bool) {
	cursor = clampCursor(code, cursor)
	end := cursor
	for end < len(code) && identChar(code[end]) {
		end++
	}
	chain, _ := exprBefore(code, end)
	chain = strings.Trim(chain, ".")
	if text, ok := s.docForChain(chain, detail); ok {
		return map[string]any{"text/plain": text}, true
	}
	if open := openCall(code[:cursor]); open >= 0 {
		chain, _ = exprBefore(code, open)
		if text, ok := s.docForChain(strings.Trim(chain, "."), detail); ok {
			return map[string]any{"text/plain": text}, true
		}
	}
	return nil, false
}

// openCall returns the offset of the innermost "(" left open in text
// (strings and comments are not parsed: good enough for one call), or -1.
func openCall(text string) int {
	depth := 0
	for i := len(text) - 1; i >= 0; i-- {
		switch text[i] {
		case ')', ']', '}':
			depth++
		case '(':
			if depth == 0 {
				return i
			}
			depth--
		case '[', '{':
			if depth == 0 {
				return -1
			}
			depth--
		case '\n':
			if depth == 0 && i > 0 && text[i-1] == '\n' {
				return -1 // a blank line: another statement
			}
		}
	}
	return -1
}

// docForChain documents a dotted name at a detail level.
func (s *Session) docForChain(chain string, detail int) (string, bool) {
	if chain == "" {
		return "", false
	}
	parts := strings.Split(chain, ".")
	for _, p := range parts {
		if !token.IsIdentifier(p) || internalName(p) {
			return "", false
		}
	}
	text, ok := s.docFor(parts, detail)
	if !ok {
		return "", false
	}
	if detail < 1 {
		text = briefDoc(text)
	}
	return text, true
}

// briefDoc shortens documentation to its declaration and first paragraph,
// pointing to the rest (detail level 1).
func briefDoc(text string) string {
	paras := strings.Split(text, "\n\n")
	if len(paras) <= 2 {
		return text
	}
	return paras[0] + "\n\n" + paras[1] + "\n\n(more: ??name, or inspect with detail_level 1)"
}

func (s *Session) docFor(parts []string, detail int) (string, bool) {
	// package or package member (pkg.Name, pkg.Type.Method), also for
	// packages not imported yet
	path, ok := s.imports[parts[0]]
	if !ok {
		path, ok = s.knownPackage(parts[0])
	}
	if ok {
		if len(parts) == 1 {
			doc, _ := s.docs.lookup(path, "")
			return fmt.Sprintf("package %s // import %q\n\n%s", parts[0], path, doc), true
		}
		name := strings.Join(parts[1:], ".")
		if doc, ok := s.docs.lookup(path, name); ok {
			if detail >= 1 {
				if src, ok := s.docs.source(path, name); ok {
					doc += "\n\nSource:\n" + src
				}
			}
			return doc, true
		}
		if len(parts) == 3 {
			// pkg.Type.Name where Name is no method: a function of the
			// package, as with tensor.Tensor.Softmax and tensor.Softmax?
			if doc, ok := s.docs.lookup(path, parts[2]); ok {
				if _, isType := s.docs.lookup(path, parts[1]); isType {
					return fmt.Sprintf("%s.%s has no method %s; %s.%s is a function of the package:\n\n%s",
						parts[0], parts[1], parts[2], parts[0], parts[2], doc), true
				}
			}
		}
		if _, ok := s.exports[path+"/"+s.packageName(path)][parts[1]]; ok && len(parts) == 2 {
			return fmt.Sprintf("%s.%s (no documentation found)", parts[0], parts[1]), true
		}
		return "", false
	}
	// a variable, or a method or field of one
	if kind, ok := s.names[parts[0]]; ok && len(parts) == 1 && (kind == "func" || kind == "type") {
		return s.cellDeclDoc(kind, parts[0], detail), true
	}
	base := parts
	if len(parts) > 1 {
		base = parts[:len(parts)-1]
	}
	v, ok := s.valueOf(strings.Join(base, "."))
	if !ok {
		if d, ok := builtinDocs[parts[0]]; ok && len(parts) == 1 {
			return d, true
		}
		return "", false
	}
	t := v.Type()
	if len(parts) == 1 {
		val := fmt.Sprint(v.Interface())
		if len(val) > 2000 {
			val = val[:2000] + "..."
		}
		text := fmt.Sprintf("%s: %s\n\n%s", parts[0], t, val)
		if doc, ok := s.typeDoc(t, ""); ok {
			text += "\n\n" + doc
		}
		return text, true
	}
	member := parts[len(parts)-1]
	if doc, ok := s.typeDoc(t, member); ok {
		return doc, true
	}
	if m, ok := t.MethodByName(member); ok {
		return fmt.Sprintf("func (%s) %s%s", t, member, strings.TrimPrefix(m.Type.String(), "func")), true
	}
	return "", false
}

// knownPackage finds an importable package by name when exactly one has
// that name, preferring the standard library ("rand" is ambiguous).
func (s *Session) knownPackage(name string) (string, bool) {
	var std, other []string
	for k := range s.exports {
		i := strings.LastIndex(k, "/")
		if i < 0 || k[i+1:] != name {
			continue
		}
		if path := k[:i]; strings.Contains(path, ".") {
			other = append(other, path)
		} else {
			std = append(std, path)
		}
	}
	switch {
	case len(std) == 1:
		return std[0], true
	case len(std) == 0 && len(other) == 1:
		return other[0], true
	}
	return "", false
}

// typeDoc finds the doc of a named type (or of its method) in the docs.
func (s *Session) typeDoc(t reflect.Type, method string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == "" || t.Name() == "" {
		return "", false
	}
	key := t.Name()
	if method != "" {
		key += "." + method
	}
	return s.docs.lookup(t.PkgPath(), key)
}

func dedupSorted(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, v := range in {
		if i == 0 || v != in[i-1] {
			out = append(out, v)
		}
	}
	return out
}

var goKeywords = []string{"break", "case", "chan", "const", "continue", "default", "defer", "else",
	"fallthrough", "for", "func", "go", "goto", "if", "import", "interface", "map", "package",
	"range", "return", "select", "struct", "switch", "type", "var"}

var goBuiltins = []string{"append", "cap", "clear", "close", "complex", "copy", "delete", "imag",
	"len", "make", "max", "min", "new", "panic", "print", "println", "real", "recover",
	"bool", "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8",
	"int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64",
	"uintptr", "any", "true", "false", "iota", "nil"}

var builtinDocs = map[string]string{
	"append":  "func append(slice []Type, elems ...Type) []Type\n\nappend adds elements to the end of a slice and returns the updated slice.",
	"len":     "func len(v Type) int\n\nlen returns the length of a string, slice, array, map or channel.",
	"cap":     "func cap(v Type) int\n\ncap returns the capacity of a slice, array or channel.",
	"make":    "func make(t Type, size ...IntegerType) Type\n\nmake allocates and initializes a slice, map or channel.",
	"new":     "func new(Type) *Type\n\nnew allocates a zero value of Type and returns a pointer to it.",
	"println": "func println(args ...Type)\n\nprintln writes its arguments, space separated, to the cell's stdout.",
}
