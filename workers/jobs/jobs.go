// Package jobs is the worker side of MPC jobs: it starts this worker's
// party of a job (job.start), reports its result (job.wait) and stops it
// (job.cancel). The orchestrator that sends these is syft's Job.Run
// (syft/jobs.go); the party itself runs shipped Go source in the sandbox,
// in a child process under resource limits on a daemon or as a goroutine
// on a virtual worker, and reads this worker's data by tag through
// jobStore, which writes every load and save to the access log.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// Message types of MPC jobs: an orchestrator (syft.RunMultiWorkers) starts
// one party per worker, waits for each, and may cancel them.
const (
	// MsgStart starts this worker's party of a job. For rank 0 with no
	// master address, the worker binds the job's rendezvous on a free port
	// of StartRequest.MasterHost and replies with its address, which
	// the orchestrator then gives the other ranks.
	MsgStart = "job.start"
	// MsgWait waits (briefly) for the party to finish and returns its
	// result once it has; the worker then forgets the job.
	MsgWait = "job.wait"
	// MsgCancel stops the party.
	MsgCancel = "job.cancel"
)

// StartRequest starts a party.
type StartRequest struct {
	Job sandbox.Job `msgpack:"job"`
	// MasterHost is the host rank 0's worker binds the rendezvous on when
	// Job.MasterAddr is empty (port 0: the system picks a free one).
	MasterHost string `msgpack:"master_host,omitempty"`
}

// StartReply says where the job's parties meet, or why this worker
// refused to run its party.
type StartReply struct {
	MasterAddr string `msgpack:"master_addr,omitempty"`
	// Refused is set when the job was refused before anything ran (a
	// forbidden import, a syntax error); nothing was started.
	Refused *sandbox.Error `msgpack:"refused,omitempty"`
}

// WaitRequest waits up to WaitMS for a party to finish.
type WaitRequest struct {
	JobID  string `msgpack:"job_id"`
	WaitMS int64  `msgpack:"wait_ms,omitempty"`
}

// WaitReply carries the result once the party is done.
type WaitReply struct {
	Done   bool            `msgpack:"done"`
	Result *sandbox.Result `msgpack:"result,omitempty"`
}

// CancelRequest stops a party.
type CancelRequest struct {
	JobID string `msgpack:"job_id"`
}

// Options configure how a worker runs the parties of MPC jobs.
type Options struct {
	// Child, when set, runs every party in a child process (gomplab
	// party) under resource limits: what a daemon does. Nil runs parties
	// as goroutines of this process: what virtual workers do (see
	// sandbox.Run for what that cannot contain).
	Child *sandbox.ChildOptions
	// MaxJobs bounds the parties running at once (0: 8); more are refused.
	MaxJobs int
	// MaxTimeout caps the timeout a job may ask for (0: one hour).
	MaxTimeout time.Duration
	// Keep is how long a finished party's result waits to be collected
	// before it is dropped (0: ten minutes).
	Keep time.Duration
	// Observe, for in-process parties only, wraps each party's
	// communicator: an auditor (or a test) sees every MPC message.
	Observe func(job string, rank int, c comm.Comm) comm.Comm
}

func (o Options) withDefaults() Options {
	if o.MaxJobs <= 0 {
		o.MaxJobs = 8
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = time.Hour
	}
	if o.Keep <= 0 {
		o.Keep = 10 * time.Minute
	}
	return o
}

// maxWait bounds one MsgWait, well under clients' request timeouts.
const maxWait = 5 * time.Second

// Register adds the job message types to h, running parties as o
// says, and returns the table of h's parties (Configure changes o later,
// Close stops them).
func Register(h *workers.Handler, o Options) *Table {
	t := &Table{h: h, opts: o.withDefaults(), jobs: map[string]*job{}}
	h.Handle(MsgStart, t.start)
	h.Handle(MsgWait, t.wait)
	h.Handle(MsgCancel, t.cancel)
	return t
}

// Configure sets how parties run (a daemon runs them as child
// processes). Jobs already running keep their settings.
func (t *Table) Configure(o Options) {
	t.mu.Lock()
	t.opts = o.withDefaults()
	t.mu.Unlock()
}

// Table is a worker's running and finished-but-uncollected parties.
type Table struct {
	h    *workers.Handler
	mu   sync.Mutex
	opts Options
	jobs map[string]*job // by job id
}

// job is one party this worker runs.
type job struct {
	id      string
	user    string
	rank    int
	cancel  context.CancelFunc
	done    chan struct{}
	result  sandbox.Result
	dropper *time.Timer
}

