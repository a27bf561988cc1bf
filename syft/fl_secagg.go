package syft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/store"
)

// Secure aggregation, the orchestrator's side; the participants' side is
// package workers/fl (secagg.go).

// DropoutPolicy says what SecureAggregate does when a participant drops
// out (stops answering) in the middle of a round.
type DropoutPolicy int

const (
	// FailRound abandons the round and returns a *DropoutError naming the
	// worker. Shares already made are discarded; no sum is decoded.
	FailRound DropoutPolicy = iota
	// ExcludeDropped abandons the round, then runs a fresh round (new
	// shares, new randomness) over the workers still answering, if at
	// least SecureAggOptions.MinWorkers remain. The result lists who was
	// excluded. A round is never completed with a participant's update
	// missing: the retry re-shares every survivor's full update.
	ExcludeDropped
)

// String names the policy.
func (p DropoutPolicy) String() string {
	switch p {
	case FailRound:
		return "FailRound"
	case ExcludeDropped:
		return "ExcludeDropped"
	}
	return fmt.Sprintf("DropoutPolicy(%d)", int(p))
}

// Phases of a secure-aggregation round, as SecureAggOptions.Progress
// reports them.
const (
	PhaseGrant = "grant" // asking each participant for a grant to receive shares
	PhaseShare = "share" // participants share their models with each other
	PhaseSum   = "sum"   // participants return the sums of the shares they hold
)

// SecureAggOptions configure SecureAggregate.
type SecureAggOptions struct {
	// FracBits is the fixed-point precision (0: fl.DefaultFracBits,
	// 24): the average is exact to 2^-(FracBits+1) per parameter.
	FracBits int
	// Weighting is how each worker weighs its own model: fl.WeightEqual
	// ("equal", the default: a plain average) or fl.WeightSamples
	// ("samples": by the samples the worker recorded training it in the
	// round, FedAvg's n_k/n). The workers choose the weights, never this
	// process: weights a client picks could single out one model.
	Weighting string
	// Loss aggregates each worker's mean training loss of the round with
	// its model (AggregateResult.Loss): the only way a loss computed from
	// data the requester may not read leaves its worker.
	Loss bool
	// Extras are further tensors to aggregate with each model: Extras[i]
	// are on models[i]'s worker and must be tensors the requester may
	// read. They come back averaged with the same weights in
	// AggregateResult.Extras.
	Extras [][]*Pointer
	// Policy is what to do when a participant drops out.
	Policy DropoutPolicy
	// MinWorkers is the fewest participants ExcludeDropped goes on with
	// (default and minimum 2: alone, a sum is the model).
	MinWorkers int
	// Progress, if set, is called as each phase of each attempt begins.
	Progress func(phase, round string)
	// ProbeTimeout bounds the ping that tells a dropped-out participant
	// from one that refused (default 5 s).
	ProbeTimeout time.Duration
}

// AggregateResult is the outcome of SecureAggregate.
type AggregateResult struct {
	// Model is the (weighted) average of the participants' models.
	Model *nn.Model
	// Extras are the averaged extras, one per extra of each model.
	Extras []*tensor.Tensor
	// Loss is the average of the workers' mean training losses (with
	// SecureAggOptions.Loss).
	Loss float64
	// Weight is the sum of the workers' weights: the number of models
	// (equal weighting) or of samples trained on (sample weighting).
	Weight float64
	// Included are the ids of the workers whose models are in Model.
	Included []string
	// Excluded are the participants left out under ExcludeDropped.
	Excluded []*DropoutError
	// Attempts counts the rounds run (more than 1 after exclusions).
	Attempts int
}

// DropoutError reports a participant that stopped answering during a
// round of secure aggregation.
type DropoutError struct {
	Worker string
	Phase  string
	Round  string
	Err    error
}

// Error names the worker, the phase and the round, and says nothing leaked.
func (e *DropoutError) Error() string {
	return fmt.Sprintf("secure aggregation round %s: worker %s dropped out during the %s phase: %v (the round was abandoned; no update was revealed)",
		e.Round, e.Worker, e.Phase, e.Err)
}

