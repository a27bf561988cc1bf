package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// ChildOptions say how a worker starts party processes.
type ChildOptions struct {
	// Command runs a party: the program and its arguments, e.g. the
	// gomplab binary and "party". The process must call ServeChild.
	Command []string
	// Env is the party's whole environment (the worker's is not
	// inherited: it may hold secrets).
	Env []string
	// Limits bound the process.
	Limits Limits
	// KillGrace is how long after the job's deadline the worker waits for
	// the party to report before killing it (0: 2 s).
	KillGrace time.Duration
	// Started, if set, is called with the party's process id once it
	// runs (for monitoring, and for tests that kill parties).
	Started func(pid int)
}

// rendezvousFD is the descriptor rank 0's party finds its rendezvous
// listener on (the first of exec.Cmd.ExtraFiles).
const rendezvousFD = 3

// RunChild runs one party of job in a child process started with opts,
// under resource limits, and returns its result. The party reads and
// writes the worker's store only through store, over the pipe. rv is rank
// 0's bound rendezvous (nil on other ranks); the child inherits it.
//
// Failures the child cannot report itself are classified from how it
// ended: KindTimeout when the worker killed it at the deadline,
// KindMemory, KindStack and KindCPU when it hit a limit, KindKilled for a
// signal from elsewhere, and KindCrash for any other death. RunChild never
// returns before the child has exited.
func RunChild(ctx context.Context, job Job, rv *comm.Rendezvous, store Store, opts ChildOptions) Result {
	res := Result{Rank: job.Rank, Worker: job.Worker}
	fail := func(k Kind, format string, args ...any) Result {
		e := errorf(k, format, args...)
		e.Rank, e.Worker = job.Rank, job.Worker
		res.Err = e
		return res
	}
	if rv != nil {
		defer rv.Close()
	}
	if err := job.validate(); err != nil {
		return fail(KindSetup, "bad job: %v", err)
	}
	if len(opts.Command) == 0 {
		return fail(KindSetup, "no party command configured")
	}
	limits := opts.Limits.withDefaults(job.Timeout(), job.WorldSize)
	grace := opts.KillGrace
	if grace <= 0 {
		grace = 2 * time.Second
	}

	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Env = opts.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = "/"
	childSysProcAttr(cmd)
	stderr := &boundedBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(KindSetup, "party stdin: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail(KindSetup, "party stdout: %v", err)
	}
	if rv != nil {
		f, err := rv.File()
		if err != nil {
			return fail(KindSetup, "passing the rendezvous: %v", err)
		}
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f}
	}
	if err := cmd.Start(); err != nil {
		return fail(KindSetup, "starting the party process: %v", err)
	}
	if opts.Started != nil {
		opts.Started(cmd.Process.Pid)
	}
	// The child holds its own copy of the rendezvous now.
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	if rv != nil {
		rv.Close()
	}

	var killed struct {
		sync.Mutex
		why Kind
	}
	kill := func(why Kind) {
		killed.Lock()
		if killed.why == "" {
			killed.why = why
		}
		killed.Unlock()
		killGroup(cmd)
	}
	deadline := time.AfterFunc(job.Timeout()+grace, func() { kill(KindTimeout) })
	defer deadline.Stop()

	w := &msgWriter{w: stdin}
	// Cancellation: ask the party to stop, and kill it if it does not.
	stopCancel := context.AfterFunc(ctx, func() {
		w.send(&childMsg{Type: msgCancel})
		time.AfterFunc(grace, func() { kill(KindCanceled) })
	})
	defer stopCancel()

	if err := w.send(&childMsg{Type: msgJob, Job: &job, Limits: &limits}); err != nil {
		kill(KindCrash)
	}

	var result *Result
	var protoErr error
	for {
		m, err := readMsg(stdout)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				protoErr = err
				kill(KindCrash)
			}
			break
		}
		switch m.Type {
		case msgLoad:
			reply := &childMsg{Type: msgReply, Seq: m.Seq}
			t, err := store.Load(m.Tag)
			if err != nil {
				reply.Err = err.Error()
			} else if t == nil {
				reply.Err = fmt.Sprintf("load %q: no tensor", m.Tag)
			}
			reply.Tensor = t
			w.send(reply)
		case msgLoadModel:
			reply := &childMsg{Type: msgReply, Seq: m.Seq}
			ms, ok := store.(ModelStore)
			if !ok {
				reply.Err = "this worker's store holds no models"
			} else if md, err := ms.LoadModel(m.Tag); err != nil {
				reply.Err = err.Error()
			} else if reply.Model, err = modelcodec.Encode(md); err != nil {
				reply.Err = fmt.Sprintf("model %q: %v", m.Tag, err)
			}
			w.send(reply)
		case msgSave:
			reply := &childMsg{Type: msgReply, Seq: m.Seq}
			if err := store.Save(m.Tag, m.Tensor); err != nil {
				reply.Err = err.Error()
			}
			w.send(reply)
		case msgResult:
			result = m.Result
		default:
			protoErr = fmt.Errorf("unexpected %s message from the party", m.Type)
			kill(KindCrash)
		}
		if result != nil || protoErr != nil {
			break
		}
	}
	stdin.Close()
	// Drain so the child never blocks writing; then reap it.
	io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()

	killed.Lock()
	why := killed.why
	killed.Unlock()
	if result != nil && why == "" {
		result.Rank, result.Worker = job.Rank, job.Worker
		if result.Err != nil {
			result.Err.Rank, result.Err.Worker = job.Rank, job.Worker
		}
		return *result
	}
	if protoErr != nil {
		return fail(KindCrash, "the party process broke the protocol: %v", protoErr)
	}
	k, msg := classifyExit(why, waitErr, stderr.String(), job.Timeout(), limits)
	return fail(k, "%s", msg)
}

