// Command cnn trains a small convolutional network on encrypted images
// with Adam, after CrypTen's tutorial on training encrypted networks:
// party 0 holds synthetic MNIST-shaped digits and their labels, the
// network (a 5x5 convolution to 4 channels, ReLU, 2x2 max pooling and a
// linear layer to 10 logits) is initialized publicly and encrypted, and
// every step — forward, cross-entropy, backward, Adam — runs on secret
// shares. Adam's moments stay at twice the fixed-point precision, where
// small gradients and their squares keep their digits. Each epoch reveals
// only its mean loss; at the end the model is decrypted and tested, and
// the same training on plaintext from the same initialization is printed
// alongside, with the largest weight difference.
//
// Usage:
//
//	go run ./examples/cnn [-train 640] [-batch 64] [-epochs 5] [-lr 0.001] [-parties 2]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/tensor"
)

type config struct {
	train, test, epochs, batch, parties int
	lr                                  float64
	seed                                uint64
}

// defaults is the configuration the flags start from: 50 Adam steps at
// PyTorch's default learning rate.
var defaults = config{train: 640, test: 500, epochs: 5, batch: 64, parties: 2, lr: 0.001, seed: 1}

func main() {
	c := defaults
	flag.IntVar(&c.train, "train", c.train, "training images")
	flag.IntVar(&c.test, "test", c.test, "test images")
	flag.IntVar(&c.epochs, "epochs", c.epochs, "epochs")
	flag.IntVar(&c.batch, "batch", c.batch, "batch size")
	flag.IntVar(&c.parties, "parties", c.parties, "number of MPC parties")
	flag.Float64Var(&c.lr, "lr", c.lr, "Adam learning rate")
	flag.Uint64Var(&c.seed, "seed", c.seed, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "cnn:", err)
		os.Exit(1)
	}
}

// CNN is the network: conv 1→4 (5x5), ReLU, 2x2 max pool, linear 576→10.
func CNN(seed uint64) *nn.Model {
	r := tensor.NewRNG(seed)
	return nn.NewModel(nn.NewSequential(
		nn.NewConv2d(1, 4, 5, tensor.ConvOpts{}, r), nn.NewReLU(),
		nn.NewMaxPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}),
		nn.NewFlatten(1), nn.NewLinear(4*12*12, dataset.Classes, r)))
}

// history is one training run: mean loss per epoch, test accuracy and the
// trained parameters.
type history struct {
	Loss     []float64
	Accuracy float64
	Params   []*tensor.Tensor
}

// train runs the training on party p (nil: plaintext) with party 0's data.
func train(p *mpc.Party, x, labels *tensor.Tensor, c config, progress io.Writer) (*history, *nn.Model, error) {
	model := CNN(c.seed + 1)
	xv := nn.NewVariable(x)
	yv := nn.NewVariable(tensor.OneHot(labels, dataset.Classes)) // one-hot rows, so labels can be encrypted
	if p != nil {
		if err := model.Encrypt(p, 0); err != nil {
			return nil, nil, err
		}
		xv, yv = xv.Encrypt(p, 0), yv.Encrypt(p, 0)
	}
	opt := nn.NewAdam(model.Parameters(), c.lr)
	h := &history{}
	for epoch := 1; epoch <= c.epochs; epoch++ {
		start := time.Now()
		var losses []*nn.Variable
		for i := 0; i < c.train; i += c.batch {
			j := min(i+c.batch, c.train)
			opt.ZeroGrad()
			out, err := model.Forward(xv.Slice(0, i, j, 1))
			if err != nil {
				return nil, nil, err
			}
			loss := nn.CrossEntropyLoss(out, yv.Slice(0, i, j, 1))
			if err := loss.Backward(); err != nil {
				return nil, nil, err
			}
			if err := opt.Step(); err != nil {
				return nil, nil, err
			}
			losses = append(losses, loss.Detach().Reshape(1))
		}
		mean, err := nn.Concat(0, losses...).Mean().PlainText()
		if err != nil {
			return nil, nil, err
		}
		h.Loss = append(h.Loss, mean.Item())
		if progress != nil {
			fmt.Fprintf(progress, "epoch %d  loss %.4f  (%v)\n", epoch, mean.Item(), time.Since(start).Round(time.Millisecond))
		}
	}
	if p != nil {
		if err := model.Decrypt(); err != nil {
			return nil, nil, err
		}
	}
	for _, q := range model.Params() {
		h.Params = append(h.Params, q.Var.Tensor())
	}
	return h, model, nil
}

// accuracy tests a plaintext model.
func accuracy(m *nn.Model, x, labels *tensor.Tensor) (float64, error) {
	m.Eval()
	out, err := m.Forward(nn.NewVariable(x))
	if err != nil {
		return 0, err
	}
	return out.Tensor().Argmax(1, false).Eq(labels).MeanAll(), nil
}

// maxDiff is the largest difference between two runs' parameters.
func maxDiff(a, b *history) float64 {
	d := 0.0
	for i := range a.Params {
		d = max(d, tensor.MaxAbsDiff(a.Params[i], b.Params[i]))
	}
	return d
}

func run(w io.Writer, c config) ([2]*history, error) {
	x, labels := dataset.Digits(c.train, c.seed)
	tx, tl := dataset.Digits(c.test, c.seed+1000)
	fmt.Fprintf(w, "CNN (conv 5x5x4, ReLU, max pool, linear) on %d synthetic digits, batch %d, Adam lr %g, %d parties\n",
		c.train, c.batch, c.lr, c.parties)
	fmt.Fprintln(w, "-- encrypted training (party 0's view)")
	res, err := mpc.RunLocal(c.parties, func(p *mpc.Party) (any, error) {
		var out io.Writer
		if p.Rank() == 0 {
			out = w
		}
		h, m, err := train(p, x, labels, c, out)
		if err != nil {
			return nil, err
		}
		h.Accuracy, err = accuracy(m, tx, tl)
		return h, err
	})
	if err != nil {
		return [2]*history{}, err
	}
	enc := res[0].Value.(*history)
	fmt.Fprintf(w, "   %.1f MB sent and %d rounds per party in %v\n", float64(res[0].Stats.BytesSent)/1e6, res[0].Stats.Rounds, res[0].Elapsed.Round(time.Millisecond))
	fmt.Fprintln(w, "-- plaintext training from the same initialization")
	plain, m, err := train(nil, x, labels, c, nil)
	if err != nil {
		return [2]*history{}, err
	}
	if plain.Accuracy, err = accuracy(m, tx, tl); err != nil {
		return [2]*history{}, err
	}
	fmt.Fprintln(w, "epoch  encrypted loss  plaintext loss")
	for i := range plain.Loss {
		fmt.Fprintf(w, "%5d  %14.4f  %14.4f\n", i+1, enc.Loss[i], plain.Loss[i])
	}
	fmt.Fprintf(w, "test accuracy on %d images: encrypted-trained %.3f, plaintext-trained %.3f; weights differ by %.2e\n",
		c.test, enc.Accuracy, plain.Accuracy, maxDiff(enc, plain))
	return [2]*history{enc, plain}, nil
}
