// Command lenet runs a LeNet on encrypted images with an encrypted model,
// after CrypTen's mpc_cifar and tfe_benchmarks examples: the network is
// trained in the clear by its owner (party 1) on synthetic MNIST-shaped
// digits, or loaded from an ONNX file; the owner shares it with party 0 as
// architecture plus secret-shared weights; party 0 encrypts its test images;
// the parties classify them jointly and only party 0 learns the predicted
// labels. The program prints the training progress, then compares the
// encrypted predictions and logits with plaintext inference.
//
// Usage:
//
//	go run ./examples/lenet [-train 2000] [-epochs 2] [-test 64] [-model lenet.onnx]
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/mpc/nn/zoo"
	"github.com/gomplab/gomplab/tensor"
)

type config struct {
	train, epochs, batch, test, parties int
	lr                                  float64
	model                               string
	seed                                uint64
}

func main() {
	var c config
	flag.IntVar(&c.train, "train", 2000, "synthetic training images (plaintext, at the model owner)")
	flag.IntVar(&c.epochs, "epochs", 2, "training epochs")
	flag.IntVar(&c.batch, "batch", 64, "training batch size")
	flag.IntVar(&c.test, "test", 64, "test images classified under encryption")
	flag.IntVar(&c.parties, "parties", 2, "number of MPC parties (party 0 holds the images, party 1 the model)")
	flag.Float64Var(&c.lr, "lr", 0.005, "Adam learning rate")
	flag.StringVar(&c.model, "model", "", "ONNX model to use instead of training one (1x28x28 input, 10 outputs)")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "lenet:", err)
		os.Exit(1)
	}
}

// trainPlain trains m on synthetic digits in the clear, as the model owner
// would before offering private inference.
func trainPlain(w io.Writer, m *nn.Model, c config) error {
	x, y := dataset.Digits(c.train, c.seed)
	opt := nn.NewAdam(m.Parameters(), c.lr)
	m.Train()
	for epoch := 1; epoch <= c.epochs; epoch++ {
		start := time.Now()
		var total float64
		batches := 0
		for i := 0; i < c.train; i += c.batch {
			j := min(i+c.batch, c.train)
			opt.ZeroGrad()
			out, err := m.Forward(nn.NewVariable(x.Slice(0, i, j, 1)))
			if err != nil {
				return err
			}
			loss := nn.CrossEntropyLoss(out, nn.NewVariable(y.Slice(0, i, j, 1)))
			if err := loss.Backward(); err != nil {
				return err
			}
			if err := opt.Step(); err != nil {
				return err
			}
			total += loss.Tensor().Item()
			batches++
		}
		fmt.Fprintf(w, "  epoch %d: mean loss %.4f (%v)\n", epoch, total/float64(batches), time.Since(start).Round(time.Millisecond))
	}
	m.Eval()
	return nil
}

// outcome is what the comparison found.
type outcome struct {
	Agree, Correct int     // encrypted predictions equal to plaintext ones; to the true labels
	MaxLogitError  float64 // encrypted against plaintext logits
}

func argmax(t *tensor.Tensor) []int {
	a := t.Argmax(1, false).Data()
	out := make([]int, len(a))
	for i, v := range a {
		out[i] = int(v)
	}
	return out
}

func run(w io.Writer, c config) (*outcome, error) {
	var model *nn.Model
	if c.model != "" {
		var err error
		if model, err = onnx.Load(c.model); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "loaded %s (%d parameters)\n", c.model, model.NumParams())
	} else {
		model = zoo.LeNet(tensor.NewRNG(c.seed))
		fmt.Fprintf(w, "training LeNet (%d parameters) in the clear on %d synthetic digits\n", model.NumParams(), c.train)
		if err := trainPlain(w, model, c); err != nil {
			return nil, err
		}
	}
	x, labels := dataset.Digits(c.test, c.seed+1000)
	plainOut, err := model.Forward(nn.NewVariable(x))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "encrypted inference on %d images, %d parties: party 1 shares the model, party 0 the images\n", c.test, c.parties)
	res, err := mpc.RunLocal(c.parties, func(p *mpc.Party) (any, error) {
		var mine *nn.Model
		images := tensor.ZerosLike(x)
		switch p.Rank() {
		case 1:
			mine = model
		case 0:
			images = x
		}
		start := time.Now()
		m, err := nn.ShareModel(p, mine, 1)
		if err != nil {
			return nil, err
		}
		logits, err := m.Forward(nn.NewVariable(images).Encrypt(p, 0))
		if err != nil {
			return nil, err
		}
		// Only party 0, the data owner, learns the result.
		t, err := logits.PlainTextTo(0)
		if p.Rank() == 0 && err == nil {
			fmt.Fprintf(w, "  party 0: classified in %v\n", time.Since(start).Round(time.Millisecond))
		}
		return t, err
	})
	if err != nil {
		return nil, err
	}
	encOut := res[0].Value.(*tensor.Tensor)
	if res[1].Value.(*tensor.Tensor) != nil {
		return nil, fmt.Errorf("party 1 learned the logits")
	}
	o := &outcome{MaxLogitError: tensor.MaxAbsDiff(encOut, plainOut.Tensor())}
	pe, pp := argmax(encOut), argmax(plainOut.Tensor())
	for i := range pe {
		if pe[i] == pp[i] {
			o.Agree++
		}
		if pe[i] == int(labels.Data()[i]) {
			o.Correct++
		}
	}
	fmt.Fprintf(w, "  %d bytes sent and %d rounds per party\n", res[0].Stats.BytesSent, res[0].Stats.Rounds)
	fmt.Fprintf(w, "encrypted predictions agree with plaintext on %d/%d images; %d/%d correct; max logit error %.2e\n",
		o.Agree, c.test, o.Correct, c.test, o.MaxLogitError)
	if math.IsNaN(o.MaxLogitError) {
		return nil, fmt.Errorf("NaN logits")
	}
	return o, nil
}
