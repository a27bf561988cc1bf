package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// Store is a party's own worker store, as a job sees it: tensors by tag.
// It is mpc.Store, so the same value serves the party's Load.
type Store = mpc.Store

// Env is what one jailed run may touch.
type Env struct {
	// Party is the MPC party the job's mpc package functions act on
	// (mpc.Load, mpc.Encrypt, mpc.Rank...). Nil runs without one: those
	// functions then panic with a message saying they need a job.
	Party *mpc.Party
	// Store is the party's own worker store, for mpc.Load, mpc.Save and
	// nn.LoadModel: it becomes the party's store if the party has none.
	Store Store
	// Stdout receives what the program prints (fmt.Print*, println).
	// Nil discards it.
	Stdout io.Writer
	// JobID names the job in the shares of encrypted values the program
	// returns (see CombineShares).
	JobID string
	// StopGrace is how long a run that passed its deadline may take to
	// stop before Run returns anyway (0: one second). Interpreted code
	// stops at its next step; only a blocking host call takes longer.
	StopGrace time.Duration
}

// Run runs p's entry function with args in a fresh restricted interpreter
// and returns its value. It fails with an *Error: KindForbidden or
// KindCompile before anything runs, KindArgs when args do not fit the
// entry's parameters, KindPanic, KindError (the entry returned an error)
// or KindResult for a value that cannot leave the jail, and KindTimeout or
// KindCanceled when ctx ends first. The program is stopped when Run
// returns, except inside a host call that does not return (which Env's
// owner unblocks, e.g. by closing the party's communicator).
//
// In-process runs contain forbidden imports, runaway loops, panics and
// errors. They cannot contain a huge allocation or runaway recursion,
// which are fatal to the Go runtime: run untrusted jobs in a child process
// (RunChild) with resource limits.
func Run(ctx context.Context, p Program, args []any, env Env) (any, error) {
	r, err := compile(ctx, p, args, env)
	if err != nil {
		return nil, err
	}
	v, err := r.call(ctx)
	if err != nil {
		return nil, err
	}
	if err := resultError(v); err != nil {
		return nil, err
	}
	return v, nil
}

// run is the state of one interpreter's run.
type run struct {
	pr    *prepared
	entry string
	env   Env
	it    *interp.Interpreter

	args []reflect.Value

	mu       sync.Mutex
	returned bool
	value    any
	err      error

	done     chan struct{}
	doneOnce sync.Once
}

// compile prepares p in a fresh interpreter, evaluates its declarations
// and converts args, without calling the entry. The party in env may be
// set later (before call): the bindings read it when called.
func compile(ctx context.Context, p Program, args []any, env Env) (*run, error) {
	pr, err := prepare(p)
	if err != nil {
		return nil, err
	}
	r := &run{pr: pr, entry: p.Entry, env: env, done: make(chan struct{})}
	if err := ctx.Err(); err != nil {
		return nil, r.ctxError(err, false)
	}
	stdout := r.env.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	it := interp.New(interp.Options{
		GoPath:               "/nonexistent",
		SourcecodeFilesystem: fstest.MapFS{},
		Stdin:                strings.NewReader(""),
		Stdout:               stdout,
		Stderr:               io.Discard,
		Env:                  []string{},
		Args:                 []string{"job"},
	})
	r.it = it
	if err := it.Use(r.bindings(ctx, stdout)); err != nil {
		return nil, errorf(KindSetup, "loading symbol tables: %v", err)
	}
	if _, err := it.EvalWithContext(ctx, r.pr.src); err != nil {
		return nil, r.evalError(ctx, err, true)
	}
	ev, err := it.EvalWithContext(ctx, r.entry)
	if err != nil {
		return nil, r.evalError(ctx, err, false)
	}
	if err := r.convertArgs(ev, args); err != nil {
		return nil, err
	}
	return r, nil
}

