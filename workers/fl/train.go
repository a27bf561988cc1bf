// Package fl is the worker side of federated learning: cutting batches
// where the data is, training steps and averaging on plaintext models
// with mpc/nn (train.go), and the participants' side of secure
// aggregation (secagg.go). Privacy follows the op rule: a model trained on
// private data becomes private (allowed users: those allowed on every
// private input), so its weights leave the worker only through secure
// aggregation, as part of an aggregate. The client side, which drives the
// rounds, is syft/fl*.go.
package fl

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// Register adds the federated-learning message types to h, with their
// state (live models, training records and open secure-aggregation
// rounds), which lives as long as h. book is the worker's code requests:
// training on data the requester may not read runs only under its
// owners' approval (approval.go).
func Register(h *workers.Handler, book *approvals.Book) *Service {
	st := &Service{h: h, book: book, live: map[string]*flLive{}, rounds: map[string]*flRound{},
		masks: map[string]*maskSet{}, trained: map[string]*trainRec{}, batches: map[string]string{},
		starts: map[string]bool{}}
	h.Handle(MsgBatch, st.batch)
	h.Handle(MsgTrain, st.train)
	h.Handle(MsgAverage, st.average)
	h.Handle(MsgShare, st.share)
	h.Handle(MsgMask, st.mask)
	h.Handle(MsgSum, st.sum)
	h.Handle(MsgAbort, st.abort)
	return st
}

// Service is one handler's federated-learning state: live models with
// their optimizers, what it trained for whom, and open secure-aggregation
// rounds. It lives in memory: a restarted daemon starts optimizers
// afresh, forgets its training records (those models no longer count as
// trained) and fails open rounds.
type Service struct {
	h    *workers.Handler
	book *approvals.Book

	mu      sync.Mutex
	opts    Options
	live    map[string]*flLive
	rounds  map[string]*flRound
	masks   map[string]*maskSet
	trained map[string]*trainRec
	// batches maps the batches fl.batch cut to their sources, oldest
	// first in batchOrder.
	batches    map[string]string
	batchOrder []string
	// starts are the weights approved rounds started from, by user and
	// request, oldest first in startOrder.
	starts     map[string]bool
	startOrder []string
}

// Configure sets the worker's federated-learning options (gomplab
// worker --fl-min-contributors).
func (st *Service) Configure(o Options) error {
	if o.MinContributors != 0 && o.MinContributors < 2 {
		return fmt.Errorf("federated learning: a round needs at least 2 contributors, not %d (alone, an aggregate is the model)", o.MinContributors)
	}
	st.mu.Lock()
	st.opts = o
	st.mu.Unlock()
	return nil
}

func (st *Service) minContributors() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return max(st.opts.MinContributors, DefaultMinContributors)
}

// flLive is a model kept decoded between training requests, with its
// optimizer, so that momentum and Adam moments carry over (PySyft's
// Optims kept one optimizer per worker the same way).
type flLive struct {
	mu      sync.Mutex
	used    time.Time
	spec    []byte
	opt     OptimizerConfig
	model   *nn.Model
	optim   nn.Optimizer
	objID   string // the stored object the model was last written to
	created int64  // and that object's creation stamp
}

// maxLive bounds the live models a worker keeps; the least recently used
// is dropped (its optimizer state is lost, its weights are in the store).
const maxLive = 64

// Bounds on federated requests.
const (
	maxBatchRows     = 1 << 20
	maxTrainBatches  = 4096
	maxAverageModels = 1024
)

// decodeFL decodes the body of an fl.* request into q, after refusing
// grant sessions: only a user drives training.
func decodeFL(r *workers.Request, q any) error {
	if r.Session.ViaGrant() {
		return workers.Deniedf("%s is not available to a grant session", r.Type)
	}
	return r.Decode(q)
}

func (st *Service) tensorObj(r *workers.Request, id, what string) (*store.Object, error) {
	o, err := st.h.Lookup(r, id, store.GrantUse)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if o.Kind != store.KindTensor {
		return nil, workers.BadRequestf("%s: object %s is a %s, not a tensor", what, id, o.Kind)
	}
	return o, nil
}

