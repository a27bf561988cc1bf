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

	"github.com/gomplab/gomplab/mpc"
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
	// Restriction is the worker's decision about the party (its reveal
	// policy, save quota, restriction), sent with the job.
	Restriction Restriction
}

// rendezvousFD is the descriptor rank 0's party finds its rendezvous
// listener on (the first of exec.Cmd.ExtraFiles).
const rendezvousFD = 3

// RunChild runs one party of job in a child process started with opts,
// under resource limits, and returns its result. The party reads and
// writes the worker's store only through store, over the pipe. rv is rank
// 0's bound rendezvous (nil on other ranks); the child inherits it.
//
// Its phases: validate (the job and the options), start (the process, its
// pipes and the rendezvous it inherits, the deadline and cancellation),
// run (sending the job, answering the party's store requests until it
// reports) and collect (reaping the process, and classifying a death it
// could not report). Failures the child cannot report itself are
// classified from how it ended: KindTimeout when the worker killed it at
// the deadline, KindMemory, KindStack and KindCPU when it hit a limit,
// KindKilled for a signal from elsewhere, and KindCrash for any other
// death. RunChild never returns before the child has exited.
func RunChild(ctx context.Context, job Job, rv *comm.Rendezvous, store Store, opts ChildOptions) Result {
	if rv != nil {
		defer rv.Close()
	}
	if err := job.validate(); err != nil {
		return job.failed(PhaseValidate, KindSetup, errorf(KindSetup, "bad job: %v", err))
	}
	if len(opts.Command) == 0 {
		return job.failed(PhaseValidate, KindSetup, errorf(KindSetup, "no party command configured"))
	}
	cp, err := startChild(job, rv, opts)
	if err != nil {
		return job.failed(PhaseStart, KindSetup, err)
	}
	defer cp.stopTimers()
	cp.watch(ctx)
	result, protoErr := cp.serve(store, opts.Restriction)
	return cp.collect(result, protoErr)
}

// childProc is a party process between RunChild's phases.
type childProc struct {
	job    Job
	limits Limits
	grace  time.Duration
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *boundedBuffer
	w      *msgWriter

	inherits bool // the child inherits rank 0's rendezvous

	mu     sync.Mutex
	why    Kind          // why the worker killed the process, if it did
	timers []*time.Timer // the deadline and the kill after a cancellation
	stop   func() bool   // stops watching the context
}

// startChild starts the party process with its pipes, its limits and, on
// rank 0, the bound rendezvous as an inherited descriptor (closed here
// once the child holds its own copy).
func startChild(job Job, rv *comm.Rendezvous, opts ChildOptions) (*childProc, error) {
	cp := &childProc{job: job, limits: opts.Limits.withDefaults(job.Timeout(), job.WorldSize),
		grace: opts.KillGrace, stderr: &boundedBuffer{max: 16 << 10}}
	if cp.grace <= 0 {
		cp.grace = 2 * time.Second
	}
	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Env = opts.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = "/"
	childSysProcAttr(cmd)
	cmd.Stderr = cp.stderr
	var err error
	if cp.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, errorf(KindSetup, "party stdin: %v", err)
	}
	if cp.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, errorf(KindSetup, "party stdout: %v", err)
	}
	if rv != nil {
		f, err := rv.File()
		if err != nil {
			return nil, errorf(KindSetup, "passing the rendezvous: %v", err)
		}
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f}
		cp.inherits = true
	}
	if err := cmd.Start(); err != nil {
		return nil, errorf(KindSetup, "starting the party process: %v", err)
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
	cp.cmd, cp.w = cmd, &msgWriter{w: cp.stdin}
	return cp, nil
}

// kill kills the party's process group, remembering the first reason.
func (cp *childProc) kill(why Kind) {
	cp.mu.Lock()
	if cp.why == "" {
		cp.why = why
	}
	cp.mu.Unlock()
	killGroup(cp.cmd)
}

