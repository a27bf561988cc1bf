package sandbox

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gomplab/gomplab/mpc"
)

// Kind classifies why a jailed run failed. Kinds travel on the wire as
// their string values, so they never change meaning.
type Kind string

// The kinds of failure.
const (
	// KindForbidden: the program imports a package outside the whitelist,
	// or uses a construct jobs may not use (a go statement); refused
	// before anything runs.
	KindForbidden Kind = "forbidden"
	// KindCompile: the program does not parse or type-check.
	KindCompile Kind = "compile"
	// KindArgs: the arguments do not fit the entry function's parameters.
	KindArgs Kind = "args"
	// KindPanic: the program panicked (including misused MPC operations,
	// which panic with *mpc.Error).
	KindPanic Kind = "panic"
	// KindError: the program returned a non-nil error.
	KindError Kind = "error"
	// KindResult: the returned value cannot be sent back (an encrypted
	// tensor, a channel, a type of the program's own...).
	KindResult Kind = "result"
	// KindTimeout: the run passed its deadline and was stopped.
	KindTimeout Kind = "timeout"
	// KindCanceled: the run was cancelled (the job failed elsewhere, or
	// its submitter gave up).
	KindCanceled Kind = "canceled"
	// KindMemory: the party process ran out of its memory limit.
	KindMemory Kind = "out of memory"
	// KindCPU: the party process used up its CPU-time limit.
	KindCPU Kind = "cpu limit"
	// KindStack: runaway recursion exceeded the party's stack limit.
	KindStack Kind = "stack overflow"
	// KindCrash: the party process died without reporting (a runtime
	// fatal error, a panic in a goroutine).
	KindCrash Kind = "crash"
	// KindKilled: the party process was killed by a signal nobody in
	// gomplab sent (an operator, the kernel's OOM killer).
	KindKilled Kind = "killed"
	// KindRefused: the party's reveal policy refused a reveal, or a
	// return to the requester (mpc.RefusedError); the message is the
	// engine's, never the program's.
	KindRefused Kind = "not approved"
	// KindPeer: another party of the job failed or vanished, so this one
	// could not go on.
	KindPeer Kind = "peer failed"
	// KindSetup: the party could not start (joining the mesh, loading the
	// job, starting the process).
	KindSetup Kind = "setup"
	// KindUnavailable: the worker could not be reached or refused the job.
	KindUnavailable Kind = "unavailable"
)

// Phase names the part of a job's life a failure happened in. Every side
// of a job goes through the same four, in order: the orchestrator
// (syft.Job.Run), the worker (workers/jobs), the party process (RunChild,
// ServeChild) and the party (RunJobWith).
type Phase string

// The phases of a job.
const (
	// PhaseValidate: the job is checked before anything runs: the
	// workers, the source's imports, the job's fields, the arguments,
	// compiling the program.
	PhaseValidate Phase = "validate"
	// PhaseStart: the party is being started: the worker binding the
	// rendezvous and launching it, the party process starting under its
	// limits, the parties meeting.
	PhaseStart Phase = "start"
	// PhaseRun: the entry function (or plan) runs.
	PhaseRun Phase = "run"
	// PhaseCollect: the result is encoded, reported and gathered.
	PhaseCollect Phase = "collect"
)

// Error is the failure of one party of a job: which rank on which worker,
// in which phase, what kind of failure, where in the shipped source (when
// known), and the message. Errors never carry the values a party computed
// on. Job.Fail makes and stamps them.
type Error struct {
	Kind   Kind   `msgpack:"kind"`
	Rank   int    `msgpack:"rank"`
	Worker string `msgpack:"worker,omitempty"`
	Phase  Phase  `msgpack:"phase,omitempty"`
	// File and Line locate the failure in the source as the user wrote it
	// (a notebook cell, a Go file); Line is 0 when unknown.
	File string `msgpack:"file,omitempty"`
	Line int    `msgpack:"line,omitempty"`
	Col  int    `msgpack:"col,omitempty"`
	Msg  string `msgpack:"msg"`
	// Dealer marks a failure of the job's dealer (the worker dealing its
	// correlated randomness, rank WorldSize), which runs no user code.
	Dealer bool `msgpack:"dealer,omitempty"`
}

// Error formats the error as "rank 1 (bob): cell[3]:7: panic: ...".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Dealer {
		b.WriteString("dealer")
		if e.Worker != "" {
			fmt.Fprintf(&b, " (%s)", e.Worker)
		}
		b.WriteString(": ")
	} else if e.Rank >= 0 {
		fmt.Fprintf(&b, "rank %d", e.Rank)
		if e.Worker != "" {
			fmt.Fprintf(&b, " (%s)", e.Worker)
		}
		b.WriteString(": ")
	} else if e.Worker != "" {
		fmt.Fprintf(&b, "%s: ", e.Worker)
	}
	if e.Line > 0 {
		b.WriteString(e.File)
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
		b.WriteString(": ")
	}
	b.WriteString(string(e.Kind))
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Is makes errors.Is(err, &Error{Kind: k}) match any *Error of kind k.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Msg == "" && t.Line == 0
}

// KindOf returns the kind of the first *Error in err's chain, or "".
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// MaxErrorMsg bounds an Error's message in bytes: errors cross from the
// party to its worker and on to the requester, so a program cannot make
// them carry more than this (its printed output has MaxOutput).
const MaxErrorMsg = 1 << 10

// refused returns the KindRefused error for err if a restricted party
// refused something in it (whatever the program wrapped around the
// refusal is dropped), or nil.
func refused(err error) *Error {
	var re *mpc.RefusedError
	if err == nil || !errors.As(err, &re) {
		return nil
	}
	return errorf(KindRefused, "%s", re.Error())
}

// Fail is how every side of a job reports the failure of party j.Rank:
// it returns err as an *Error (one of kind k when err is not one already)
// stamped with the party's rank and worker and, unless err already names
// the phase it happened in (stamped nearer its cause, on the party), with
// phase. It is the one place rank, worker and phase are set.
func (j *Job) Fail(phase Phase, k Kind, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = errorf(k, "%v", err)
	}
	e.Rank, e.Worker, e.Dealer = j.Rank, j.Worker, j.IsDealer()
	if e.Phase == "" {
		e.Phase = phase
	}
	return e
}

// Failed is the Result of party j failing in phase (see Fail), for a
// worker reporting a party that never ran.
func (j *Job) Failed(phase Phase, k Kind, err error) Result { return j.failed(phase, k, err) }

// failed is the Result of party j failing in phase (see Fail).
func (j *Job) failed(phase Phase, k Kind, err error) Result {
	return Result{Rank: j.Rank, Worker: j.Worker, Err: j.Fail(phase, k, err)}
}

// errorf builds an unplaced *Error of kind k, its message cut to
// MaxErrorMsg bytes.
func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Rank: -1, Msg: clipText(fmt.Sprintf(format, args...), MaxErrorMsg)}
}

// clipText cuts s to at most n bytes on a rune boundary, marking the cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " […]"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