func (st *Service) modelObj(r *workers.Request, id string) (*store.Object, error) {
	o, err := st.h.Lookup(r, id, store.GrantUse)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if o.Kind != store.KindModel {
		return nil, workers.BadRequestf("object %s is a %s, not a model", id, o.Kind)
	}
	return o, nil
}

func (st *Service) batch(_ context.Context, r *workers.Request) (any, error) {
	var q BatchRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if len(q.Indices) == 0 || len(q.Indices) > maxBatchRows {
		return nil, workers.BadRequestf("batch of %d rows (want 1 to %d)", len(q.Indices), maxBatchRows)
	}
	for _, id := range []*string{&q.DataID, &q.TargetID} {
		if *id == "" {
			*id = store.NewID()
		} else if err := store.ValidateID(*id); err != nil {
			return nil, fmt.Errorf("%w: %v", workers.ErrBadRequest, err)
		}
	}
	data, err := st.tensorObj(r, q.Data, "batch data")
	if err != nil {
		return nil, err
	}
	tgt, err := st.tensorObj(r, q.Targets, "batch targets")
	if err != nil {
		return nil, err
	}
	if data.Tensor.Dims() == 0 || tgt.Tensor.Dims() == 0 {
		return nil, workers.BadRequestf("batch: data %v and targets %v need a leading sample dimension", data.Tensor.Shape(), tgt.Tensor.Shape())
	}
	n := data.Tensor.Dim(0)
	if tgt.Tensor.Dim(0) != n {
		return nil, workers.BadRequestf("batch: data has %d samples but targets %d", n, tgt.Tensor.Dim(0))
	}
	for _, i := range q.Indices {
		if i < 0 || i >= n {
			return nil, workers.BadRequestf("batch: index %d out of range [0, %d)", i, n)
		}
	}
	rows := len(q.Indices)
	if rows*(data.Tensor.Size()/max(n, 1)) > st.h.MaxResult() || rows*(tgt.Tensor.Size()/max(n, 1)) > st.h.MaxResult() {
		return nil, fmt.Errorf("%w: batch of %d rows exceeds the worker's limit", workers.ErrTooLarge, rows)
	}
	mk := func(id string, src *store.Object) *store.Object {
		return &store.Object{ID: id, Kind: store.KindTensor, Tensor: src.Tensor.IndexSelect(0, q.Indices),
			Private: src.Private, AllowedUsers: slices.Clone(src.AllowedUsers), Owner: r.User().Name,
			Provenance: store.Provenance{Source: "op", Op: "batch", Inputs: []string{src.ID}},
			Created:    time.Now().UnixNano()}
	}
	d, t := mk(q.DataID, data), mk(q.TargetID, tgt)
	r.Touch(d.ID, t.ID)
	r.Note("rows", rows)
	if err := st.h.Store().Put(d); err != nil {
		return nil, err
	}
	if err := st.h.Store().Put(t); err != nil {
		_ = st.h.Store().Delete(d.ID)
		return nil, err
	}
	st.keepBatch(d.ID, data.ID)
	st.keepBatch(t.ID, tgt.ID)
	return &BatchReply{Data: d.Info(), Target: t.Info()}, nil
}

// lossFuncs are the losses remote training offers, by name.
var lossFuncs = map[string]func(pred, target *nn.Variable) *nn.Variable{
	"mse": nn.MSELoss,
	"l1":  nn.L1Loss,
	// sum_squared is the seed tutorial's ((pred - target)**2).sum().
	"sum_squared": func(p, t *nn.Variable) *nn.Variable { return p.Sub(t).Square().Sum() },
	// cross_entropy takes logits and class indices (or probabilities).
	"cross_entropy": nn.CrossEntropyLoss,
	// nll takes log-probabilities (a model ending in LogSoftmax); since
	// LogSoftmax of log-probabilities is the identity, it is cross entropy.
	"nll":        nn.CrossEntropyLoss,
	"bce":        nn.BCELoss,
	"bce_logits": nn.BCEWithLogitsLoss,
}

