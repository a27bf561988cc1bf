package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// Job is one party's part of an MPC job, as the orchestrator sends it to
// a worker and the worker hands it to the party: who the party is, where
// the others meet, what to run and for how long.
type Job struct {
	// ID names the job; the mesh refuses parties of other jobs.
	ID        string `msgpack:"id"`
	Rank      int    `msgpack:"rank"`
	WorldSize int    `msgpack:"world_size"`
	// MasterAddr is host:port of rank 0's rendezvous (for rank 0, the
	// address its worker bound and passes as a listener).
	MasterAddr string `msgpack:"master_addr"`
	// Worker is the id of the worker running this party, for errors.
	Worker string `msgpack:"worker,omitempty"`
	// Program is the source to run, or, when Plan is set, unused.
	Program Program `msgpack:"program"`
	// Plan, when set, is an encoded plan (package plan) to run instead of
	// source: its inputs are the public arguments (tensors), its outputs
	// are decrypted and returned as a list.
	Plan []byte `msgpack:"plan,omitempty"`
	// Args is serde.Marshal of the public arguments ([]any).
	Args []byte `msgpack:"args,omitempty"`
	// TimeoutMS bounds the whole party, mesh setup included.
	TimeoutMS int64 `msgpack:"timeout_ms"`
	// SetupTimeoutMS bounds joining the mesh (0: the whole timeout).
	SetupTimeoutMS int64 `msgpack:"setup_timeout_ms,omitempty"`
	// Link authenticates the party's links to the other parties.
	Link Link `msgpack:"link,omitempty"`
	// Provider names who deals the job's correlated randomness (see
	// mpc.ProviderOption): "" or "tfp" for the trusted first party (rank
	// 0 knows every mask), "dealer" for a dealer worker that joins the
	// mesh as rank WorldSize and runs no user code, "dealer-free" for two
	// parties generating it between themselves. It decides what one
	// party's owner can learn about another's inputs (docs/privacy.md).
	Provider string `msgpack:"provider,omitempty"`
}

// Timeout is the job's deadline as a duration (0 when unset).
func (j *Job) Timeout() time.Duration { return time.Duration(j.TimeoutMS) * time.Millisecond }

// Validate checks the fields a party relies on (world size, rank,
// timeouts, something to run), as a worker does before accepting a job.
func (j *Job) Validate() error { return j.validate() }

// validate checks the fields a party relies on.
func (j *Job) validate() error {
	switch {
	case j.WorldSize < 1 || j.WorldSize > 64:
		return fmt.Errorf("world size %d out of range [1,64]", j.WorldSize)
	case j.Rank < 0 || j.Rank > j.WorldSize || (j.Rank == j.WorldSize && j.Provider != mpc.ProviderDealer):
		return fmt.Errorf("rank %d out of range for %d parties (rank %d is the dealer, under provider %q only)",
			j.Rank, j.WorldSize, j.WorldSize, mpc.ProviderDealer)
	case j.TimeoutMS <= 0:
		return fmt.Errorf("no timeout set")
	case j.SetupTimeoutMS < 0:
		return fmt.Errorf("negative setup timeout (%d ms)", j.SetupTimeoutMS)
	case j.Program.Entry == "" && len(j.Plan) == 0 && !j.IsDealer():
		return fmt.Errorf("no entry function and no plan")
	}
	return CheckProvider(j.Provider, j.WorldSize)
}

// IsDealer reports whether this is the dealer's part of the job: rank
// WorldSize under the dealer provider, which deals randomness and runs no
// code (RunDealer).
func (j *Job) IsDealer() bool { return j.Provider == mpc.ProviderDealer && j.Rank == j.WorldSize }