// classifyExit explains how a party process that did not report ended.
func classifyExit(why Kind, waitErr error, stderr string, timeout time.Duration, l Limits) (Kind, string) {
	tail := fatalLine(stderr)
	switch why {
	case KindTimeout:
		return KindTimeout, fmt.Sprintf("the party passed its %v deadline and was killed", timeout)
	case KindCanceled:
		return KindCanceled, "the job was cancelled and the party killed"
	case KindCrash:
		return KindCrash, "the party process misbehaved and was killed"
	}
	switch {
	case strings.Contains(stderr, "goroutine stack exceeds"), strings.Contains(stderr, "stack overflow"):
		return KindStack, fmt.Sprintf("runaway recursion: a goroutine stack passed the %d MiB limit", l.Stack>>20)
	case strings.Contains(stderr, "out of memory"), strings.Contains(stderr, "cannot allocate memory"),
		// The race detector's runtime and ThreadSanitizer say it their way.
		strings.Contains(stderr, "address space collisions"), strings.Contains(stderr, "failed to allocate"):
		return KindMemory, fmt.Sprintf("the party ran out of memory (address-space limit %d MiB)", l.AddressSpace>>20)
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if sig, ok := exitSignal(ee); ok {
			used := ee.UserTime() + ee.SystemTime()
			switch {
			case sig == syscall.SIGXCPU, sig == syscall.SIGKILL && used >= l.CPU:
				return KindCPU, fmt.Sprintf("the party used up its CPU-time limit of %v", l.CPU)
			case sig == syscall.SIGKILL:
				return KindKilled, "the party process was killed (SIGKILL from outside gomplab, e.g. the OOM killer)"
			default:
				return KindKilled, fmt.Sprintf("the party process was killed by %v", sig)
			}
		}
		return KindCrash, fmt.Sprintf("the party process exited with status %d without a result: %s", ee.ExitCode(), tail)
	}
	if waitErr != nil {
		return KindCrash, fmt.Sprintf("the party process failed: %v", waitErr)
	}
	return KindCrash, fmt.Sprintf("the party process exited without a result: %s", tail)
}

// fatalLine returns the Go runtime's "fatal error:" or "panic:" line from
// a dead party's standard error, else its last lines.
func fatalLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.Contains(l, "ERROR: ThreadSanitizer") {
			return strings.TrimSpace(l)
		}
	}
	return lastLines(s, 3)
}

// lastLines returns the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var out []string
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "goroutine ") {
			out = append([]string{l}, out...)
		}
	}
	if len(out) == 0 {
		return "(no output)"
	}
	return strings.Join(out, " | ")
}

