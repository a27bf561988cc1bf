// Command tfe runs the networks of CrypTen's tfe_benchmarks example (after
// the TF Encrypted benchmarks) on real MNIST digits: network A (a
// three-layer perceptron with batch norm), B (two small convolution
// stages) and C (two wider ones). For each network the model owner (party
// 1) trains it in the clear on MNIST's training images, shares it
// encrypted, and the data owner (party 0) has its MNIST test images
// classified under encryption; the program compares the logits, the
// top-1 labels and the accuracy with plaintext inference, and the cost.
//
// Usage:
//
//	go run ./examples/tfe [-network A|B|C|all] [-train 10000] [-epochs 1] [-test 1000] [-parties 2]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gomplab/gomplab/examples/internal/infer"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/mpc/nn/zoo"
	"github.com/gomplab/gomplab/tensor"
)

type config struct {
	network                                    string // A, B, C or all
	train, epochs, batch, test, chunk, parties int
	lr                                         float64
	seed                                       uint64
}

var defaults = config{network: "all", train: 10000, epochs: 1, batch: 64, test: 1000, chunk: 250, parties: 2, lr: 0.003, seed: 1}

func main() {
	c := defaults
	flag.StringVar(&c.network, "network", c.network, "A, B, C or all")
	flag.IntVar(&c.train, "train", c.train, "MNIST training images (plaintext, at the model owner)")
	flag.IntVar(&c.epochs, "epochs", c.epochs, "training epochs")
	flag.IntVar(&c.batch, "batch", c.batch, "training batch size")
	flag.IntVar(&c.test, "test", c.test, "MNIST test images classified under encryption")
	flag.IntVar(&c.chunk, "chunk", c.chunk, "test images per encrypted forward pass")
	flag.IntVar(&c.parties, "parties", c.parties, "MPC parties (party 0 holds the images, party 1 the model)")
	flag.Float64Var(&c.lr, "lr", c.lr, "Adam learning rate")
	flag.Uint64Var(&c.seed, "seed", c.seed, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "tfe:", err)
		os.Exit(1)
	}
}

// run trains and compares each network asked for, returning the outcomes
// by network name.
func run(w io.Writer, c config) (map[string]*infer.Outcome, error) {
	names := []string{"A", "B", "C"}
	if c.network != "all" {
		if !strings.Contains("ABC", c.network) || len(c.network) != 1 {
			return nil, fmt.Errorf("-network %q: want A, B, C or all", c.network)
		}
		names = []string{c.network}
	}
	x, y, err := dataset.MNIST("train", c.train)
	if err != nil {
		return nil, err
	}
	tx, labels, err := dataset.MNIST("test", c.test)
	if err != nil {
		return nil, err
	}
	norm := func(t *tensor.Tensor) *tensor.Tensor { return t.AddScalar(-0.1307).MulScalar(1 / 0.3081) }
	x, tx = norm(x), norm(tx)
	out := map[string]*infer.Outcome{}
	for _, name := range names {
		spec, err := zoo.Lookup(name)
		if err != nil {
			return nil, err
		}
		model := spec.New(tensor.NewRNG(c.seed))
		fmt.Fprintf(w, "== network %s (%d parameters): trained in the clear on %d MNIST images\n", name, model.NumParams(), c.train)
		if err := infer.Train(w, model, x, y, infer.TrainConfig{Epochs: c.epochs, Batch: c.batch, LR: c.lr, Seed: c.seed + 1}); err != nil {
			return nil, fmt.Errorf("network %s: %w", name, err)
		}
		o, err := infer.Compare(w, model, tx, labels, c.parties, c.chunk)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", name, err)
		}
		out[name] = o
	}
	fmt.Fprintln(w, "network  encrypted acc  plaintext acc  agreement  max logit error  bytes/party  rounds")
	for _, name := range names {
		o := out[name]
		fmt.Fprintf(w, "%7s  %12.2f%%  %12.2f%%  %8.2f%%  %15.2e  %11d  %6d\n",
			name, 100*o.EncAccuracy(), 100*o.PlainAccuracy(), 100*o.Agreement(), o.MaxLogitError, o.Bytes, o.Rounds)
	}
	return out, nil
}