// start answers job.start, phase by phase: validate (the request, the
// program's imports or the plan's operations, this worker's capacity),
// start (rank 0's rendezvous, the job's entry in the table) and run (the
// party, launched on its own: it outlives the request). Its result waits
// in the table to be collected by job.wait.
func (t *Table) start(_ context.Context, r *workers.Request) (any, error) {
	q, err := t.decodeStart(r)
	if err != nil {
		return nil, err
	}
	j := &q.Job
	if refused, err := t.check(r, j); refused != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return &StartReply{Refused: refused}, nil
	}
	opts, err := t.admit(j)
	if err != nil {
		return nil, err
	}
	rv, err := bindRendezvous(j, q.MasterHost)
	if err != nil {
		return nil, err
	}
	x, err := t.register(j, r.User().Name, rv)
	if err != nil {
		return nil, err
	}
	t.launch(x, *j, rv, opts)
	return &StartReply{MasterAddr: j.MasterAddr}, nil
}

// decodeStart decodes a job.start from a user (grant sessions may not
// run jobs) and names this worker in the job.
func (t *Table) decodeStart(r *workers.Request) (*StartRequest, error) {
	if r.Session.ViaGrant() {
		return nil, workers.Deniedf("grant sessions may not run MPC jobs")
	}
	var q StartRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	j := &q.Job
	if err := store.ValidateID(j.ID); err != nil {
		return nil, fmt.Errorf("%w: job id: %v", workers.ErrBadRequest, err)
	}
	j.Worker = t.h.WorkerID()
	r.Note("job", j.ID, "rank", j.Rank, "world_size", j.WorldSize, "entry", j.Program.Entry)
	return &q, nil
}

// check refuses a job before anything runs: a forbidden import, or a plan
// with an operation outside the allow-list. The refusal is the party's
// failure in the validate phase, for the orchestrator to report.
func (t *Table) check(r *workers.Request, j *sandbox.Job) (*sandbox.Error, error) {
	var checkErr error
	if len(j.Plan) > 0 {
		if _, err := plan.Decode(j.Plan, t.h.Limits()); err != nil {
			checkErr = &sandbox.Error{Kind: sandbox.KindForbidden, Msg: err.Error()}
		}
	} else {
		checkErr = sandbox.Check(j.Program)
	}
	if checkErr == nil {
		return nil, nil
	}
	var se *sandbox.Error
	if !errors.As(checkErr, &se) {
		return nil, fmt.Errorf("%w: %v", workers.ErrBadRequest, checkErr)
	}
	se = j.Fail(sandbox.PhaseValidate, se.Kind, se)
	t.h.AccessLog().Info("job refused", "job", j.ID, "user", r.User().Name, "rank", j.Rank, "err", se.Error())
	return se, nil
}

// admit checks this worker can run one more party of j (not a second one
// of the same job, not over MaxJobs) and caps its timeout at MaxTimeout.
// It returns the options the party runs under.
func (t *Table) admit(j *sandbox.Job) (Options, error) {
	t.mu.Lock()
	opts := t.opts
	running := 0
	for _, x := range t.jobs {
		select {
		case <-x.done:
		default:
			running++
		}
	}
	_, dup := t.jobs[j.ID]
	t.mu.Unlock()
	switch {
	case dup:
		return opts, fmt.Errorf("job %s: %w on worker %s (each worker runs one party of a job)", j.ID, store.ErrExists, t.h.WorkerID())
	case running >= opts.MaxJobs:
		return opts, fmt.Errorf("%w: worker %s already runs %d MPC parties (its limit)", workers.ErrUnavailable, t.h.WorkerID(), running)
	case j.TimeoutMS <= 0:
		return opts, workers.BadRequestf("job %s has no timeout", j.ID)
	}
	if j.Timeout() > opts.MaxTimeout {
		j.TimeoutMS = opts.MaxTimeout.Milliseconds()
	}
	return opts, nil
}

// bindRendezvous binds rank 0's rendezvous on a free port of host (when
// the orchestrator fixed no address) and puts its address in j.
func bindRendezvous(j *sandbox.Job, host string) (*comm.Rendezvous, error) {
	if j.Rank != 0 || j.MasterAddr != "" {
		return nil, nil
	}
	if host == "" {
		host = "127.0.0.1"
	}
	rv, err := comm.NewRendezvous(net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("%w: binding the job's rendezvous on %s: %v", workers.ErrBadRequest, host, err)
	}
	j.MasterAddr = rv.Addr()
	return rv, nil
}