// CheckProvider checks that a job of n parties can run with the provider
// named name: one of "" (the trusted first party), mpc.ProviderTFP,
// mpc.ProviderDealer or mpc.ProviderDealerFree, the last for two parties
// only. Orchestrators and workers check it before anything starts.
func CheckProvider(name string, n int) error {
	switch name {
	case "", mpc.ProviderTFP, mpc.ProviderDealer:
		return nil
	case mpc.ProviderDealerFree:
		if n != 2 {
			return fmt.Errorf("the dealer-free provider runs exactly 2 parties, not %d: name a dealer worker for %d parties", n, n)
		}
		return nil
	}
	return fmt.Errorf("unknown provider %s: want %q (trusted first party), %q (a dealer worker) or %q (two parties, no dealer)",
		strconv.QuoteToASCII(clipText(name, 32)), mpc.ProviderTFP, mpc.ProviderDealer, mpc.ProviderDealerFree)
}

// Result is what one party reports: its value (encoded with
// serde.Marshal) or its failure, its traffic and what it printed.
type Result struct {
	Rank   int    `msgpack:"rank"`
	Worker string `msgpack:"worker,omitempty"`
	// Value is serde.Marshal of the returned value (nil on failure).
	Value []byte `msgpack:"value,omitempty"`
	Err   *Error `msgpack:"err,omitempty"`
	// Stats is the party's traffic over the whole job, setup included;
	// ByOp attributes it to the outermost MPC operations.
	Stats comm.Counts            `msgpack:"stats"`
	ByOp  map[string]comm.Counts `msgpack:"by_op,omitempty"`
	// ElapsedNS is the wall time of the entry function.
	ElapsedNS int64 `msgpack:"elapsed_ns"`
	// Output is what the program printed, cut to MaxOutput bytes.
	Output string `msgpack:"output,omitempty"`
}

// preparePlan decodes and validates a job's plan (a plan with an
// operation outside the allow-list is refused here, before the party joins
// the mesh) and converts the arguments to its input tensors.
func preparePlan(b []byte, args []any) (*plan.Plan, []*tensor.Tensor, error) {
	pl, err := plan.Decode(b, serde.Limits{})
	if err != nil {
		return nil, nil, errorf(KindForbidden, "%v", err)
	}
	if len(args) != len(pl.Inputs) {
		return nil, nil, errorf(KindArgs, "plan %q takes %d inputs, got %d arguments", pl.Name, len(pl.Inputs), len(args))
	}
	ins := make([]*tensor.Tensor, len(args))
	for i, a := range args {
		switch x := a.(type) {
		case *tensor.Tensor:
			ins[i] = x
		case float64:
			ins[i] = tensor.Scalar(x)
		case int64:
			ins[i] = tensor.Scalar(float64(x))
		default:
			return nil, nil, errorf(KindArgs, "plan input %d is a %T; plans take tensors", i, a)
		}
	}
	return pl, ins, nil
}

// runPlan runs a plan at a party; its outputs come back as a list.
func runPlan(ctx context.Context, pl *plan.Plan, p *mpc.Party, ins []*tensor.Tensor) (any, error) {
	outs, err := pl.RunParty(p, ins...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errorf(KindTimeout, "the plan passed its deadline: %v", err)
		}
		if re := refused(err); re != nil {
			return nil, re // an output its party may not reveal
		}
		k := KindPanic
		if peerFailure(err) {
			k = KindPeer
		}
		return nil, errorf(k, "%v", err)
	}
	list := make([]any, len(outs))
	for i, o := range outs {
		list[i] = o
	}
	return list, nil
}

// MaxOutput bounds the printed output a party keeps.
const MaxOutput = 64 << 10

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int
	lost int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.lost += len(p) - max(room, 0)
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if b.lost > 0 {
		s += fmt.Sprintf("\n[%d more bytes of output dropped]\n", b.lost)
	}
	return s
}

// RunJob runs one party of job in this process (a goroutine party, as
// virtual workers use): it compiles the program in a jail (so a bad
// program fails before joining the mesh), joins the mesh (rv is rank 0's
// bound rendezvous, nil on other ranks), runs the entry function with the
// party bound to store, and reports. It never panics. The in-process
// limits of Run apply: use RunChild for untrusted code on a worker.
func RunJob(ctx context.Context, job Job, rv *comm.Rendezvous, store Store) Result {
	return runJob(ctx, job, rv, store, PartyOptions{})
}

