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
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
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
	// Request is the code request the job runs under (syft builds it and
	// submits it to every worker first): the worker checks the job is
	// exactly that request and that the owners of the private data it
	// loads here approved it (docs/privacy.md). A job without one may
	// load only data its user may read.
	Request *approvals.Request `msgpack:"request,omitempty"`
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
	// MaxJobs bounds the parties running at once (0: 8); more wait.
	MaxJobs int
	// MaxPerUser bounds the parties one user runs at once (0: MaxJobs).
	MaxPerUser int
	// Queue bounds the parties waiting for a slot (0: 4×MaxJobs); past it
	// job.start is refused. A party waits at most its job's setup
	// timeout.
	Queue int
	// Advertise is the host other workers' parties reach this worker's
	// parties by ("": 127.0.0.1, for virtual workers in one process).
	// Rank 0's rendezvous and the mesh listeners are advertised under it.
	Advertise string
	// Ports is the range the parties' listeners bind (zero: any port).
	Ports comm.PortRange
	// PeerTimeout is how long a party waits on a silent peer before it
	// reports it stuck (0: comm.DefaultPeerTimeout).
	PeerTimeout time.Duration
	// MaxTimeout caps the timeout a job may ask for (0: one hour).
	MaxTimeout time.Duration
	// Keep is how long a finished party's result waits to be collected
	// before it is dropped (0: ten minutes).
	Keep time.Duration
	// Observe, for in-process parties only, wraps each party's
	// communicator: an auditor (or a test) sees every MPC message.
	Observe func(job string, rank int, c comm.Comm) comm.Comm
	// SaveQuota bounds what one party may store with mpc.Save over its
	// job (zero: DefaultSaveQuota): a save beyond it fails with an error
	// saying so, which the job sees, so that a job cannot fill the
	// worker's store or carry out more than its owners expect.
	SaveQuota mpc.SaveQuota

	// restriction is the gate's decision about one party (set per job).
	restriction sandbox.Restriction
}

func (o Options) withDefaults() Options {
	if o.MaxJobs <= 0 {
		o.MaxJobs = 8
	}
	if o.MaxPerUser <= 0 || o.MaxPerUser > o.MaxJobs {
		o.MaxPerUser = o.MaxJobs
	}
	if o.Queue <= 0 {
		o.Queue = 4 * o.MaxJobs
	}
	if o.Advertise == "" {
		o.Advertise = "127.0.0.1"
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = time.Hour
	}
	if o.Keep <= 0 {
		o.Keep = 10 * time.Minute
	}
	if o.SaveQuota.Count <= 0 && o.SaveQuota.Bytes <= 0 {
		o.SaveQuota = DefaultSaveQuota
	}
	return o
}

// DefaultSaveQuota is the saves one party of a job may make unless the
// worker says otherwise (Options.SaveQuota): 64 saves, 64 MiB in all.
var DefaultSaveQuota = mpc.SaveQuota{Count: 64, Bytes: 64 << 20}

// maxWait bounds one MsgWait, well under clients' request timeouts.
const maxWait = 5 * time.Second

// Register adds the job message types to h, running parties as o
// says, and returns the table of h's parties (Configure changes o later,
// Close stops them). Every job passes book's check before its party
// starts (a nil book: only jobs that carry no request, loading data
// their users may read).
func Register(h *workers.Handler, book *approvals.Book, o Options) *Table {
	t := &Table{h: h, book: book, opts: o.withDefaults(), jobs: map[string]*job{}, slots: newSlots()}
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
	h     *workers.Handler
	book  *approvals.Book
	mu    sync.Mutex
	opts  Options
	jobs  map[string]*job // by job id
	slots *slots
}