// watch arms the deadline (the job's timeout and the grace period) and
// the cancellation: when ctx ends, the party is asked to stop and killed
// if it does not within the grace period.
func (cp *childProc) watch(ctx context.Context) {
	cp.mu.Lock()
	cp.timers = append(cp.timers, time.AfterFunc(cp.job.Timeout()+cp.grace, func() { cp.kill(KindTimeout) }))
	cp.mu.Unlock()
	cp.stop = context.AfterFunc(ctx, func() {
		cp.w.send(&childMsg{Type: msgCancel})
		cp.mu.Lock()
		cp.timers = append(cp.timers, time.AfterFunc(cp.grace, func() { cp.kill(KindCanceled) }))
		cp.mu.Unlock()
	})
}

// stopTimers disarms watch once the process has been reaped.
func (cp *childProc) stopTimers() {
	if cp.stop != nil {
		cp.stop()
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, t := range cp.timers {
		t.Stop()
	}
}

// serve sends the job and answers the party's store requests until it
// reports its result, the pipe ends, or it breaks the protocol (then it
// is killed).
func (cp *childProc) serve(store Store, r Restriction) (*Result, error) {
	if err := cp.w.send(&childMsg{Type: msgJob, Job: &cp.job, Limits: &cp.limits, Restriction: &r, Rendezvous: cp.inherits}); err != nil {
		cp.kill(KindCrash)
	}
	for {
		m, err := readMsg(cp.stdout)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			cp.kill(KindCrash)
			return nil, err
		}
		switch m.Type {
		case msgLoad, msgLoadModel, msgSave:
			cp.w.send(answerStore(store, r, m))
		case msgResult:
			return m.Result, nil
		default:
			cp.kill(KindCrash)
			return nil, fmt.Errorf("unexpected %s message from the party", m.Type)
		}
	}
}

// answerStore answers a party's load or save request from the worker's
// store, saying whether what it loads is restricted as the party would
// decide with the store in hand (mpc.TaggedStore, nn.TaggedModelStore;
// a store that cannot say counts as restricted under a reveal policy),
// and saving a restricted party's result only where the store can record
// it as such.
func answerStore(store Store, r Restriction, m *childMsg) *childMsg {
	reply := &childMsg{Type: msgReply, Seq: m.Seq}
	tagged, isTagged := store.(mpc.TaggedStore)
	var err error
	switch m.Type {
	case msgLoad:
		if isTagged {
			reply.Tensor, reply.Restricted, err = tagged.LoadTagged(m.Tag)
		} else {
			reply.Tensor, err = store.Load(m.Tag)
			reply.Restricted = r.Policy != nil
		}
		if err == nil && reply.Tensor == nil {
			err = fmt.Errorf("load %q: no tensor", m.Tag)
		}
	case msgLoadModel:
		var md *nn.Model
		switch ms := store.(type) {
		case nn.TaggedModelStore:
			md, reply.Restricted, err = ms.LoadModelTagged(m.Tag)
		case ModelStore:
			md, err = ms.LoadModel(m.Tag)
			reply.Restricted = isTagged || r.Policy != nil
		default:
			err = errors.New("this worker's store holds no models")
		}
		if err == nil {
			if reply.Model, err = modelcodec.Encode(md); err != nil {
				err = fmt.Errorf("model %q: %v", m.Tag, err)
			}
		}
	case msgSave:
		shares, isShares := store.(mpc.ShareStore)
		switch {
		case m.Share && isShares:
			err = shares.SaveShareTagged(m.Tag, m.Tensor, m.Restricted)
		case m.Share:
			err = errors.New("this worker's store cannot keep shares")
		case isTagged:
			err = tagged.SaveTagged(m.Tag, m.Tensor, m.Restricted)
		case m.Restricted:
			err = errors.New("this party computed on private data, and the worker's store cannot record a result as private; not saved")
		default:
			err = store.Save(m.Tag, m.Tensor)
		}
	}
	if err != nil {
		reply.Tensor, reply.Model, reply.Restricted = nil, nil, false
		reply.Err = clipText(err.Error(), MaxErrorMsg)
	}
	return reply
}