// PartyOptions adjust an in-process party.
type PartyOptions struct {
	// Observe, if set, wraps the party's communicator once the mesh is
	// up: an auditor (or a test) sees every message the party sends and
	// receives. It must return a Comm that behaves as the one given,
	// including comm.Flush (forward it, or buffers are reused too early).
	Observe func(rank int, c comm.Comm) comm.Comm
	// Restriction is the worker's decision about this party (its reveal
	// policy, save quota, restriction); the result is gated by it
	// (GateResult).
	Restriction Restriction
}

// RunJobWith is RunJob with options.
func RunJobWith(ctx context.Context, job Job, rv *comm.Rendezvous, store Store, opts PartyOptions) Result {
	return runJob(ctx, job, rv, store, opts)
}

// runJob runs one party in this process, phase by phase: validate (the
// job, its arguments, compiling the program or decoding the plan), start
// (joining the mesh), run (the entry function or plan) and collect
// (encoding the result). A failure is stamped once, with the phase it
// happened in; a panic anywhere becomes a KindCrash of that phase.
func runJob(ctx context.Context, job Job, rv *comm.Rendezvous, store Store, opts PartyOptions) (res Result) {
	res = Result{Rank: job.Rank, Worker: job.Worker}
	phase := PhaseValidate
	defer func() {
		if r := recover(); r != nil {
			res.Err = job.Fail(phase, KindCrash, errorf(KindCrash, "party failed: %v", r))
		}
	}()
	if rv != nil {
		defer rv.Close()
	}
	if err := job.validate(); err != nil {
		return job.failed(PhaseValidate, KindSetup, errorf(KindSetup, "bad job: %v", err))
	}
	ctx, cancel := context.WithTimeout(ctx, job.Timeout())
	defer cancel()
	pr, err := validateParty(ctx, job, store)
	if err != nil {
		return job.failed(PhaseValidate, KindSetup, err)
	}
	phase = PhaseStart
	p, err := startParty(ctx, job, rv, store, opts)
	if err != nil {
		return job.failed(PhaseStart, KindSetup, err)
	}
	// Whatever the run gives, what the party's policy does not let go back
	// to the requester stays here.
	defer GateResult(p, &res)
	phase = PhaseRun
	v, err := pr.run(ctx, p, &res)
	if err != nil {
		res.Err = job.Fail(PhaseRun, KindSetup, err)
		return res
	}
	phase = PhaseCollect
	if res.Value, err = collectValue(v); err != nil {
		res.Err = job.Fail(PhaseCollect, KindResult, err)
	}
	return res
}

// partyRun is an in-process party between its phases: the program
// compiled (or the plan decoded) by validateParty, with its output.
type partyRun struct {
	r        *run
	pl       *plan.Plan
	planArgs []*tensor.Tensor
	stdout   *boundedBuffer
}

