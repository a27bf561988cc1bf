package syft

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"html"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/jobs"
)

// This file is the orchestrator of MPC jobs. The worker side it talks to
// (job.start, job.wait, job.cancel) is package workers/jobs; the party
// each worker runs is package sandbox (RunJobWith in process, RunChild in
// a child process); the function shipped is found by source.go.

// DefaultJobTimeout bounds a job when Job.Timeout is zero.
const DefaultJobTimeout = 5 * time.Minute

// RunMultiWorkers runs fn as an MPC job: one synchronized party on each
// worker, ranks in the order of the list, meeting at masterAddr (empty
// for the address rank 0's worker advertises, or a host: rank 0's worker
// binds a free port there and the others are told which; see
// Job.MasterAddr). The parties' links are TLS 1.3, each rank bound to its
// worker's pinned certificate (docs/comm.md).
// fn is a top-level function of this program (its source and everything it
// uses is read from its package's files), a function declared in a notebook
// cell, or a *Func. Inside, mpc.Load("tag", src) secret-shares party src's
// tensor stored under that tag on its own worker, so each worker's data
// leaves it only as shares.
//
// args are public values every party receives as fn's arguments: numbers,
// strings, bools, tensors, and slices and maps of them. The results hold
// what each rank returned (numbers, strings, tensors, slices and maps of
// them), its traffic and its output; the error, when not nil, is a
// *JobError naming each failed rank, its worker, the kind of failure and
// the line. The results are returned even then, with what succeeded.
//
//	func product() (any, error) {
//		a, err := mpc.Load("crypten_data", 0)
//		if err != nil {
//			return nil, err
//		}
//		b, err := mpc.Load("crypten_data", 1)
//		if err != nil {
//			return nil, err
//		}
//		return a.Mul(b).GetPlainText()
//	}
//	results, err := syft.RunMultiWorkers([]syft.Worker{alice, bob}, "127.0.0.1", product)
//
// (ExampleRunMultiWorkers runs this on two virtual workers.)
//
// Options among args (WithDealer, WithProvider) set the job's provider
// instead of being shipped:
//
//	syft.RunMultiWorkers([]syft.Worker{alice, bob}, "", product, syft.WithDealer(carol))
func RunMultiWorkers(ws []Worker, masterAddr string, fn any, args ...any) (*Results, error) {
	f, err := FuncOf(fn)
	if err != nil {
		return nil, err
	}
	j := &Job{Workers: ws, MasterAddr: masterAddr, Func: f}
	j.Args = j.apply(args)
	return j.Run(context.Background())
}

// RunSource is RunMultiWorkers for source text: entry names the function
// to run in src, a Go file with its imports.
func RunSource(ws []Worker, masterAddr, src, entry string, args ...any) (*Results, error) {
	j := &Job{Workers: ws, MasterAddr: masterAddr, Func: SourceFunc(src, entry)}
	j.Args = j.apply(args)
	return j.Run(context.Background())
}

// JobOption sets a setting of a Job in the short forms (RunMultiWorkers,
// RunSource, RunPlan): given among the arguments, it is applied to the
// job and not shipped.
type JobOption func(*Job)

// WithDealer makes w the job's dealer (provider "dealer"): PySyft's
// crypto_provider. w deals every party's correlated randomness over
// authenticated links, computes nothing and loads nothing; no party
// learns another's masks, so no owner's worker sees another's inputs,
// as long as w colludes with none of them.
func WithDealer(w Worker) JobOption {
	return func(j *Job) { j.Provider, j.Dealer = mpc.ProviderDealer, w }
}

// WithProvider names the job's provider: mpc.ProviderTFP,
// mpc.ProviderDealer (with WithDealer) or mpc.ProviderDealerFree. Naming
// "tfp" says that rank 0's worker may see every party's inputs.
func WithProvider(name string) JobOption {
	return func(j *Job) { j.Provider = name }
}

// apply applies the JobOptions among args and returns the others.
func (j *Job) apply(args []any) []any {
	var rest []any
	for _, a := range args {
		if o, ok := a.(JobOption); ok {
			if o != nil {
				o(j)
			}
			continue
		}
		rest = append(rest, a)
	}
	return rest
}

