package syft

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/workers/fl"
)

// Federated averaging, the orchestrator's side; the workers' side is
// package workers/fl (train.go).

// Aggregation chooses how FedAvg averages the workers' models.
type Aggregation int

const (
	// Secure averages with SecureAggregate: no one sees a single model.
	Secure Aggregation = iota
	// OnSecureWorker moves the models to FedAvgConfig.SecureWorker and
	// averages them there (PySyft tutorial's secure_worker), which sees
	// every model; models trained on private data cannot go there.
	OnSecureWorker
)

// FedAvgConfig configures federated averaging.
type FedAvgConfig struct {
	// Loader supplies each worker's batches.
	Loader *FederatedDataLoader
	// LocalSteps is the number of batches each worker trains on per round
	// (0: one local epoch, the worker's WorkerLen).
	LocalSteps int
	// Train is the loss and optimizer the workers run.
	Train TrainConfig
	// Aggregation is how models are averaged; SecureWorker is used by
	// OnSecureWorker.
	Aggregation  Aggregation
	SecureWorker Worker
	// Secure configures SecureAggregate (precision, dropout policy); its
	// Weights and Extras are set by FedAvg.
	Secure SecureAggOptions
	// Weighted weighs each worker's model by the samples it trained on in
	// the round (FedAvg's n_k/n), as each worker recorded them; otherwise
	// a plain average.
	Weighted bool
	// Rounds is the number of rounds the training asks for (default
	// 100): part of the plan the data's owners approve when the data is
	// theirs to protect (TrainPlan), and a limit their workers enforce.
	Rounds int
	// WorkerBatches has each worker draw its LocalSteps batches of the
	// loader's batch size at random from its part (TrainSampled) instead
	// of the loader cutting them: the plan says so (fl.SampleWorker), and
	// the requester never chooses which samples a round trains on.
	WorkerBatches bool
}

// RoundStats describes one round of federated averaging.
type RoundStats struct {
	Round int
	// Loss is the average over workers of their mean training loss in the
	// round (aggregated with the models under Secure aggregation, so no
	// worker's own loss is revealed).
	Loss float64
	// Samples is the number of samples trained on.
	Samples int
	// Included lists the workers averaged; Excluded those that dropped out
	// (under the ExcludeDropped policy).
	Included []string
	Excluded []*DropoutError
	Duration time.Duration
}

// FedAvg trains a model by federated averaging (McMahan et al.): each
// round, every worker receives the current model, trains it for some local
// steps on its own data, and the models are averaged into the next one.
type FedAvg struct {
	cfg   FedAvgConfig
	model *nn.Model
	round int
	iters map[string]*BatchIter
	gone  map[string]bool
}

// NewFedAvg starts federated averaging from model (which FedAvg updates
// after every round; the caller's value is replaced, see Model).
func NewFedAvg(model *nn.Model, cfg FedAvgConfig) (*FedAvg, error) {
	if model == nil {
		return nil, errors.New("syft: NewFedAvg: nil model")
	}
	if cfg.Loader == nil {
		return nil, errors.New("syft: NewFedAvg: no loader")
	}
	if cfg.LocalSteps < 0 {
		return nil, fmt.Errorf("syft: NewFedAvg: %d local steps", cfg.LocalSteps)
	}
	if cfg.Aggregation == OnSecureWorker && cfg.SecureWorker == nil {
		return nil, errors.New("syft: NewFedAvg: OnSecureWorker needs a SecureWorker")
	}
	if cfg.Rounds < 0 {
		return nil, fmt.Errorf("syft: NewFedAvg: %d rounds", cfg.Rounds)
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 100
	}
	if cfg.Train.Plan == nil {
		// The plan every worker declares (and, for data the requester may
		// not read, its owners approve): the same on every worker.
		steps := cfg.LocalSteps
		if steps == 0 {
			for _, p := range cfg.Loader.Dataset().Parts() {
				steps = max(steps, cfg.Loader.WorkerLen(p))
			}
		}
		wt := fl.WeightEqual
		if cfg.Weighted {
			wt = fl.WeightSamples
		}
		cfg.Train.Plan = &TrainPlan{Federation: Federation(cfg.Loader.Dataset().Workers()...), BatchSize: cfg.Loader.Options().BatchSize,
			LocalSteps: steps, Rounds: cfg.Rounds, Weighting: wt}
		if cfg.WorkerBatches {
			cfg.Train.Plan.Sampling = fl.SampleWorker
		}
	}
	if cfg.Train.Optimizer.Key == "" {
		// One optimizer state per worker for the whole training.
		cfg.Train.Optimizer.Key = NewOptimizer(cfg.Train.Optimizer.Name, cfg.Train.Optimizer.LR).Key
	}
	return &FedAvg{cfg: cfg, model: model, iters: map[string]*BatchIter{}, gone: map[string]bool{}}, nil
}

// localSteps is the number of steps a worker trains per round.
func (f *FedAvg) localSteps(p *DatasetPart) int {
	if f.cfg.LocalSteps > 0 {
		return f.cfg.LocalSteps
	}
	return f.cfg.Loader.WorkerLen(p)
}

// Model is the current global model.
func (f *FedAvg) Model() *nn.Model { return f.model }

// nextBatches cuts a worker's next k batches, starting new epochs as its
// stream runs out.
func (f *FedAvg) nextBatches(p *DatasetPart, k int) ([]*Batch, error) {
	var out []*Batch
	for len(out) < k {
		it := f.iters[p.Worker.ID()]
		if it == nil || it.Remaining() == 0 {
			var err error
			if it, err = f.cfg.Loader.IterWorker(p.Worker); err != nil {
				return nil, err
			}
			if it.Remaining() == 0 {
				return nil, fmt.Errorf("syft: worker %s has no full batch", p.Worker.ID())
			}
			f.iters[p.Worker.ID()] = it
		}
		if !it.Next() {
			freeBatches(out)
			return nil, it.Err()
		}
		out = append(out, it.Batch())
	}
	return out, nil
}

