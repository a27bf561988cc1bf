package syft

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/store"
)

// This file and fl_avg.go, fl_secagg.go and model.go are the client side
// of federated learning: datasets and loaders (here), federated averaging
// (fl_avg.go), secure aggregation (fl_secagg.go) and models on workers
// (model.go). The worker side that answers them (fl.batch, fl.train,
// fl.average, fl.share, fl.sum, fl.abort) is package workers/fl.

// DatasetPart is the part of a federated dataset one worker holds: a data
// tensor and a targets tensor with the same number of samples (dim 0).
type DatasetPart struct {
	Worker  Worker
	Data    *Pointer
	Targets *Pointer
	// Len is the number of samples.
	Len int
}

// FederatedDataset is a dataset spread over workers, one part per worker,
// as PySyft's FederatedDataset: the data never leaves them; a
// FederatedDataLoader cuts batches where it is.
type FederatedDataset struct {
	parts []*DatasetPart
}

// Federate splits a dataset into one contiguous part per worker (sizes
// differing by at most one, in the order of ws) and sends data and targets
// to them, like PySyft's dataset.federate((bob, alice)). data and targets
// must have the same number of samples along dim 0.
func Federate(data, targets *tensor.Tensor, ws ...Worker) (*FederatedDataset, error) {
	return FederateWith(data, targets, ws)
}

// FederateWith is Federate with options applied to every part sent (tags,
// privacy: AsPrivate makes each part private on its worker).
func FederateWith(data, targets *tensor.Tensor, ws []Worker, opts ...SendOption) (*FederatedDataset, error) {
	if data == nil || targets == nil {
		return nil, errors.New("syft: Federate: nil data or targets")
	}
	if len(ws) == 0 {
		return nil, errors.New("syft: Federate: no workers")
	}
	if data.Dims() == 0 || targets.Dims() == 0 || data.Dim(0) != targets.Dim(0) {
		return nil, fmt.Errorf("syft: Federate: data %v and targets %v must have the same number of samples along dim 0", data.Shape(), targets.Shape())
	}
	n := data.Dim(0)
	if n < len(ws) {
		return nil, fmt.Errorf("syft: Federate: %d samples cannot be split over %d workers", n, len(ws))
	}
	fd := &FederatedDataset{}
	start := 0
	for i, w := range ws {
		if w == nil {
			fd.Free()
			return nil, errNilWorker
		}
		size := n / len(ws)
		if i < n%len(ws) {
			size++
		}
		d := data.Slice(0, start, start+size, 1)
		t := targets.Slice(0, start, start+size, 1)
		start += size
		dp, err := Send(d, w, opts...)
		if err != nil {
			fd.Free()
			return nil, fmt.Errorf("syft: Federate: %w", err)
		}
		tp, err := Send(t, w, opts...)
		if err != nil {
			dp.Free()
			fd.Free()
			return nil, fmt.Errorf("syft: Federate: %w", err)
		}
		fd.parts = append(fd.parts, &DatasetPart{Worker: w, Data: dp, Targets: tp, Len: size})
	}
	return fd, nil
}

// FederatedFromTags binds to datasets the workers' owners already hold:
// on each worker exactly one object tagged dataTag and one tagged
// targetTag (with the same number of samples). The pointers do not own
// the data, so dropping the dataset never deletes it.
func FederatedFromTags(dataTag, targetTag string, ws ...Worker) (*FederatedDataset, error) {
	if len(ws) == 0 {
		return nil, errors.New("syft: FederatedFromTags: no workers")
	}
	fd := &FederatedDataset{}
	for _, w := range ws {
		if w == nil {
			return nil, errNilWorker
		}
		d, err := one(w, dataTag)
		if err != nil {
			return nil, err
		}
		t, err := one(w, targetTag)
		if err != nil {
			return nil, err
		}
		ds, ts := d.Shape(), t.Shape()
		if len(ds) == 0 || len(ts) == 0 || ds[0] != ts[0] {
			return nil, fmt.Errorf("syft: FederatedFromTags: on %s, %s %v and %s %v differ in samples", w.ID(), dataTag, ds, targetTag, ts)
		}
		fd.parts = append(fd.parts, &DatasetPart{Worker: w, Data: d, Targets: t, Len: ds[0]})
	}
	return fd, nil
}

