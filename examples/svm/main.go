// Command svm trains a linear support-vector machine on encrypted data,
// after CrypTen's mpc_linear_svm example: random features, labels from a
// random hyperplane, and a linear model trained by full-batch gradient
// descent on a hinge loss while the data and the weights stay
// secret-shared between the parties. It then trains the same model on
// plaintext from the same initialization and prints both loss curves side
// by side.
//
// The defaults are CrypTen's: 50 samples of 100 features, 50 epochs at
// learning rate 0.5, and CrypTen's update, which moves the weights by the
// misclassified samples only (the hinge at margin 0: loss
// mean(max(0, −y·score))). -margin 1 -l2 0.01 trains the textbook SVM
// (hinge at margin 1, L2 penalty) instead. That one is ill-conditioned at
// these sizes: samples come to rest on the hinge (one lies 6e-6 from it
// in epoch 8 of the run with -samples 100 -features 50 -epochs 30), where
// a difference of 1e-4 in the data — or the fixed-point error of an
// encrypted run — sends it to the other side and the weights 0.02–0.05
// elsewhere, in plaintext as under encryption.
//
// Usage:
//
//	go run ./examples/svm [-samples 50] [-features 100] [-epochs 50] [-lr 0.5] [-margin 0] [-l2 0] [-parties 2]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/tensor"
)

type config struct {
	samples, features, epochs, parties int
	lr, weightDecay, margin            float64
	seed                               uint64
}

// defaults is the configuration the flags start from.
var defaults = config{samples: 50, features: 100, epochs: 50, parties: 2, lr: 0.5, seed: 1}

func main() {
	var c config
	flag.IntVar(&c.samples, "samples", defaults.samples, "training samples")
	flag.IntVar(&c.features, "features", defaults.features, "features per sample")
	flag.IntVar(&c.epochs, "epochs", defaults.epochs, "full-batch gradient steps")
	flag.IntVar(&c.parties, "parties", defaults.parties, "number of MPC parties")
	flag.Float64Var(&c.lr, "lr", defaults.lr, "learning rate")
	flag.Float64Var(&c.weightDecay, "l2", defaults.weightDecay, "L2 regularization (the textbook SVM's margin term)")
	flag.Float64Var(&c.margin, "margin", defaults.margin, "hinge margin: 0 updates on misclassified samples only (CrypTen's rule), 1 is the textbook SVM")
	flag.Uint64Var(&c.seed, "seed", defaults.seed, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "svm:", err)
		os.Exit(1)
	}
}

// history is one training run: the loss and accuracy after each epoch,
// and the final weights.
type history struct {
	Loss, Accuracy []float64
	Weight         *tensor.Tensor
}

// train fits the SVM on party p, or on plaintext when p is nil. Rank 0
// holds the data and the initial weights; every party ends with the same
// decrypted history.
func train(p *mpc.Party, x, y *tensor.Tensor, c config, progress io.Writer) (*history, error) {
	model := nn.NewModel(nn.NewLinear(c.features, 1, tensor.NewRNG(c.seed+1)))
	xv, yv := nn.NewVariable(x), nn.NewVariable(y)
	if p != nil {
		if err := model.Encrypt(p, 0); err != nil {
			return nil, err
		}
		xv, yv = xv.Encrypt(p, 0), yv.Encrypt(p, 0)
	}
	opt := nn.NewSGD(model.Parameters(), c.lr, 0, c.weightDecay)
	h := &history{}
	for epoch := 1; epoch <= c.epochs; epoch++ {
		opt.ZeroGrad()
		scores, err := model.Forward(xv)
		if err != nil {
			return nil, err
		}
		// Hinge loss: mean(max(0, margin - y*score)).
		loss := yv.Mul(scores).Neg().AddScalar(c.margin).Relu().Mean()
		if err := loss.Backward(); err != nil {
			return nil, err
		}
		if err := opt.Step(); err != nil {
			return nil, err
		}
		// Reveal only the aggregate progress, as CrypTen's example does: the
		// loss and the fraction of samples on the right side (sign(y*score)
		// is +1 there and -1 elsewhere).
		correct := yv.Mul(scores.Detach()).Sign().AddScalar(1).MulScalar(0.5).Mean()
		l, err := loss.PlainText()
		if err != nil {
			return nil, err
		}
		acc, err := correct.PlainText()
		if err != nil {
			return nil, err
		}
		h.Loss = append(h.Loss, l.Item())
		h.Accuracy = append(h.Accuracy, acc.Item())
		if progress != nil {
			fmt.Fprintf(progress, "epoch %3d  hinge loss %.4f  accuracy %.3f\n", epoch, l.Item(), acc.Item())
		}
	}
	if p != nil {
		if err := model.Decrypt(); err != nil {
			return nil, err
		}
	}
	h.Weight = model.Params()[0].Var.Tensor()
	return h, nil
}

func run(w io.Writer, c config) ([2]*history, error) {
	x, y, _, _ := dataset.Hyperplane(c.samples, c.features, c.seed)
	fmt.Fprintf(w, "linear SVM: %d samples x %d features, labels from a random hyperplane, hinge at margin %g; %d parties\n",
		c.samples, c.features, c.margin, c.parties)
	fmt.Fprintln(w, "-- encrypted training (rank 0's view)")
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
	fmt.Fprintf(w, "   %d bytes sent and %d rounds per party, %v\n", res[0].Stats.BytesSent, res[0].Stats.Rounds, res[0].Elapsed)
	fmt.Fprintln(w, "-- plaintext training from the same initialization")
	plain, err := train(nil, x, y, c, nil)
	if err != nil {
		return [2]*history{}, err
	}
	fmt.Fprintln(w, "epoch  encrypted loss  plaintext loss")
	for i := range plain.Loss {
		fmt.Fprintf(w, "%5d  %14.4f  %14.4f\n", i+1, enc.Loss[i], plain.Loss[i])
	}
	fmt.Fprintf(w, "final accuracy: encrypted %.3f, plaintext %.3f; weights differ by %.2e\n",
		enc.Accuracy[len(enc.Accuracy)-1], plain.Accuracy[len(plain.Accuracy)-1], tensor.MaxAbsDiff(enc.Weight, plain.Weight))
	return [2]*history{enc, plain}, nil
}