// Job is the long form of RunMultiWorkers, with every setting.
type Job struct {
	// Workers run the parties; Workers[i] is rank i.
	Workers []Worker
	// MasterAddr is where the parties meet: empty for the address rank
	// 0's worker advertises (gomplab worker --advertise), a host for that
	// host, host:port to insist on a port as well (port 0 or none lets
	// the worker pick a free one, within its --party-ports); 0.0.0.0 or
	// :: listen on every interface under the advertised name.
	MasterAddr string
	// Func is the function every party runs, or Plan the plan.
	Func *Func
	Plan *Plan
	// Args are its public arguments.
	Args []any
	// Timeout bounds the whole job (0: DefaultJobTimeout). A party still
	// running then is stopped, on every rank.
	Timeout time.Duration
	// SetupTimeout bounds the parties' meeting (0: a quarter of Timeout,
	// at least 10 s).
	SetupTimeout time.Duration
	// Provider names who deals the correlated randomness: "tfp" (the
	// trusted first party: rank 0's worker knows every mask), "dealer"
	// (Dealer deals and computes nothing, like PySyft's crypto_provider)
	// or "dealer-free" (two parties, no third). Empty chooses by who owns
	// the data (docs/privacy.md).
	Provider string
	// Dealer is the worker that deals the randomness under the "dealer"
	// provider (PySyft's crypto_provider). It runs no user code and
	// loads nothing; it must not be one of Workers.
	Dealer Worker
	// Loads declares data the job reads beyond what its source shows
	// (mpc.Load and nn.LoadModel calls with constant tags and ranks are
	// found by themselves): tags computed at run time. A load of data
	// the requester may not read that the request does not declare is
	// refused.
	Loads []Load
	// Recipients are who may learn decrypted values when the job computes
	// on data its requester may not read: "requester" (results come
	// back), "all-parties" (values opened to every party, so to every
	// party's owner), "party:R". Empty: all-parties and requester. The
	// owners approve them with the rest of the request.
	Recipients []string
	// Note is free text for the owners who review the request.
	Note string
}

// Results are what the ranks of a job returned.
type Results struct {
	JobID string
	// Provider is the provider the job ran with ("tfp", "dealer" or
	// "dealer-free"), and Dealer the dealer worker's id under "dealer".
	Provider string
	Dealer   string
	// DealerRank is the dealer's outcome under "dealer": its traffic and
	// time, or its failure (it returns no value).
	DealerRank *RankResult
	// Ranks[i] is rank i's result.
	Ranks []RankResult
	// Elapsed is the orchestrator's wall time, submission to last result.
	Elapsed time.Duration
}

// RankResult is one rank's outcome.
type RankResult struct {
	Rank   int
	Worker string
	// Value is what the rank returned, decoded: nil, bool, int64, uint64,
	// float64, string, []byte, *tensor.Tensor, *nn.Model, []any or
	// map[string]any.
	Value any
	// Err is the rank's failure (a *sandbox.Error), or nil.
	Err error
	// Stats is the party's traffic, setup included.
	Stats comm.Counts
	// ByOp attributes the traffic to MPC operations.
	ByOp map[string]comm.Counts
	// Elapsed is the entry function's wall time on the party.
	Elapsed time.Duration
	// Output is what the party printed.
	Output string
}

// Value returns rank's value (nil for a rank out of range or failed).
func (r *Results) Value(rank int) any {
	if r == nil || rank < 0 || rank >= len(r.Ranks) {
		return nil
	}
	return r.Ranks[rank].Value
}

// Values returns every rank's value, in rank order.
func (r *Results) Values() []any {
	out := make([]any, len(r.Ranks))
	for i := range r.Ranks {
		out[i] = r.Ranks[i].Value
	}
	return out
}

// Tensor returns rank's tensor: its value when the rank returned a
// tensor, or the one output of a one-output plan (RunPlan's value is the
// list of the plan's outputs). It is nil when the rank failed, is out of
// range, or returned anything else (several outputs, a number); Tensors
// and Output say which, with an error, and return several outputs.
func (r *Results) Tensor(rank int) *tensor.Tensor {
	ts, err := r.Tensors(rank)
	if err != nil || len(ts) != 1 {
		return nil
	}
	return ts[0]
}

// Tensors returns rank's tensors: the one it returned, or every element of
// the list it returned (RunPlan: the plan's outputs, in order). Anything
// else is an error naming the rank, its worker and what it holds: the
// rank's failure, a rank out of range, or a value (or element) that is not
// a tensor.
func (r *Results) Tensors(rank int) ([]*tensor.Tensor, error) {
	if r == nil || rank < 0 || rank >= len(r.Ranks) {
		n := 0
		if r != nil {
			n = len(r.Ranks)
		}
		return nil, fmt.Errorf("syft: results: no rank %d (the job had %d)", rank, n)
	}
	rr := &r.Ranks[rank]
	if rr.Err != nil {
		return nil, fmt.Errorf("syft: results: rank %d (%s) failed: %w", rank, rr.Worker, rr.Err)
	}
	switch v := rr.Value.(type) {
	case *tensor.Tensor:
		if v == nil {
			break
		}
		return []*tensor.Tensor{v}, nil
	case []any:
		out := make([]*tensor.Tensor, len(v))
		for i, e := range v {
			t, ok := e.(*tensor.Tensor)
			if !ok || t == nil {
				return nil, fmt.Errorf("syft: results: rank %d (%s) returned a list whose element %d is %s, not a tensor", rank, rr.Worker, i, describeValue(e))
			}
			out[i] = t
		}
		return out, nil
	}
	return nil, fmt.Errorf("syft: results: rank %d (%s) returned %s, not a tensor or a list of tensors", rank, rr.Worker, describeValue(rr.Value))
}