// validateParty decodes the job's arguments and compiles its program in a
// jail (or decodes its plan), so a bad program fails before joining the
// mesh.
func validateParty(ctx context.Context, job Job, store Store) (*partyRun, error) {
	var args []any
	if len(job.Args) > 0 {
		v, err := serde.Unmarshal(job.Args, serde.Limits{})
		if err != nil {
			return nil, errorf(KindArgs, "decoding arguments: %v", err)
		}
		list, ok := v.([]any)
		if !ok {
			return nil, errorf(KindArgs, "arguments are a %T, not a list", v)
		}
		args = list
	}
	pr := &partyRun{stdout: &boundedBuffer{max: MaxOutput}}
	var err error
	if len(job.Plan) > 0 {
		pr.pl, pr.planArgs, err = preparePlan(job.Plan, args)
	} else {
		pr.r, err = compile(ctx, job.Program, args, Env{Store: store, Stdout: pr.stdout, JobID: job.ID})
	}
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// startParty joins the job's mesh (within the setup timeout) and makes
// the party, bound to store. Closing the party (which run does) closes
// the communicator.
func startParty(ctx context.Context, job Job, rv *comm.Rendezvous, store Store, opts PartyOptions) (*mpc.Party, error) {
	setupCtx := ctx
	if job.SetupTimeoutMS > 0 {
		var c context.CancelFunc
		setupCtx, c = context.WithTimeout(ctx, time.Duration(job.SetupTimeoutMS)*time.Millisecond)
		defer c()
	}
	prov, err := mpc.ProviderOption(job.Provider)
	if err != nil {
		return nil, errorf(KindSetup, "%v", err)
	}
	c, err := dialMesh(ctx, setupCtx, job, rv, opts)
	if err != nil {
		return nil, err
	}
	p, err := mpc.NewParty(c, append([]mpc.Option{mpc.WithStore(store), prov}, opts.Restriction.options()...)...)
	if err != nil {
		c.Close()
		return nil, errorf(KindPeer, "starting the party: %v", err)
	}
	opts.Restriction.apply(p)
	return p, nil
}

// dialMesh joins the job's mesh within setupCtx (the TTP's place
// included when the job has a dealer) and wraps the communicator as opts
// say.
func dialMesh(ctx, setupCtx context.Context, job Job, rv *comm.Rendezvous, opts PartyOptions) (comm.Comm, error) {
	cfg := comm.Config{Rank: job.Rank, Size: job.WorldSize, MasterAddr: job.MasterAddr,
		JobID: job.ID, Rendezvous: rv, TTP: job.Provider == mpc.ProviderDealer}
	if err := job.Link.apply(&cfg); err != nil {
		return nil, errorf(KindSetup, "the party's link settings: %v", err)
	}
	if dl, ok := setupCtx.Deadline(); ok {
		cfg.Timeout = time.Until(dl)
	}
	c, err := comm.Dial(setupCtx, cfg)
	if err != nil {
		k := KindSetup
		if ctx.Err() != nil {
			k = KindTimeout
		}
		return nil, errorf(k, "joining the job's parties: %v", err)
	}
	if opts.Observe != nil {
		c = opts.Observe(job.Rank, c)
	}
	return c, nil
}

// run calls the entry function (or runs the plan) on party p and records
// its time, traffic and output in res. It closes the party: when the
// program stops, so that peers still waiting on it fail fast, or when ctx
// ends (the deadline, a cancellation), so that a program waiting on a
// peer is unblocked.
func (pr *partyRun) run(ctx context.Context, p *mpc.Party, res *Result) (any, error) {
	var closeOnce sync.Once
	closeParty := func() { closeOnce.Do(func() { p.Close() }) }
	defer closeParty()
	c := mpc.CommOf(p)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	start := time.Now()
	var v any
	var err error
	if pr.pl != nil {
		v, err = runPlan(ctx, pr.pl, p, pr.planArgs)
	} else {
		pr.r.env.Party = p
		v, err = pr.r.call(ctx)
	}
	res.ElapsedNS = int64(time.Since(start))
	res.Stats, res.ByOp = p.Stats().Total(), p.Stats().ByOp()
	if perr := p.Err(); perr != nil && refused(perr) == nil {
		v, err = nil, partyFailure(perr, err)
	}
	closeParty()
	res.Output = pr.stdout.String()
	return v, err
}

// partyFailure is the failure of a run whose party failed to communicate
// (mpc.Party.Err: a peer failed or vanished), whatever the program made of
// it: an error it returned, a panic on the placeholder values it went on
// with, or nothing. It is placed where the program noticed. A deadline or
// cancellation, which closes the party, stays what it is. (A refused
// reveal is the program's to handle: see GateResult.)
func partyFailure(perr, err error) error {
	switch KindOf(err) {
	case KindTimeout, KindCanceled, KindRefused:
		return err
	}
	e := errorf(KindPeer, "%v", perr)
	var prog *Error
	if errors.As(err, &prog) {
		e.File, e.Line, e.Col = prog.File, prog.Line, prog.Col
	}
	return e
}

// collectValue checks that a party's returned value can leave the jail
// and encodes it for its worker, models as modelcodec blobs.
func collectValue(v any) ([]byte, error) {
	if err := resultError(v); err != nil {
		return nil, err
	}
	v, err := encodeModels(v)
	if err != nil {
		return nil, errorf(KindResult, "%v", err)
	}
	b, err := serde.Marshal(v)
	if err != nil {
		return nil, errorf(KindResult, "%v", err)
	}
	return b, nil
}