func one(w Worker, tag string) (*Pointer, error) {
	ps, err := w.Search(tag)
	if err != nil {
		return nil, fmt.Errorf("syft: search %s on %s: %w", tag, w.ID(), err)
	}
	switch len(ps) {
	case 0:
		return nil, fmt.Errorf("syft: worker %s holds no object tagged %s: %w", w.ID(), tag, store.ErrNotFound)
	case 1:
		if ps[0].Info().Kind != store.KindTensor {
			return nil, fmt.Errorf("syft: object tagged %s on %s is a %s, not a tensor", tag, w.ID(), ps[0].Info().Kind)
		}
		return ps[0], nil
	}
	return nil, fmt.Errorf("syft: worker %s holds %d objects tagged %s; want exactly one", w.ID(), len(ps), tag)
}

// Parts returns the dataset's parts, in worker order.
func (fd *FederatedDataset) Parts() []*DatasetPart { return fd.parts }

// Workers returns the workers holding the dataset.
func (fd *FederatedDataset) Workers() []Worker {
	ws := make([]Worker, len(fd.parts))
	for i, p := range fd.parts {
		ws[i] = p.Worker
	}
	return ws
}

// Part returns the part held by the worker with the given id, or nil.
func (fd *FederatedDataset) Part(workerID string) *DatasetPart {
	for _, p := range fd.parts {
		if p.Worker.ID() == workerID {
			return p
		}
	}
	return nil
}

// Len is the total number of samples.
func (fd *FederatedDataset) Len() int {
	n := 0
	for _, p := range fd.parts {
		n += p.Len
	}
	return n
}

