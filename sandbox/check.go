package sandbox

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Import paths of gomplab's packages that jobs may use.
const (
	TensorPath = "github.com/gomplab/gomplab/tensor"
	MPCPath    = "github.com/gomplab/gomplab/mpc"
	NNPath     = "github.com/gomplab/gomplab/mpc/nn"
)

// allowedStdlib are the standard packages a job may import: computation
// and formatting only. Nothing here reaches files, the network, processes,
// the runtime or memory layout. (time is allowed with Sleep made
// cancellable and AfterFunc removed; see jailExports.)
var allowedStdlib = []string{
	"bytes", "cmp", "container/heap", "container/list", "container/ring",
	"errors", "fmt", "maps", "math", "math/big", "math/bits", "math/cmplx",
	"math/rand", "slices", "sort", "strconv", "strings", "time",
	"unicode", "unicode/utf16", "unicode/utf8",
}

// allowedGomplab are gomplab's packages a job may import.
var allowedGomplab = []string{TensorPath, MPCPath, NNPath}

// AllowedImports returns the import paths a job may use, sorted.
func AllowedImports() []string {
	out := append(append([]string{}, allowedStdlib...), allowedGomplab...)
	sort.Strings(out)
	return out
}

// Allowed reports whether a job may import path.
func Allowed(path string) bool {
	for _, p := range allowedStdlib {
		if p == path {
			return true
		}
	}
	for _, p := range allowedGomplab {
		if p == path {
			return true
		}
	}
	return false
}

// forbiddenWhy explains the usual suspects, so the refusal says why.
var forbiddenWhy = map[string]string{
	"os":            "file system, environment and processes",
	"os/exec":       "starting processes",
	"os/signal":     "signal handling",
	"net":           "network access",
	"net/http":      "network access",
	"syscall":       "system calls",
	"unsafe":        "memory outside the type system",
	"reflect":       "reflection",
	"io/fs":         "file systems",
	"io/ioutil":     "file system access",
	"plugin":        "loading code",
	"runtime":       "runtime control",
	"runtime/debug": "runtime control",
	"sync":          "goroutines are not allowed in jobs",
	"C":             "cgo",
}

// Check parses a job's source and refuses it, before anything runs, if it
// imports a package outside the whitelist or starts goroutines (parties
// run in lock step, and a panic in a goroutine cannot be contained
// in-process). The error is an *Error of kind KindForbidden naming the
// import and its position, or KindCompile for a syntax error.
func Check(p Program) error {
	_, _, err := parseProgram(p)
	return err
}

// Bounds on the names a Program gives the jail.
const (
	// MaxFileName bounds Program.File in bytes.
	MaxFileName = 255
	// MaxEntryName bounds Program.Entry in bytes.
	MaxEntryName = 128
)

// checkNames validates the texts of p that the jail splices into the
// source it generates around the program (see prepare): the entry must be
// a Go identifier and the file name a plain name (letters, digits, spaces
// and . _ - / [ ] ( ) + @ , =), so that neither can end a comment or a
// line and add code the checker never saw.
func checkNames(p Program) error {
	if p.Entry == "" {
		return errorf(KindCompile, "no entry function named")
	}
	if len(p.Entry) > MaxEntryName || !token.IsIdentifier(p.Entry) {
		return errorf(KindCompile, "entry %s is not a Go identifier of at most %d bytes (name a top-level function)", quoteClip(p.Entry), MaxEntryName)
	}
	if err := checkFileName(p.File); err != nil {
		return errorf(KindCompile, "program file name %s: %v", quoteClip(p.File), err)
	}
	return nil
}

// checkFileName validates a file name for positions and //line
// directives ("" is allowed: the default).
func checkFileName(name string) error {
	if len(name) > MaxFileName {
		return fmt.Errorf("%d bytes, more than %d", len(name), MaxFileName)
	}
	if !utf8.ValidString(name) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range name {
		if !fileNameRune(r) {
			return fmt.Errorf("character %q is not allowed (use letters, digits, spaces and . _ - / [ ] ( ) + @ , =)", r)
		}
	}
	return nil
}

// fileNameRune reports whether r may appear in a program's file name.
func fileNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-/ []()+@,=", r)
}

// quoteClip quotes s for an error, cut to 64 bytes.
func quoteClip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.QuoteToASCII(s)
}

// parseProgram parses and checks p.
func parseProgram(p Program) (*token.FileSet, *ast.File, error) {
	if err := checkNames(p); err != nil {
		return nil, nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, p.fileName(), p.Source, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, syntaxError(err)
	}
	for _, im := range f.Imports {
		path, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			return nil, nil, placed(fset, im.Path.Pos(), KindCompile, "malformed import path %s", im.Path.Value)
		}
		if !Allowed(path) {
			msg := fmt.Sprintf("import %q is not allowed in a job", path)
			if why := forbiddenWhy[path]; why != "" {
				msg += " (" + why + ")"
			}
			msg += "; allowed: " + strings.Join(AllowedImports(), ", ")
			return nil, nil, placed(fset, im.Path.Pos(), KindForbidden, "%s", msg)
		}
	}
	if err := checkConstructs(fset, f); err != nil {
		return nil, nil, err
	}
	return fset, f, nil
}

// checkConstructs refuses the constructs jobs may not use: go statements.
func checkConstructs(fset *token.FileSet, f *ast.File) error {
	var bad error
	ast.Inspect(f, func(n ast.Node) bool {
		if bad != nil {
			return false
		}
		if g, ok := n.(*ast.GoStmt); ok {
			bad = placed(fset, g.Pos(), KindForbidden, "go statement: jobs may not start goroutines (parties run in lock step)")
			return false
		}
		return true
	})
	return bad
}

// placed builds an *Error at pos.
func placed(fset *token.FileSet, pos token.Pos, k Kind, format string, args ...any) *Error {
	e := errorf(k, format, args...)
	if pos.IsValid() {
		ps := fset.Position(pos)
		e.File, e.Line, e.Col = displayFile(ps.Filename), ps.Line, ps.Column
	}
	return e
}

// syntaxError turns a go/parser error into a KindCompile *Error placed at
// the first error.
func syntaxError(err error) *Error {
	var list scanner.ErrorList
	if el, ok := err.(scanner.ErrorList); ok {
		list = el
	}
	if len(list) == 0 {
		return errorf(KindCompile, "%v", err)
	}
	first := list[0]
	e := errorf(KindCompile, "%s", first.Msg)
	e.File, e.Line, e.Col = displayFile(first.Pos.Filename), first.Pos.Line, first.Pos.Column
	if len(list) > 1 {
		e.Msg += fmt.Sprintf(" (and %d more errors)", len(list)-1)
	}
	return e
}