// LossNames lists the losses remote training offers.
func LossNames() []string {
	var out []string
	for k := range lossFuncs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func checkOptimizer(c OptimizerConfig) error {
	switch c.Name {
	case "", "sgd", "adam":
	default:
		return workers.BadRequestf("unknown optimizer %q (known: sgd, adam)", c.Name)
	}
	for _, v := range []float64{c.LR, c.Momentum, c.WeightDecay} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return workers.BadRequestf("optimizer settings must be finite and non-negative (lr %g, momentum %g, weight decay %g)", c.LR, c.Momentum, c.WeightDecay)
		}
	}
	if c.LR == 0 {
		return workers.BadRequestf("optimizer needs a learning rate")
	}
	if c.Key != "" && len(c.Key) > 128 {
		return workers.BadRequestf("optimizer key of %d bytes, at most 128", len(c.Key))
	}
	return nil
}

func newOptimizer(c OptimizerConfig, params []*nn.Variable) nn.Optimizer {
	if c.Name == "adam" {
		a := nn.NewAdam(params, c.LR)
		a.WeightDecay = c.WeightDecay
		return a
	}
	return nn.NewSGD(params, c.LR, c.Momentum, c.WeightDecay)
}

// liveFor returns the live entry for key, locked.
func (st *Service) liveFor(key string) *flLive {
	st.mu.Lock()
	e := st.live[key]
	if e == nil {
		if len(st.live) >= maxLive {
			var oldK string
			var old time.Time
			for k, v := range st.live {
				if oldK == "" || v.used.Before(old) {
					oldK, old = k, v.used
				}
			}
			delete(st.live, oldK)
		}
		e = &flLive{}
		st.live[key] = e
	}
	e.used = time.Now()
	st.mu.Unlock()
	e.mu.Lock()
	return e
}