// Output returns output i of rank's value: of a plan's outputs
// (RunPlan) or of a returned list; output 0 of a single tensor is that
// tensor. An index past the outputs is an error saying how many there are.
func (r *Results) Output(rank, i int) (*tensor.Tensor, error) {
	ts, err := r.Tensors(rank)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(ts) {
		return nil, fmt.Errorf("syft: results: rank %d has %d outputs, no output %d", rank, len(ts), i)
	}
	return ts[i], nil
}

// describeValue names a returned value's kind for errors, never its
// content (results may be private data's derivatives).
func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case []any:
		return fmt.Sprintf("a list of %d values", len(v))
	case map[string]any:
		return fmt.Sprintf("a map of %d values", len(v))
	case *tensor.Tensor:
		return "a nil tensor"
	}
	return fmt.Sprintf("a %T", v)
}

// Err joins the ranks' failures (the dealer's included) into a
// *JobError, or returns nil.
func (r *Results) Err() error {
	je := &JobError{JobID: r.JobID}
	for _, rr := range r.endpoints() {
		if rr.Err != nil {
			je.Ranks = append(je.Ranks, rr.Err)
		}
	}
	if len(je.Ranks) == 0 {
		return nil
	}
	// The cause first: ranks that failed on their own before those that
	// failed because a peer did or were cancelled because one could not
	// start.
	sort.SliceStable(je.Ranks, func(i, j int) bool {
		return !caused(je.Ranks[i]) && caused(je.Ranks[j])
	})
	return je
}

func isKind(err error, k sandbox.Kind) bool { return sandbox.KindOf(err) == k }

// caused reports a failure caused by another rank's: a peer's, or a
// cancellation because another rank could not start.
func caused(err error) bool {
	return isKind(err, sandbox.KindPeer) || isKind(err, sandbox.KindCanceled)
}

// JobError reports the failed ranks of a job.
type JobError struct {
	JobID string
	// Ranks are the failures, each a *sandbox.Error naming its rank and
	// worker; failures caused by another rank come last.
	Ranks []error
}

// Error lists the failed ranks, the cause first.
func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s failed on %d rank", e.JobID, len(e.Ranks))
	if len(e.Ranks) != 1 {
		b.WriteString("s")
	}
	for _, r := range e.Ranks {
		b.WriteString("\n  ")
		b.WriteString(r.Error())
	}
	return b.String()
}

// Unwrap returns the ranks' errors, for errors.Is and errors.As.
func (e *JobError) Unwrap() []error { return e.Ranks }

// Stats sums the traffic of every rank, the dealer's included.
func (r *Results) Stats() comm.Counts {
	var c comm.Counts
	for _, rr := range r.endpoints() {
		c = c.Add(rr.Stats)
	}
	return c
}

// endpoints are the ranks' results and the dealer's, in rank order.
func (r *Results) endpoints() []RankResult {
	if r.DealerRank == nil {
		return r.Ranks
	}
	return append(append([]RankResult(nil), r.Ranks...), *r.DealerRank)
}

// providerText says which provider ran, for String and HTML.
func (r *Results) providerText() string {
	switch r.Provider {
	case mpc.ProviderDealer:
		return fmt.Sprintf("dealer %s (no party saw another's masks)", r.Dealer)
	case mpc.ProviderDealerFree:
		return "dealer-free (no party saw another's masks)"
	case "", mpc.ProviderTFP:
		return "trusted first party (rank 0's worker knew every mask)"
	}
	return r.Provider
}

