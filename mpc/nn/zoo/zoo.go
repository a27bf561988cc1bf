// Package zoo holds the network architectures of CrypTen's examples, so
// that examples, tests, benchmarks and notebooks build the same models:
// the LeNet of the MNIST examples, the three networks of CrypTen's
// tfe_benchmarks (after the TF Encrypted benchmarks: A, a three-layer
// perceptron; B and C, two convolutional networks), and the LeNet of
// CrypTen's mpc_cifar example for 3x32x32 images.
//
// Every constructor draws its initial weights from rng, so a seed gives
// the same model at every party and in plaintext. The networks are
// ordinary nn models: train them in the clear, share them with
// nn.ShareModel, or encrypt them for training.
package zoo

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// Classes is the number of outputs of every network here (MNIST's and
// CIFAR-10's classes).
const Classes = 10

var pool2 = tensor.PoolOpts{Kernel: [2]int{2, 2}}

// LeNet is the LeNet of gomplab's MNIST examples, for 1x28x28 images: two
// stages of a 5x5 convolution to 16 channels, ReLU and 2x2 max pooling,
// then fully connected layers 256 -> 100 -> 10 with a ReLU between.
// Max pooling keeps it closest to the classic network; TFE's network B
// (NetworkB) is the same shape with batch norm and average pooling.
func LeNet(rng *tensor.RNG) *nn.Model {
	return nn.NewModel(nn.NewSequential(
		nn.NewConv2d(1, 16, 5, tensor.ConvOpts{}, rng), nn.NewReLU(), nn.NewMaxPool2d(pool2),
		nn.NewConv2d(16, 16, 5, tensor.ConvOpts{}, rng), nn.NewReLU(), nn.NewMaxPool2d(pool2),
		nn.NewFlatten(1),
		nn.NewLinear(256, 100, rng), nn.NewReLU(),
		nn.NewLinear(100, Classes, rng),
	))
}

// NetworkA is TFE's network A (SecureML's), for 1x28x28 images: the image
// flattened, then fully connected layers 784 -> 128 -> 128 -> 10, each
// hidden layer followed by batch norm and a ReLU.
func NetworkA(rng *tensor.RNG) *nn.Model {
	return nn.NewModel(nn.NewSequential(
		nn.NewFlatten(1),
		nn.NewLinear(28*28, 128, rng), nn.NewBatchNorm1d(128), nn.NewReLU(),
		nn.NewLinear(128, 128, rng), nn.NewBatchNorm1d(128), nn.NewReLU(),
		nn.NewLinear(128, Classes, rng),
	))
}

// NetworkB is TFE's network B, for 1x28x28 images: two stages of a 5x5
// convolution to 16 channels, batch norm, ReLU and 2x2 average pooling,
// then 256 -> 100 (batch norm, ReLU) -> 10.
func NetworkB(rng *tensor.RNG) *nn.Model {
	return convNet(1, 16, 16, 100, 4, rng)
}

// NetworkC is TFE's network C, for 1x28x28 images: network B's shape
// with wider layers, 20 and 50 convolution channels and 800 -> 500 -> 10.
func NetworkC(rng *tensor.RNG) *nn.Model {
	return convNet(1, 20, 50, 500, 4, rng)
}

// CIFARLeNet is the LeNet of CrypTen's mpc_cifar example, for 3x32x32
// images: 5x5 convolutions to 6 and 16 channels, each followed by batch
// norm, ReLU and 2x2 average pooling, then 400 -> 120 (batch norm, ReLU)
// -> 84 (ReLU) -> 10.
func CIFARLeNet(rng *tensor.RNG) *nn.Model {
	return nn.NewModel(nn.NewSequential(
		nn.NewConv2d(3, 6, 5, tensor.ConvOpts{}, rng), nn.NewBatchNorm2d(6), nn.NewReLU(), nn.NewAvgPool2d(pool2),
		nn.NewConv2d(6, 16, 5, tensor.ConvOpts{}, rng), nn.NewBatchNorm2d(16), nn.NewReLU(), nn.NewAvgPool2d(pool2),
		nn.NewFlatten(1),
		nn.NewLinear(16*5*5, 120, rng), nn.NewBatchNorm1d(120), nn.NewReLU(),
		nn.NewLinear(120, 84, rng), nn.NewReLU(),
		nn.NewLinear(84, Classes, rng),
	))
}

// convNet is the two-stage convolutional network of TFE's B and C.
func convNet(in, c1, c2, hidden, side int, rng *tensor.RNG) *nn.Model {
	return nn.NewModel(nn.NewSequential(
		nn.NewConv2d(in, c1, 5, tensor.ConvOpts{}, rng), nn.NewBatchNorm2d(c1), nn.NewReLU(), nn.NewAvgPool2d(pool2),
		nn.NewConv2d(c1, c2, 5, tensor.ConvOpts{}, rng), nn.NewBatchNorm2d(c2), nn.NewReLU(), nn.NewAvgPool2d(pool2),
		nn.NewFlatten(1),
		nn.NewLinear(c2*side*side, hidden, rng), nn.NewBatchNorm1d(hidden), nn.NewReLU(),
		nn.NewLinear(hidden, Classes, rng),
	))
}

// Spec describes one architecture of the zoo: its name, the input shape
// of one sample and its constructor.
type Spec struct {
	Name  string
	Input []int // one sample's shape (channels, height, width)
	New   func(rng *tensor.RNG) *nn.Model
}

// All lists the zoo's architectures in a stable order, for programs and
// benchmarks that take a network by name.
func All() []Spec {
	mnist, cifar := []int{1, 28, 28}, []int{3, 32, 32}
	return []Spec{
		{"lenet", mnist, LeNet},
		{"A", mnist, NetworkA},
		{"B", mnist, NetworkB},
		{"C", mnist, NetworkC},
		{"cifar-lenet", cifar, CIFARLeNet},
	}
}

// Lookup returns the architecture called name (see All).
func Lookup(name string) (Spec, error) {
	var names []string
	for _, s := range All() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Spec{}, fmt.Errorf("zoo: no network %q (have %v)", name, names)
}
