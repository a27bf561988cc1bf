package syft

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/store"
)

// Models on workers, the client side; the worker side that trains them is
// package workers/fl, and the blob a model travels as is mpc/nn/modelcodec.

// ModelPointer refers to a model stored on a worker (an object of kind
// model: architecture and weights). The model trains there, on batches
// there; only the loss pointers and, if the user may read it, the model
// itself come back.
type ModelPointer struct {
	p *Pointer
}

// SendModel stores a copy of m (a plaintext model built from mpc/nn's
// modules) on w and returns an owning pointer to it, PySyft's
// model.send(w) except that m itself stays here unchanged.
func SendModel(m *nn.Model, w Worker, opts ...SendOption) (*ModelPointer, error) {
	if w == nil {
		return nil, errNilWorker
	}
	blob, err := modelcodec.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("syft: SendModel: %w", err)
	}
	return sendModelBlob(blob, w, opts)
}

// SendONNX stores the ONNX model data (a file exported by PyTorch, say) on
// w as a model object and returns an owning pointer to it. The worker
// keeps the bytes as given; MPC jobs load it with nn.LoadModel(tag, rank),
// which shares only its architecture and secret shares of its weights, so
// the weights never leave w in the clear. The model is imported here first,
// so a file with an unsupported operator is refused before it is sent.
//
//	data, _ := os.ReadFile("model.onnx")
//	mp, err := syft.SendONNX(data, alice, syft.WithTags("crypten_model"), syft.AsPrivate())
func SendONNX(data []byte, w Worker, opts ...SendOption) (*ModelPointer, error) {
	if w == nil {
		return nil, errNilWorker
	}
	blob, err := modelcodec.EncodeONNX(data)
	if err != nil {
		return nil, fmt.Errorf("syft: SendONNX: %w", err)
	}
	return sendModelBlob(blob, w, opts)
}

// sendModelBlob stores a model object holding blob on w.
func sendModelBlob(blob []byte, w Worker, opts []SendOption) (*ModelPointer, error) {
	p, err := sendObject(&store.Object{Kind: store.KindModel, Blob: blob}, w, opts, "model ")
	if err != nil {
		return nil, err
	}
	return &ModelPointer{p: p}, nil
}

// Pointer is the underlying object pointer (for Info, Keep, Send...).
func (mp *ModelPointer) Pointer() *Pointer { return mp.p }

// ID is the model object's id on its worker.
func (mp *ModelPointer) ID() string { return mp.p.ID() }

// Location is the worker holding the model.
func (mp *ModelPointer) Location() Worker { return mp.p.Location() }

// Private reports whether the model is private: it was sent private or
// trained on private data, and only allowed users may get it.
func (mp *ModelPointer) Private() bool { return mp.p.Private() }

// String describes the pointer.
func (mp *ModelPointer) String() string { return "Model" + mp.p.String() }

// Get returns the model and removes it from the worker (PySyft's
// model.get()). A model trained on private data is refused, with an error
// wrapping workers.ErrPermission, unless the user is allowed: then only
// aggregates of it may leave (SecureAggregate).
func (mp *ModelPointer) Get() (*nn.Model, error) { return mp.get(false) }

// GetCopy returns the model and leaves it on the worker.
func (mp *ModelPointer) GetCopy() (*nn.Model, error) { return mp.get(true) }

func (mp *ModelPointer) get(keep bool) (*nn.Model, error) {
	l, in, err := mp.p.snapshot("Get")
	if err != nil {
		return nil, err
	}
	var rep workers.GetReply
	if err := l.call(workers.MsgGet, &workers.GetRequest{ID: in.ID, Keep: keep}, &rep); err != nil {
		return nil, fmt.Errorf("get model %s from %s: %w", in.ID, l.id, err)
	}
	if !keep {
		mp.p.kill("taken by Get")
	}
	if rep.Object == nil || rep.Object.Kind != store.KindModel {
		return nil, fmt.Errorf("get model %s from %s: object is not a model", in.ID, l.id)
	}
	m, err := modelcodec.Decode(rep.Object.Blob, limitsFor(0))
	if err != nil {
		return nil, fmt.Errorf("get model %s from %s: %w", in.ID, l.id, err)
	}
	return m, nil
}

