// Command mlp trains a two-layer perceptron on encrypted MNIST-shaped
// images, after CrypTen's tutorial on training encrypted networks: party 0
// holds synthetic 28x28 digit images and their labels, the network is
// initialized publicly and encrypted, and training (forward, cross-entropy,
// backward, SGD) runs entirely on secret shares. Each epoch reveals only its
// mean loss; at the end the model is decrypted and tested. The same
// training on plaintext from the same initialization is printed alongside.
//
// With -data mnist it trains on real MNIST digits (the first -train
// training images, normalized) and tests on the first -test test images.
//
// Usage:
//
//	go run ./examples/mlp [-data digits|mnist] [-train 1000] [-test 500] [-hidden 64] [-epochs 5] [-batch 64] [-lr 0.2]
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
	data                                        string // "digits" (synthetic) or "mnist"
	train, test, hidden, epochs, batch, parties int
	lr                                          float64
	seed                                        uint64
}

func main() {
	var c config
	flag.StringVar(&c.data, "data", "digits", "digits (synthetic) or mnist (real)")
	flag.IntVar(&c.train, "train", 1000, "training images")
	flag.IntVar(&c.test, "test", 500, "test images")
	flag.IntVar(&c.hidden, "hidden", 64, "hidden units")
	flag.IntVar(&c.epochs, "epochs", 5, "epochs")
	flag.IntVar(&c.batch, "batch", 64, "batch size")
	flag.IntVar(&c.parties, "parties", 2, "number of MPC parties")
	flag.Float64Var(&c.lr, "lr", 0.2, "SGD learning rate")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "mlp:", err)
		os.Exit(1)
	}
}

// MLP is the network: 784 inputs, one ReLU hidden layer, 10 logits.
func MLP(hidden int, seed uint64) *nn.Model {
	r := tensor.NewRNG(seed)
	return nn.NewModel(nn.NewSequential(
		nn.NewFlatten(1), nn.NewLinear(dataset.Side*dataset.Side, hidden, r), nn.NewReLU(), nn.NewLinear(hidden, dataset.Classes, r)))
}

// history is one training run: mean loss per epoch, test accuracy and the
// trained weights.
type history struct {
	Loss     []float64
	Accuracy float64
	Params   []*tensor.Tensor
}

// train runs the training on party p (nil: plaintext) with party 0's data.
func train(p *mpc.Party, x, labels *tensor.Tensor, c config, progress io.Writer) (*history, *nn.Model, error) {
	model := MLP(c.hidden, c.seed+1)
	xv := nn.NewVariable(x)
	yv := nn.NewVariable(tensor.OneHot(labels, dataset.Classes)) // one-hot rows, so labels can be encrypted
	if p != nil {
		if err := model.Encrypt(p, 0); err != nil {
			return nil, nil, err
		}
		xv, yv = xv.Encrypt(p, 0), yv.Encrypt(p, 0)
	}
	opt := nn.NewSGD(model.Parameters(), c.lr, 0, 0)
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
	pred := out.Tensor().Argmax(1, false)
	return pred.Eq(labels).MeanAll(), nil
}

// load returns c.train training and c.test test images and labels.
func load(c config) (x, labels, tx, tl *tensor.Tensor, what string, err error) {
	switch c.data {
	case "digits", "":
		x, labels = dataset.Digits(c.train, c.seed)
		tx, tl = dataset.Digits(c.test, c.seed+1000)
		return x, labels, tx, tl, "synthetic digits", nil
	case "mnist":
		if x, labels, err = dataset.MNIST("train", c.train); err != nil {
			return
		}
		if tx, tl, err = dataset.MNIST("test", c.test); err != nil {
			return
		}
		// MNIST's pixel mean and standard deviation, as PyTorch's examples normalize.
		norm := func(t *tensor.Tensor) *tensor.Tensor { return t.AddScalar(-0.1307).MulScalar(1 / 0.3081) }
		return norm(x), labels, norm(tx), tl, "real MNIST digits", nil
	}
	return nil, nil, nil, nil, "", fmt.Errorf("-data %q: want digits or mnist", c.data)
}

func run(w io.Writer, c config) ([2]*history, error) {
	x, labels, tx, tl, what, err := load(c)
	if err != nil {
		return [2]*history{}, err
	}
	fmt.Fprintf(w, "MLP 784-%d-10 on %d %s, batch %d, %d parties\n", c.hidden, c.train, what, c.batch, c.parties)
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
	var diff float64
	for i := range plain.Params {
		diff = max(diff, tensor.MaxAbsDiff(enc.Params[i], plain.Params[i]))
	}
	fmt.Fprintf(w, "test accuracy on %d images: encrypted-trained %.3f, plaintext-trained %.3f; weights differ by %.2e\n",
		c.test, enc.Accuracy, plain.Accuracy, diff)
	return [2]*history{enc, plain}, nil
}