// job is one party this worker runs.
type job struct {
	id      string
	user    string
	rank    int
	slot    *waiter // its place among the running or waiting parties
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
	// The dealer runs no code: there is nothing to check but what it is.
	if !j.IsDealer() {
		if refused, err := t.check(r, j); refused != nil || err != nil {
			if err != nil {
				return nil, err
			}
			return &StartReply{Refused: refused}, nil
		}
	}
	opts, err := t.admit(j)
	if err != nil {
		return nil, err
	}
	if err := t.secure(j, opts, q.Request); err != nil {
		return nil, err
	}
	pm, err := t.gate(r, j, q.Request)
	if err != nil {
		return nil, err
	}
	slot, err := t.slots.enter(r.User().Name, opts, t.h.WorkerID())
	if err != nil {
		return nil, err
	}
	rv, err := bindRendezvous(j, q.MasterHost, opts)
	if err != nil {
		t.slots.release(slot, opts)
		return nil, err
	}
	x, err := t.register(j, r.User().Name, rv, slot)
	if err != nil {
		t.slots.release(slot, opts)
		return nil, err
	}
	t.launch(x, *j, rv, opts, pm)
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
	if err := j.Validate(); err != nil {
		return nil, workers.BadRequestf("job %s: %v", j.ID, err)
	}
	j.Worker = t.h.WorkerID()
	r.Note("job", j.ID, "rank", j.Rank, "world_size", j.WorldSize, "entry", j.Program.Entry, "provider", j.Provider)
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

// admit checks this worker may run one more party of j (not a second one
// of the same job) and caps its timeouts at MaxTimeout. It returns the
// options the party runs under.
func (t *Table) admit(j *sandbox.Job) (Options, error) {
	t.mu.Lock()
	opts := t.opts
	_, dup := t.jobs[j.ID]
	t.mu.Unlock()
	if dup {
		return opts, fmt.Errorf("job %s: %w on worker %s (each worker runs one party of a job)", j.ID, store.ErrExists, t.h.WorkerID())
	}
	if j.Timeout() > opts.MaxTimeout {
		j.TimeoutMS = opts.MaxTimeout.Milliseconds()
		j.SetupTimeoutMS = min(j.SetupTimeoutMS, j.TimeoutMS)
	}
	return opts, nil
}

// secure checks how the job authenticates its parties and fills in this
// party's side: with pinned identities, this worker must be the one the
// job names for the party's rank, the job must carry the secret that
// binds its ranks to its orchestrator, and the worker mints the party's
// key and signs its credential for the job bound to that secret
// (comm.BindJob; the worker's own key stays here); with a job secret
// alone, the secret must be long enough. A job with neither is refused: party
// links are always authenticated. The party also gets this worker's
// advertised host, port range and peer timeout.
func (t *Table) secure(j *sandbox.Job, o Options, req *approvals.Request) error {
	l := &j.Link
	l.Key, l.Credential = nil, nil // only this worker sets them
	if len(l.Secret) > 0 {
		// Every rank runs under the request its own job.start carries,
		// and each worker checks only its own; so the secret the ranks
		// are bound by becomes the secret and the request together: a
		// rank sent another request (its recipients widened where it
		// loads nothing and needs no approval) names another job.
		l.Secret = requestSecret(l.Secret, req)
	}
	switch {
	case len(l.Identities) > 0:
		if want := endpoints(j); len(l.Identities) != want {
			return workers.BadRequestf("job %s names %d identities for %d parties (want %d: one per rank, the dealer's last)",
				j.ID, len(l.Identities), j.WorldSize, want)
		}
		for r, id := range l.Identities {
			if err := comm.CheckFingerprint(id); err != nil {
				return workers.BadRequestf("job %s: identity of rank %d: %v", j.ID, r, err)
			}
		}
		me := t.h.Certificate()
		if me == nil {
			return fmt.Errorf("%w: worker %s has no identity to sign party credentials with", workers.ErrUnavailable, t.h.WorkerID())
		}
		own := comm.Fingerprint(me.Certificate[0])
		if l.Identities[j.Rank] != own {
			return workers.BadRequestf("job %s lists worker %s for rank %d, but this worker (%s) is %s",
				j.ID, l.Identities[j.Rank], j.Rank, t.h.WorkerID(), own)
		}
		if len(l.Secret) < comm.MinSecret {
			return workers.BadRequestf("job %s names its parties' identities but no job secret of at least %d bytes binding its ranks together (job ids are not secrets: without it anyone could start a rank of this job); update the orchestrator",
				j.ID, comm.MinSecret)
		}
		key, err := comm.NewPartyKey()
		if err != nil {
			return err
		}
		cred, err := comm.SignCredential(*me, comm.BindJob(j.ID, l.Secret), j.Rank, key)
		if err != nil {
			return err
		}
		if l.Key, err = key.MarshalPEM(); err != nil {
			return err
		}
		if l.Credential, err = cred.MarshalBinary(); err != nil {
			return err
		}
	case len(l.Secret) > 0:
		if len(l.Secret) < comm.MinSecret {
			return workers.BadRequestf("job %s: a job secret of %d bytes; at least %d", j.ID, len(l.Secret), comm.MinSecret)
		}
	default:
		return workers.BadRequestf("job %s names neither its parties' identities nor a job secret: party links must be authenticated (update the orchestrator)", j.ID)
	}
	l.Advertise = o.Advertise
	l.Ports = ""
	if o.Ports != (comm.PortRange{}) {
		l.Ports = o.Ports.String()
	}
	l.PeerTimeoutMS = o.PeerTimeout.Milliseconds()
	return nil
}

// endpoints is the number of ranks in j's mesh: its parties, and its
// dealer under the dealer provider.
func endpoints(j *sandbox.Job) int {
	if j.Provider == mpc.ProviderDealer {
		return j.WorldSize + 1
	}
	return j.WorldSize
}

// requestSecret is the job secret a party's links use: the
// orchestrator's secret bound to the id of the request the job.start
// carried (none: the secret itself).
func requestSecret(secret []byte, req *approvals.Request) []byte {
	if req == nil {
		return secret
	}
	h := sha256.New()
	h.Write([]byte("gomplab job request binding v1\x00"))
	h.Write([]byte(req.ID()))
	h.Write([]byte{0})
	h.Write(secret)
	return h.Sum(nil)
}

// bindRendezvous binds rank 0's rendezvous and puts the address the
// others dial in j.MasterAddr. Where, from what the orchestrator asked:
//
//   - nothing: this worker's advertised host, at a port of its range;
//   - a host: that host, at a port of the range (0.0.0.0 or :: binds
//     every interface and advertises this worker's host);
//   - host:port (j.MasterAddr): that port, likewise.
//
// Other ranks bind nothing: they dial the address rank 0's reply gave.
func bindRendezvous(j *sandbox.Job, masterHost string, o Options) (*comm.Rendezvous, error) {
	if j.Rank != 0 {
		return nil, nil
	}
	host, port := masterHost, ""
	if j.MasterAddr != "" {
		var err error
		if host, port, err = net.SplitHostPort(j.MasterAddr); err != nil {
			return nil, workers.BadRequestf("job %s: master address %q: %v", j.ID, j.MasterAddr, err)
		}
	}
	advertise, bind := host, host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		advertise = o.Advertise
		bind = comm.BindHost(advertise)
		if host != "" {
			bind = host
		}
	}
	var ln net.Listener
	var err error
	if port != "" && port != "0" {
		ln, err = net.Listen("tcp", net.JoinHostPort(bind, port))
	} else {
		ln, err = comm.ListenRange(bind, o.Ports)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: binding the job's rendezvous on %q (advertised as %s): %v",
			workers.ErrBadRequest, bind, advertise, err)
	}
	rv := comm.RendezvousOn(ln, advertise)
	j.MasterAddr = rv.Addr()
	return rv, nil
}

