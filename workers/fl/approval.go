package fl

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
	"github.com/vmihailenco/msgpack/v5"
)

// Training on private data is what the data's owners approve (issue 11):
// fl.train on data the requester may not read runs only under an approved
// approvals.Request of kind train, which the worker files itself on the
// requester's behalf the first time. The request binds the TrainSpec (the
// architecture, loss, optimizer and its settings, batch size, local steps
// per round, rounds, and how the models are weighed), the federation
// (every worker of the training with its certificate fingerprint: the
// workers this owner accepts as fellow contributors) and the data loaded
// here (the datasets the batches were cut from). The worker records what
// it trained for whom (trainRec); secure aggregation (secagg.go) releases
// a model only as a share of an aggregate over enough contributors of the
// same approved training, authenticated worker to worker.

// Weightings of secure aggregation: how each participant weighs its own
// model. The client names one; the weights themselves are the workers'.
const (
	// WeightEqual weighs every model 1: a plain average.
	WeightEqual = "equal"
	// WeightSamples weighs each model by the number of samples its
	// worker trained it on in the round, as the worker recorded when
	// fl.train ran (FedAvg's n_k/n).
	WeightSamples = "samples"
)

// DefaultMinContributors is the fewest contributors a worker accepts in
// a round that aggregates a model trained on data the requester may not
// read, unless configured higher (Options.MinContributors).
const DefaultMinContributors = 2

// Options configure federated learning on a worker.
type Options struct {
	// MinContributors is the fewest contributors a round must have for
	// this worker to release its share of a model trained on data the
	// requester may not read: workers of the approved federation,
	// authenticated worker to worker, each of which trained on data the
	// requester may not read under the same approved configuration,
	// itself included. Zero means DefaultMinContributors; it is never
	// below 2.
	MinContributors int
}

// TrainPlan is what a client declares, with each fl.train request, about
// the training it belongs to. It is part of what the owners approve when
// the training reads data the requester may not read.
type TrainPlan struct {
	// Federation lists every worker of the training, with the
	// fingerprint of its certificate: the workers whose models may be
	// aggregated with this one.
	Federation []approvals.Party `msgpack:"federation"`
	// BatchSize is the number of samples of every batch.
	BatchSize int `msgpack:"batch_size"`
	// LocalSteps is the number of batches (steps) per round.
	LocalSteps int `msgpack:"local_steps"`
	// Rounds is the number of rounds.
	Rounds int `msgpack:"rounds"`
	// Weighting is how secure aggregation weighs the models: WeightEqual
	// (default) or WeightSamples.
	Weighting string `msgpack:"weighting,omitempty"`
	// Sampling says who picks each step's samples: SampleRequester
	// (default: the client cuts batches with fl.batch and names them) or
	// SampleWorker (the worker draws them at random from the data set,
	// TrainRequest.Sample: the requester cannot make two rounds train on
	// the same samples).
	Sampling string `msgpack:"sampling,omitempty"`
}

// Samplings of a training plan.
const (
	SampleRequester = "requester"
	SampleWorker    = "worker"
)

func sampling(s string) (string, error) {
	switch s {
	case "", SampleRequester:
		return SampleRequester, nil
	case SampleWorker:
		return SampleWorker, nil
	}
	return "", workers.BadRequestf("unknown sampling %q (want %s or %s)", s, SampleRequester, SampleWorker)
}

// TrainSpec is the training configuration an approval binds: the
// encoding of approvals.Request.Train for a request of kind train.
type TrainSpec struct {
	Version int `msgpack:"v"`
	// Architecture is the hex SHA-256 of the model's spec (Spec).
	Architecture string `msgpack:"architecture"`
	// Spec is the model's architecture (nn.Spec JSON), for the review.
	Spec      []byte          `msgpack:"spec"`
	Loss      string          `msgpack:"loss"`
	Optimizer OptimizerConfig `msgpack:"optimizer"`
	// BatchSize, LocalSteps, Rounds and Weighting are the TrainPlan's.
	BatchSize  int    `msgpack:"batch_size"`
	LocalSteps int    `msgpack:"local_steps"`
	Rounds     int    `msgpack:"rounds"`
	Weighting  string `msgpack:"weighting"`
	Sampling   string `msgpack:"sampling,omitempty"`
}

