package main

// The function in this file is shipped to the workers by
// syft.RunMultiWorkers and runs there, one MPC party per worker, in the
// jail: it may use only tensor, mpc and mpc/nn. Alice is rank 0, bob rank
// 1; each party reads its own worker's data by tag.

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// Tags under which the owners store the model and the images.
const (
	tagModel  = "resnet18"        // alice's ONNX file
	tagImages = "imagenet_images" // bob's images (N, 3, 224, 224)
)

// Ranks of the parties, in the order of the workers list.
const (
	alice = 0
	bob   = 1
)

// classify runs alice's model on bob's images from, from+n under
// encryption and opens the logits to bob, the images' owner, alone:
// alice's party returns nil. Alice's party sends the model's
// architecture and secret-shares its weights (nn.LoadModel); bob's party
// secret-shares the images (mpc.Load).
func classify(from, n int) (*tensor.Tensor, error) {
	images, err := mpc.Load(tagImages, bob)
	if err != nil {
		return nil, err
	}
	model, err := nn.LoadModel(tagModel, alice)
	if err != nil {
		return nil, err
	}
	logits, err := model.Forward(nn.NewEncrypted(images.Slice(0, from, from+n, 1)))
	if err != nil {
		return nil, err
	}
	return logits.CrypTensor().GetPlainTextTo(bob)
}
