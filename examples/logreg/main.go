// Command logreg trains a logistic regression on encrypted data: party 0
// holds the features and labels, everything (data, weights, gradients) stays
// secret-shared, and only the per-epoch loss and the final accuracy are
// revealed. The same training then runs on plaintext from the same
// initialization, and the two loss curves are printed side by side.
//
// With -optim adam it trains with Adam instead of SGD (50 steps at the
// defaults), whose moments stay at twice the fixed-point precision.
//
// With -data breast-cancer it trains on real data instead of points
// labelled by a random hyperplane: scikit-learn's Wisconsin breast cancer
// set (569 tumours, 30 features, read from Debian's python3-sklearn),
// standardized by its owner, 80% for training and 20% held out; it then
// also reports both models' accuracy on the held-out samples.
//
// Usage:
//
//	go run ./examples/logreg [-data hyperplane|breast-cancer] [-samples 1000] [-features 100] [-batch 100] [-epochs 5] [-optim sgd|adam] [-lr 1]
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
	data                                      string // "hyperplane" or "breast-cancer"
	samples, features, batch, epochs, parties int
	optim                                     string // "sgd" or "adam"
	lr                                        float64
	seed                                      uint64
}

// defaults is the configuration the flags start from; the learning rate
// depends on the optimizer (defaultLR).
var defaults = config{data: "hyperplane", samples: 1000, features: 100, batch: 100, epochs: 5, parties: 2, optim: "sgd", seed: 1}

// defaultLR is each optimizer's default learning rate.
var defaultLR = map[string]float64{"sgd": 1, "adam": 0.01}

func main() {
	c := defaults
	flag.StringVar(&c.data, "data", c.data, "hyperplane (synthetic) or breast-cancer (scikit-learn's, real)")
	flag.IntVar(&c.samples, "samples", c.samples, "training samples (hyperplane data)")
	flag.IntVar(&c.features, "features", c.features, "features per sample (hyperplane data)")
	flag.IntVar(&c.batch, "batch", c.batch, "batch size")
	flag.IntVar(&c.epochs, "epochs", c.epochs, "epochs")
	flag.IntVar(&c.parties, "parties", c.parties, "number of MPC parties")
	flag.StringVar(&c.optim, "optim", c.optim, "optimizer: sgd or adam")
	flag.Float64Var(&c.lr, "lr", 0, "learning rate (default 1 for SGD, 0.01 for Adam)")
	flag.Uint64Var(&c.seed, "seed", c.seed, "random seed")
	flag.Parse()
	if _, ok := defaultLR[c.optim]; !ok {
		fmt.Fprintf(os.Stderr, "logreg: unknown optimizer %q (want sgd or adam)\n", c.optim)
		os.Exit(2)
	}
	if c.lr == 0 {
		c.lr = defaultLR[c.optim]
	}
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "logreg:", err)
		os.Exit(1)
	}
}

// history is one training run: the mean loss of each epoch, the final
// training accuracy, and the weights and bias (flattened, concatenated).
type history struct {
	Loss     []float64
	Accuracy float64
	Weight   *tensor.Tensor
	Test     float64 // accuracy on the held-out samples (breast-cancer data)
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
	var opt nn.Optimizer = nn.NewSGD(model.Parameters(), c.lr, 0, 0)
	if c.optim == "adam" {
		opt = nn.NewAdam(model.Parameters(), c.lr)
	}
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
	var ps []*tensor.Tensor
	for _, q := range model.Params() {
		ps = append(ps, q.Var.Tensor().Reshape(-1))
	}
	h.Weight = tensor.Concat(0, ps...)
	return h, nil
}

func reshape1(vs []*nn.Variable) []*nn.Variable {
	out := make([]*nn.Variable, len(vs))
	for i, v := range vs {
		out[i] = v.Reshape(1)
	}
	return out
}

// load returns the training and held-out samples (x, labels 0/1 of
// shape (n, 1)) of c.data, and sets c.samples and c.features to the
// training set's.
func load(c *config) (x, y, tx, ty *tensor.Tensor, err error) {
	switch c.data {
	case "hyperplane", "":
		x, pm, _, _ := dataset.Hyperplane(c.samples, c.features, c.seed)
		return x, dataset.ZeroOne(pm), nil, nil, nil
	case "breast-cancer":
		all, labels, err := dataset.BreastCancer()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		z, _, _ := dataset.Standardize(all)
		n := all.Shape()[0] * 4 / 5
		x, y, tx, ty := dataset.Split(z, labels.Reshape(-1, 1), n, c.seed)
		c.samples, c.features = n, all.Shape()[1]
		return x, y, tx, ty, nil
	}
	return nil, nil, nil, nil, fmt.Errorf("-data %q: want hyperplane or breast-cancer", c.data)
}

// testAccuracy is the fraction of held-out samples on the right side of
// the trained weights (plaintext: the model owner evaluates it after
// decryption).
func testAccuracy(weight, tx, ty *tensor.Tensor) float64 {
	d := tx.Shape()[1]
	w, b := weight.Slice(0, 0, d, 1), weight.Data()[d]
	right := 0
	for i, s := range tensor.MatMul(tx, w).AddScalar(b).Data() {
		if (s >= 0) == (ty.Data()[i] == 1) {
			right++
		}
	}
	return float64(right) / float64(len(ty.Data()))
}

func run(w io.Writer, c config) ([2]*history, error) {
	x, y, tx, ty, err := load(&c)
	if err != nil {
		return [2]*history{}, err
	}
	fmt.Fprintf(w, "logistic regression on %s data: %d samples x %d features, batch %d, %s at learning rate %g, %d parties\n", c.data, c.samples, c.features, c.batch, c.optim, c.lr, c.parties)
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
	if tx != nil {
		enc.Test, plain.Test = testAccuracy(enc.Weight, tx, ty), testAccuracy(plain.Weight, tx, ty)
		fmt.Fprintf(w, "held-out accuracy (%d samples): encrypted-trained %.3f, plaintext-trained %.3f\n", tx.Shape()[0], enc.Test, plain.Test)
	}
	return [2]*history{enc, plain}, nil
}