// Bounds of a training plan.
const (
	maxPlanBatch  = 1 << 20
	maxPlanSteps  = maxTrainBatches
	maxPlanRounds = 1 << 20
)

// validate checks a plan for this worker.
func (p *TrainPlan) validate(me string, minContrib int) error {
	switch {
	case p.BatchSize < 1 || p.BatchSize > maxPlanBatch:
		return workers.BadRequestf("training plan: batch size %d (want 1 to %d)", p.BatchSize, maxPlanBatch)
	case p.LocalSteps < 1 || p.LocalSteps > maxPlanSteps:
		return workers.BadRequestf("training plan: %d local steps per round (want 1 to %d)", p.LocalSteps, maxPlanSteps)
	case p.Rounds < 1 || p.Rounds > maxPlanRounds:
		return workers.BadRequestf("training plan: %d rounds (want 1 to %d)", p.Rounds, maxPlanRounds)
	}
	if _, err := weighting(p.Weighting); err != nil {
		return err
	}
	if _, err := sampling(p.Sampling); err != nil {
		return err
	}
	in := false
	for _, q := range p.Federation {
		in = in || q.Worker == me
	}
	if !in {
		return workers.BadRequestf("training plan: the federation (%s) does not include this worker (%s)", partyNames(p.Federation), me)
	}
	if len(p.Federation) < minContrib {
		return workers.BadRequestf("training plan: a federation of %d worker(s) (%s) can never be aggregated here: worker %s needs at least %d contributors per round",
			len(p.Federation), partyNames(p.Federation), me, minContrib)
	}
	return nil
}

func weighting(w string) (string, error) {
	switch w {
	case "", WeightEqual:
		return WeightEqual, nil
	case WeightSamples:
		return WeightSamples, nil
	}
	return "", workers.BadRequestf("unknown weighting %q (want %s or %s)", w, WeightEqual, WeightSamples)
}

func partyNames(ps []approvals.Party) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Worker
	}
	return strings.Join(names, ", ")
}

// EncodeSpec encodes a training configuration for approvals.Request.Train.
func EncodeSpec(s *TrainSpec) ([]byte, error) { return msgpack.Marshal(s) }

// DecodeSpec decodes approvals.Request.Train.
func DecodeSpec(b []byte) (*TrainSpec, error) {
	var s TrainSpec
	if err := msgpack.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("training configuration: %w", err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("training configuration: version %d, this worker reads 1", s.Version)
	}
	return &s, nil
}

// DescribeTrain renders a training configuration for an owner's review
// (approvals.Options.Describe for approvals.KindTrain).
func DescribeTrain(b []byte) (string, error) {
	s, err := DecodeSpec(b)
	if err != nil {
		return "", err
	}
	var w strings.Builder
	fmt.Fprintf(&w, "model architecture (sha256 %s):\n", s.Architecture[:min(16, len(s.Architecture))])
	spec := string(s.Spec)
	if len(spec) > 4096 {
		spec = spec[:4096] + "…"
	}
	fmt.Fprintf(&w, "  %s\n", spec)
	fmt.Fprintf(&w, "loss: %s\n", s.Loss)
	o := s.Optimizer
	name := o.Name
	if name == "" {
		name = "sgd"
	}
	fmt.Fprintf(&w, "optimizer: %s, learning rate %g, momentum %g, weight decay %g\n", name, o.LR, o.Momentum, o.WeightDecay)
	fmt.Fprintf(&w, "batches of exactly %d samples, %d steps per round, at most %d rounds\n", s.BatchSize, s.LocalSteps, s.Rounds)
	if s.Sampling == SampleWorker {
		w.WriteString("samples of each step: drawn at random by this worker from the data set (the requester does not choose them)\n")
	} else {
		w.WriteString("samples of each step: chosen by the requester (batches cut from the data set by index)\n")
	}
	fmt.Fprintf(&w, "aggregation: secure aggregation only, weighted %s, with the other workers of the federation\n", map[string]string{
		WeightEqual: "equally", WeightSamples: "by the samples each worker trained on"}[s.Weighting])
	w.WriteString("each round's starting weights are chosen by the requester (the previous round's average)")
	return w.String(), nil
}