// Unwrap returns the underlying failure.
func (e *DropoutError) Unwrap() error { return e.Err }

// SecureAggregate averages models held by different workers so that the
// orchestrator (this process) and every worker learn only the average,
// never one model.
//
// Each worker weighs its model by its own weight (opts.Weighting: never a
// weight this process chose), encodes it in fixed point in Z_2^64, splits
// it into one uniformly random additive share per participant
// (crypto/rand), and sends each share's mask directly to its participant,
// worker to worker over TLS under a one-use grant; each participant then
// returns only the sum of what it holds, and this process adds the sums
// and decodes the average. A worker's update therefore never travels in
// the clear: not to this process, not to another worker. Models trained
// on data this user may not read may be aggregated this way only (it is
// the only way they leave their workers), under their owners' approval of
// the training, in a round with enough contributors of the approved
// federation (docs/privacy.md): otherwise the workers refuse, wrapping
// workers.ErrPermission, and nothing is decoded.
//
// All models must have the same architecture and be on distinct workers.
func SecureAggregate(models []*ModelPointer, opts SecureAggOptions) (*AggregateResult, error) {
	n := len(models)
	if n < 2 {
		return nil, fmt.Errorf("syft: SecureAggregate: %d models; secure aggregation needs at least 2 (alone, the sum is the model)", n)
	}
	if opts.Extras != nil && len(opts.Extras) != n {
		return nil, fmt.Errorf("syft: SecureAggregate: extras for %d models, want %d", len(opts.Extras), n)
	}
	if opts.MinWorkers < 2 {
		opts.MinWorkers = 2
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 5 * time.Second
	}
	ps := make([]*saPart, n)
	seen := map[string]bool{}
	for i, m := range models {
		if m == nil {
			return nil, fmt.Errorf("syft: SecureAggregate: model %d is nil", i)
		}
		l, in, err := m.p.snapshot("SecureAggregate")
		if err != nil {
			return nil, err
		}
		if seen[l.peer.Addr] {
			return nil, fmt.Errorf("syft: SecureAggregate: two models on worker %s; aggregate them there first", l.id)
		}
		seen[l.peer.Addr] = true
		p := &saPart{l: l, model: in.ID}
		if opts.Extras != nil {
			for _, x := range opts.Extras[i] {
				xl, xin, err := x.snapshot("SecureAggregate")
				if err != nil {
					return nil, err
				}
				if xl.peer.Addr != l.peer.Addr {
					return nil, fmt.Errorf("syft: SecureAggregate: an extra of model %d is on %s, not with the model on %s", i, xl.id, l.id)
				}
				p.extras = append(p.extras, xin.ID)
			}
		}
		ps[i] = p
	}
	res := &AggregateResult{}
	for {
		res.Attempts++
		out, dropped, err := secureRound(ps, opts)
		if err == nil {
			res.Model, res.Extras, res.Loss, res.Weight = out.model, out.extras, out.loss, out.weight
			for _, p := range ps {
				res.Included = append(res.Included, p.l.id)
			}
			return res, nil
		}
		if len(dropped) == 0 || opts.Policy != ExcludeDropped {
			return nil, err
		}
		res.Excluded = append(res.Excluded, dropped...)
		ps = slices.DeleteFunc(ps, func(p *saPart) bool {
			return slices.ContainsFunc(dropped, func(d *DropoutError) bool { return d.Worker == p.l.id })
		})
		if len(ps) < opts.MinWorkers {
			return nil, fmt.Errorf("syft: SecureAggregate: %d of %d participants left after dropouts, fewer than %d: %w",
				len(ps), n, opts.MinWorkers, errors.Join(errorsOf(res.Excluded)...))
		}
	}
}

func errorsOf(ds []*DropoutError) []error {
	out := make([]error, len(ds))
	for i, d := range ds {
		out[i] = d
	}
	return out
}

