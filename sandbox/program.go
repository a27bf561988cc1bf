package sandbox

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Program is Go source shipped to a jail: one file holding the entry
// function and every declaration it uses, with its imports. The file may
// carry //line directives (source gathered from notebook cells does), so
// that errors point at the lines the user wrote; build them with
// LineDirective, because yaegi scopes imports by the base name of the
// file a position is in, so every directive must keep the same base name.
type Program struct {
	// Source is the file's text. Its package clause may name any package;
	// the jail runs it as package main.
	Source string `msgpack:"source"`
	// Entry is the name of the top-level function to call.
	Entry string `msgpack:"entry"`
	// File names the source in positions when it has no //line
	// directives ("job.go" when empty).
	File string `msgpack:"file,omitempty"`
}

// jobFile is the base name of every position in a shipped program.
const jobFile = "job.go"

func (p Program) fileName() string {
	if p.File == "" {
		return jobFile
	}
	return p.File + "/" + jobFile
}

// LineDirective returns a //line directive (with its newline) that makes
// the next line of a Program's source line `line` of `file` in errors.
// Characters a file name may not hold (see Program.File) become '_' and
// the name is cut to MaxFileName bytes, so the directive stays one
// comment line whatever file is.
func LineDirective(file string, line int) string {
	return fmt.Sprintf("//line %s/%s:%d\n", safeFileName(file), jobFile, line)
}

// safeFileName replaces the characters checkFileName refuses with '_'
// and cuts the name to MaxFileName bytes.
func safeFileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if fileNameRune(r) {
			return r
		}
		return '_'
	}, name)
	for len(name) > MaxFileName {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return name
}

// displayFile strips the base name LineDirective adds (and cuts what a
// directive in the source named to MaxFileName bytes).
func displayFile(name string) string {
	if name == jobFile {
		return name
	}
	return clipText(strings.TrimSuffix(name, "/"+jobFile), MaxFileName)
}

// Identifiers the jail adds to a program. The double underscore keeps
// them out of the way of user code.
const (
	jobPkgPath  = "gomplab/job"
	lineVar     = "gomplabLine__"
	jobPkgName  = "gomplabjob__"
	entryWrap   = "gomplabEntry__"
	entryPseudo = "gomplab-entry"
)

// prepared is a checked program, instrumented and wrapped, ready for an
// interpreter.
type prepared struct {
	src string
	// imports are the import paths the program uses.
	imports []string
	// lines[i] is the user-visible position of instrumented statement i.
	lines []token.Position
	// params are the entry's parameter types as written, and variadic
	// says the last one is "...T".
	params   []string
	variadic bool
	nresults int
	// errorOnly says a single result is an error.
	errorOnly bool
}