func freeBatches(bs []*Batch) {
	for _, b := range bs {
		b.Free()
	}
}

type localResult struct {
	part    *DatasetPart
	model   *ModelPointer
	loss    *Pointer
	samples int
	err     error
}

// Round runs one round: local training on every worker, then averaging.
func (f *FedAvg) Round() (*RoundStats, error) {
	start := time.Now()
	f.round++
	st := &RoundStats{Round: f.round}
	var parts []*DatasetPart
	for _, p := range f.cfg.Loader.Dataset().Parts() {
		if !f.gone[p.Worker.ID()] {
			parts = append(parts, p)
		}
	}
	// Batches are cut here (sequentially: the loader's streams are not
	// shared between goroutines), then workers train in parallel.
	res := make([]*localResult, len(parts))
	batches := make([][]*Batch, len(parts))
	for i, p := range parts {
		res[i] = &localResult{part: p}
		if f.cfg.WorkerBatches {
			continue // the worker draws them
		}
		batches[i], res[i].err = f.nextBatches(p, f.localSteps(p))
	}
	var wg sync.WaitGroup
	for i, r := range res {
		if r.err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer freeBatches(batches[i])
			r.model, r.err = SendModel(f.model, r.part.Worker)
			if r.err != nil {
				return
			}
			if f.cfg.WorkerBatches {
				k := f.localSteps(r.part)
				r.loss, r.err = r.model.TrainSampled(r.part.Data, r.part.Targets, k, f.cfg.Train)
				r.samples = k * f.cfg.Train.Plan.BatchSize
				return
			}
			r.loss, r.err = r.model.TrainSteps(batches[i], f.cfg.Train)
			for _, b := range batches[i] {
				r.samples += b.Size
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, r := range res {
			if r.model != nil {
				r.model.Free()
			}
			if r.loss != nil {
				r.loss.Free()
			}
		}
	}()
	// A worker that failed before producing an update is a dropout; one
	// that refused (the owners have not approved the training, say) fails
	// the round, with every worker's refusal, so that each owner's
	// request id is there at once.
	var ok []*localResult
	var refused []error
	for _, r := range res {
		if r.err == nil {
			ok = append(ok, r)
			continue
		}
		d := &DropoutError{Worker: r.part.Worker.ID(), Phase: "train", Round: fmt.Sprint(f.round), Err: r.err}
		if perr := probe(r.part.Worker.link(), 5*time.Second); perr == nil || f.cfg.Secure.Policy != ExcludeDropped {
			if perr == nil {
				refused = append(refused, fmt.Errorf("worker %s: %w", d.Worker, r.err))
				continue
			}
			return nil, d
		}
		st.Excluded = append(st.Excluded, d)
		f.gone[d.Worker] = true
	}
	if len(refused) > 0 {
		f.round--
		return nil, fmt.Errorf("syft: FedAvg round %d: %w", f.round+1, errors.Join(refused...))
	}
	min := max(f.cfg.Secure.MinWorkers, 1)
	if f.cfg.Aggregation == Secure {
		min = max(min, 2)
	}
	if len(ok) < min {
		return nil, fmt.Errorf("syft: FedAvg round %d: %d workers trained, fewer than %d: %w", f.round, len(ok), min, errors.Join(errorsOf(st.Excluded)...))
	}
	models := make([]*ModelPointer, len(ok))
	weights := make([]float64, len(ok))
	for i, r := range ok {
		models[i] = r.model
		weights[i] = 1
		if f.cfg.Weighted {
			weights[i] = float64(r.samples)
		}
		st.Samples += r.samples
	}
	switch f.cfg.Aggregation {
	case Secure:
		opts := f.cfg.Secure
		opts.Weighting = f.cfg.Train.Plan.Weighting
		opts.Loss = true // the mean losses, averaged with the models
		opts.Extras = nil
		agg, err := SecureAggregate(models, opts)
		if err != nil {
			return nil, fmt.Errorf("syft: FedAvg round %d: %w", f.round, err)
		}
		for _, d := range agg.Excluded {
			f.gone[d.Worker] = true
		}
		f.model = agg.Model
		st.Loss = agg.Loss
		st.Included = agg.Included
		st.Excluded = append(st.Excluded, agg.Excluded...)
	case OnSecureWorker:
		loss, n := 0.0, 0
		for _, r := range ok {
			l, err := r.loss.GetCopy()
			if err != nil {
				loss = math.NaN() // private data: the losses stay on the workers
				continue
			}
			loss += l.MeanAll()
			n++
		}
		st.Loss = loss / float64(max(n, 1))
		avg, err := AverageOn(f.cfg.SecureWorker, models, weights)
		if err != nil {
			return nil, fmt.Errorf("syft: FedAvg round %d: %w", f.round, err)
		}
		for _, r := range ok {
			r.model = nil // moved and consumed
		}
		m, err := avg.Get()
		if err != nil {
			return nil, fmt.Errorf("syft: FedAvg round %d: %w", f.round, err)
		}
		f.model = m
		for _, r := range ok {
			st.Included = append(st.Included, r.part.Worker.ID())
		}
	default:
		return nil, fmt.Errorf("syft: FedAvg: unknown aggregation %d", f.cfg.Aggregation)
	}
	slices.Sort(st.Included)
	st.Duration = time.Since(start)
	return st, nil
}
