// Command federated trains a digit classifier by federated averaging: the
// synthetic MNIST-shaped training set is split between virtual workers
// (optionally loaded privately by each worker's owner, who then reviews
// and approves the training), each round every worker trains the current
// model for a few local steps on its own batches, and the models are
// averaged with secure aggregation, so neither this program nor any worker
// sees another worker's model; only the average comes back. It prints
// each round's average training loss and the test accuracy of the global
// model, then the accuracy of the same network trained centrally.
//
// With -data mnist it is the seed's federated MNIST demo on the real
// digits: the MNIST training images (the first -train of them, normalized)
// split between the workers, and MNIST's test images (-test) kept here;
// `-data mnist -workers 2` is its setting, bob and alice. Every -every
// rounds it prints the test accuracy of the federated model beside that of
// the centralized one after the same number of steps.
//
// Usage:
//
//	go run ./examples/federated [-data digits|mnist] [-workers 3] [-train 1200] [-rounds 120] [-local 2] [-batch 20] [-lr 0.25] [-private] [-secure-worker]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/approvals"
)

type config struct {
	data                                               string // "digits" (synthetic) or "mnist"
	every                                              int    // rounds between accuracy checkpoints (0: 10)
	workers, train, test, rounds, local, batch, hidden int
	lr                                                 float64
	private, secureWorker                              bool
	seed                                               uint64
}

func main() {
	var c config
	flag.StringVar(&c.data, "data", "digits", "digits (synthetic) or mnist (real)")
	flag.IntVar(&c.every, "every", 10, "rounds between accuracy checkpoints")
	flag.IntVar(&c.workers, "workers", 3, "number of workers holding data")
	flag.IntVar(&c.train, "train", 1200, "training samples (split between the workers)")
	flag.IntVar(&c.test, "test", 600, "test samples (kept here)")
	flag.IntVar(&c.rounds, "rounds", 120, "federated averaging rounds")
	flag.IntVar(&c.local, "local", 2, "local steps per worker and round")
	flag.IntVar(&c.batch, "batch", 20, "batch size")
	flag.IntVar(&c.hidden, "hidden", 32, "hidden units")
	flag.Float64Var(&c.lr, "lr", 0.25, "SGD learning rate")
	flag.BoolVar(&c.private, "private", false, "mark the workers' data private (models trained on it can only be aggregated securely)")
	flag.BoolVar(&c.secureWorker, "secure-worker", false, "average on a trusted secure worker instead of by secure aggregation")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "federated:", err)
		os.Exit(1)
	}
}

// result is what a run measured.
type result struct {
	Loss        []float64    // per round
	Accuracy    float64      // federated, on the test set
	Centralized float64      // the same network trained in one place
	Checkpoints []checkpoint // test accuracy every c.every rounds
}

// checkpoint is the test accuracy of both models after a round (the
// centralized model after as many SGD steps as the round stands for).
type checkpoint struct {
	Round                  int
	Federated, Centralized float64
}

func classifier(hidden int, seed uint64) *nn.Model {
	r := tensor.NewRNG(seed)
	in := dataset.Side * dataset.Side
	return nn.NewModel(nn.NewSequential(nn.NewLinear(in, hidden, r), nn.NewReLU(), nn.NewLinear(hidden, dataset.Classes, r)))
}

func digits(n int, seed uint64) (*tensor.Tensor, *tensor.Tensor) {
	x, y := dataset.Digits(n, seed)
	return x.Reshape(n, dataset.Side*dataset.Side), y
}

