package repl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Third-party packages in cells: yaegi interprets a package it has no
// symbol table for from its source, which it looks up GOPATH-style
// (GOPATH/src/IMPORT/PATH). moduleCache presents Go's module cache in that
// layout: GOPATH/src/example.com/mod/pkg is pkg in the newest version of
// module example.com/mod found in the cache. Packages that use only Go and
// the standard library load this way; cgo, assembly and unsafe cannot be
// interpreted.

// srcRoot is the GOPATH the session gives yaegi, so that its lookups land
// in the module cache.
const srcRoot = "gomodcache"

// moduleCache is an fs.FS over a module cache directory, laid out as
// srcRoot/src/IMPORT/PATH.
type moduleCache struct {
	dir string
}

// DefaultModuleCache returns the module cache directory as the go command
// would use it: $GOMODCACHE, else the first $GOPATH entry's pkg/mod, else
// ~/go/pkg/mod.
func DefaultModuleCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// Open implements fs.FS.
func (m moduleCache) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	rest, ok := strings.CutPrefix(name, srcRoot+"/src/")
	if !ok || m.dir == "" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	dir, sub, ok := m.locate(rest)
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return os.DirFS(dir).Open(sub)
}

// locate finds the module holding import path p (the longest module path
// that prefixes it and is in the cache, newest version) and returns the
// module's directory and p's path inside it.
func (m moduleCache) locate(p string) (dir, sub string, ok bool) {
	parts := strings.Split(p, "/")
	for _, part := range parts {
		if part == "vendor" {
			return "", "", false // yaegi's vendor lookups
		}
	}
	if parts[0] == "main" {
		return "", "", false // yaegi's lookups relative to package main
	}
	for n := len(parts); n > 0; n-- {
		mod := strings.Join(parts[:n], "/")
		if v, ok := m.newest(mod); ok {
			sub := strings.Join(parts[n:], "/")
			if sub == "" {
				sub = "."
			}
			return filepath.Join(m.dir, filepath.FromSlash(escapePath(mod))+"@"+v), sub, true
		}
	}
	return "", "", false
}

// Has reports whether the cache holds a module providing import path p.
func (m moduleCache) Has(p string) bool {
	dir, sub, ok := m.locate(p)
	if !ok {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(sub)))
	return err == nil && fi.IsDir()
}

// newest returns the newest version of module mod in the cache.
func (m moduleCache) newest(mod string) (string, bool) {
	esc := escapePath(mod)
	parent := filepath.Join(m.dir, filepath.FromSlash(path.Dir(esc)))
	ents, err := os.ReadDir(parent)
	if err != nil {
		return "", false
	}
	base := path.Base(esc) + "@"
	var versions []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), base) {
			versions = append(versions, e.Name()[len(base):])
		}
	}
	if len(versions) == 0 {
		return "", false
	}
	sort.Slice(versions, func(i, j int) bool { return semverLess(versions[i], versions[j]) })
	return versions[len(versions)-1], true
}

// Modules lists the module paths in the cache (at most limit), sorted.
func (m moduleCache) Modules(limit int) []string {
	var out []string
	stop := errors.New("enough")
	_ = filepath.WalkDir(m.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(m.dir, p)
		if rel == "cache" {
			return filepath.SkipDir // downloads, not modules
		}
		if i := strings.LastIndex(d.Name(), "@"); i > 0 {
			mod := unescapePath(filepath.ToSlash(filepath.Join(filepath.Dir(rel), d.Name()[:i])))
			if len(out) == 0 || out[len(out)-1] != mod {
				out = append(out, mod)
			}
			if len(out) >= limit {
				return stop
			}
			return filepath.SkipDir
		}
		if strings.Count(rel, string(filepath.Separator)) > 4 {
			return filepath.SkipDir
		}
		return nil
	})
	sort.Strings(out)
	return dedupSorted(out)
}