// specOf builds the spec a train request binds.
func specOf(archSpec []byte, q *TrainRequest) ([]byte, error) {
	sum := sha256.Sum256(archSpec)
	opt := q.Optimizer
	opt.Key = "" // which state the worker keeps, not how it trains
	wt, err := weighting(q.Plan.Weighting)
	if err != nil {
		return nil, err
	}
	sm, err := sampling(q.Plan.Sampling)
	if err != nil {
		return nil, err
	}
	if sm == SampleRequester {
		sm = "" // the encoding of plans from before sampling existed
	}
	return EncodeSpec(&TrainSpec{Version: 1, Architecture: hex.EncodeToString(sum[:]), Spec: archSpec, Loss: q.Loss,
		Optimizer: opt, BatchSize: q.Plan.BatchSize, LocalSteps: q.Plan.LocalSteps, Rounds: q.Plan.Rounds, Weighting: wt, Sampling: sm})
}

// planID names an approved training without what each worker loads: it
// is the same on every worker of the federation for the same
// configuration, so that contributors can tell they train the same way.
func planID(spec []byte, fed []approvals.Party) string {
	r := &approvals.Request{Kind: approvals.KindTrain, Train: spec, ArgsHash: approvals.ArgsDigest(nil), Parties: fed}
	return r.ID()
}

// trainRec is what a worker records about a model it trained for a user
// in the current round: the weights of secure aggregation and who counts
// as a contributor come from here, never from the client.
type trainRec struct {
	user    string
	created int64 // the model object's creation stamp after the last step
	// request is the approved request the training ran under ("" when
	// the requester may read everything it used), plan its planID, start
	// the startDigest of the model the round began from.
	request   string
	plan      string
	start     string
	weighting string
	fed       []approvals.Party
	samples   int
	steps     int
	lossSum   float64
	// round is the secure-aggregation round the model is shared in
	// ("" when none); summed is set once this worker returned its sum:
	// the model is then spent, so that no two aggregates with different
	// partners can be subtracted to isolate it.
	round  string
	summed bool
}

// maxRecords bounds the training records a worker keeps (oldest
// dropped: those models then count as untrained).
const maxRecords = 4096

// record returns the training record of model object o for user, if it
// is current (the object was not replaced since).
func (st *Service) record(o *store.Object, user string) *trainRec {
	st.mu.Lock()
	defer st.mu.Unlock()
	rec := st.trained[o.ID]
	if rec == nil || rec.user != user || rec.created != o.Created {
		return nil
	}
	c := *rec
	return &c
}

// rootOf is the data a batch was cut from (the dataset the owners
// approve), following batches of batches that this worker cut (fl.batch
// records them: a provenance a client wrote into an object it stored
// proves nothing), or the object itself.
func (st *Service) rootOf(o *store.Object) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	id := o.ID
	for range 16 {
		src, ok := st.batches[id]
		if !ok {
			break
		}
		id = src
	}
	return id
}

// maxBatchRecords bounds the batches a worker remembers cutting (oldest
// forgotten: such a batch then stands for itself in a request).
const maxBatchRecords = 1 << 16

// keepBatch records that this worker cut batch id from src.
func (st *Service) keepBatch(id, src string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.batches) >= maxBatchRecords {
		old := st.batchOrder[0]
		st.batchOrder = st.batchOrder[1:]
		delete(st.batches, old)
	}
	st.batches[id] = src
	st.batchOrder = append(st.batchOrder, id)
}