// String renders the results as a table: one line per rank.
func (r *Results) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s: %d ranks in %v, provider %s\n", r.JobID, len(r.Ranks), r.Elapsed.Round(time.Millisecond), r.providerText())
	for _, rr := range r.Ranks {
		fmt.Fprintf(&b, "rank %d (%s):", rr.Rank, rr.Worker)
		if rr.Err != nil {
			fmt.Fprintf(&b, " error: %v\n", rr.Err)
			continue
		}
		v := formatValue(rr.Value, "  ")
		if strings.Contains(v, "\n") {
			v = "\n  " + v
		} else {
			v = " " + v
		}
		fmt.Fprintf(&b, "%s\n", v)
		fmt.Fprintf(&b, "  sent %s in %d messages, %d rounds, %v\n", byteSize(rr.Stats.BytesSent),
			rr.Stats.Messages, rr.Stats.Rounds, rr.Elapsed.Round(time.Microsecond))
	}
	if d := r.DealerRank; d != nil {
		fmt.Fprintf(&b, "dealer (%s):", d.Worker)
		if d.Err != nil {
			fmt.Fprintf(&b, " error: %v\n", d.Err)
		} else {
			fmt.Fprintf(&b, " sent %s in %d messages, %v\n", byteSize(d.Stats.BytesSent), d.Stats.Messages, d.Elapsed.Round(time.Microsecond))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// HTML renders the results for a notebook: one row per rank with its value
// (tensors as tables), traffic and time, and errors in red.
func (r *Results) HTML() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="gomplab-results"><p>job <code>%s</code>: %d ranks in %v, provider %s</p>`,
		html.EscapeString(r.JobID), len(r.Ranks), r.Elapsed.Round(time.Millisecond), html.EscapeString(r.providerText()))
	b.WriteString(`<table><thead><tr><th>rank</th><th>worker</th><th>value</th><th>sent</th><th>rounds</th><th>time</th></tr></thead><tbody>`)
	for _, rr := range r.Ranks {
		fmt.Fprintf(&b, "<tr><td>%d</td><td>%s</td>", rr.Rank, html.EscapeString(rr.Worker))
		if rr.Err != nil {
			fmt.Fprintf(&b, `<td colspan="4" style="color:#b00"><pre>%s</pre></td></tr>`, html.EscapeString(rr.Err.Error()))
			continue
		}
		fmt.Fprintf(&b, "<td>%s</td><td>%s</td><td>%d</td><td>%v</td></tr>", valueHTML(rr.Value),
			byteSize(rr.Stats.BytesSent), rr.Stats.Rounds, rr.Elapsed.Round(time.Microsecond))
	}
	if d := r.DealerRank; d != nil {
		fmt.Fprintf(&b, "<tr><td>dealer</td><td>%s</td>", html.EscapeString(d.Worker))
		if d.Err != nil {
			fmt.Fprintf(&b, `<td colspan="4" style="color:#b00"><pre>%s</pre></td></tr>`, html.EscapeString(d.Err.Error()))
		} else {
			fmt.Fprintf(&b, "<td>(deals only)</td><td>%s</td><td>%d</td><td>%v</td></tr>",
				byteSize(d.Stats.BytesSent), d.Stats.Rounds, d.Elapsed.Round(time.Microsecond))
		}
	}
	b.WriteString("</tbody></table></div>")
	return b.String()
}

func valueHTML(v any) string {
	switch x := v.(type) {
	case interface{ HTML() string }:
		return x.HTML()
	case *nn.Model:
		return "<pre>" + html.EscapeString(formatValue(x, "")) + "</pre>"
	case []any:
		var b strings.Builder
		b.WriteString("<ol start=\"0\">")
		for _, e := range x {
			b.WriteString("<li>" + valueHTML(e) + "</li>")
		}
		return b.String() + "</ol>"
	case map[string]any:
		var b strings.Builder
		b.WriteString("<table>")
		for _, k := range sortedKeys(x) {
			fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>", html.EscapeString(k), valueHTML(x[k]))
		}
		return b.String() + "</table>"
	}
	return "<pre>" + html.EscapeString(fmt.Sprint(v)) + "</pre>"
}

// formatValue renders a returned value as text: lists and maps holding
// tensors or models one element a line, indented by indent.
func formatValue(v any, indent string) string {
	switch x := v.(type) {
	case *tensor.Tensor:
		return strings.ReplaceAll(x.String(), "\n", "\n"+indent)
	case *nn.Model:
		return fmt.Sprintf("model with %d parameter values", x.NumParams())
	case []any:
		if !rich(x) {
			break
		}
		var b strings.Builder
		fmt.Fprintf(&b, "list of %d:", len(x))
		for i, e := range x {
			fmt.Fprintf(&b, "\n%s[%d] %s", indent, i, formatValue(e, indent+"    "))
		}
		return b.String()
	case map[string]any:
		var vals []any
		for _, e := range x {
			vals = append(vals, e)
		}
		if !rich(vals) {
			break
		}
		var b strings.Builder
		fmt.Fprintf(&b, "map of %d:", len(x))
		for _, k := range sortedKeys(x) {
			fmt.Fprintf(&b, "\n%s%s: %s", indent, k, formatValue(x[k], indent+"    "))
		}
		return b.String()
	}
	return fmt.Sprint(v)
}

// rich reports whether a list holds tensors, models or nested lists and
// maps, which print badly on one line.
func rich(xs []any) bool {
	for _, e := range xs {
		switch e.(type) {
		case *tensor.Tensor, *nn.Model, []any, map[string]any:
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// newJobID returns a fresh random job id.
func newJobID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run runs the job in four phases: validate (here, before any worker is
// contacted: the workers, the source's imports or the plan, the
// arguments), start (rank 0's party first, whose worker binds the
// rendezvous on a free port, then the others with that address), run (the
// parties compute, on the workers) and collect (every rank's result,
// polled from its worker). When a rank cannot be started or becomes
// unreachable, the others are cancelled. Each rank's failure is stamped
// once (sandbox.Job.Fail) with its rank, worker and phase.
func (j *Job) Run(ctx context.Context) (*Results, error) {
	start := time.Now()
	o, err := j.validate()
	if err != nil {
		return nil, err
	}
	// Every worker sees the request, and its owners' decision is known,
	// before any party starts.
	st, errs := o.submit()
	failed := false
	for rank, err := range errs {
		if err != nil {
			k := sandbox.KindUnavailable
			if errors.Is(err, workers.ErrBadRequest) {
				k = sandbox.KindSetup // e.g. a declared tag that names nothing
			}
			o.fail(rank, sandbox.PhaseStart, k, err)
			failed = true
		}
	}
	if failed {
		for rank, err := range errs {
			if err == nil {
				o.fail(rank, sandbox.PhaseStart, sandbox.KindCanceled, errors.New("cancelled: another rank's worker could not be asked about the job's request; nothing was started"))
			}
		}
		o.res.Elapsed = time.Since(start)
		o.explainReleased()
		return o.res, o.res.Err()
	}
	if err := st.Err(); err != nil {
		o.res.Elapsed = time.Since(start)
		return o.res, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout+10*time.Second)
	defer cancel()
	if o.start() {
		o.collect(ctx)
		o.combine()
	}
	o.res.Elapsed = time.Since(start)
	o.explainReleased()
	return o.res, o.res.Err()
}

// explainReleased adds to each rank's "no object tagged" failure which
// object under that tag this program's garbage-collected owning pointers
// freed on the rank's worker, and how to keep it (Pointer.Keep): without
// it, a tensor sent and never used again in Go disappears before the job
// that loads it by tag, with no hint why.
func (o *jobRun) explainReleased() {
	for rank := range o.res.Ranks {
		rr := &o.res.Ranks[rank]
		if rr.Err == nil || rank >= len(o.ends) {
			continue
		}
		hint := o.ends[rank].link().rec.releasedFor(rr.Err.Error())
		if hint == "" {
			continue
		}
		var se *sandbox.Error
		if errors.As(rr.Err, &se) {
			se.Msg += hint
		} else {
			rr.Err = fmt.Errorf("%w%s", rr.Err, hint)
		}
	}
}

// jobRun is one run of a Job between its phases.
type jobRun struct {
	j       *Job
	res     *Results
	shared  sandbox.Job // what every rank's job holds; MasterAddr once known
	host    string      // where rank 0's worker binds the rendezvous
	timeout time.Duration
	ends    []Worker // the workers by rank, the dealer's last
	started []bool   // by rank; each written by its own goroutine
	// req is the code request the job runs under (requests.go): every
	// worker checks it before its party starts.
	req *approvals.Request
}

// validate checks the job before any worker is contacted and prepares
// what every rank's job shares.
func (j *Job) validate() (*jobRun, error) {
	if len(j.Workers) == 0 {
		return nil, errors.New("syft: RunMultiWorkers needs at least one worker")
	}
	if (j.Func == nil) == (j.Plan == nil) {
		return nil, errors.New("syft: a job runs exactly one of a function or a plan")
	}
	seen := map[string]int{}
	for i, w := range j.Workers {
		if w == nil {
			return nil, fmt.Errorf("syft: worker %d is nil", i)
		}
		if k, dup := seen[w.ID()]; dup {
			return nil, fmt.Errorf("syft: worker %s is both rank %d and rank %d; each worker runs one party", w.ID(), k, i)
		}
		seen[w.ID()] = i
	}
	prov, err := j.provider()
	if err != nil {
		return nil, err
	}
	ends := slices.Clone(j.Workers)
	if prov == mpc.ProviderDealer {
		if k, dup := seen[j.Dealer.ID()]; dup {
			return nil, fmt.Errorf("syft: worker %s is both rank %d and the dealer; the dealer must be a worker of none of the parties (it would see its own party's masks and the others')", j.Dealer.ID(), k)
		}
		ends = append(ends, j.Dealer)
	}
	o := &jobRun{j: j, ends: ends, started: make([]bool, len(ends)), timeout: j.Timeout}
	if err := o.payload(); err != nil {
		return nil, err
	}
	if o.timeout <= 0 {
		o.timeout = DefaultJobTimeout
	}
	setup := j.SetupTimeout
	if setup <= 0 {
		setup = max(o.timeout/4, 10*time.Second)
	}
	setup = min(setup, o.timeout)
	host, fixed, err := splitMaster(j.MasterAddr)
	if err != nil {
		return nil, err
	}
	o.host = host
	o.res = &Results{JobID: newJobID(), Ranks: make([]RankResult, len(j.Workers)), Provider: prov}
	for i, w := range j.Workers {
		o.res.Ranks[i] = RankResult{Rank: i, Worker: w.ID()}
	}
	if prov == mpc.ProviderDealer {
		o.res.Dealer = j.Dealer.ID()
		o.res.DealerRank = &RankResult{Rank: len(j.Workers), Worker: j.Dealer.ID()}
	}
	o.shared.ID, o.shared.WorldSize, o.shared.MasterAddr = o.res.JobID, len(j.Workers), fixed
	o.shared.TimeoutMS, o.shared.SetupTimeoutMS = o.timeout.Milliseconds(), setup.Milliseconds()
	o.shared.Provider = prov
	if err := o.buildRequest(); err != nil {
		return nil, err
	}
	ids := slices.Clone(o.req.Parties)
	if o.req.Dealer != nil {
		ids = append(ids, *o.req.Dealer)
	}
	o.shared.Link = partyLink(ids)
	return o, nil
}

// loadsData reports whether the job may load stored data: it declares
// loads, its plan has a load, or its source names a loading function
// (Load, LoadModel, LoadEncryptedModel: called or not, whatever its tag,
// so a tag computed at run time counts too). A job that loads nothing
// computes on its public arguments alone.
func (j *Job) loadsData() bool {
	if len(j.Loads) > 0 {
		return true
	}
	if j.Plan != nil {
		b, err := j.Plan.Encode()
		return err != nil || len(approvals.PlanLoads(b, len(j.Workers))) > 0
	}
	if j.Func == nil {
		return true
	}
	f, err := parser.ParseFile(token.NewFileSet(), "job.go", j.Func.Program.Source, parser.SkipObjectResolution)
	if err != nil {
		return true
	}
	loads := false
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			switch sel.Sel.Name {
			case "Load", "LoadShare", "LoadModel", "LoadEncryptedModel":
				loads = true
			}
		}
		return !loads
	})
	return loads
}

// provider decides the job's provider (docs/privacy.md, "Who deals the
// randomness"): the one the job names, checked against its parties and
// dealer; or, when it names none, the trusted first party for a single
// party, the dealer when one is given, the trusted first party for a job
// that loads no data (public inputs only), the dealer-free provider for
// two parties, and for more an error asking for a dealer. The trusted first
// party among several workers is never a default: it shows every party's
// inputs to rank 0's worker, so the request must say so (and the owners
// approve exactly that).
func (j *Job) provider() (string, error) {
	n := len(j.Workers)
	prov := j.Provider
	if prov == "" {
		switch {
		case n == 1:
			prov = mpc.ProviderTFP
		case j.Dealer != nil:
			prov = mpc.ProviderDealer
		case !j.loadsData():
			prov = mpc.ProviderTFP // public inputs only: no one's to protect
		case n == 2:
			prov = mpc.ProviderDealerFree
		default:
			return "", fmt.Errorf("syft: a job of %d parties names no provider, and only 2 parties can go without a dealer: "+
				"name a dealer worker (syft.Job.Dealer or syft.WithDealer: a worker of none of the parties' owners, PySyft's crypto_provider), "+
				"or Provider %q if every owner of the data it loads agrees that rank 0's worker sees all inputs", n, mpc.ProviderTFP)
		}
	}
	if err := sandbox.CheckProvider(prov, n); err != nil {
		return "", fmt.Errorf("syft: %v", err)
	}
	switch {
	case prov == mpc.ProviderDealer && j.Dealer == nil:
		return "", errors.New("syft: provider dealer needs a dealer worker: set syft.Job.Dealer (or use syft.WithDealer)")
	case prov != mpc.ProviderDealer && j.Dealer != nil:
		return "", fmt.Errorf("syft: a dealer worker (%s) is given but the provider is %q: use provider %q, or no dealer", j.Dealer.ID(), prov, mpc.ProviderDealer)
	}
	return prov, nil
}

// partyLink says how the parties authenticate each other: each rank (the
// dealer's too) is bound to its worker's certificate (each worker signs
// its own party's credential, so no one, this orchestrator included, can
// take a rank's place), by the fingerprint this orchestrator pinned or,
// for a worker reached without TLS on loopback, the one it reported (a
// false report makes the job fail: the worker's credential would not
// match); and every rank to this job by a fresh job secret the
// credentials name (comm.BindJob), so that no one else can start a rank
// of it. Only when a worker has no certificate at all do the parties
// share the job secret alone, which each worker gets over its session
// with this process; such a job cannot compute on private data its
// requester may not read (the workers refuse it).
func partyLink(parties []approvals.Party) sandbox.Link {
	secret := make([]byte, 32)
	rand.Read(secret)
	ids := make([]string, len(parties))
	for i, p := range parties {
		if ids[i] = p.Fingerprint; ids[i] == "" {
			return sandbox.Link{Secret: secret}
		}
	}
	return sandbox.Link{Identities: ids, Secret: secret}
}

// payload checks and encodes what the parties run (the function's source,
// refused here when it imports a forbidden package, or the plan) and
// their arguments.
func (o *jobRun) payload() error {
	j := o.j
	if j.Plan != nil {
		if err := j.Plan.Validate(); err != nil {
			return fmt.Errorf("syft: %w", err)
		}
		b, err := j.Plan.Encode()
		if err != nil {
			return fmt.Errorf("syft: %w", err)
		}
		o.shared.Plan = b
	} else {
		if err := sandbox.Check(j.Func.Program); err != nil {
			return fmt.Errorf("syft: %w", err)
		}
		o.shared.Program = j.Func.Program
	}
	if len(j.Args) > 0 {
		b, err := serde.Marshal(j.Args)
		if err != nil {
			return fmt.Errorf("syft: arguments: %w", err)
		}
		o.shared.Args = b
	}
	return nil
}

// job is rank's part of the job (rank len(Workers) is the dealer's).
func (o *jobRun) job(rank int) sandbox.Job {
	sj := o.shared
	sj.Rank, sj.Worker = rank, o.ends[rank].ID()
	return sj
}

// result is rank's result (rank len(Workers): the dealer's).
func (o *jobRun) result(rank int) *RankResult {
	if rank == len(o.res.Ranks) {
		return o.res.DealerRank
	}
	return &o.res.Ranks[rank]
}

// who names rank in messages: "rank 1", or "the dealer (carol)".
func (o *jobRun) who(rank int) string {
	if rank == len(o.res.Ranks) {
		return fmt.Sprintf("the dealer (%s)", o.ends[rank].ID())
	}
	return fmt.Sprintf("rank %d", rank)
}

// fail records rank's failure in phase (see sandbox.Job.Fail).
func (o *jobRun) fail(rank int, phase sandbox.Phase, k sandbox.Kind, err error) {
	sj := o.job(rank)
	o.result(rank).Err = sj.Fail(phase, k, err)
}

// start starts rank 0's party, whose worker binds the rendezvous, then
// the others, concurrently, with its address. If a rank cannot start, the
// ranks already started are cancelled and start reports false.
func (o *jobRun) start() bool {
	addr, ok := o.startRank(0, o.host)
	if !ok {
		return false
	}
	o.shared.MasterAddr = addr
	var wg sync.WaitGroup
	for i := 1; i < len(o.ends); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.startRank(i, "")
		}()
	}
	wg.Wait()
	for i := range o.started {
		if !o.started[i] {
			o.cancelStarted()
			for k := range o.started {
				if o.started[k] {
					o.fail(k, sandbox.PhaseStart, sandbox.KindCanceled, fmt.Errorf("cancelled: %s could not start", o.who(i)))
				}
			}
			return false
		}
	}
	return true
}

// startRank sends rank's worker job.start (with host, where rank 0's
// worker binds the rendezvous) and returns the rendezvous address it
// replied with.
func (o *jobRun) startRank(rank int, host string) (string, bool) {
	var rep jobs.StartReply
	req := &jobs.StartRequest{Job: o.job(rank), MasterHost: host, Request: o.req}
	if err := o.ends[rank].link().call(jobs.MsgStart, req, &rep); err != nil {
		o.fail(rank, sandbox.PhaseStart, sandbox.KindUnavailable, fmt.Errorf("starting the party: %w", err))
		return "", false
	}
	if rep.Refused != nil {
		o.fail(rank, sandbox.PhaseStart, rep.Refused.Kind, rep.Refused)
		return "", false
	}
	o.started[rank] = true
	return rep.MasterAddr, true
}

// cancelStarted sends job.cancel to every started rank's worker, and
// waits for the answers.
func (o *jobRun) cancelStarted() {
	var wg sync.WaitGroup
	for i, ok := range o.started {
		if ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = o.ends[i].link().call(jobs.MsgCancel, &jobs.CancelRequest{JobID: o.res.JobID}, nil)
			}()
		}
	}
	wg.Wait()
}

// collect polls every rank's worker until its party reports. Once a rank
// failed (or its worker stopped answering), the others usually fail on
// their own soon after, naming the culprit (a frozen or cut-off party
// within their peer timeout); collect waits for that up to failGrace,
// and no longer than while some pending rank's worker still answers its
// polls. Then the ranks still running are cancelled and reported as not
// answering.
func (o *jobRun) collect(ctx context.Context) {
	type report struct {
		rank int
		r    *sandbox.Result
		err  error
	}
	n := len(o.ends)
	reports := make(chan report, n)
	heard := make([]atomic.Int64, n) // when each rank's worker last answered
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	for i := range o.ends {
		heard[i].Store(time.Now().UnixNano())
		go func() {
			r, err := waitRank(ctx, o.ends[i], o.res.JobID, &heard[i])
			reports <- report{i, r, err}
		}()
	}
	pending := make(map[int]bool, n)
	for i := range n {
		pending[i] = true
	}
	firstFailed := -1
	var grace <-chan time.Time
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for len(pending) > 0 {
		select {
		case rep := <-reports:
			delete(pending, rep.rank)
			failed := rep.err != nil
			if failed {
				o.fail(rep.rank, sandbox.PhaseCollect, sandbox.KindUnavailable, rep.err)
			} else {
				o.fill(rep.rank, rep.r)
				failed = rep.r.Err != nil
			}
			if failed && firstFailed < 0 {
				firstFailed = rep.rank
				grace = time.After(failGrace)
			}
			continue
		case <-tick.C:
			if firstFailed < 0 || !allSilent(pending, heard, silentWorker) {
				continue
			}
		case <-grace:
		}
		// Give up on the ranks still pending.
		for r := range pending {
			o.fail(r, sandbox.PhaseCollect, sandbox.KindUnavailable,
				fmt.Errorf("did not report after %s failed (its worker stopped answering, or its party is stuck); cancelled", o.who(firstFailed)))
		}
		go o.cancelStarted()
		return
	}
}

// failGrace bounds how long collect waits for the other ranks after one
// failed: more than a worker's default peer timeout, so that ranks left
// waiting on a frozen or cut-off party report it themselves.
const failGrace = 15 * time.Second

// silentWorker is how long a worker may leave a long poll unanswered
// before collect counts it as not answering (a poll takes up to 2 s).
const silentWorker = 5 * time.Second

// allSilent reports whether no pending rank's worker answered within d.
func allSilent(pending map[int]bool, heard []atomic.Int64, d time.Duration) bool {
	now := time.Now().UnixNano()
	for r := range pending {
		if now-heard[r].Load() < int64(d) {
			return false
		}
	}
	return true
}

// combine replaces the shares of encrypted values the ranks returned
// with the values they add up to (sandbox.CombineShares): the requester
// learns them and no party does. It needs every rank's share of each;
// otherwise every rank's result fails.
func (o *jobRun) combine() {
	values := make([]any, len(o.res.Ranks))
	for i, rr := range o.res.Ranks {
		if rr.Err != nil {
			return // a failed job returns no combined value
		}
		values[i] = rr.Value
	}
	out, err := sandbox.CombineShares(o.res.JobID, values)
	if err != nil {
		for i := range o.res.Ranks {
			o.res.Ranks[i].Value = nil
			o.fail(i, sandbox.PhaseCollect, sandbox.KindResult, fmt.Errorf("combining the encrypted values the parties returned: %v", err))
		}
		return
	}
	for i := range o.res.Ranks {
		o.res.Ranks[i].Value = out[i]
	}
}

// waitRank polls a worker until its party reports.
func waitRank(ctx context.Context, w Worker, id string, heard *atomic.Int64) (*sandbox.Result, error) {
	for {
		var rep jobs.WaitReply
		wait := 2 * time.Second
		if err := w.link().call(jobs.MsgWait, &jobs.WaitRequest{JobID: id, WaitMS: wait.Milliseconds()}, &rep); err != nil {
			return nil, fmt.Errorf("waiting for the party: %w", err)
		}
		heard.Store(time.Now().UnixNano())
		if rep.Done {
			if rep.Result == nil {
				return nil, errors.New("the worker reported no result")
			}
			return rep.Result, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the party did not report within the job's timeout: %w", ctx.Err())
		}
	}
}

// fill decodes rank's result: its value, or its failure, stamped as this
// rank's whatever the worker said.
func (o *jobRun) fill(rank int, r *sandbox.Result) {
	rr := o.result(rank)
	rr.Stats, rr.ByOp, rr.Output = r.Stats, r.ByOp, r.Output
	rr.Elapsed = time.Duration(r.ElapsedNS)
	if r.Err != nil {
		if d := o.res.DealerRank; d != nil && rank != d.Rank {
			// A party names its peers by rank; say which is the dealer.
			re := regexp.MustCompile(`\b(party|rank) ` + strconv.Itoa(d.Rank) + `\b`)
			r.Err.Msg = re.ReplaceAllString(r.Err.Msg, "${0} (the dealer, "+d.Worker+")")
		}
		o.fail(rank, sandbox.PhaseRun, r.Err.Kind, r.Err)
		return
	}
	if len(r.Value) == 0 {
		return
	}
	v, err := serde.Unmarshal(r.Value, serde.Limits{})
	if err == nil {
		v, err = sandbox.DecodeModels(v)
	}
	if err != nil {
		o.fail(rank, sandbox.PhaseCollect, sandbox.KindResult, fmt.Errorf("decoding the returned value: %v", err))
		return
	}
	rr.Value = v
}

// splitMaster reads Job.MasterAddr: the host rank 0's worker binds (""
// for its advertised address), and a fixed address when a port was given.
func splitMaster(addr string) (host, fixed string, err error) {
	if addr == "" {
		return "", "", nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		// A bare host (or IPv6 literal).
		return strings.Trim(addr, "[]"), "", nil
	}
	if p == "" || p == "0" {
		return h, "", nil
	}
	return h, addr, nil
}
