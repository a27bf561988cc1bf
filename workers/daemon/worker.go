package daemon

import (
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/plans"
)

// Worker is a worker's protocol core with every capability registered:
// the core's own requests (objects, ops, grants), MPC jobs, plans and
// federated learning. A daemon serves one over TLS (Start); a
// virtual worker drives one in process (syft.NewVirtualWorker).
type Worker struct {
	Handler *workers.Handler
	// Jobs runs the worker's MPC parties (Configure sets how).
	Jobs *jobs.Table
	// Approvals are the worker's code requests and its owners'
	// decisions, and the check every capability applies before private
	// data is used.
	Approvals *approvals.Book
	// FL is the worker's federated learning (Configure sets the fewest
	// contributors a round needs).
	FL *fl.Service
}

// NewWorker builds the handler for cfg and registers each capability's
// message types, explicitly and in one place: nothing registers itself.
func NewWorker(cfg workers.Config) (*Worker, error) {
	h, err := workers.NewHandler(cfg)
	if err != nil {
		return nil, err
	}
	book, err := approvals.Register(h, approvals.Options{
		Describe: map[approvals.Kind]func([]byte) (string, error){approvals.KindTrain: fl.DescribeTrain},
	})
	if err != nil {
		return nil, err
	}
	w := &Worker{Handler: h, Approvals: book, Jobs: jobs.Register(h, book, jobs.Options{})}
	plans.Register(h, book)
	w.FL = fl.Register(h, book)
	return w, nil
}

// Close stops the worker's MPC parties and drops its peer sessions.
func (w *Worker) Close() {
	w.Jobs.Close()
	w.Handler.Close()
}