// maxStartRecords bounds the starting weights a worker remembers.
const maxStartRecords = 1 << 16

// seenStart reports whether user's approved training reqID already
// started a round from weights start.
func (st *Service) seenStart(user, reqID, start string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.starts[user+"\x00"+reqID+"\x00"+start]
}

// keepStart records that user's approved training reqID started a round
// from weights start.
func (st *Service) keepStart(user, reqID, start string) {
	k := user + "\x00" + reqID + "\x00" + start
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.starts[k] {
		return
	}
	if len(st.starts) >= maxStartRecords {
		delete(st.starts, st.startOrder[0])
		st.startOrder = st.startOrder[1:]
	}
	st.starts[k] = true
	st.startOrder = append(st.startOrder, k)
}

// startDigest names the weights a round starts from: contributors count
// each other only when they trained the same model (a requester sending
// one worker a model its data cannot move would make that worker's
// update known).
func startDigest(m *nn.Model, spec []byte) (string, error) {
	v, _, _, err := modelVector(m)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(spec)
	var b [8]byte
	for _, x := range v {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// approval applies the owners' rule to a training request that reads
// data the requester may not read: it builds the request the owners
// approve (filing it as pending the first time), and refuses unless it is
// approved here. roundStart counts a round against the approval, after
// pre (if set) accepted the request's id. It returns the request id and
// its plan id.
func (st *Service) approval(r *workers.Request, q *TrainRequest, archSpec []byte, loads []approvals.Load, roundStart bool, pre func(id string) error) (id, plan string, err error) {
	me := st.h.WorkerID()
	if q.Plan == nil {
		return "", "", workers.Deniedf("training on worker %s reads data user %q may not read (%s): it needs a training plan the data's owners approve "+
			"(TrainConfig.Plan: the federation, batch size, local steps, rounds and weighting)", me, r.User().Name, loadNames(loads))
	}
	if err := q.Plan.validate(me, st.minContributors()); err != nil {
		return "", "", err
	}
	spec, err := specOf(archSpec, q)
	if err != nil {
		return "", "", err
	}
	fed := slices.Clone(q.Plan.Federation)
	rank := -1
	for i, p := range fed {
		if p.Worker == me {
			rank = i
		}
	}
	for i := range loads {
		loads[i].Rank = rank
	}
	req := &approvals.Request{Kind: approvals.KindTrain, Train: spec, ArgsHash: approvals.ArgsDigest(nil), Parties: fed, Loads: loads,
		Note: "federated training (filed by worker " + me + " when fl.train first read data the requester may not read)"}
	if st.book == nil {
		return "", "", fmt.Errorf("%w: worker %s keeps no code requests, so training on private data cannot be approved", workers.ErrUnavailable, me)
	}
	if pre != nil {
		// Checks of the request's own that must not count a round.
		if err := pre(req.ID()); err != nil {
			return "", "", err
		}
	}
	query := approvals.Query{Request: req, User: r.User(), Run: roundStart}
	v, err := st.book.Check(query)
	if err != nil {
		return "", "", err
	}
	if !v.OK() {
		if v.Status == approvals.StatusPending {
			if _, err := st.book.Submit(query); err != nil {
				return "", "", err
			}
		}
		r.Note("request", v.ID, "status", string(v.Status))
		return "", "", v.Err()
	}
	if roundStart && v.Status == approvals.StatusApproved && v.RunsUsed > q.Plan.Rounds {
		return "", "", workers.Deniedf("worker %s: request %s: the %d approved rounds are used up; ask the owner to approve it again (%s), or change the plan (a new request)",
			me, v.ID, q.Plan.Rounds, approvals.ApproveCommand(v.ID))
	}
	return v.ID, planID(spec, fed), nil
}

func loadNames(ls []approvals.Load) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Kind+" "+l.Object)
	}
	return strings.Join(out, ", ")
}