func (st *Service) train(ctx context.Context, r *workers.Request) (any, error) {
	var q TrainRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if q.Sample != nil {
		if len(q.Batches) > 0 {
			return nil, workers.BadRequestf("train on batches or on samples the worker draws, not both")
		}
		if q.Sample.Steps < 1 || q.Sample.Steps > maxTrainBatches {
			return nil, workers.BadRequestf("train %d steps on drawn samples (want 1 to %d)", q.Sample.Steps, maxTrainBatches)
		}
		if q.Plan == nil {
			return nil, workers.BadRequestf("samples drawn by the worker need a training plan (its batch size)")
		}
		if sm, err := sampling(q.Plan.Sampling); err != nil {
			return nil, err
		} else if sm != SampleWorker {
			return nil, workers.BadRequestf("the training plan has the requester choose the samples (sampling %q): send batches, or a plan with sampling %q", sm, SampleWorker)
		}
		if q.Plan.BatchSize < 1 || q.Plan.BatchSize > maxPlanBatch {
			return nil, workers.BadRequestf("training plan: batch size %d (want 1 to %d)", q.Plan.BatchSize, maxPlanBatch)
		}
	} else if len(q.Batches) == 0 || len(q.Batches) > maxTrainBatches {
		return nil, workers.BadRequestf("train on %d batches (want 1 to %d)", len(q.Batches), maxTrainBatches)
	}
	lossFn, ok := lossFuncs[q.Loss]
	if !ok {
		return nil, workers.BadRequestf("unknown loss %q (known: %v)", q.Loss, LossNames())
	}
	if err := checkOptimizer(q.Optimizer); err != nil {
		return nil, err
	}
	if q.LossID == "" {
		q.LossID = store.NewID()
	} else if err := store.ValidateID(q.LossID); err != nil {
		return nil, fmt.Errorf("%w: loss id: %v", workers.ErrBadRequest, err)
	}
	mo, err := st.modelObj(r, q.Model)
	if err != nil {
		return nil, err
	}
	// Training rewrites the model: the same rule as removing it.
	if err := workers.CanRemove(r.Session, mo); err != nil {
		return nil, err
	}
	batches := make([]pair, len(q.Batches))
	inputs := []string{}
	if q.Sample != nil {
		var err error
		if batches, inputs, err = st.drawBatches(r, q.Sample, q.Plan.BatchSize); err != nil {
			return nil, err
		}
	}
	for i, b := range q.Batches {
		x, err := st.tensorObj(r, b.Data, fmt.Sprintf("batch %d data", i))
		if err != nil {
			return nil, err
		}
		y, err := st.tensorObj(r, b.Target, fmt.Sprintf("batch %d target", i))
		if err != nil {
			return nil, err
		}
		if x.Tensor.Dims() == 0 || y.Tensor.Dims() == 0 || x.Tensor.Dim(0) != y.Tensor.Dim(0) {
			return nil, workers.BadRequestf("batch %d: data %v and target %v must have the same number of samples", i, x.Tensor.Shape(), y.Tensor.Shape())
		}
		batches[i] = pair{x, y}
		inputs = append(inputs, x.ID, y.ID)
	}
	// What the requester may not read needs the owners' approval of the
	// training (approval.go), and a model is trained for one round, then
	// aggregated once.
	user := r.User()
	rec := st.record(mo, user.Name)
	if rec != nil && (rec.round != "" || rec.summed) {
		return nil, workers.Deniedf("model %s was shared for secure aggregation after its training; send the new global model to train the next round", mo.ID)
	}
	var loads []approvals.Load
	restricted := false
	if workers.CanRead(user, mo) != nil {
		restricted = true
		if rec == nil || rec.request == "" {
			loads = append(loads, approvals.Load{Object: mo.ID, Kind: approvals.LoadModel})
		}
	}
	for _, b := range batches {
		for _, o := range []*store.Object{b.x, b.y} {
			if workers.CanRead(user, o) != nil {
				restricted = true
				if l := (approvals.Load{Object: st.rootOf(o), Kind: approvals.LoadTensor}); !slices.Contains(loads, l) {
					loads = append(loads, l)
				}
			}
		}
	}
	var reqID, plan, start string
	prevSteps := 0
	if rec != nil {
		prevSteps = rec.steps
	}
	if restricted {
		roundStart := rec == nil || rec.request == ""
		if roundStart {
			prevSteps = 0
		}
		if p := q.Plan; p != nil {
			if sm, _ := sampling(p.Sampling); sm == SampleWorker && q.Sample == nil {
				return nil, workers.Deniedf("the training plan has worker %s draw each step's samples: send a sample request (syft: ModelPointer.TrainSampled), not batches", st.h.WorkerID())
			}
			for i, b := range batches {
				if n := b.x.Tensor.Dim(0); n != p.BatchSize {
					return nil, workers.Deniedf("batch %d has %d samples, but the training plan's batches have exactly %d (cut batches of that size: syft.LoaderOptions{BatchSize: %d, DropLast: true})",
						i, n, p.BatchSize, p.BatchSize)
				}
			}
			if prevSteps+len(batches) > p.LocalSteps {
				return nil, workers.Deniedf("model %s: %d steps in this round, but the training plan allows %d per round; send the new global model for the next round",
					mo.ID, prevSteps+len(batches), p.LocalSteps)
			}
		}
		m0, archSpec, err := modelcodec.DecodeWithSpec(mo.Blob, st.h.Limits())
		if err != nil {
			return nil, fmt.Errorf("%w: model %s: %v", workers.ErrBadRequest, mo.ID, err)
		}
		var pre func(string) error
		if roundStart {
			if start, err = startDigest(m0, archSpec); err != nil {
				return nil, fmt.Errorf("%w: model %s: %v", workers.ErrInternal, mo.ID, err)
			}
			pre = func(id string) error {
				if st.seenStart(user.Name, id, start) {
					// The same weights on the same data would give the
					// same update again, and averaged with other partners
					// the updates could be told apart.
					return workers.Deniedf("model %s: worker %s already trained a round of request %s from these exact weights; a round starts from new weights (the last round's average)",
						mo.ID, st.h.WorkerID(), id)
				}
				return nil
			}
		}
		if reqID, plan, err = st.approval(r, &q, archSpec, loads, roundStart, pre); err != nil {
			return nil, err
		}
		if roundStart {
			st.keepStart(user.Name, reqID, start)
		} else {
			start = rec.start
		}
		if !roundStart && rec.request != reqID {
			return nil, workers.Deniedf("model %s: this round was approved as request %s, and this step asks for request %s (another configuration); finish the round, or send the model again to start one under the new request",
				mo.ID, rec.request, reqID)
		}
	}
	key := q.Optimizer.Key
	if key == "" {
		key = "model:" + mo.ID
	}
	e := st.liveFor(r.User().Name + "\x00" + key)
	defer e.mu.Unlock()
	if e.model == nil || e.objID != mo.ID || e.created != mo.Created || e.opt != q.Optimizer {
		m, spec, err := modelcodec.DecodeWithSpec(mo.Blob, st.h.Limits())
		if err != nil {
			return nil, fmt.Errorf("%w: model %s: %v", workers.ErrBadRequest, mo.ID, err)
		}
		if e.model != nil && bytes.Equal(e.spec, spec) && e.opt == q.Optimizer {
			// Same architecture and optimizer: load the new weights into
			// the live parameters, keeping the optimizer's state.
			sd, err := m.StateDict()
			if err == nil {
				err = e.model.LoadStateDict(sd)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: model %s: %v", workers.ErrBadRequest, mo.ID, err)
			}
		} else {
			e.model, e.spec, e.opt = m, spec, q.Optimizer
			e.optim = newOptimizer(q.Optimizer, m.Parameters())
		}
	}
	e.model.Train()
	losses := make([]float64, len(batches))
	samples := 0
	for i, b := range batches {
		if err := ctx.Err(); err != nil {
			e.model = nil // weights half-updated: rebuild from the store next time
			return nil, err
		}
		e.optim.ZeroGrad()
		pred, err := e.model.Forward(nn.NewVariable(b.x.Tensor))
		if err != nil {
			e.model = nil
			return nil, workers.BadRequestf("batch %d: forward: %v", i, err)
		}
		loss := lossFn(pred, nn.NewVariable(b.y.Tensor))
		if err := loss.Backward(); err != nil {
			e.model = nil
			return nil, workers.BadRequestf("batch %d: loss %s: %v", i, q.Loss, err)
		}
		if err := e.optim.Step(); err != nil {
			e.model = nil
			return nil, fmt.Errorf("%w: batch %d: optimizer step: %v", workers.ErrInternal, i, err)
		}
		losses[i] = loss.Tensor().Item()
		samples += b.x.Tensor.Dim(0)
	}
	blob, err := modelcodec.Encode(e.model)
	if err != nil {
		e.model = nil
		return nil, fmt.Errorf("%w: %v", workers.ErrInternal, err)
	}
	objs := []*store.Object{mo}
	for _, b := range batches {
		objs = append(objs, b.x, b.y)
	}
	private, allowed := workers.PrivacyOf(objs...)
	nm := &store.Object{ID: mo.ID, Kind: store.KindModel, Blob: blob, Tags: slices.Clone(mo.Tags), Description: mo.Description,
		Private: private, AllowedUsers: allowed, Owner: mo.Owner,
		Provenance: store.Provenance{Source: "op", Op: "train", Inputs: inputs},
		Created:    time.Now().UnixNano()}
	lt := tensor.Scalar(losses[0])
	if len(losses) > 1 {
		lt = tensor.FromSlice(losses)
	}
	// The losses are computed from the same inputs: as private as the model.
	lo := &store.Object{ID: q.LossID, Kind: store.KindTensor, Tensor: lt, Private: private, AllowedUsers: slices.Clone(allowed),
		Owner:      r.User().Name,
		Provenance: store.Provenance{Source: "op", Op: "train", Inputs: append([]string{mo.ID}, inputs...)},
		Created:    nm.Created}
	if err := st.replace(mo, nm); err != nil {
		e.model = nil
		return nil, err
	}
	e.objID, e.created = nm.ID, nm.Created
	lossSum := 0.0
	for _, l := range losses {
		lossSum += l
	}
	nr := &trainRec{user: user.Name, created: nm.Created, request: reqID, plan: plan, start: start, samples: samples, steps: len(batches), lossSum: lossSum}
	if restricted && q.Plan != nil {
		nr.weighting, _ = weighting(q.Plan.Weighting)
		nr.fed = slices.Clone(q.Plan.Federation)
	}
	if rec != nil && rec.request == reqID {
		nr.samples += rec.samples
		nr.steps = prevSteps + len(batches)
		nr.lossSum += rec.lossSum
	}
	st.keepRecord(nm.ID, nr)
	r.Touch(nm.ID, lo.ID)
	r.Note("steps", len(batches), "samples", samples)
	if reqID != "" {
		r.Note("request", reqID)
	}
	if err := st.h.Store().Put(lo); err != nil {
		return nil, err
	}
	return &TrainReply{Model: nm.Info(), Loss: lo.Info(), Samples: samples, Request: reqID}, nil
}

