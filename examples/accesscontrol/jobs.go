package main

// The functions in this file are shipped to the workers by
// syft.RunMultiWorkers and run there, one MPC party per worker, in the
// jail: they may use only tensor, mpc and mpc/nn (and pure standard
// packages). Alice is rank 0, bob rank 1. Each party reads its own
// worker's data by tag; mpc.Load secret-shares it, so the other party
// receives only random-looking shares.

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// Tags under which the data owners store each scenario's data.
const (
	// Feature aggregation: alice the top half of every image (rows 0-13)
	// and the labels, bob the bottom half of the same images.
	tagAggFeatures = "agg_features"
	tagAggLabels   = "agg_labels"
	// Data labeling: alice the images, bob their labels.
	tagLabFeatures = "lab_features"
	tagLabLabels   = "lab_labels"
	// Dataset augmentation: each the images and labels of its own samples.
	tagAugFeatures = "aug_features"
	tagAugLabels   = "aug_labels"
	// Model hiding (seed 001's demo): alice's model, bob's images.
	tagModel = "crypten_model"
	tagData  = "crypten_data"
)

// Ranks of the parties, in the order of the workers list.
const (
	alice = 0
	bob   = 1
)

// Hidden is the width of the classifier the training scenarios fit.
const hidden = 32

// newClassifier is the model every training scenario fits: a 784-32-10
// network with ReLU. Its initial weights come from a fixed seed, so every
// party (and the plaintext reference) starts from the same public values.
func newClassifier() *nn.Model {
	r := tensor.NewRNG(1)
	return nn.NewModel(nn.NewSequential(nn.NewLinear(784, hidden, r), nn.NewReLU(), nn.NewLinear(hidden, 10, r)))
}

// fit trains a fresh classifier on images x (N, 784) and one-hot labels y
// (N, 10) by minibatch SGD on the cross-entropy loss, in order, and
// returns it with the mean loss of every epoch. The same code trains on
// plaintext Variables (the reference) and on encrypted ones (the jobs):
// with p set, the model's parameters are secret-shared first (from public
// values, so it costs nothing), every step runs under encryption, and
// only each epoch's mean loss and the final weights are revealed.
func fit(p *mpc.Party, x, y *nn.Variable, epochs, batch int, lr float64) (*nn.Model, *tensor.Tensor, error) {
	model := newClassifier()
	if p != nil {
		if err := model.Encrypt(p, alice); err != nil {
			return nil, nil, err
		}
	}
	model.Train()
	opt := nn.NewSGD(model.Parameters(), lr, 0, 0)
	n := x.Shape()[0]
	losses := make([]float64, 0, epochs)
	for e := 0; e < epochs; e++ {
		var sum *nn.Variable
		batches := 0
		for i := 0; i < n; i += batch {
			j := i + batch
			if j > n {
				j = n
			}
			opt.ZeroGrad()
			out, err := model.Forward(x.Slice(0, i, j, 1))
			if err != nil {
				return nil, nil, err
			}
			loss := nn.CrossEntropyLoss(out, y.Slice(0, i, j, 1))
			if err := loss.Backward(); err != nil {
				return nil, nil, err
			}
			if err := opt.Step(); err != nil {
				return nil, nil, err
			}
			if sum == nil {
				sum = loss.Detach()
			} else {
				sum = sum.Add(loss.Detach())
			}
			batches++
		}
		total, err := sum.PlainText() // one reveal per epoch
		if err != nil {
			return nil, nil, err
		}
		losses = append(losses, total.Item()/float64(batches))
	}
	if p != nil {
		if err := model.Decrypt(); err != nil { // the agreed output
			return nil, nil, err
		}
	}
	model.Eval()
	return model, tensor.FromSlice(losses), nil
}

// trained is what a training job returns on every rank: the decrypted
// model and its loss curve.
func trained(p *mpc.Party, x, y *mpc.CrypTensor, epochs, batch int, lr float64) (map[string]any, error) {
	model, losses, err := fit(p, nn.NewEncrypted(x), nn.NewEncrypted(y), epochs, batch, lr)
	if err != nil {
		return nil, err
	}
	return map[string]any{"model": model, "losses": losses}, nil
}

// featureAggregation: alice and bob hold different features of the same
// samples; the parties join them (encrypted) and train on the joint
// features.
func featureAggregation(epochs, batch int, lr float64) (map[string]any, error) {
	top, err := mpc.Load(tagAggFeatures, alice)
	if err != nil {
		return nil, err
	}
	bottom, err := mpc.Load(tagAggFeatures, bob)
	if err != nil {
		return nil, err
	}
	y, err := mpc.Load(tagAggLabels, alice)
	if err != nil {
		return nil, err
	}
	x := mpc.Concat(1, top, bottom) // (N, 392) + (N, 392) -> (N, 784)
	return trained(mpc.Default(), x, y, epochs, batch, lr)
}

// dataLabeling: alice holds the images, bob their labels.
func dataLabeling(epochs, batch int, lr float64) (map[string]any, error) {
	x, err := mpc.Load(tagLabFeatures, alice)
	if err != nil {
		return nil, err
	}
	y, err := mpc.Load(tagLabLabels, bob)
	if err != nil {
		return nil, err
	}
	return trained(mpc.Default(), x, y, epochs, batch, lr)
}

// datasetAugmentation: alice and bob each hold their own samples (images
// and labels); the parties stack them into one training set.
func datasetAugmentation(epochs, batch int, lr float64) (map[string]any, error) {
	xa, err := mpc.Load(tagAugFeatures, alice)
	if err != nil {
		return nil, err
	}
	ya, err := mpc.Load(tagAugLabels, alice)
	if err != nil {
		return nil, err
	}
	xb, err := mpc.Load(tagAugFeatures, bob)
	if err != nil {
		return nil, err
	}
	yb, err := mpc.Load(tagAugLabels, bob)
	if err != nil {
		return nil, err
	}
	return trained(mpc.Default(), mpc.Concat(0, xa, xb), mpc.Concat(0, ya, yb), epochs, batch, lr)
}

// modelHiding is seed 001's demo: alice's model classifies the first n of
// bob's images. The model's architecture reaches bob, its weights only as
// shares; the images reach alice only as shares; only the predicted labels
// are revealed.
func modelHiding(n int) (*tensor.Tensor, error) {
	data, err := mpc.Load(tagData, bob) // (N, 1, 28, 28)
	if err != nil {
		return nil, err
	}
	model, err := nn.LoadModel(tagModel, alice)
	if err != nil {
		return nil, err
	}
	x := data.Slice(0, 0, n, 1).FlattenFrom(1) // (n, 784)
	logits, err := model.Forward(nn.NewEncrypted(x))
	if err != nil {
		return nil, err
	}
	return logits.CrypTensor().Argmax(1, false).GetPlainText()
}