// ServeChild is the party process's side (`gomplab party`): it reads the
// job from r, applies the resource limits, runs the party with the store
// proxied over the pipe, writes the result to w, and returns the exit
// code. The process must not write anything else to w.
func ServeChild(r io.Reader, w io.Writer) int {
	out := &msgWriter{w: w}
	first, err := readMsg(r)
	if err != nil || first.Type != msgJob {
		fmt.Fprintf(os.Stderr, "gomplab party: expected a job on stdin: %v\n", err)
		return 2
	}
	job := *first.Job
	limits := Limits{}
	if first.Limits != nil {
		limits = *first.Limits
	}
	limits = limits.withDefaults(job.Timeout(), job.WorldSize)
	report := func(res Result) int {
		if err := out.send(&childMsg{Type: msgResult, Result: &res}); err != nil {
			fmt.Fprintf(os.Stderr, "gomplab party: sending the result: %v\n", err)
			return 3
		}
		return 0
	}
	if err := applyLimits(limits); err != nil {
		e := errorf(KindSetup, "applying resource limits: %v", err)
		e.Rank, e.Worker = job.Rank, job.Worker
		return report(Result{Rank: job.Rank, Worker: job.Worker, Err: e})
	}
	var rv *comm.Rendezvous
	if job.Rank == 0 {
		rv, err = comm.RendezvousFromFile(os.NewFile(rendezvousFD, "rendezvous"))
		if err != nil {
			e := errorf(KindSetup, "inherited rendezvous: %v", err)
			e.Rank, e.Worker = job.Rank, job.Worker
			return report(Result{Rank: job.Rank, Worker: job.Worker, Err: e})
		}
	}
	// The soft CPU limit sends SIGXCPU, which Go ignores by default:
	// report it and exit (the hard limit kills the process a second
	// later in any case).
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, syscall.SIGXCPU)
	go func() {
		<-xcpu
		e := errorf(KindCPU, "the party used up its CPU-time limit of %v", limits.CPU)
		e.Rank, e.Worker = job.Rank, job.Worker
		os.Exit(report(Result{Rank: job.Rank, Worker: job.Worker, Err: e}))
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := &pipeStore{w: out, replies: map[uint64]chan *childMsg{}}
	go ps.readLoop(r, cancel)
	return report(runJob(ctx, job, rv, ps, PartyOptions{}))
}

// pipeStore is the party's view of its worker's store: every call is a
// request over the pipe.
type pipeStore struct {
	w       *msgWriter
	mu      sync.Mutex
	seq     uint64
	replies map[uint64]chan *childMsg
	closed  error
}

// readLoop dispatches replies and cancellation until the pipe closes.
func (s *pipeStore) readLoop(r io.Reader, cancel context.CancelFunc) {
	for {
		m, err := readMsg(r)
		if err != nil {
			s.mu.Lock()
			s.closed = fmt.Errorf("worker pipe: %w", err)
			for _, c := range s.replies {
				close(c)
			}
			s.replies = map[uint64]chan *childMsg{}
			s.mu.Unlock()
			// The worker went away: nobody will read a result.
			cancel()
			return
		}
		switch m.Type {
		case msgCancel:
			cancel()
		case msgReply:
			s.mu.Lock()
			c := s.replies[m.Seq]
			delete(s.replies, m.Seq)
			s.mu.Unlock()
			if c != nil {
				c <- m
			}
		}
	}
}

func (s *pipeStore) call(m *childMsg) (*childMsg, error) {
	s.mu.Lock()
	if s.closed != nil {
		s.mu.Unlock()
		return nil, s.closed
	}
	s.seq++
	m.Seq = s.seq
	c := make(chan *childMsg, 1)
	s.replies[m.Seq] = c
	s.mu.Unlock()
	if err := s.w.send(m); err != nil {
		return nil, err
	}
	rep, ok := <-c
	if !ok {
		return nil, errors.New("the worker closed the pipe")
	}
	if rep.Err != "" {
		return nil, errors.New(rep.Err)
	}
	return rep, nil
}

// Load implements Store.
func (s *pipeStore) Load(tag string) (*tensor.Tensor, error) {
	rep, err := s.call(&childMsg{Type: msgLoad, Tag: tag})
	if err != nil {
		return nil, err
	}
	if rep.Tensor == nil {
		return nil, fmt.Errorf("load %q: the worker sent no tensor", tag)
	}
	return rep.Tensor, nil
}

// LoadModel implements ModelStore.
func (s *pipeStore) LoadModel(tag string) (*nn.Model, error) {
	rep, err := s.call(&childMsg{Type: msgLoadModel, Tag: tag})
	if err != nil {
		return nil, err
	}
	m, err := modelcodec.Decode(rep.Model, serde.Limits{MaxBytes: maxChildFrame})
	if err != nil {
		return nil, fmt.Errorf("load model %q: %w", tag, err)
	}
	return m, nil
}

// Save implements Store.
func (s *pipeStore) Save(tag string, t *tensor.Tensor) error {
	_, err := s.call(&childMsg{Type: msgSave, Tag: tag, Tensor: t})
	return err
}
