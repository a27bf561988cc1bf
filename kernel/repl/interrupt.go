package repl

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// How interrupts stop cells.
//
// yaegi stops interpreted code by moving the interpreter's run id on: every
// interpreted goroutine, of this cell or of earlier ones, checks it at each
// step and returns, and channel operations of the interrupted evaluation
// wake up. Code blocked inside a compiled call (a host function, a long
// MatMul, a mutex) is out of its reach until the call returns. So an
// interrupt here:
//
//  1. cancels the running cell's evaluation (or, with no cell running,
//     evaluates a blocking statement under an already cancelled context),
//     which moves the run id on. yaegi takes the run id for an evaluation
//     when it starts running it, so a cancellation that came first would
//     be lost: the session passes it on only once the statements have
//     started, which a call at their head (runningMarker) tells it;
//  2. wakes the kernel's own blocking functions (time.Sleep, reads from
//     os.Stdin), which return only once step 1 is done, so that the
//     statements after them never run;
//  3. waits up to StopGrace for the interrupted evaluation's goroutine to
//     end and for interpreted goroutines to stop running. If they do not,
//     the cell fails with ErrStuck, and the kernel process replaces the
//     interpreter: an evaluation left running would carry on with its
//     statements (in the interpreter's shared top-level frame) as soon as
//     its compiled call returned, in the middle of later cells.

// StopGrace is how long an interrupted evaluation may take to stop before
// the cell is reported stuck.
const StopGrace = time.Second

// interruption is one interrupt, as blocking host functions see it.
type interruption struct {
	fired   chan struct{} // closed by Interrupt
	stopped chan struct{} // closed once the interpreter's run id moved on
}

func newInterruption() *interruption {
	return &interruption{fired: make(chan struct{}), stopped: make(chan struct{})}
}

// StuckError is the error of a cell that did not stop within StopGrace of
// an interrupt. The interpreter must be replaced.
type StuckError struct {
	// Where names the compiled function the evaluation is blocked in.
	Where string
}

func (e *StuckError) Error() string {
	if e.Where == "" {
		return "the cell did not stop within " + StopGrace.String() + " of the interrupt"
	}
	return fmt.Sprintf("the cell did not stop within %v of the interrupt: it is blocked in %s, which Go cannot stop from outside", StopGrace, e.Where)
}

// ErrStuck matches every *StuckError with errors.Is.
var ErrStuck = errors.New("interrupted cell did not stop")

// Is makes errors.Is(err, ErrStuck) true.
func (e *StuckError) Is(target error) bool { return target == ErrStuck }

// Interrupt stops the running cell, if any, whose Execute then returns an
// "Interrupted" error. It reports false when no cell is running: then the
// caller should call StopBackground (from the goroutine that calls
// Execute) to stop goroutines that earlier cells left running.
// Interrupt may be called at any time from any goroutine.
func (s *Session) Interrupt() bool {
	s.mu.Lock()
	sig := s.intr
	s.intr = newInterruption()
	s.pending = append(s.pending, sig)
	cancel := s.cancel
	s.mu.Unlock()
	close(sig.fired)
	if cancel != nil {
		cancel()
		return true
	}
	return false
}

// StopBackground stops the interpreted goroutines left running by earlier
// cells, as an interrupt during a cell does. It must not be called
// concurrently with Execute, Complete or Inspect. It returns a *StuckError
// when some of them do not stop within StopGrace.
func (s *Session) StopBackground() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.eval(ctx, "")
	if errors.Is(err, ErrStuck) {
		return err
	}
	return nil
}

// stopInterpreter moves the interpreter's run id on, stopping every
// interpreted goroutine, without running anything: yaegi does that only
// when the context of a running evaluation ends, so it evaluates, under a
// cancelled context, a statement that blocks until that stop. (A loop
// would not do: if yaegi's goroutine started it after the stop, it would
// run with the new run id, for ever.)
func (s *Session) stopInterpreter() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = s.it.EvalWithContext(ctx, "select {}")
}

// running is the running marker's function: the statements being
// evaluated have started.
func (s *Session) running() {
	s.mu.Lock()
	c := s.started
	s.started = nil
	s.mu.Unlock()
	if c != nil {
		close(c)
	}
}

// interruption returns the interrupt that blocking host functions called
// now must watch.
func (s *Session) interruption() *interruption {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.intr
}

// markStopped records that the interpreter's run id moved on: blocking
// host functions woken by earlier interrupts may return.
func (s *Session) markStopped() {
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, sig := range pending {
		close(sig.stopped)
	}
}

// waitInterrupted blocks a host function woken by sig until the
// interpreter has stopped (or StopGrace passed), so the interpreted code
// after the call does not run.
func waitInterrupted(sig *interruption) {
	t := time.NewTimer(StopGrace)
	defer t.Stop()
	select {
	case <-sig.stopped:
	case <-t.C:
	}
}

// settle waits until the interrupted evaluation has returned and no
// interpreted goroutine is still running compiled code, or StopGrace has
// passed; then it returns a *StuckError naming where the code is blocked.
func settle() error {
	deadline := time.Now().Add(StopGrace)
	for {
		where, busy := interpreterBusy()
		if !busy {
			return nil
		}
		if time.Now().After(deadline) {
			return &StuckError{Where: where}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Frames of yaegi that mark a goroutine as running interpreted code: the
// goroutine EvalWithContext evaluates in, and the step loop of every
// interpreted function.
const (
	evalGoroutineFrame = "github.com/traefik/yaegi/interp.(*Interpreter).EvalWithContext.func"
	stepLoopFrame      = "github.com/traefik/yaegi/interp.runCfg("
)

// interpreterBusy reports whether, after an interrupt, interpreted code is
// still on its way: an evaluation goroutine that has not returned, or an
// interpreted goroutine that is running (not parked on a channel or a
// sleep). It names the function the first one is in.
func interpreterBusy() (string, bool) {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	blocks := strings.Split(string(buf[:n]), "\n\n")
	where, busy := "", false
	for _, b := range blocks[1:] { // blocks[0] is this goroutine
		header, _, _ := strings.Cut(b, "\n")
		if strings.Contains(b, evalGoroutineFrame) {
			// The evaluation itself: the place worth naming.
			return blockedIn(b), true
		}
		if strings.Contains(b, stepLoopFrame) &&
			(strings.Contains(header, "[running]") || strings.Contains(header, "[runnable]")) {
			if !busy {
				where, busy = blockedIn(b), true
			}
		}
	}
	return where, busy
}

// blockedIn returns the innermost function of a goroutine's stack that is
// not part of the runtime, reflect or yaegi: where it is blocked ("" when
// it is in interpreted code).
func blockedIn(stack string) string {
	lines := strings.Split(stack, "\n")
	for _, fn := range lines[1:] {
		if strings.HasPrefix(fn, "\t") || strings.HasPrefix(fn, "created by ") {
			continue
		}
		if j := strings.LastIndex(fn, "("); j > 0 {
			fn = fn[:j]
		}
		switch {
		case strings.HasPrefix(fn, "runtime."), strings.HasPrefix(fn, "internal/"),
			strings.HasPrefix(fn, "reflect."), strings.HasPrefix(fn, "github.com/traefik/yaegi/"):
			continue
		}
		return fn
	}
	return ""
}
