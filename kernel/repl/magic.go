package repl

import (
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Magics: a cell whose first line starts with "%" begins with a command
// to the kernel rather than Go, as in IPython:
//
//	%help                  what the kernel offers
//	%packages [FILTER]     the packages cells can import
//	%time STATEMENT        run once and print how long it took
//	%timeit [-n N] [-r R] STATEMENT
//	                       run many times and print the time per run
//	%%time, %%timeit ...   the same for the rest of the cell
//
// The rest of a cell after a line magic runs as Go; after a cell magic it
// is what the magic applies to.

// magicLine splits a cell starting with a magic into the magic's name
// ("time", "%time" for a cell magic), its arguments, and the rest of the
// cell (with the magic line blanked, so cell line numbers hold).
func magicLine(code string) (name, args, rest string, ok bool) {
	trimmed := strings.TrimLeft(code, " \t\n")
	if !strings.HasPrefix(trimmed, "%") {
		return "", "", "", false
	}
	lead := code[:len(code)-len(trimmed)]
	line, after, _ := strings.Cut(trimmed, "\n")
	name, args, _ = strings.Cut(strings.TrimSpace(line[1:]), " ")
	return name, strings.TrimSpace(args), lead + "\n" + after, true
}

// magicHelp is %help's text.
const magicHelp = `gomplab kernel: Go cells interpreted by yaegi, with gomplab's tensors, workers and MPC.

  ?name, name?       documentation (?tensor.MatMul, ?fmt.Sprintf); ??name adds the source
  Tab                complete; Shift-Tab inside a call's parentheses: its documentation
  Interrupt (i i)    stops the running cell; a cell blocked in compiled code for over
                     1 s gets a new interpreter (the error says so)
  "package main"     a cell starting with it runs as a program (main runs once)

Magics (first line of a cell):
  %help                          this text
  %packages [FILTER]             packages cells can import
  %time STATEMENT                run once, print the wall time
  %timeit [-n N] [-r R] STMT     run N times per round, R rounds; print the time per run
  %%time, %%timeit [-n N] [-r R] the same for the rest of the cell

Rich output: import "gomplab/display" (HTML, Markdown, Latex, SVG, PNG, JPEG, PDF,
JavaScript, JSON, File, MIME, Plot, NewProgress, ...). Third-party packages load
from the Go module cache when written in plain Go.
Guide: docs/kernel.md in the gomplab repository.
`

// magic runs one magic.
func (s *Session) magic(ctx context.Context, name, args, rest string) (Result, *CellError) {
	fail := func(format string, a ...any) (Result, *CellError) {
		msg := fmt.Sprintf(format, a...)
		return Result{}, &CellError{Ename: "MagicError", Evalue: msg, Traceback: []string{"\x1b[31mMagicError\x1b[0m: " + msg}}
	}
	switch name {
	case "help":
		_, _ = io.WriteString(s.stdout, magicHelp)
		return s.run(ctx, rest)
	case "packages":
		_, _ = io.WriteString(s.stdout, s.packageList(args))
		return s.run(ctx, rest)
	case "time", "%time":
		code := args
		if name == "%time" {
			code, rest = rest, ""
		}
		start := time.Now()
		res, cerr := s.run(ctx, code)
		fmt.Fprintf(s.stdout, "wall time: %s\n", formatDuration(time.Since(start).Seconds()))
		if cerr != nil || strings.TrimSpace(rest) == "" {
			return res, cerr
		}
		return s.run(ctx, rest)
	case "timeit", "%timeit":
		opts, code, err := timeitArgs(args)
		if err != nil {
			return fail("%%%s: %v", name, err)
		}
		if name == "%timeit" {
			if code != "" {
				return fail("%%%%timeit times the rest of the cell; put the code there, not after the options")
			}
			code, rest = rest, ""
		}
		if strings.TrimSpace(code) == "" {
			return fail("%%%s: nothing to time", name)
		}
		if cerr := s.timeit(ctx, code, opts); cerr != nil {
			return Result{}, cerr
		}
		if strings.TrimSpace(rest) != "" {
			return s.run(ctx, rest)
		}
		return Result{}, nil
	}
	return fail("unknown magic %%%s: %%help lists the magics", name)
}

// timeitOptions are %timeit's -n (runs per round, 0: chosen so a round
// takes at least 0.2 s) and -r (rounds).
type timeitOptions struct{ number, repeat int }

func timeitArgs(args string) (timeitOptions, string, error) {
	opts := timeitOptions{repeat: 7}
	f := strings.Fields(args)
	i := 0
	for ; i+1 < len(f) && (f[i] == "-n" || f[i] == "-r"); i += 2 {
		n, err := strconv.Atoi(f[i+1])
		if err != nil || n < 1 {
			return opts, "", fmt.Errorf("%s wants a positive count, not %q", f[i], f[i+1])
		}
		if f[i] == "-n" {
			opts.number = n
		} else {
			opts.repeat = n
		}
	}
	// The code is the rest of the line as typed.
	code := args
	for _, w := range f[:i] {
		code = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(code), w))
	}
	return opts, code, nil
}