// register enters the job in the table, unless another request of the
// same job got there first.
func (t *Table) register(j *sandbox.Job, user string, rv *comm.Rendezvous) (*job, error) {
	x := &job{id: j.ID, user: user, rank: j.Rank, done: make(chan struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.jobs[j.ID]; dup {
		if rv != nil {
			rv.Close()
		}
		return nil, fmt.Errorf("job %s: %w on worker %s", j.ID, store.ErrExists, t.h.WorkerID())
	}
	t.jobs[j.ID] = x
	return x, nil
}

// launch runs the party on a goroutine of its own, which x tracks: x.done
// closes when the party has finished and its result is in x, and
// x.cancel stops it.
func (t *Table) launch(x *job, j sandbox.Job, rv *comm.Rendezvous, opts Options) {
	pctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	st := &jobStore{h: t.h, job: j.ID, rank: j.Rank, user: x.user}
	t.h.AccessLog().Info("job started", "job", j.ID, "user", x.user, "rank", j.Rank,
		"world_size", j.WorldSize, "entry", j.Program.Entry, "master", j.MasterAddr, "child", opts.Child != nil)
	go func() {
		defer cancel()
		t.collect(x, runParty(pctx, j, rv, st, opts), opts)
	}()
}

// runParty runs the party as opts say: in a child process under
// resource limits, or in this process.
func runParty(ctx context.Context, j sandbox.Job, rv *comm.Rendezvous, st *jobStore, opts Options) sandbox.Result {
	if opts.Child != nil {
		return sandbox.RunChild(ctx, j, rv, st, *opts.Child)
	}
	var po sandbox.PartyOptions
	if opts.Observe != nil {
		po.Observe = func(rank int, c comm.Comm) comm.Comm { return opts.Observe(j.ID, rank, c) }
	}
	return sandbox.RunJobWith(ctx, j, rv, st, po)
}

// collect logs the party's outcome and keeps its result for job.wait,
// dropping it if nobody collects it within opts.Keep.
func (t *Table) collect(x *job, res sandbox.Result, opts Options) {
	outcome, errMsg := "ok", ""
	if res.Err != nil {
		outcome, errMsg = string(res.Err.Kind), res.Err.Error()
	}
	t.h.AccessLog().Info("job finished", "job", x.id, "user", x.user, "rank", x.rank,
		"outcome", outcome, "err", errMsg, "bytes_sent", res.Stats.BytesSent, "rounds", res.Stats.Rounds,
		"ms", time.Duration(res.ElapsedNS).Milliseconds())
	x.result = res
	close(x.done)
	t.mu.Lock()
	x.dropper = time.AfterFunc(opts.Keep, func() { t.remove(x) })
	t.mu.Unlock()
}

// remove forgets x if it is still the job under its id.
func (t *Table) remove(x *job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.jobs[x.id] == x {
		delete(t.jobs, x.id)
	}
	if x.dropper != nil {
		x.dropper.Stop()
	}
}

// lookup finds the caller's job; other users' jobs do not exist for it.
func (t *Table) lookup(r *workers.Request, id string) (*job, error) {
	if err := store.ValidateID(id); err != nil {
		return nil, fmt.Errorf("%w: job id: %v", workers.ErrBadRequest, err)
	}
	t.mu.Lock()
	x := t.jobs[id]
	t.mu.Unlock()
	if x == nil || x.user != r.User().Name {
		return nil, fmt.Errorf("job %s: %w on worker %s", id, store.ErrNotFound, t.h.WorkerID())
	}
	return x, nil
}

func (t *Table) wait(ctx context.Context, r *workers.Request) (any, error) {
	var q WaitRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	x, err := t.lookup(r, q.JobID)
	if err != nil {
		return nil, err
	}
	wait := min(time.Duration(q.WaitMS)*time.Millisecond, maxWait)
	if wait > 0 {
		tm := time.NewTimer(wait)
		defer tm.Stop()
		select {
		case <-x.done:
		case <-tm.C:
		case <-ctx.Done():
		}
	}
	select {
	case <-x.done:
		t.remove(x)
		res := x.result
		return &WaitReply{Done: true, Result: &res}, nil
	default:
		return &WaitReply{}, nil
	}
}

func (t *Table) cancel(_ context.Context, r *workers.Request) (any, error) {
	var q CancelRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	x, err := t.lookup(r, q.JobID)
	if err != nil {
		return nil, err
	}
	r.Note("job", q.JobID)
	x.cancel()
	return struct{}{}, nil
}

// Close stops every party (the worker is closing).
func (t *Table) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, x := range t.jobs {
		if x.cancel != nil {
			x.cancel()
		}
	}
}

// jobStore is a party's view of its worker's store: tensors by tag, for
// mpc.Load (which secret-shares them) and mpc.Save. Every access is
// written to the access log, without values.
type jobStore struct {
	h    *workers.Handler
	job  string
	rank int
	user string

	mu      sync.Mutex
	loaded  []string
	private bool
}

// Load implements sandbox.Store: the one tensor carrying tag. Private
// tensors may be loaded: the party secret-shares them, so they leave the
// worker only as shares (what the job's code then decrypts is its own
// business, as with any MPC function).
func (s *jobStore) Load(tag string) (*tensor.Tensor, error) {
	o, log, err := s.tagged("job load", tag, "a tensor this worker holds", func(o *store.Object) bool {
		return o.Kind == store.KindTensor && o.Tensor != nil
	})
	if err != nil {
		return nil, err
	}
	s.loadedObject(o)
	log("ok", "object", o.ID, "shape", o.Tensor.Shape(), "private", o.Private)
	return o.Tensor, nil
}

// LoadModel implements sandbox.ModelStore: the one model carrying tag
// (architecture and weights), for nn.LoadModel, which shares it with the
// other parties as an architecture plus secret-shared weights.
func (s *jobStore) LoadModel(tag string) (*nn.Model, error) {
	o, log, err := s.tagged("job load model", tag, "a model", func(o *store.Object) bool { return o.Kind == store.KindModel })
	if err != nil {
		return nil, err
	}
	m, err := modelcodec.Decode(o.Blob, s.h.Limits())
	if err != nil {
		log("error", "object", o.ID, "err", err.Error())
		return nil, err
	}
	s.loadedObject(o)
	log("ok", "object", o.ID, "params", m.NumParams(), "private", o.Private)
	return m, nil
}

// tagged finds the one object carrying tag for a load (the access-log
// event), refusing one that kindOK rejects as not being want. It returns
// the function that writes this load's access-log record; failures are
// logged before they are returned.
func (s *jobStore) tagged(event, tag, want string, kindOK func(*store.Object) bool) (*store.Object, func(outcome string, kv ...any), error) {
	log := func(outcome string, kv ...any) {
		s.h.AccessLog().Info(event, append([]any{"job", s.job, "user", s.user, "rank", s.rank,
			"tag", tag, "outcome", outcome}, kv...)...)
	}
	if err := store.ValidateTag(tag); err != nil {
		log("error", "err", err.Error())
		return nil, nil, err
	}
	o, err := store.GetTagged(s.h.Store(), tag)
	if err != nil {
		log("error", "err", err.Error())
		return nil, nil, err
	}
	if !kindOK(o) {
		err := fmt.Errorf("object %s tagged %q is a %s, not %s", o.ID, tag, o.Kind, want)
		log("error", "object", o.ID, "err", err.Error())
		return nil, nil, err
	}
	return o, log, nil
}

// loadedObject records a load, for the provenance and privacy of what
// the party saves.
func (s *jobStore) loadedObject(o *store.Object) {
	s.mu.Lock()
	s.loaded = append(s.loaded, o.ID)
	s.private = s.private || o.Private
	s.mu.Unlock()
}

// Save implements sandbox.Store: a new tensor object tagged tag, owned
// by the job's user, private if the party loaded any private object.
func (s *jobStore) Save(tag string, t *tensor.Tensor) error {
	if err := store.ValidateTag(tag); err != nil {
		return err
	}
	s.mu.Lock()
	o := &store.Object{ID: store.NewID(), Kind: store.KindTensor, Tags: []string{tag}, Owner: s.user,
		Private: s.private, Tensor: t, Created: time.Now().UnixNano(),
		Provenance:  store.Provenance{Source: "job", Op: s.job, Inputs: append([]string{}, s.loaded...)},
		Description: fmt.Sprintf("saved by MPC job %s (rank %d)", s.job, s.rank)}
	s.mu.Unlock()
	if err := o.Validate(); err != nil {
		return err
	}
	err := s.h.Store().Put(o)
	outcome := "ok"
	if err != nil {
		outcome = err.Error()
	}
	s.h.AccessLog().Info("job save", "job", s.job, "user", s.user, "rank", s.rank, "tag", tag,
		"object", o.ID, "shape", t.Shape(), "private", o.Private, "outcome", outcome)
	return err
}