// pair is one step's data and targets.
type pair struct{ x, y *store.Object }

// drawBatches draws steps batches of size rows from the data set q names,
// each of distinct samples chosen with crypto/rand: the requester does
// not choose them. The batches stand for the data set (their ids are its
// ids) and are as private as it.
func (st *Service) drawBatches(r *workers.Request, q *SampleRequest, size int) ([]pair, []string, error) {
	x, err := st.tensorObj(r, q.Data, "sample data")
	if err != nil {
		return nil, nil, err
	}
	y, err := st.tensorObj(r, q.Target, "sample targets")
	if err != nil {
		return nil, nil, err
	}
	if x.Tensor.Dims() == 0 || y.Tensor.Dims() == 0 || x.Tensor.Dim(0) != y.Tensor.Dim(0) {
		return nil, nil, workers.BadRequestf("sample: data %v and targets %v must have the same number of samples", x.Tensor.Shape(), y.Tensor.Shape())
	}
	n := x.Tensor.Dim(0)
	if n < size {
		return nil, nil, workers.BadRequestf("sample: the data set has %d samples, fewer than a batch of %d", n, size)
	}
	if size*(x.Tensor.Size()/n) > st.h.MaxResult() || size*(y.Tensor.Size()/n) > st.h.MaxResult() {
		return nil, nil, fmt.Errorf("%w: batch of %d samples exceeds the worker's limit", workers.ErrTooLarge, size)
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: randomness: %v", workers.ErrInternal, err)
	}
	rng := mrand.New(mrand.NewChaCha8(seed))
	sub := func(o *store.Object, idx []int) *store.Object {
		c := *o
		c.Tensor = o.Tensor.IndexSelect(0, idx)
		return &c
	}
	out := make([]pair, q.Steps)
	for i := range out {
		idx := drawIndices(rng, n, size)
		out[i] = pair{sub(x, idx), sub(y, idx)}
	}
	return out, []string{x.ID, y.ID}, nil
}