// load returns the training and test images (flattened) and labels.
func load(c config) (x, y, tx, ty *tensor.Tensor, what string, err error) {
	switch c.data {
	case "digits", "":
		x, y = digits(c.train, c.seed)
		tx, ty = digits(c.test, c.seed+1)
		return x, y, tx, ty, "synthetic digits", nil
	case "mnist":
		if x, y, err = dataset.MNIST("train", c.train); err != nil {
			return
		}
		if tx, ty, err = dataset.MNIST("test", c.test); err != nil {
			return
		}
		// Flattened and normalized by MNIST's pixel mean and deviation,
		// as the seed's demo does.
		norm := func(t *tensor.Tensor) *tensor.Tensor {
			return t.Reshape(t.Shape()[0], dataset.Side*dataset.Side).AddScalar(-0.1307).MulScalar(1 / 0.3081)
		}
		return norm(x), y, norm(tx), ty, "real MNIST digits", nil
	}
	return nil, nil, nil, nil, "", fmt.Errorf("-data %q: want digits or mnist", c.data)
}

func accuracy(m *nn.Model, x, y *tensor.Tensor) (float64, error) {
	m.Eval()
	defer m.Train()
	out, err := m.Forward(nn.NewVariable(x))
	if err != nil {
		return 0, err
	}
	return out.Tensor().Argmax(1, false).Eq(y).MeanAll(), nil
}

func run(w io.Writer, c config) (*result, error) {
	if c.workers < 2 {
		return nil, fmt.Errorf("-workers %d: secure aggregation needs at least 2", c.workers)
	}
	if c.every <= 0 {
		c.every = 10
	}
	x, y, tx, ty, what, err := load(c)
	if err != nil {
		return nil, err
	}
	var ws []syft.Worker
	for i := 0; i < c.workers; i++ {
		name := fmt.Sprintf("worker%d", i+1)
		if c.workers == 2 {
			name = []string{"bob", "alice"}[i] // the seed's demo
		}
		v := syft.NewVirtualWorker(name)
		defer v.Shutdown()
		ws = append(ws, v)
	}
	var fd *syft.FederatedDataset
	if c.private {
		// Each worker's owner loads its part as private data; this
		// program, the data scientist, finds it by its tags.
		if err := loadPrivate(x, y, ws); err != nil {
			return nil, err
		}
		fd, err = syft.FederatedFromTags("#digits", "#labels", ws...)
	} else {
		fd, err = syft.Federate(x, y, ws...)
	}
	if err != nil {
		return nil, err
	}
	loader, err := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: c.batch, Shuffle: true, Seed: c.seed, DropLast: true})
	if err != nil {
		return nil, err
	}
	// With private data, each owner's worker draws its own batches.
	cfg := syft.FedAvgConfig{Loader: loader, LocalSteps: c.local, Rounds: c.rounds, WorkerBatches: c.private,
		Train: syft.TrainConfig{Loss: "cross_entropy", Optimizer: syft.Optimizer{Name: "sgd", LR: c.lr}}}
	if c.secureWorker {
		sw := syft.NewVirtualWorker("secure")
		defer sw.Shutdown()
		cfg.Aggregation, cfg.SecureWorker = syft.OnSecureWorker, sw
	}
	fa, err := syft.NewFedAvg(classifier(c.hidden, c.seed+2), cfg)
	if err != nil {
		return nil, err
	}
	res := &result{}
	if c.private {
		// The first round is refused: each worker filed a request for its
		// owner, who reviews the training configuration and approves it.
		_, err := fa.Round()
		fmt.Fprintf(w, "the first round is refused until the owners approve:\n  %v\n", err)
		if err := approveAll(w, ws); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(w, "federated averaging on %s: %d workers, %d samples each, %d local steps of %d per round\n",
		what, c.workers, c.train/c.workers, c.local, c.batch)
	start := time.Now()
	for r := 1; r <= c.rounds; r++ {
		st, err := fa.Round()
		if err != nil {
			return nil, err
		}
		res.Loss = append(res.Loss, st.Loss)
		if r%c.every == 0 || r == c.rounds {
			acc, err := accuracy(fa.Model(), tx, ty)
			if err != nil {
				return nil, err
			}
			res.Checkpoints = append(res.Checkpoints, checkpoint{Round: r, Federated: acc})
			fmt.Fprintf(w, "round %3d  loss %.4f  test accuracy %5.1f%%  (%v per round)\n", r, st.Loss, 100*acc, st.Duration.Round(time.Millisecond))
		}
	}
	if res.Accuracy, err = accuracy(fa.Model(), tx, ty); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "federated: %.1f%% test accuracy after %d rounds (%v)\n", 100*res.Accuracy, c.rounds, time.Since(start).Round(time.Millisecond))

	// The reference: the same network, the same sequential number of SGD
	// steps, on all the data in one place.
	m := classifier(c.hidden, c.seed+2)
	opt := nn.NewSGD(m.Parameters(), c.lr, 0, 0)
	rng := tensor.NewRNG(c.seed + 3)
	steps, next := 0, 0
	for steps < 2*c.rounds*c.local {
		perm := rng.Perm(c.train)
		for s := 0; s+c.batch <= c.train && steps < 2*c.rounds*c.local; s += c.batch {
			for next < len(res.Checkpoints) && steps == 2*res.Checkpoints[next].Round*c.local {
				if res.Checkpoints[next].Centralized, err = accuracy(m, tx, ty); err != nil {
					return nil, err
				}
				next++
			}
			idx := perm[s : s+c.batch]
			opt.ZeroGrad()
			out, err := m.Forward(nn.NewVariable(x.IndexSelect(0, idx)))
			if err != nil {
				return nil, err
			}
			if err := nn.CrossEntropyLoss(out, nn.NewVariable(y.IndexSelect(0, idx))).Backward(); err != nil {
				return nil, err
			}
			if err := opt.Step(); err != nil {
				return nil, err
			}
			steps++
		}
	}
	if res.Centralized, err = accuracy(m, tx, ty); err != nil {
		return nil, err
	}
	if next < len(res.Checkpoints) {
		res.Checkpoints[next].Centralized = res.Centralized
	}
	fmt.Fprintf(w, "centralized: %.1f%% test accuracy after %d steps\n", 100*res.Centralized, steps)
	fmt.Fprintln(w, "round  federated  centralized (test accuracy; centralized after 2 x local steps per round)")
	for _, cp := range res.Checkpoints {
		fmt.Fprintf(w, "%5d  %8.1f%%  %10.1f%%\n", cp.Round, 100*cp.Federated, 100*cp.Centralized)
	}
	return res, nil
}