// call runs the compiled entry once and returns what it returned (Run
// and the party check the value can leave the jail: resultError).
func (r *run) call(ctx context.Context) (any, error) {
	if _, err := r.it.EvalWithContext(ctx, entryWrap+"()"); err != nil {
		return nil, r.evalError(ctx, err, false)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.returned {
		return nil, errorf(KindCrash, "the entry function did not return")
	}
	if r.err != nil {
		k := KindError
		if peerFailure(r.err) {
			k = KindPeer
		}
		e := errorf(k, "%s", r.err.Error())
		if re := refused(r.err); re != nil {
			e = re
		}
		r.place(e)
		return nil, e
	}
	v, err := encodeShares(normalizeNil(r.value), r.env.JobID)
	if re := refused(err); re != nil {
		return nil, re
	}
	if err != nil {
		return nil, errorf(KindResult, "%v", err)
	}
	return v, nil
}

// resultError refuses a returned value that cannot leave the jail (an
// encrypted tensor, a channel, a type of the program's own...).
func resultError(v any) error {
	if err := checkResult(v); err != nil {
		return errorf(KindResult, "%v", err)
	}
	return nil
}

// genericPkgs are the packages whose generic functions yaegi compiles
// from source when a Use call holds the key "fmt/fmt".
var genericPkgs = []string{"slices", "maps", "cmp"}

// bindings returns the symbols of one run: the tables of the packages
// the program imports (only those: copying every table and compiling
// yaegi's generic sources costs milliseconds per interpreter), the job
// runtime (arguments, results, completion), and the per-run bindings:
// mpc and nn functions on the party, a cancellable time.Sleep, and fmt
// printing to this run's output.
func (r *run) bindings(ctx context.Context, stdout io.Writer) interp.Exports {
	base := baseExports()
	ex := interp.Exports{}
	ex[key(jobPkgPath)] = map[string]reflect.Value{
		"Arg": reflect.ValueOf(func(i int) any {
			if i < 0 || i >= len(r.args) || !r.args[i].IsValid() {
				return nil
			}
			return r.args[i].Interface()
		}),
		"Return": reflect.ValueOf(func(v any, err error) {
			r.mu.Lock()
			r.returned, r.value, r.err = true, v, err
			r.mu.Unlock()
		}),
		"Done": reflect.ValueOf(func() { r.doneOnce.Do(func() { close(r.done) }) }),
	}
	party := func() *mpc.Party { return r.env.Party }
	// Interface-aware host functions (fmt.Sprint calling String methods).
	mapTypes := map[reflect.Value][]reflect.Type{}
	for k, v := range stdlib.MapTypes {
		mapTypes[k] = v
	}
	generics := false
	for _, p := range r.pr.imports {
		generics = generics || slices.Contains(genericPkgs, p)
		t := base[key(p)]
		if t == nil {
			continue // not available: the import fails to compile
		}
		switch p {
		case "time":
			t = copyTable(t)
			t["Sleep"] = reflect.ValueOf(func(d time.Duration) {
				tmr := time.NewTimer(d)
				defer tmr.Stop()
				select {
				case <-tmr.C:
				case <-ctx.Done():
				}
			})
		case MPCPath:
			t = partyBindings(t, party, r.env.Store)
		case NNPath:
			t = nnBindings(t, party, r.env.Store)
		case "fmt":
			t = fmtBindings(t, stdout, mapTypes)
		}
		ex[key(p)] = t
	}
	if ft, ok := ex[key("fmt")]; ok && !generics {
		// yaegi compiles its generic stdlib sources whenever a Use call
		// holds the key "fmt/fmt"; "fmt/./fmt" names the same package
		// (path.Dir cleans it) without that cost. fmt's printing is
		// redirected here instead (fmtBindings).
		delete(ex, key("fmt"))
		ex["fmt/./fmt"] = ft
	} else if generics {
		// The generic sources import each other (slices imports cmp):
		// every one of them must be there for them to compile.
		if !ok {
			ex[key("fmt")] = fmtBindings(base[key("fmt")], stdout, mapTypes)
		}
		for _, p := range genericPkgs {
			if t := base[key(p)]; t != nil {
				ex[key(p)] = t
			}
		}
	}
	ex["."] = map[string]reflect.Value{"MapTypes": reflect.ValueOf(mapTypes)}
	return ex
}

// copyTable copies a symbol table, to change an entry for one run.
func copyTable(t map[string]reflect.Value) map[string]reflect.Value {
	out := make(map[string]reflect.Value, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// fmtBindings points fmt's printing at the run's output and its scanning
// at an empty input, as yaegi's own stdio virtualization would.
func fmtBindings(t map[string]reflect.Value, stdout io.Writer, mapTypes map[reflect.Value][]reflect.Type) map[string]reflect.Value {
	t = copyTable(t)
	stdin := strings.NewReader("")
	set := func(name string, orig, fn any) {
		v := reflect.ValueOf(fn)
		t[name] = v
		if mt, ok := mapTypes[reflect.ValueOf(orig)]; ok {
			mapTypes[v] = mt
		}
	}
	set("Print", fmt.Print, func(a ...any) (int, error) { return fmt.Fprint(stdout, a...) })
	set("Printf", fmt.Printf, func(f string, a ...any) (int, error) { return fmt.Fprintf(stdout, f, a...) })
	set("Println", fmt.Println, func(a ...any) (int, error) { return fmt.Fprintln(stdout, a...) })
	set("Scan", fmt.Scan, func(a ...any) (int, error) { return fmt.Fscan(stdin, a...) })
	set("Scanf", fmt.Scanf, func(f string, a ...any) (int, error) { return fmt.Fscanf(stdin, f, a...) })
	set("Scanln", fmt.Scanln, func(a ...any) (int, error) { return fmt.Fscanln(stdin, a...) })
	return t
}

// convertArgs converts args to the entry's parameter types (ev is the
// entry function's value).
func (r *run) convertArgs(ev reflect.Value, args []any) error {
	if ev.Kind() != reflect.Func {
		return errorf(KindCompile, "%s is not a function", r.entry)
	}
	ft := ev.Type()
	n := ft.NumIn()
	if ft.IsVariadic() {
		if len(args) < n-1 {
			return errorf(KindArgs, "%s takes at least %d arguments, got %d", r.entry, n-1, len(args))
		}
	} else if len(args) != n {
		return errorf(KindArgs, "%s takes %d arguments, got %d", r.entry, n, len(args))
	}
	r.args = make([]reflect.Value, n)
	for i := 0; i < n; i++ {
		t := ft.In(i)
		var a any
		if ft.IsVariadic() && i == n-1 {
			a = append([]any{}, args[n-1:]...)
		} else {
			a = args[i]
		}
		v, err := convertArg(a, t)
		if err != nil {
			return errorf(KindArgs, "argument %d of %s: %v", i+1, r.entry, err)
		}
		r.args[i] = v
	}
	return nil
}

// evalError classifies an error from EvalWithContext.
func (r *run) evalError(ctx context.Context, err error, compiling bool) error {
	// After the deadline, whatever the program reports (a panic from an
	// MPC operation whose party was closed to unblock it) is the
	// deadline's doing.
	if ctx.Err() != nil {
		return r.ctxError(ctx.Err(), !compiling)
	}
	var p interp.Panic
	if errors.As(err, &p) {
		k := KindPanic
		if peerFailure(p.Value) {
			k = KindPeer
		}
		e := errorf(k, "%s", panicMessage(p.Value))
		if err, ok := panicValue(p.Value).(error); ok {
			if re := refused(err); re != nil {
				e = re
			}
		}
		r.place(e)
		return e
	}
	if compiling {
		return compileError(err)
	}
	return errorf(KindCompile, "%v", err)
}

// ctxError reports a run stopped by its context, placed at the statement
// that was running if the program stopped within the grace period.
func (r *run) ctxError(err error, started bool) error {
	k := KindCanceled
	msg := "the job was cancelled"
	if errors.Is(err, context.DeadlineExceeded) {
		k, msg = KindTimeout, "the job passed its deadline and was stopped"
	}
	e := errorf(k, "%s", msg)
	if started {
		grace := r.env.StopGrace
		if grace <= 0 {
			grace = time.Second
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-r.done:
			r.place(e)
		case <-t.C:
			e.Msg += " (still inside a host call)"
		}
	}
	return e
}

// place sets e's position to the statement that ran last. Call only once
// the program has stopped (r.done closed) or returned.
func (r *run) place(e *Error) {
	v, err := r.it.Eval(lineVar)
	if err != nil || !v.IsValid() || !v.CanInt() {
		return
	}
	if pos := r.pr.position(int(v.Int())); pos.Line > 0 {
		e.File, e.Line, e.Col = displayFile(pos.Filename), pos.Line, 0
	}
}

// peerFailure reports whether a panic value is an MPC operation that
// failed because another party went away (or the party was closed on
// cancellation).
func peerFailure(v any) bool {
	if rv, ok := v.(reflect.Value); ok && rv.IsValid() && rv.CanInterface() {
		v = rv.Interface()
	}
	err, ok := v.(error)
	if !ok {
		return false
	}
	var pe *comm.PeerError
	return errors.As(err, &pe) || errors.Is(err, comm.ErrClosed) || errors.Is(err, comm.ErrPeerClosed)
}

// panicValue unwraps a panic value yaegi hands over as a reflect.Value.
func panicValue(v any) any {
	if rv, ok := v.(reflect.Value); ok && rv.IsValid() && rv.CanInterface() {
		return rv.Interface()
	}
	return v
}

// panicMessage renders a panic value from interpreted or host code.
func panicMessage(v any) string {
	v = panicValue(v)
	var msg string
	switch x := v.(type) {
	case error:
		msg = x.Error()
	case fmt.Stringer:
		msg = x.String()
	case string:
		msg = x
	default:
		msg = fmt.Sprint(v)
	}
	// yaegi indexes through reflect; say it as Go would.
	return strings.Replace(msg, "reflect: slice index out of range", "index out of range", 1)
}

// yaegiPos matches the position prefix of yaegi's compile errors.
var yaegiPos = regexp.MustCompile(`^(.*?):(\d+):(?:(\d+):)? (.*)$`)

// compileError turns a yaegi compile error into a placed KindCompile
// *Error. Errors in the appended wrapper mean the arguments' types do not
// fit.
func compileError(err error) *Error {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	e := errorf(KindCompile, "%s", msg)
	if m := yaegiPos.FindStringSubmatch(msg); m != nil {
		e.File = displayFile(m[1])
		e.Line, _ = strconv.Atoi(m[2])
		e.Col, _ = strconv.Atoi(m[3])
		// yaegi names imports "pkg/<file>" in some messages.
		e.Msg = strings.ReplaceAll(m[4], "/"+jobFile, "")
		if e.File == entryPseudo {
			e.File, e.Line, e.Col = "", 0, 0
			e.Msg = "calling the entry function: " + e.Msg
		}
	}
	return e
}