// drawIndices draws size distinct indices below n, uniformly: a partial
// Fisher-Yates shuffle kept in a map, O(size).
func drawIndices(rng *mrand.Rand, n, size int) []int {
	idx := make([]int, 0, size)
	moved := map[int]int{}
	at := func(i int) int {
		if v, ok := moved[i]; ok {
			return v
		}
		return i
	}
	for k := 0; k < size; k++ {
		j := k + rng.IntN(n-k)
		vj, vk := at(j), at(k)
		moved[j] = vk
		idx = append(idx, vj)
	}
	return idx
}

// keepRecord records a model's training, dropping the oldest record when
// there are too many.
func (st *Service) keepRecord(id string, rec *trainRec) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.trained[id]; !ok && len(st.trained) >= maxRecords {
		var oldK string
		var old int64
		for k, v := range st.trained {
			if oldK == "" || v.created < old {
				oldK, old = k, v.created
			}
		}
		delete(st.trained, oldK)
	}
	st.trained[id] = rec
}

// replace swaps a stored object for a new version under the same id.
// Stores hold immutable records, so it is a delete and a put; if the put
// fails the old version is put back.
func (st *Service) replace(old, nu *store.Object) error {
	s := st.h.Store()
	if err := s.Delete(old.ID); err != nil {
		return err
	}
	if err := s.Put(nu); err != nil {
		if rerr := s.Put(old); rerr != nil {
			return fmt.Errorf("%w: replace %s: %v (and restoring it failed: %v)", workers.ErrInternal, old.ID, err, rerr)
		}
		return err
	}
	return nil
}