// prepare checks p (imports, goroutines), finds its entry, and rewrites it
// for the jail:
//
//   - the package is renamed main (on the same line);
//   - the job runtime package is imported on the package clause's line;
//   - every statement in a block or case clause that may panic, block or
//     run long (see mayStop) is preceded, on its line, by an assignment of
//     the statement's index to a global variable (the wrapper's), so a panic or a timeout can be placed at the
//     statement that was running (yaegi itself reports only the first line
//     of the function);
//   - the tracking variable is appended; the wrapper that calls the entry
//     comes later (see wrapper), once the arguments are converted.
//
// Insertions never add a newline inside the user's text, so positions
// (and //line directives) keep their meaning.
func prepare(p Program) (*prepared, error) {
	fset, f, err := parseProgram(p)
	if err != nil {
		return nil, err
	}
	if p.Entry == "" {
		return nil, errorf(KindCompile, "no entry function named")
	}
	var entry *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == p.Entry {
			entry = fd
		}
	}
	if entry == nil {
		return nil, errorf(KindCompile, "entry function %s not found in the source", p.Entry)
	}
	if entry.Type.TypeParams != nil {
		return nil, placed(fset, entry.Pos(), KindCompile, "entry function %s is generic; instantiate it in a plain function", p.Entry)
	}
	pr := &prepared{}
	for _, im := range f.Imports {
		if p, err := strconv.Unquote(im.Path.Value); err == nil && !slices.Contains(pr.imports, p) {
			pr.imports = append(pr.imports, p)
		}
	}
	tf := fset.File(f.Pos())
	off := func(pos token.Pos) int { return tf.Offset(pos) }

	type edit struct {
		at, end int // replace [at,end) with text
		text    string
	}
	var edits []edit
	pkgEdit := ""
	if f.Name.Name != "main" {
		pkgEdit = "main"
	} else {
		pkgEdit = f.Name.Name
	}
	edits = append(edits, edit{off(f.Name.Pos()), off(f.Name.End()),
		pkgEdit + "; import " + jobPkgName + " " + fmt.Sprintf("%q", jobPkgPath)})

	mark := func(list []ast.Stmt) {
		for _, s := range list {
			if !mayStop(s) {
				continue
			}
			pr.lines = append(pr.lines, fset.Position(s.Pos()))
			at := off(s.Pos())
			edits = append(edits, edit{at, at, fmt.Sprintf("%s = %d; ", lineVar, len(pr.lines))})
		}
	}
	// The bodies of switch and select statements hold clauses, not
	// statements.
	clauses := map[*ast.BlockStmt]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch b := n.(type) {
		case *ast.SwitchStmt:
			clauses[b.Body] = true
		case *ast.TypeSwitchStmt:
			clauses[b.Body] = true
		case *ast.SelectStmt:
			clauses[b.Body] = true
		case *ast.BlockStmt:
			if !clauses[b] {
				mark(b.List)
			}
		case *ast.CaseClause:
			mark(b.Body)
		case *ast.CommClause:
			mark(b.Body)
		}
		return true
	})

	// The entry's signature, as written, for the wrapper.
	typeText := func(e ast.Expr) string {
		var sb strings.Builder
		printer.Fprint(&sb, fset, e)
		return sb.String()
	}
	for _, fld := range entry.Type.Params.List {
		t := fld.Type
		if el, ok := t.(*ast.Ellipsis); ok {
			pr.variadic = true
			t = &ast.ArrayType{Elt: el.Elt}
		}
		n := len(fld.Names)
		if n == 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			pr.params = append(pr.params, typeText(t))
		}
	}
	if entry.Type.Results != nil {
		var types []string
		for _, fld := range entry.Type.Results.List {
			n := len(fld.Names)
			if n == 0 {
				n = 1
			}
			for i := 0; i < n; i++ {
				types = append(types, typeText(fld.Type))
			}
		}
		pr.nresults = len(types)
		switch {
		case len(types) == 1 && types[0] == "error":
			pr.errorOnly = true
		case len(types) == 2 && types[1] != "error", len(types) > 2:
			return nil, placed(fset, entry.Pos(), KindCompile,
				"entry function %s returns (%s); it must return nothing, a value, an error, or (value, error)",
				p.Entry, strings.Join(types, ", "))
		}
	}

	sort.SliceStable(edits, func(i, j int) bool { return edits[i].at < edits[j].at })
	// Name the file in yaegi's positions; the directive applies to the
	// next line, which is the source's first.
	var sb strings.Builder
	sb.WriteString("//line " + p.fileName() + ":1\n")
	last := 0
	for _, e := range edits {
		sb.WriteString(p.Source[last:e.at])
		sb.WriteString(e.text)
		last = e.end
	}
	sb.WriteString(p.Source[last:])
	sb.WriteString("\n" + LineDirective(entryPseudo, 1))
	sb.WriteString("var " + lineVar + " int\n")
	sb.WriteString(pr.wrapper(p.Entry))
	pr.src = sb.String()
	if err := verifyGenerated(pr.src, len(f.Decls)); err != nil {
		return nil, err
	}
	return pr, nil
}

