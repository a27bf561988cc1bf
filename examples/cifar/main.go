// Command cifar is CrypTen's mpc_cifar example: the LeNet of its CIFAR-10
// benchmark (5x5 convolutions to 6 and 16 channels with batch norm, ReLU
// and average pooling, then 400 -> 120 -> 84 -> 10), trained in the clear
// by the model owner (party 1), then run on the data owner's (party 0)
// encrypted 3x32x32 colour images; only party 0 learns the logits. The
// images are CIFAR-shaped synthetic patterns (dataset.Patterns: ten
// stripe orientations in random colours), since CIFAR-10 itself is not
// shipped by any package this project may use; the cost and the accuracy
// of encryption against plaintext do not depend on what the pixels show.
// The program prints the training, then compares encrypted with plaintext
// inference: logits, top-1 labels, accuracy, bytes and rounds.
//
// Usage:
//
//	go run ./examples/cifar [-train 5000] [-epochs 3] [-test 500] [-parties 2]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gomplab/gomplab/examples/internal/infer"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/mpc/nn/zoo"
	"github.com/gomplab/gomplab/tensor"
)

type config struct {
	train, epochs, batch, test, chunk, parties int
	lr                                         float64
	seed                                       uint64
}

var defaults = config{train: 5000, epochs: 3, batch: 64, test: 500, chunk: 100, parties: 2, lr: 0.005, seed: 1}

func main() {
	c := defaults
	flag.IntVar(&c.train, "train", c.train, "training images (plaintext, at the model owner)")
	flag.IntVar(&c.epochs, "epochs", c.epochs, "training epochs")
	flag.IntVar(&c.batch, "batch", c.batch, "training batch size")
	flag.IntVar(&c.test, "test", c.test, "test images classified under encryption")
	flag.IntVar(&c.chunk, "chunk", c.chunk, "test images per encrypted forward pass")
	flag.IntVar(&c.parties, "parties", c.parties, "MPC parties (party 0 holds the images, party 1 the model)")
	flag.Float64Var(&c.lr, "lr", c.lr, "Adam learning rate")
	flag.Uint64Var(&c.seed, "seed", c.seed, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "cifar:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, c config) (*infer.Outcome, error) {
	if c.train < 1 || c.test < 1 {
		return nil, fmt.Errorf("-train %d, -test %d: want positive counts", c.train, c.test)
	}
	model := zoo.CIFARLeNet(tensor.NewRNG(c.seed))
	x, y := dataset.Patterns(c.train, c.seed+10)
	fmt.Fprintf(w, "model owner: training the CIFAR LeNet (%d parameters) in the clear on %d CIFAR-shaped images\n", model.NumParams(), c.train)
	if err := infer.Train(w, model, x, y, infer.TrainConfig{Epochs: c.epochs, Batch: c.batch, LR: c.lr, Seed: c.seed + 1}); err != nil {
		return nil, err
	}
	tx, labels := dataset.Patterns(c.test, c.seed+20)
	return infer.Compare(w, model, tx, labels, c.parties, c.chunk)
}