func checkWeights(w []float64, n int) error {
	if len(w) != n {
		return workers.BadRequestf("%d weights for %d models", len(w), n)
	}
	for _, v := range w {
		if !(v > 0) || math.IsInf(v, 0) {
			return workers.BadRequestf("weights must be positive and finite, got %g", v)
		}
	}
	return nil
}

func (st *Service) average(_ context.Context, r *workers.Request) (any, error) {
	var q AverageRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if len(q.IDs) == 0 || len(q.IDs) > maxAverageModels {
		return nil, workers.BadRequestf("average of %d models (want 1 to %d)", len(q.IDs), maxAverageModels)
	}
	if len(q.Weights) == 0 {
		q.Weights = slices.Repeat([]float64{1}, len(q.IDs))
	}
	if err := checkWeights(q.Weights, len(q.IDs)); err != nil {
		return nil, err
	}
	if q.ResultID == "" {
		q.ResultID = store.NewID()
	} else if err := store.ValidateID(q.ResultID); err != nil {
		return nil, fmt.Errorf("%w: result id: %v", workers.ErrBadRequest, err)
	}
	var objs []*store.Object
	var acc map[string]*tensor.Tensor
	var first *nn.Model
	var spec0 []byte
	total := 0.0
	for i, id := range q.IDs {
		o, err := st.modelObj(r, id)
		if err != nil {
			return nil, err
		}
		if q.Free {
			if err := workers.CanRemove(r.Session, o); err != nil {
				return nil, err
			}
		}
		if err := workers.CanRead(r.User(), o); err != nil {
			// Weights chosen by the client over models it may not read
			// would isolate one of them: such models are averaged only by
			// secure aggregation, weighted by the workers.
			return nil, fmt.Errorf("average: %w; models trained on data you may not read are averaged only by secure aggregation (syft.SecureAggregate)", err)
		}
		m, spec, err := modelcodec.DecodeWithSpec(o.Blob, st.h.Limits())
		if err != nil {
			return nil, fmt.Errorf("%w: model %s: %v", workers.ErrBadRequest, id, err)
		}
		if i == 0 {
			first, spec0 = m, spec
		} else if !bytes.Equal(spec, spec0) {
			return nil, workers.BadRequestf("model %s has another architecture than %s", id, q.IDs[0])
		}
		sd, err := m.StateDict()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", workers.ErrInternal, err)
		}
		w := q.Weights[i]
		total += w
		if acc == nil {
			acc = map[string]*tensor.Tensor{}
			for k, t := range sd {
				acc[k] = t.MulScalar(w)
			}
		} else {
			for k, t := range sd {
				acc[k] = acc[k].Add(t.MulScalar(w))
			}
		}
		objs = append(objs, o)
	}
	for k, t := range acc {
		acc[k] = t.DivScalar(total)
	}
	if err := first.LoadStateDict(acc); err != nil {
		return nil, fmt.Errorf("%w: %v", workers.ErrInternal, err)
	}
	blob, err := modelcodec.Encode(first)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", workers.ErrInternal, err)
	}
	private, allowed := workers.PrivacyOf(objs...)
	res := &store.Object{ID: q.ResultID, Kind: store.KindModel, Blob: blob, Private: private, AllowedUsers: allowed,
		Owner: r.User().Name, Provenance: store.Provenance{Source: "op", Op: "average", Inputs: slices.Clone(q.IDs)},
		Created: time.Now().UnixNano()}
	r.Touch(append([]string{res.ID}, q.IDs...)...)
	if err := st.h.Store().Put(res); err != nil {
		return nil, err
	}
	if q.Free {
		for _, o := range objs {
			if err := st.h.Store().Delete(o.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
	}
	return &workers.InfoReply{Info: res.Info()}, nil
}