// verifyGenerated checks the source prepare generated, as the
// interpreter will see it, so that nothing spliced into it (names, types
// as written, directives) added code the checks of the user's source did
// not see: it must parse, import only allowed packages and the job
// runtime, start no goroutine, and declare exactly the user's declarations
// plus the runtime's import, the line variable and the entry wrapper.
func verifyGenerated(src string, userDecls int) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, jobFile, src, parser.SkipObjectResolution)
	if err != nil {
		return errorf(KindCompile, "the program cannot be prepared for the jail (%s); check the entry's parameter and result types", firstLine(err.Error()))
	}
	runtime := 0
	for _, im := range f.Imports {
		path, err := strconv.Unquote(im.Path.Value)
		switch {
		case err == nil && path == jobPkgPath:
			runtime++
		case err != nil || !Allowed(path):
			return errorf(KindForbidden, "the prepared program imports %s", quoteClip(im.Path.Value))
		}
	}
	if runtime != 1 {
		return errorf(KindForbidden, "the prepared program imports the job runtime %d times", runtime)
	}
	if err := checkConstructs(fset, f); err != nil {
		return err
	}
	n := len(f.Decls)
	if n != userDecls+3 {
		return errorf(KindForbidden, "the prepared program has %d declarations, want the program's %d and the jail's 3", n, userDecls)
	}
	if fd, ok := f.Decls[n-1].(*ast.FuncDecl); !ok || fd.Name.Name != entryWrap || fd.Recv != nil {
		return errorf(KindForbidden, "the prepared program does not end with the jail's entry wrapper")
	}
	return nil
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// mayStop reports whether running s can panic, block or take long: the
// statements worth tracking. Simple statements of plain arithmetic and
// assignment are skipped (tracking costs about one interpreted step), so a
// tight loop of them runs at full speed and a stop inside one is placed at
// the loop.
func mayStop(s ast.Stmt) bool {
	switch s.(type) {
	case *ast.EmptyStmt, *ast.BranchStmt, *ast.LabeledStmt:
		return false
	case *ast.AssignStmt, *ast.IncDecStmt, *ast.ExprStmt, *ast.ReturnStmt, *ast.DeclStmt:
	default:
		// Compound statements (if, for, switch, select, go, defer,
		// send) run once per entry and may block or evaluate calls.
		return true
	}
	risky := false
	ast.Inspect(s, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncLit:
			return false // its body is tracked on its own
		case *ast.CallExpr, *ast.IndexExpr, *ast.IndexListExpr, *ast.SliceExpr, *ast.StarExpr, *ast.TypeAssertExpr:
			risky = true
		case *ast.BinaryExpr:
			risky = risky || x.Op == token.QUO || x.Op == token.REM
		case *ast.UnaryExpr:
			risky = risky || x.Op == token.ARROW
		case *ast.AssignStmt:
			risky = risky || x.Tok == token.QUO_ASSIGN || x.Tok == token.REM_ASSIGN
		}
		return !risky
	})
	return risky
}

// wrapper is the appended function that runs the entry: arguments come
// from the runtime already converted to the parameter types, and results
// go back to it. Done is deferred so the host knows when the interpreted
// code has stopped, even after a timeout.
func (pr *prepared) wrapper(entry string) string {
	var args []string
	for i, t := range pr.params {
		// A nil argument becomes the zero value of t (the comma-ok
		// assertion would be shorter but yaegi mishandles it for host
		// pointer types).
		a := fmt.Sprintf("func() %s { if a := %s.Arg(%d); a != nil { return a.(%s) }; var z %s; return z }()",
			t, jobPkgName, i, t, t)
		if pr.variadic && i == len(pr.params)-1 {
			a += "..."
		}
		args = append(args, a)
	}
	call := entry + "(" + strings.Join(args, ", ") + ")"
	var body string
	switch {
	case pr.nresults == 0:
		body = call + "; " + jobPkgName + ".Return(nil, nil)"
	case pr.errorOnly:
		body = "err := " + call + "; " + jobPkgName + ".Return(nil, err)"
	case pr.nresults == 1:
		body = "v := " + call + "; " + jobPkgName + ".Return(v, nil)"
	default:
		body = "v, err := " + call + "; " + jobPkgName + ".Return(v, err)"
	}
	return "func " + entryWrap + "() { defer " + jobPkgName + ".Done(); " + body + " }\n"
}

// position returns the user-visible position of instrumented statement i
// (1-based), or the zero Position.
func (pr *prepared) position(i int) token.Position {
	if i < 1 || i > len(pr.lines) {
		return token.Position{}
	}
	return pr.lines[i-1]
}