// loadPrivate has each worker's owner load a contiguous part of the data
// as private, tagged #digits and #labels.
func loadPrivate(x, y *tensor.Tensor, ws []syft.Worker) error {
	n, start := x.Dim(0), 0
	for i, w := range ws {
		size := n / len(ws)
		if i < n%len(ws) {
			size++
		}
		owner := w.(*syft.VirtualWorker).Owner()
		for _, part := range []struct {
			t   *tensor.Tensor
			tag string
		}{{x.Slice(0, start, start+size, 1), "#digits"}, {y.Slice(0, start, start+size, 1), "#labels"}} {
			p, err := syft.Send(part.t, owner, syft.WithTags(part.tag), syft.AsPrivate())
			if err != nil {
				return err
			}
			p.Keep() // the owner's data stays when this pointer goes
		}
		start += size
	}
	return nil
}

// approveAll is each owner's step: review the pending training request
// on their worker and approve it.
func approveAll(w io.Writer, ws []syft.Worker) error {
	for _, wk := range ws {
		owner := wk.(*syft.VirtualWorker).Owner()
		reqs, err := syft.TrainingRequests(owner)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if r.Status != approvals.StatusPending {
				continue
			}
			review, err := syft.ReviewTraining(owner, r.ID)
			if err != nil {
				return err
			}
			if err := syft.ApproveTraining(owner, r.ID); err != nil {
				return err
			}
			// The review's code section: what the owner approves.
			if i := strings.Index(review, "code:"); i >= 0 {
				review = review[i:]
			}
			if i := strings.Index(review, "arguments:"); i >= 0 {
				review = review[:i]
			}
			fmt.Fprintf(w, "the owner of %s reviewed request %s of %s and approved it:\n%s\n", wk.ID(), r.ID, r.Requester, indent(review))
		}
	}
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