// collect reaps the process and returns the party's result, stamped as
// this worker's party, or, when it could not report (or was killed after
// reporting), the failure its end shows.
func (cp *childProc) collect(result *Result, protoErr error) Result {
	cp.stdin.Close()
	// Drain so the child never blocks writing; then reap it.
	io.Copy(io.Discard, cp.stdout)
	waitErr := cp.cmd.Wait()
	cp.mu.Lock()
	why := cp.why
	cp.mu.Unlock()
	job := &cp.job
	if result != nil && why == "" {
		res := *result
		res.Rank, res.Worker, res.Err = job.Rank, job.Worker, nil
		if result.Err != nil {
			res.Err = job.Fail(PhaseRun, result.Err.Kind, result.Err)
		}
		return res
	}
	if protoErr != nil {
		return job.failed(PhaseRun, KindCrash, errorf(KindCrash, "the party process broke the protocol: %v", protoErr))
	}
	k, msg := classifyExit(why, waitErr, cp.stderr.String(), job.Timeout(), cp.limits)
	return job.failed(PhaseRun, k, errorf(k, "%s", msg))
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
		return report(job.failed(PhaseStart, KindSetup, errorf(KindSetup, "applying resource limits: %v", err)))
	}
	var rv *comm.Rendezvous
	if first.Rendezvous {
		rv, err = comm.RendezvousFromFile(os.NewFile(rendezvousFD, "rendezvous"))
		if err != nil {
			return report(job.failed(PhaseStart, KindSetup, errorf(KindSetup, "inherited rendezvous: %v", err)))
		}
	}
	// The soft CPU limit sends SIGXCPU, which Go ignores by default:
	// report it and exit (the hard limit kills the process a second
	// later in any case).
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, syscall.SIGXCPU)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-xcpu:
			os.Exit(report(job.failed(PhaseRun, KindCPU, errorf(KindCPU, "the party used up its CPU-time limit of %v", limits.CPU))))
		case <-done:
			signal.Stop(xcpu)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := &pipeStore{w: out, replies: map[uint64]chan *childMsg{}}
	// readLoop ends with r, which the worker closes once it has the
	// result (or when it kills the process).
	go ps.readLoop(r, cancel)
	var restriction Restriction
	if first.Restriction != nil {
		restriction = *first.Restriction
	}
	return report(runJob(ctx, job, rv, ps, PartyOptions{Restriction: restriction}))
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
	t, _, err := s.LoadTagged(tag)
	return t, err
}

// LoadTagged implements mpc.TaggedStore: the worker says whether the
// object is restricted.
func (s *pipeStore) LoadTagged(tag string) (*tensor.Tensor, bool, error) {
	rep, err := s.call(&childMsg{Type: msgLoad, Tag: tag})
	if err != nil {
		return nil, false, err
	}
	if rep.Tensor == nil {
		return nil, false, fmt.Errorf("load %q: the worker sent no tensor", tag)
	}
	return rep.Tensor, rep.Restricted, nil
}

// LoadModel implements ModelStore.
func (s *pipeStore) LoadModel(tag string) (*nn.Model, error) {
	m, _, err := s.LoadModelTagged(tag)
	return m, err
}

// LoadModelTagged implements nn.TaggedModelStore.
func (s *pipeStore) LoadModelTagged(tag string) (*nn.Model, bool, error) {
	rep, err := s.call(&childMsg{Type: msgLoadModel, Tag: tag})
	if err != nil {
		return nil, false, err
	}
	m, err := modelcodec.Decode(rep.Model, serde.Limits{MaxBytes: maxChildFrame})
	if err != nil {
		return nil, false, fmt.Errorf("load model %q: %w", tag, err)
	}
	return m, rep.Restricted, nil
}

// Save implements Store.
func (s *pipeStore) Save(tag string, t *tensor.Tensor) error {
	return s.SaveTagged(tag, t, false)
}

// SaveShareTagged implements mpc.ShareStore over the pipe.
func (s *pipeStore) SaveShareTagged(tag string, t *tensor.Tensor, restricted bool) error {
	_, err := s.call(&childMsg{Type: msgSave, Tag: tag, Tensor: t, Restricted: restricted, Share: true})
	return err
}

// SaveTagged implements mpc.TaggedStore: the worker learns whether the
// saving party is restricted.
func (s *pipeStore) SaveTagged(tag string, t *tensor.Tensor, restricted bool) error {
	_, err := s.call(&childMsg{Type: msgSave, Tag: tag, Tensor: t, Restricted: restricted})
	return err
}