// register enters the job in the table, unless another request of the
// same job got there first.
func (t *Table) register(j *sandbox.Job, user string, rv *comm.Rendezvous, slot *waiter) (*job, error) {
	x := &job{id: j.ID, user: user, rank: j.Rank, slot: slot, done: make(chan struct{})}
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
func (t *Table) launch(x *job, j sandbox.Job, rv *comm.Rendezvous, opts Options, pm *permit) {
	pctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	st := &jobStore{h: t.h, job: j.ID, rank: j.Rank, user: x.user, permit: pm}
	if pm.req != nil {
		st.parties = pm.req.Parties
	}
	restriction := pm.restriction
	quota := opts.SaveQuota
	restriction.SaveQuota = &quota
	if opts.Child != nil {
		co := *opts.Child
		co.Restriction = restriction
		opts.Child = &co
	}
	opts.restriction = restriction
	request := ""
	if pm.verdict != nil {
		request = pm.verdict.ID
	}
	t.h.AccessLog().Info("job started", "job", j.ID, "user", x.user, "rank", j.Rank,
		"world_size", j.WorldSize, "entry", j.Program.Entry, "master", j.MasterAddr, "provider", j.Provider,
		"dealer", j.IsDealer(), "child", opts.Child != nil && !j.IsDealer(), "request", request, "restricted", pm.restriction.Restricted)
	go func() {
		defer cancel()
		t.collect(x, t.runQueued(pctx, x, j, rv, st, opts), opts)
	}()
}

// runQueued waits for the party's slot (at most the job's setup timeout:
// the others are waiting for it at the rendezvous), then runs it in what
// is left of its setup time, and gives the slot back.
func (t *Table) runQueued(ctx context.Context, x *job, j sandbox.Job, rv *comm.Rendezvous, st *jobStore, opts Options) sandbox.Result {
	setup := time.Duration(j.SetupTimeoutMS) * time.Millisecond
	if setup <= 0 {
		setup = j.Timeout()
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, setup)
	ahead, err := t.slots.wait(wctx, x.slot)
	cancel()
	defer t.slots.leave(x.slot, opts)
	if err != nil {
		if rv != nil {
			rv.Close()
		}
		why := fmt.Errorf("waited %v for one of worker %s's %d party slots (%d parties still ahead)",
			time.Since(start).Round(time.Millisecond), t.h.WorkerID(), opts.MaxJobs, ahead)
		if ctx.Err() != nil {
			return j.Failed(sandbox.PhaseStart, sandbox.KindCanceled, fmt.Errorf("cancelled while queued: %v", why))
		}
		return j.Failed(sandbox.PhaseStart, sandbox.KindUnavailable, why)
	}
	if waited := time.Since(start); waited > 10*time.Millisecond {
		t.h.AccessLog().Info("job dequeued", "job", j.ID, "user", x.user, "rank", j.Rank, "waited_ms", waited.Milliseconds())
		j.TimeoutMS -= waited.Milliseconds()
		if j.SetupTimeoutMS > 0 {
			j.SetupTimeoutMS = max(j.SetupTimeoutMS-waited.Milliseconds(), 1)
		}
		if j.TimeoutMS <= 0 {
			return j.Failed(sandbox.PhaseStart, sandbox.KindTimeout, fmt.Errorf("the job's time ran out while it waited for a party slot"))
		}
	}
	return runParty(ctx, j, rv, st, opts)
}

// runParty runs the party as opts say: in a child process under
// resource limits, or in this process. The dealer's part runs in this
// process whatever opts say: it runs no user code and loads nothing
// (sandbox.RunDealer), and takes a party slot like any party.
func runParty(ctx context.Context, j sandbox.Job, rv *comm.Rendezvous, st *jobStore, opts Options) sandbox.Result {
	po := sandbox.PartyOptions{Restriction: opts.restriction}
	if opts.Observe != nil {
		po.Observe = func(rank int, c comm.Comm) comm.Comm { return opts.Observe(j.ID, rank, c) }
	}
	if j.IsDealer() {
		return sandbox.RunDealer(ctx, j, po)
	}
	if opts.Child != nil {
		return sandbox.RunChild(ctx, j, rv, st, *opts.Child)
	}
	return sandbox.RunJobWith(ctx, j, rv, st, po)
}

// collect logs the party's outcome and keeps its result for job.wait,
// dropping it if nobody collects it within opts.Keep.
func (t *Table) collect(x *job, res sandbox.Result, opts Options) {
	outcome, errMsg := "ok", ""
	if res.Err != nil {
		outcome, errMsg = string(res.Err.Kind), logError(res.Err)
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

// logError is what the access log keeps of a party's failure: its rank,
// place, phase and kind, and its message only when the engine or the
// worker wrote it. A panic's value, a returned error, a result that
// could not be encoded, a peer failure (which may wrap those) and a
// crash's output are the job's own text, which may carry values it
// decrypted; no log record carries values (docs/privacy.md), even of a
// job allowed to decrypt them: the requester gets the message in the
// result.
func logError(e *sandbox.Error) string {
	switch e.Kind {
	case sandbox.KindPanic, sandbox.KindError, sandbox.KindResult, sandbox.KindPeer, sandbox.KindCrash:
		c := *e
		c.Msg = "(the job's own message is not logged)"
		return c.Error()
	}
	return e.Error()
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

// jobStore is a party's view of its worker's store: tensors and models
// by tag, resolved in the requester's namespace (Handler.Resolve), for
// mpc.Load and nn.LoadModel (which secret-share them), and mpc.Save. It
// hands out data the requester may not read only as the job's permit
// allows (the request declares the load here and the check approved it),
// and says so (mpc.TaggedStore, nn.TaggedModelStore), so that the party
// runs under the approval's reveal policy. Every access is written to
// the access log, without values.
type jobStore struct {
	h      *workers.Handler
	job    string
	rank   int
	user   string
	permit *permit
	// parties are the request's parties, whose workers' owners own what
	// a party restricted by another rank's data computes from.
	parties []approvals.Party

	mu      sync.Mutex
	loaded  []string
	private bool
	owners  []string // DataOwners of what the party saves
}

// Load implements sandbox.Store: the one tensor carrying tag.
func (s *jobStore) Load(tag string) (*tensor.Tensor, error) {
	t, _, err := s.LoadTagged(tag)
	return t, err
}

// LoadTagged implements mpc.TaggedStore: the one tensor carrying tag in
// the requester's namespace, and whether it is restricted (private data
// the requester may not read, loaded under an approval).
func (s *jobStore) LoadTagged(tag string) (*tensor.Tensor, bool, error) {
	o, restricted, log, err := s.tagged("job load", tag, approvals.LoadTensor, "a tensor this worker holds", func(o *store.Object) bool {
		return o.Kind == store.KindTensor && o.Tensor != nil
	})
	if err != nil {
		return nil, false, err
	}
	s.loadedObject(o)
	log("ok", "object", o.ID, "shape", o.Tensor.Shape(), "private", o.Private, "restricted", restricted)
	return o.Tensor, restricted, nil
}

// LoadModel implements sandbox.ModelStore: the one model carrying tag
// (architecture and weights), for nn.LoadModel, which shares it with the
// other parties as an architecture plus secret-shared weights.
func (s *jobStore) LoadModel(tag string) (*nn.Model, error) {
	m, _, err := s.LoadModelTagged(tag)
	return m, err
}

// LoadModelTagged implements nn.TaggedModelStore.
func (s *jobStore) LoadModelTagged(tag string) (*nn.Model, bool, error) {
	o, restricted, log, err := s.tagged("job load model", tag, approvals.LoadModel, "a model", func(o *store.Object) bool { return o.Kind == store.KindModel })
	if err != nil {
		return nil, false, err
	}
	m, err := modelcodec.Decode(o.Blob, s.h.Limits())
	if err != nil {
		log("error", "object", o.ID, "err", err.Error())
		return nil, false, err
	}
	s.loadedObject(o)
	log("ok", "object", o.ID, "params", m.NumParams(), "private", o.Private, "restricted", restricted)
	return m, restricted, nil
}

// tagged finds the one object carrying tag in the requester's namespace
// for a load (the access-log event) of kind, refusing one that kindOK
// rejects as not being want, and one the party may not load (see
// permit.mayLoad). It returns whether the object is restricted and the
// function that writes this load's access-log record; failures are
// logged before they are returned.
func (s *jobStore) tagged(event, tag, kind, want string, kindOK func(*store.Object) bool) (*store.Object, bool, func(outcome string, kv ...any), error) {
	log := func(outcome string, kv ...any) {
		s.h.AccessLog().Info(event, append([]any{"job", s.job, "user", s.user, "rank", s.rank,
			"tag", tag, "outcome", outcome}, kv...)...)
	}
	if err := store.ValidateTag(tag); err != nil {
		log("error", "err", err.Error())
		return nil, false, nil, err
	}
	pm := s.permit
	if pm == nil || pm.user == nil {
		err := fmt.Errorf("job %s: the party's store has no user", s.job)
		log("error", "err", err.Error())
		return nil, false, nil, err
	}
	o, err := s.h.Resolve(pm.user, tag)
	if err != nil {
		log("error", "err", err.Error())
		return nil, false, nil, err
	}
	if !kindOK(o) {
		err := fmt.Errorf("object %s tagged %q is a %s, not %s", o.ID, tag, o.Kind, want)
		log("error", "object", o.ID, "err", err.Error())
		return nil, false, nil, err
	}
	restricted, err := pm.mayLoad(s.h.WorkerID(), s.job, s.rank, o, tag, kind)
	if err != nil {
		log("refused", "object", o.ID, "owner", o.Owner)
		return nil, false, nil, err
	}
	return o, restricted, log, nil
}

// loadedObject records a load, for the provenance, privacy and data
// owners of what the party saves.
func (s *jobStore) loadedObject(o *store.Object) {
	s.mu.Lock()
	s.loaded = append(s.loaded, o.ID)
	if o.Private {
		s.private = true
		s.addOwners(approvals.DataOwners(s.h.WorkerID(), s.user, o)...)
	}
	s.mu.Unlock()
}

func (s *jobStore) addOwners(names ...string) {
	for _, n := range names {
		if !slices.Contains(s.owners, n) {
			s.owners = append(s.owners, n)
		}
	}
}

// Save implements sandbox.Store (an unrestricted party's save).
func (s *jobStore) Save(tag string, t *tensor.Tensor) error { return s.SaveTagged(tag, t, false) }

// SaveTagged implements mpc.TaggedStore: a new tensor object tagged tag.
// What a party that loaded private data (here, or, restricted, at another
// rank) saves is private, readable by no one but the worker's owners and
// read-private users, and names the owners of every private input
// (DataOwners): the owners of the private objects it loaded here, and for
// data loaded elsewhere the workers of the request's other parties.
func (s *jobStore) SaveTagged(tag string, t *tensor.Tensor, restricted bool) error {
	return s.save(tag, t, restricted, false)
}

// SaveShareTagged implements mpc.ShareStore: the party's share of a
// shared tensor (mpc.SaveShare), always private so that no listing shows
// its words: readable by the job's user alone when the party computed on
// nothing restricted (the user could compute it anyway), else private
// data of the loaded data's owners, as SaveTagged's results.
func (s *jobStore) SaveShareTagged(tag string, t *tensor.Tensor, restricted bool) error {
	return s.save(tag, t, restricted, true)
}

func (s *jobStore) save(tag string, t *tensor.Tensor, restricted, share bool) error {
	if err := store.ValidateTag(tag); err != nil {
		return err
	}
	s.mu.Lock()
	private := s.private || restricted
	if restricted {
		for i, p := range s.parties {
			if i != s.rank {
				s.addOwners(p.Worker)
			}
		}
	}
	var owners []string
	if private {
		owners = slices.Clone(s.owners)
		slices.Sort(owners)
	}
	o := &store.Object{ID: store.NewID(), Kind: store.KindTensor, Tags: []string{tag}, Owner: s.user,
		Private: private, DataOwners: owners, Tensor: t, Created: time.Now().UnixNano(),
		Provenance:  store.Provenance{Source: "job", Op: s.job, Inputs: append([]string{}, s.loaded...)},
		Description: fmt.Sprintf("saved by MPC job %s (rank %d)", s.job, s.rank)}
	if share {
		o.Description = fmt.Sprintf("rank %d's share of a shared tensor, saved by MPC job %s", s.rank, s.job)
		// Restricted is whether any party loaded data the user may not
		// read; if none did, the user may read every input, so the share.
		o.Private = true
		if !restricted {
			o.AllowedUsers = []string{s.user}
		}
	}
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
		"object", o.ID, "shape", t.Shape(), "private", o.Private, "data_owners", o.DataOwners, "outcome", outcome)
	return err
}