// Copy duplicates the model on its worker.
func (mp *ModelPointer) Copy() (*ModelPointer, error) {
	p, err := mp.p.Copy()
	if err != nil {
		return nil, err
	}
	return &ModelPointer{p: p}, nil
}

// Move sends the model to dst directly, worker to worker (refused for a
// model trained on private data, unless the user may read it).
func (mp *ModelPointer) Move(dst Worker) (*ModelPointer, error) {
	if _, err := mp.p.Move(dst); err != nil {
		return nil, err
	}
	return mp, nil
}

// Free deletes the model from its worker.
func (mp *ModelPointer) Free() error { return mp.p.Free() }

// Optimizer configures the optimizer a worker runs for remote training.
// Its state (momentum buffers, Adam moments) stays on each worker between
// steps, one state per optimizer and worker: PySyft's Optims.
type Optimizer = fl.OptimizerConfig

// NewOptimizer returns an optimizer configuration ("sgd" or "adam") with
// a fresh key, so that every worker keeps one state for it across model
// sends, as PySyft's Optims(workers, optim) did.
func NewOptimizer(name string, lr float64) Optimizer {
	return Optimizer{Name: name, LR: lr, Key: "opt-" + store.NewID()}
}

// TrainPlan declares the training a step belongs to: the federation
// (every worker of the training with its certificate, Federation), the
// batch size, the steps per round, the rounds and the weighting. Training
// on data the requester may not read needs one, approved by the data's
// owners; their workers enforce it (batches of exactly BatchSize samples,
// at most LocalSteps per round, at most Rounds rounds, aggregation only
// with other workers of the federation). FedAvg fills it in.
type TrainPlan = fl.TrainPlan

// Federation lists workers with their certificates' fingerprints, as a
// TrainPlan names them.
func Federation(ws ...Worker) []approvals.Party {
	out := make([]approvals.Party, 0, len(ws))
	for _, w := range ws {
		if w == nil {
			continue
		}
		out = append(out, approvals.Party{Worker: w.ID(), Fingerprint: w.link().identity})
	}
	return out
}

// TrainConfig says how a worker trains a model on a batch.
type TrainConfig struct {
	// Loss is one of fl.LossNames(): "mse", "sum_squared" (the
	// tutorial's ((pred - target)**2).sum()), "cross_entropy" (logits and
	// class indices), "nll" (log-probabilities), "bce", "bce_logits", "l1".
	Loss      string
	Optimizer Optimizer
	// Plan declares the training the step belongs to; it is needed, and
	// must be approved by the data's owners, when the data is one the
	// requester may not read (TrainPlan).
	Plan *TrainPlan
}

// Train runs one training step on the worker: forward on data, the loss
// against target, backward, and the optimizer step; the model is updated
// in place there. It returns a pointer to the loss (a 0-d tensor), which
// Get brings back. data and target must be on the model's worker.
func (mp *ModelPointer) Train(data, target *Pointer, cfg TrainConfig) (*Pointer, error) {
	return mp.TrainSteps([]*Batch{{Data: data, Target: target}}, cfg)
}

// TrainSteps runs one step per batch, in order, in one request, and
// returns a pointer to the losses (one per batch; a 0-d tensor for one).
func (mp *ModelPointer) TrainSteps(batches []*Batch, cfg TrainConfig) (*Pointer, error) {
	l, in, err := mp.p.snapshot("Train")
	if err != nil {
		return nil, err
	}
	if len(batches) == 0 {
		return nil, errors.New("syft: Train: no batches")
	}
	q := fl.TrainRequest{Model: in.ID, Loss: cfg.Loss, Optimizer: cfg.Optimizer, Plan: cfg.Plan}
	for i, b := range batches {
		if b == nil {
			return nil, fmt.Errorf("syft: Train: batch %d is nil", i)
		}
		dl, din, err := b.Data.snapshot("Train")
		if err != nil {
			return nil, err
		}
		tl, tin, err := b.Target.snapshot("Train")
		if err != nil {
			return nil, err
		}
		if dl.peer.Addr != l.peer.Addr || tl.peer.Addr != l.peer.Addr {
			return nil, fmt.Errorf("syft: Train: batch %d is on %s/%s but the model is on %s; send the model where the data is", i, dl.id, tl.id, l.id)
		}
		q.Batches = append(q.Batches, fl.BatchRef{Data: din.ID, Target: tin.ID})
	}
	var rep fl.TrainReply
	if err := l.call(fl.MsgTrain, &q, &rep); err != nil {
		return nil, fmt.Errorf("train model %s on %s: %w", in.ID, l.id, err)
	}
	mp.p.st.mu.Lock()
	mp.p.st.info = rep.Model
	mp.p.st.mu.Unlock()
	return newPointer(l, rep.Loss, true), nil
}