type saPart struct {
	l      *link
	model  string
	extras []string
}

// aggregate is what one round decodes.
type aggregate struct {
	model        *nn.Model
	extras       []*tensor.Tensor
	loss, weight float64
}

// secureRound runs one round. On failure it returns the participants that
// dropped out (if any did) and an error; the round is aborted everywhere
// still reachable.
func secureRound(ps []*saPart, opts SecureAggOptions) (*aggregate, []*DropoutError, error) {
	round := store.NewID()
	n := len(ps)
	progress := func(phase string) {
		if opts.Progress != nil {
			opts.Progress(phase, round)
		}
	}
	fail := func(phase string, errs []error) (*aggregate, []*DropoutError, error) {
		var dropped []*DropoutError
		for i, p := range ps {
			if perr := probe(p.l, opts.ProbeTimeout); perr != nil {
				cause := errs[i]
				if cause == nil {
					cause = perr
				}
				dropped = append(dropped, &DropoutError{Worker: p.l.id, Phase: phase, Round: round, Err: cause})
			}
		}
		abortRound(ps, round, dropped)
		if len(dropped) > 0 {
			return nil, dropped, errors.Join(errorsOf(dropped)...)
		}
		return nil, nil, fmt.Errorf("secure aggregation round %s failed in the %s phase: %w", round, phase, errors.Join(errs...))
	}

	progress(PhaseGrant)
	// parts[i] is the participant list P_i receives: for every P_j, a
	// grant P_j gave P_i (and P_i alone) to store P_i's share for P_j.
	parts := make([][]fl.Participant, n)
	for i := range parts {
		parts[i] = make([]fl.Participant, n)
	}
	errs := parallel(ps, func(j int, p *saPart) error {
		for i, q := range ps {
			t := p.l.peer
			t.Grants = nil
			if i != j {
				tok, err := p.l.grant(workers.GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{fl.ShareID(round, i, j)},
					Uses: 1, TTLMillis: int64(10 * time.Minute / time.Millisecond), Audience: q.l.id, AudienceFingerprint: q.l.peer.Fingerprint})
				if err != nil {
					return err
				}
				t.Grants = []string{tok}
			}
			parts[i][j] = fl.Participant{Worker: p.l.id, Target: t}
		}
		return nil
	})
	if anyErr(errs) {
		return fail(PhaseGrant, errs)
	}

	progress(PhaseShare)
	reps := make([]fl.ShareReply, n)
	errs = parallel(ps, func(i int, p *saPart) error {
		return p.l.call(fl.MsgShare, &fl.ShareRequest{Round: round, Model: p.model, Extras: p.extras,
			Index: i, Participants: parts[i], Weighting: opts.Weighting, Loss: opts.Loss, FracBits: opts.FracBits}, &reps[i])
	})
	if anyErr(errs) {
		return fail(PhaseShare, errs)
	}
	for i := 1; i < n; i++ {
		if reps[i].Layout != reps[0].Layout || reps[i].Length != reps[0].Length {
			abortRound(ps, round, nil)
			return nil, nil, fmt.Errorf("syft: SecureAggregate: the model on %s has another architecture (or other extras) than the one on %s", ps[i].l.id, ps[0].l.id)
		}
	}

	progress(PhaseSum)
	sums := make([][]uint64, n)
	errs = parallel(ps, func(i int, p *saPart) error {
		var rep fl.SumReply
		if err := p.l.call(fl.MsgSum, &fl.SumRequest{Round: round}, &rep); err != nil {
			return err
		}
		v, err := fl.RingFromBytes(rep.Sum)
		if err == nil && len(v) != reps[0].Length {
			err = fmt.Errorf("sum of %d elements, want %d", len(v), reps[0].Length)
		}
		sums[i] = v
		return err
	})
	if anyErr(errs) {
		return fail(PhaseSum, errs)
	}
	acc := make([]uint64, reps[0].Length)
	for _, s := range sums {
		for k := range acc {
			acc[k] += s[k]
		}
	}
	fb := opts.FracBits
	if fb == 0 {
		fb = fl.DefaultFracBits
	}
	return rebuild(&reps[0], fl.DecodeFixed(acc, fb))
}

