// Command logreg trains a logistic regression on encrypted data: party 0
// holds the features and labels, everything (data, weights, gradients) stays
// secret-shared, and only the per-epoch loss and the final accuracy are
// revealed. The same training then runs on plaintext from the same
// initialization, and the two loss curves are printed side by side.
//
// Usage:
//
//	go run ./examples/logreg [-samples 1000] [-features 100] [-batch 100] [-epochs 5] [-lr 1]
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
	samples, features, batch, epochs, parties int
	lr                                        float64
	seed                                      uint64
}

func main() {
	var c config
	flag.IntVar(&c.samples, "samples", 1000, "training samples")
	flag.IntVar(&c.features, "features", 100, "features per sample")
	flag.IntVar(&c.batch, "batch", 100, "batch size")
	flag.IntVar(&c.epochs, "epochs", 5, "epochs")
	flag.IntVar(&c.parties, "parties", 2, "number of MPC parties")
	flag.Float64Var(&c.lr, "lr", 1, "SGD learning rate")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "logreg:", err)
		os.Exit(1)
	}
}

// history is one training run: the mean loss of each epoch, the final
// training accuracy and weights.
type history struct {
	Loss     []float64
	Accuracy float64
	Weight   *tensor.Tensor
}

// train fits the model on party p (nil: plaintext). Party 0's data and
// initial weights are used; every party ends with the same history.
func train(p *mpc.Party, x, y *tensor.Tensor, c config, progress io.Writer) (*history, error) {
	model := nn.NewModel(nn.NewLinear(c.features, 1, tensor.NewRNG(c.seed+1)))
	xv, yv := nn.NewVariable(x), nn.NewVariable(y)
	if p != nil {
		if err := model.Encrypt(p, 0); err != nil {
			return nil, err
		}
		xv, yv = xv.Encrypt(p, 0), yv.Encrypt(p, 0)
	}
	opt := nn.NewSGD(model.Parameters(), c.lr, 0, 0)
	h := &history{}
	for epoch := 1; epoch <= c.epochs; epoch++ {
		start := time.Now()
		var losses []*nn.Variable
		for i := 0; i < c.samples; i += c.batch {
			j := min(i+c.batch, c.samples)
			opt.ZeroGrad()
			logits, err := model.Forward(xv.Slice(0, i, j, 1))
			if err != nil {
				return nil, err
			}
			loss := nn.BCEWithLogitsLoss(logits, yv.Slice(0, i, j, 1))
			if err := loss.Backward(); err != nil {
				return nil, err
			}
			if err := opt.Step(); err != nil {
				return nil, err
			}
			losses = append(losses, loss.Detach())
		}
		// One reveal per epoch: the mean of the batch losses.
		mean, err := nn.Concat(0, reshape1(losses)...).Mean().PlainText()
		if err != nil {
			return nil, err
		}
		h.Loss = append(h.Loss, mean.Item())
		if progress != nil {
			fmt.Fprintf(progress, "epoch %2d  loss %.4f  (%v)\n", epoch, mean.Item(), time.Since(start).Round(time.Millisecond))
		}
	}
	// Accuracy: the fraction of samples whose logit has the label's sign.
	logits, err := model.Forward(xv)
	if err != nil {
		return nil, err
	}
	right := yv.MulScalar(2).AddScalar(-1).Mul(logits).Sign().AddScalar(1).MulScalar(0.5).Mean()
	acc, err := right.PlainText()
	if err != nil {
		return nil, err
	}
	h.Accuracy = acc.Item()
	if p != nil {
		if err := model.Decrypt(); err != nil {
			return nil, err
		}
	}
	h.Weight = model.Params()[0].Var.Tensor()
	return h, nil
}

func reshape1(vs []*nn.Variable) []*nn.Variable {
	out := make([]*nn.Variable, len(vs))
	for i, v := range vs {
		out[i] = v.Reshape(1)
	}
	return out
}

func run(w io.Writer, c config) ([2]*history, error) {
	x, pm, _, _ := dataset.Hyperplane(c.samples, c.features, c.seed)
	y := dataset.ZeroOne(pm)
	fmt.Fprintf(w, "logistic regression: %d samples x %d features, batch %d, %d parties\n", c.samples, c.features, c.batch, c.parties)
	fmt.Fprintln(w, "-- encrypted training (party 0's view)")
	res, err := mpc.RunLocal(c.parties, func(p *mpc.Party) (any, error) {
		var out io.Writer
		if p.Rank() == 0 {
			out = w
		}
		return train(p, x, y, c, out)
	})
	if err != nil {
		return [2]*history{}, err
	}
	enc := res[0].Value.(*history)
	fmt.Fprintf(w, "   %d bytes sent and %d rounds per party in %v\n", res[0].Stats.BytesSent, res[0].Stats.Rounds, res[0].Elapsed.Round(time.Millisecond))
	fmt.Fprintln(w, "-- plaintext training from the same initialization")
	plain, err := train(nil, x, y, c, nil)
	if err != nil {
		return [2]*history{}, err
	}
	fmt.Fprintln(w, "epoch  encrypted loss  plaintext loss")
	for i := range plain.Loss {
		fmt.Fprintf(w, "%5d  %14.4f  %14.4f\n", i+1, enc.Loss[i], plain.Loss[i])
	}
	fmt.Fprintf(w, "training accuracy: encrypted %.3f, plaintext %.3f; weights differ by %.2e\n",
		enc.Accuracy, plain.Accuracy, tensor.MaxAbsDiff(enc.Weight, plain.Weight))
	return [2]*history{enc, plain}, nil
}