// escapePath is the module cache's case encoding: an upper-case letter is
// "!" and its lower case.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unescapePath(p string) string {
	var b strings.Builder
	bang := false
	for _, r := range p {
		switch {
		case r == '!':
			bang = true
			continue
		case bang && 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		}
		bang = false
		b.WriteRune(r)
	}
	return b.String()
}

// semverLess orders module versions: by major, minor, patch; a release
// after its pre-releases (pseudo-versions are pre-releases); invalid
// versions first.
func semverLess(a, b string) bool {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	switch {
	case !oka || !okb:
		return !oka && okb || !oka && !okb && a < b
	}
	for i := 0; i < 3; i++ {
		if pa.n[i] != pb.n[i] {
			return pa.n[i] < pb.n[i]
		}
	}
	switch {
	case pa.pre == pb.pre:
		return false
	case pa.pre == "":
		return false
	case pb.pre == "":
		return true
	}
	return pa.pre < pb.pre
}

type version struct {
	n   [3]int
	pre string
}

func parseVersion(v string) (version, bool) {
	var out version
	v, ok := strings.CutPrefix(v, "v")
	if !ok {
		return out, false
	}
	v, _, _ = strings.Cut(v, "+")
	v, out.pre, _ = strings.Cut(v, "-")
	nums := strings.Split(v, ".")
	if len(nums) != 3 {
		return out, false
	}
	for i, s := range nums {
		n, err := strconv.Atoi(s)
		if err != nil {
			return out, false
		}
		out.n[i] = n
	}
	return out, true
}

// notInterpretable are imports a package loaded from source cannot have:
// the interpreter has no symbols for them.
var notInterpretable = map[string]bool{"unsafe": true, "C": true, "syscall": true, "os/exec": true, "plugin": true, "os/signal": true}

// importError explains an import that failed, from yaegi's error chain
// ("import "A" error: a.go:6:2: import "B" error: ..."): the package the
// cell imported, A, and the one that is missing, B (A itself, or a package
// A needs). nil when msg is not an import failure.
func (s *Session) importError(msg string) *CellError {
	ms := importFailed.FindAllStringSubmatch(msg, -1)
	if len(ms) == 0 || !strings.Contains(msg, "unable to find source related to") && !strings.Contains(msg, "file does not exist") {
		return nil
	}
	top, missing := ms[0][1], ms[len(ms)-1][1]
	var text string
	switch {
	case notInterpretable[missing] && top != missing:
		text = fmt.Sprintf("package %q was found in the module cache, but it imports %q, which the kernel cannot interpret: "+
			"only packages written in plain Go (with the standard library) load from source", top, missing)
	case isModulePath(missing) && top == missing:
		text = fmt.Sprintf("package %q is not in the Go module cache (%s): download it with `go mod download %s@latest` "+
			"(or `go get` it in a module), then import it again; pure-Go packages load from the cache", missing, s.modules.dir, missing)
	case isModulePath(missing):
		text = fmt.Sprintf("package %q needs %q, which is not in the Go module cache (%s): download it with `go mod download %s@latest`, then import again",
			top, missing, s.modules.dir, missing)
	default:
		text = fmt.Sprintf("package %q is not available in the gomplab kernel: it offers the standard library (less os/signal), "+
			"gomplab's packages, gomplab/display, gonum.org/v1/plot, and pure-Go packages from the module cache (%%packages lists them)", missing)
		if top != missing {
			text = fmt.Sprintf("package %q needs %q, which ", top, missing) + strings.TrimPrefix(text, fmt.Sprintf("package %q ", missing))
		}
	}
	return &CellError{Ename: "ImportError", Evalue: text, Traceback: []string{"\x1b[31mImportError\x1b[0m: " + text}}
}

// isModulePath reports whether an import path names a module's package
// (its first element has a dot, as a domain), not a standard one.
func isModulePath(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return strings.Contains(first, ".")
}