// TrainSampled runs steps training steps on the worker, each on
// cfg.Plan.BatchSize samples the worker draws at random from the data set
// (data and targets, on the model's worker): the requester does not
// choose them. The plan must say so (Sampling: fl.SampleWorker); for data
// the requester may not read, the owners approve that plan. It returns a
// pointer to the losses, as TrainSteps.
func (mp *ModelPointer) TrainSampled(data, targets *Pointer, steps int, cfg TrainConfig) (*Pointer, error) {
	l, in, err := mp.p.snapshot("Train")
	if err != nil {
		return nil, err
	}
	if cfg.Plan == nil || cfg.Plan.Sampling != fl.SampleWorker {
		return nil, fmt.Errorf("syft: TrainSampled: the training plan must have the worker draw the samples (TrainPlan.Sampling %q)", fl.SampleWorker)
	}
	dl, din, err := data.snapshot("Train")
	if err != nil {
		return nil, err
	}
	tl, tin, err := targets.snapshot("Train")
	if err != nil {
		return nil, err
	}
	if dl.peer.Addr != l.peer.Addr || tl.peer.Addr != l.peer.Addr {
		return nil, fmt.Errorf("syft: TrainSampled: the data set is on %s/%s but the model is on %s; send the model where the data is", dl.id, tl.id, l.id)
	}
	q := fl.TrainRequest{Model: in.ID, Loss: cfg.Loss, Optimizer: cfg.Optimizer, Plan: cfg.Plan,
		Sample: &fl.SampleRequest{Data: din.ID, Target: tin.ID, Steps: steps}}
	var rep fl.TrainReply
	if err := l.call(fl.MsgTrain, &q, &rep); err != nil {
		return nil, fmt.Errorf("train model %s on %s: %w", in.ID, l.id, err)
	}
	mp.p.st.mu.Lock()
	mp.p.st.info = rep.Model
	mp.p.st.mu.Unlock()
	return newPointer(l, rep.Loss, true), nil
}

// AverageOn averages models on a secure worker, the tutorial's pattern:
// each model is moved there (worker to worker), averaged there (weighted by
// weights, equal when nil), and the inputs deleted; the result stays on
// the secure worker. The secure worker sees every model: it must be
// trusted with them. Models trained on private data cannot be moved; use
// SecureAggregate for those.
func AverageOn(secure Worker, models []*ModelPointer, weights []float64) (*ModelPointer, error) {
	if secure == nil {
		return nil, errNilWorker
	}
	if len(models) == 0 {
		return nil, errors.New("syft: AverageOn: no models")
	}
	ids := make([]string, len(models))
	for i, m := range models {
		if m == nil {
			return nil, fmt.Errorf("syft: AverageOn: model %d is nil", i)
		}
		if _, err := m.Move(secure); err != nil {
			return nil, fmt.Errorf("syft: AverageOn: %w", err)
		}
		ids[i] = m.ID()
	}
	l := secure.link()
	var rep workers.InfoReply
	if err := l.call(fl.MsgAverage, &fl.AverageRequest{IDs: ids, Weights: weights, Free: true}, &rep); err != nil {
		return nil, fmt.Errorf("average on %s: %w", l.id, err)
	}
	for _, m := range models {
		m.p.kill("averaged")
	}
	return &ModelPointer{p: newPointer(l, rep.Info, true)}, nil
}