// Free deletes the parts this dataset sent (parts bound by tags are left
// alone) and returns the first error.
func (fd *FederatedDataset) Free() error {
	var first error
	for _, p := range fd.parts {
		for _, q := range []*Pointer{p.Data, p.Targets} {
			if q.Owns() {
				if err := q.Free(); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}

// Batch is one batch of a federated loader: pointers to data and targets
// on one worker, cut there.
type Batch struct {
	Worker Worker
	Data   *Pointer
	Target *Pointer
	// Size is the number of samples.
	Size int
	// Index counts the batches of this worker in the epoch, from 0.
	Index int
}

// Free deletes the batch's two objects.
func (b *Batch) Free() error {
	err := b.Data.Free()
	if e := b.Target.Free(); err == nil {
		err = e
	}
	return err
}

// LoaderOptions configure a FederatedDataLoader.
type LoaderOptions struct {
	// BatchSize is the number of samples per batch (default 1, as
	// PyTorch's).
	BatchSize int
	// Shuffle draws a new order of each worker's samples every epoch,
	// from Seed and the epoch number, so runs are reproducible.
	Shuffle bool
	Seed    uint64
	// DropLast drops each worker's last batch if it is short.
	DropLast bool
}

// FederatedDataLoader iterates over a federated dataset in batches that
// stay on the workers: each batch is cut on its worker (the rows are
// selected there), and the loader only sends indices.
type FederatedDataLoader struct {
	fd   *FederatedDataset
	opts LoaderOptions

	mu    sync.Mutex
	epoch uint64
}

// NewFederatedDataLoader returns a loader over fd.
func NewFederatedDataLoader(fd *FederatedDataset, opts LoaderOptions) (*FederatedDataLoader, error) {
	if fd == nil || len(fd.parts) == 0 {
		return nil, errors.New("syft: NewFederatedDataLoader: empty dataset")
	}
	if opts.BatchSize < 0 {
		return nil, fmt.Errorf("syft: NewFederatedDataLoader: batch size %d", opts.BatchSize)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 1
	}
	return &FederatedDataLoader{fd: fd, opts: opts}, nil
}

// Dataset returns the loader's dataset.
func (l *FederatedDataLoader) Dataset() *FederatedDataset { return l.fd }

// Options returns the loader's options (with defaults filled in).
func (l *FederatedDataLoader) Options() LoaderOptions { return l.opts }

// WorkerLen is the number of batches of one part per epoch.
func (l *FederatedDataLoader) WorkerLen(p *DatasetPart) int {
	if l.opts.DropLast {
		return p.Len / l.opts.BatchSize
	}
	return (p.Len + l.opts.BatchSize - 1) / l.opts.BatchSize
}

// Len is the number of batches per epoch, over all workers.
func (l *FederatedDataLoader) Len() int {
	n := 0
	for _, p := range l.fd.parts {
		n += l.WorkerLen(p)
	}
	return n
}

// Iter starts an epoch over every worker's batches, worker after worker
// (all of the first worker's batches, then the second's, as PySyft's
// loader with one iterator). Each call is a new epoch with, when
// shuffling, a new order.
func (l *FederatedDataLoader) Iter() *BatchIter {
	e := l.nextEpoch()
	it := &BatchIter{}
	for i, p := range l.fd.parts {
		it.plans = append(it.plans, l.plan(p, e, uint64(i)))
	}
	return it
}

// IterWorker starts an epoch over one worker's batches (federated
// averaging trains each worker on its own stream). Each call is a new
// epoch for that worker.
func (l *FederatedDataLoader) IterWorker(w Worker) (*BatchIter, error) {
	for i, p := range l.fd.parts {
		if p.Worker == w || p.Worker.ID() == w.ID() {
			return &BatchIter{plans: []*batchPlan{l.plan(p, l.nextEpoch(), uint64(i))}}, nil
		}
	}
	return nil, fmt.Errorf("syft: worker %s holds no part of this dataset", w.ID())
}

func (l *FederatedDataLoader) nextEpoch() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.epoch
	l.epoch++
	return e
}

// plan computes the indices of every batch of one part for an epoch.
func (l *FederatedDataLoader) plan(p *DatasetPart, epoch, part uint64) *batchPlan {
	idx := make([]int, p.Len)
	if l.opts.Shuffle {
		// Mix seed, epoch and part so that streams differ but repeat.
		r := tensor.NewRNG(l.opts.Seed*0x9E3779B97F4A7C15 + epoch*0xBF58476D1CE4E5B9 + part*0x94D049BB133111EB + 1)
		idx = r.Perm(p.Len)
	} else {
		for i := range idx {
			idx[i] = i
		}
	}
	bp := &batchPlan{part: p}
	for s := 0; s < p.Len; s += l.opts.BatchSize {
		e := min(s+l.opts.BatchSize, p.Len)
		if e-s < l.opts.BatchSize && l.opts.DropLast {
			break
		}
		bp.batches = append(bp.batches, idx[s:e])
	}
	return bp
}

type batchPlan struct {
	part    *DatasetPart
	batches [][]int
}

// BatchIter yields batches; the usual loop is
//
//	it := loader.Iter()
//	for it.Next() {
//		b := it.Batch()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
type BatchIter struct {
	plans []*batchPlan
	p, b  int
	cur   *Batch
	err   error
}

// Next cuts the next batch on its worker; false at the end or on error.
func (it *BatchIter) Next() bool {
	it.cur = nil
	if it.err != nil {
		return false
	}
	for it.p < len(it.plans) && it.b >= len(it.plans[it.p].batches) {
		it.p++
		it.b = 0
	}
	if it.p >= len(it.plans) {
		return false
	}
	bp := it.plans[it.p]
	b, err := cutBatch(bp.part, bp.batches[it.b])
	if err != nil {
		it.err = err
		return false
	}
	b.Index = it.b
	it.b++
	it.cur = b
	return true
}

// Batch is the batch Next cut.
func (it *BatchIter) Batch() *Batch { return it.cur }

// Err is the error that stopped the iteration, if any.
func (it *BatchIter) Err() error { return it.err }

// Remaining is the number of batches not yet cut.
func (it *BatchIter) Remaining() int {
	n := 0
	for i := it.p; i < len(it.plans); i++ {
		n += len(it.plans[i].batches)
		if i == it.p {
			n -= it.b
		}
	}
	return n
}

// cutBatch asks the part's worker to select rows into a new pair.
func cutBatch(p *DatasetPart, idx []int) (*Batch, error) {
	l, din, err := p.Data.snapshot("batch")
	if err != nil {
		return nil, err
	}
	tl, tin, err := p.Targets.snapshot("batch")
	if err != nil {
		return nil, err
	}
	if tl.peer.Addr != l.peer.Addr {
		return nil, fmt.Errorf("syft: batch: data on %s but targets on %s", l.id, tl.id)
	}
	var rep fl.BatchReply
	if err := l.call(fl.MsgBatch, &fl.BatchRequest{Data: din.ID, Targets: tin.ID, Indices: idx}, &rep); err != nil {
		return nil, fmt.Errorf("cut batch on %s: %w", l.id, err)
	}
	return &Batch{Worker: l.self, Data: newPointer(l, rep.Data, true), Target: newPointer(l, rep.Target, true), Size: len(idx)}, nil
}