// timeit compiles code into a function, calls it from the host in a
// timing loop (inside an evaluation, so an interrupt stops it), and prints
// the time per run.
func (s *Session) timeit(ctx context.Context, code string, opts timeitOptions) *CellError {
	s.blockSeq++
	name := fmt.Sprintf("gomplabTimeit%d__", s.blockSeq)
	body := code
	if wrapped, ok := captureLast(code); ok {
		body = wrapped // values are computed, as in a cell, then dropped
	}
	if _, err := s.eval(ctx, "func "+name+"() {\n"+body+"\n}"); err != nil {
		if _, err2 := s.eval(ctx, "func "+name+"() {\n"+code+"\n}"); err2 != nil {
			return s.cellError(err2, code, 1)
		}
	}
	s.timing = opts
	if _, err := s.evalStmts(ctx, runtimePkg+".Timeit("+name+")"); err != nil {
		return s.cellError(err, code, 1)
	}
	return nil
}

// timeitRun is the runtime's Timeit: it runs fn as the options say and
// prints mean and standard deviation per run.
func (s *Session) timeitRun(fn func()) {
	sig := s.interruption()
	interrupted := func() bool {
		select {
		case <-sig.fired:
			return true
		default:
			return false
		}
	}
	round := func(n int) (float64, bool) {
		start := time.Now()
		for i := 0; i < n; i++ {
			fn()
			if interrupted() {
				return 0, false
			}
		}
		return time.Since(start).Seconds(), true
	}
	opts := s.timing
	number := opts.number
	if number == 0 {
		// 1, 2, 5, 10, 20, 50, ... until a round takes 0.2 s.
		for number = 1; ; {
			d, ok := round(number)
			if !ok {
				waitInterrupted(sig)
				return
			}
			if d >= 0.2 {
				break
			}
			switch m := number; {
			case strconv.Itoa(m)[0] == '2':
				number = m / 2 * 5
			default:
				number = m * 2
			}
		}
	}
	per := make([]float64, 0, opts.repeat)
	for r := 0; r < opts.repeat; r++ {
		d, ok := round(number)
		if !ok {
			waitInterrupted(sig)
			return
		}
		per = append(per, d/float64(number))
	}
	mean, sd := meanStd(per)
	loops := "loops"
	if number == 1 {
		loops = "loop"
	}
	runs := "runs"
	if opts.repeat == 1 {
		runs = "run"
	}
	fmt.Fprintf(s.stdout, "%s ± %s per loop (mean ± std. dev. of %d %s, %d %s each)\n",
		formatDuration(mean), formatDuration(sd), opts.repeat, runs, number, loops)
}

func meanStd(xs []float64) (float64, float64) {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)))
}

// formatDuration prints seconds with a unit that keeps 3 significant
// digits (ns, µs, ms, s).
func formatDuration(sec float64) string {
	units := []struct {
		scale float64
		name  string
	}{{1, "s"}, {1e-3, "ms"}, {1e-6, "µs"}, {1e-9, "ns"}}
	for _, u := range units {
		if sec >= u.scale || u.name == "ns" {
			return strconv.FormatFloat(sec/u.scale, 'g', 3, 64) + " " + u.name
		}
	}
	return ""
}

// packageList is %packages' text: what cells can import, filtered by a
// substring.
func (s *Session) packageList(filter string) string {
	var gomplab, plot, std []string
	for k := range s.exports {
		i := strings.LastIndex(k, "/")
		if i < 0 {
			continue
		}
		p := k[:i]
		if !strings.Contains(p, filter) || p == runtimePath || strings.HasPrefix(p, "github.com/traefik/") {
			continue
		}
		switch {
		case strings.HasPrefix(p, "github.com/gomplab/") || strings.HasPrefix(p, "gomplab/"):
			gomplab = append(gomplab, p)
		case strings.HasPrefix(p, "gonum.org/"):
			plot = append(plot, p)
		case !strings.Contains(p, "."):
			std = append(std, p)
		}
	}
	var b strings.Builder
	section := func(title string, list []string, sep string) {
		if len(list) == 0 {
			return
		}
		sort.Strings(list)
		list = dedupSorted(list)
		fmt.Fprintf(&b, "%s (%d):\n  %s\n", title, len(list), strings.Join(list, sep))
	}
	section("gomplab", gomplab, "\n  ")
	section("plotting", plot, "\n  ")
	section("standard library", std, " ")
	var mods []string
	for _, m := range s.modules.Modules(2000) {
		if strings.Contains(m, filter) {
			mods = append(mods, m)
		}
	}
	const show = 60
	more := ""
	if len(mods) > show {
		more = fmt.Sprintf(" ... and %d more (%%packages FILTER narrows the list)", len(mods)-show)
		mods = mods[:show]
	}
	if len(mods) > 0 {
		fmt.Fprintf(&b, "module cache %s: packages of these modules written in plain Go load from source:\n  %s%s\n",
			s.modules.dir, strings.Join(mods, "\n  "), more)
	} else {
		fmt.Fprintf(&b, "module cache %s: no modules%s; `go mod download MODULE@latest` adds one\n", s.modules.dir, map[bool]string{true: " match", false: ""}[filter != ""])
	}
	return b.String()
}

// runtimeSymbols are the functions of the session's runtime package.
func (s *Session) runtimeSymbols() map[string]reflect.Value {
	return map[string]reflect.Value{
		"Running": reflect.ValueOf(s.running),
		"Timeit":  reflect.ValueOf(s.timeitRun),
	}
}