// rebuild turns the aggregated vector (weighted sums, then the total
// weight) back into the average model, extras and loss.
func rebuild(rep *fl.ShareReply, v []float64) (*aggregate, []*DropoutError, error) {
	fail := func(err error) (*aggregate, []*DropoutError, error) {
		return nil, nil, fmt.Errorf("syft: SecureAggregate: %w", err)
	}
	spec, err := nn.UnmarshalSpec(rep.Spec)
	if err != nil {
		return fail(err)
	}
	m, err := nn.BuildModel(spec)
	if err != nil {
		return fail(err)
	}
	if len(rep.Names) != len(rep.Shapes) || len(rep.Names) == 0 || rep.Names[len(rep.Names)-1] != fl.NameWeight || len(v) == 0 {
		return fail(errors.New("the participants reported a layout without the total weight"))
	}
	out := &aggregate{weight: v[len(v)-1]}
	if !(out.weight > 0) {
		return fail(fmt.Errorf("total weight %g", out.weight))
	}
	sd := map[string]*tensor.Tensor{}
	off := 0
	for i, name := range rep.Names[:len(rep.Names)-1] {
		sz := tensor.Numel(rep.Shapes[i])
		if off+sz > len(v)-1 {
			return fail(errors.New("layout longer than the aggregated vector"))
		}
		avg := slices.Clone(v[off : off+sz])
		for k := range avg {
			avg[k] /= out.weight
		}
		off += sz
		if name == fl.NameLoss {
			out.loss = avg[0]
			continue
		}
		t, err := tensor.New(avg, rep.Shapes[i]...)
		if err != nil {
			return fail(err)
		}
		if strings.HasPrefix(name, fl.ExtraPrefix) {
			out.extras = append(out.extras, t)
		} else {
			sd[name] = t
		}
	}
	if off != len(v)-1 {
		return fail(errors.New("layout shorter than the aggregated vector"))
	}
	if err := m.LoadStateDict(sd); err != nil {
		return fail(err)
	}
	out.model = m
	return out, nil, nil
}

// parallel runs fn for every participant at once and collects errors.
func parallel(ps []*saPart, fn func(i int, p *saPart) error) []error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, p)
		}()
	}
	wg.Wait()
	return errs
}

func anyErr(errs []error) bool {
	return slices.ContainsFunc(errs, func(e error) bool { return e != nil })
}

// probe tells whether a worker still answers.
func probe(l *link, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var rep workers.PingReply
	return l.c.Call(ctx, workers.MsgPing, struct{}{}, &rep)
}

// AbortRound discards what worker w holds of secure-aggregation round
// round (its own share and the masks it received; as the worker's owner,
// any user's), so that a round left open by a crashed orchestrator
// releases nothing later, and returns how many it discarded. A model
// shared in the round may then be shared again, unless the worker had
// already returned its sum.
func AbortRound(w Worker, round string) (int, error) {
	if w == nil {
		return 0, errNilWorker
	}
	var rep fl.AbortReply
	if err := w.link().call(fl.MsgAbort, &fl.AbortRequest{Round: round}, &rep); err != nil {
		return 0, fmt.Errorf("abort round %s on %s: %w", round, w.ID(), err)
	}
	return rep.Discarded, nil
}

// abortRound discards a round's shares on every participant still there.
func abortRound(ps []*saPart, round string, dropped []*DropoutError) {
	parallel(ps, func(_ int, p *saPart) error {
		if slices.ContainsFunc(dropped, func(d *DropoutError) bool { return d.Worker == p.l.id }) {
			return nil
		}
		return p.l.call(fl.MsgAbort, &fl.AbortRequest{Round: round}, nil)
	})
}
