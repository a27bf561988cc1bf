package mpc

import "github.com/gomplab/gomplab/tensor"

// protocolCostCases are the rows of docs/mpc.md's protocol and
// approximation tables that TestCosts measures besides its own.
var protocolCostCases = []costCase{
	{"mul", 4096, func(x *CrypTensor) func() { return func() { x.Mul(x) } }},
	{"square", 4096, func(x *CrypTensor) func() { return func() { x.Square() } }},
	{"sign bit (gt 0, lt, ge, le)", 4096, func(x *CrypTensor) func() { return func() { x.Gt(0) } }},
	{"eq", 4096, func(x *CrypTensor) func() { return func() { x.Eq(1) } }},
	{"relu", 4096, func(x *CrypTensor) func() { return func() { x.Relu() } }},
	{"abs", 4096, func(x *CrypTensor) func() { return func() { x.Abs() } }},
	{"sign", 4096, func(x *CrypTensor) func() { return func() { x.Sign() } }},
	{"A2B (ToBinary)", 4096, func(x *CrypTensor) func() { return func() { x.ToBinary() } }},
	{"max over 4 (rows)", 4096, func(x *CrypTensor) func() { y := x.Reshape(-1, 4); return func() { y.Max(1, false) } }},
	{"max over 10 (rows)", 4000, func(x *CrypTensor) func() { y := x.Reshape(-1, 10); return func() { y.Max(1, false) } }},
	{"argmax over 10 (rows, index)", 4000, func(x *CrypTensor) func() { y := x.Reshape(-1, 10); return func() { y.Argmax(1, false) } }},
	{"argmax over 10 (rows, one-hot)", 4000, func(x *CrypTensor) func() { y := x.Reshape(-1, 10); return func() { y.ArgmaxOneHot(1) } }},
	{"max over 32 (rows)", 4096, func(x *CrypTensor) func() { y := x.Reshape(-1, 32); return func() { y.Max(1, false) } }},
	{"max_pool2d 2x2", 4096, func(x *CrypTensor) func() {
		y := x.Reshape(1, 4, 32, 32)
		return func() { y.MaxPool2d(poolOpts2x2) }
	}},
	{"exp", 4096, func(x *CrypTensor) func() { return func() { x.Exp() } }},
	{"log", 4096, func(x *CrypTensor) func() { return func() { x.Log() } }},
	{"reciprocal", 4096, func(x *CrypTensor) func() { return func() { x.Reciprocal() } }},
	{"sqrt", 4096, func(x *CrypTensor) func() { return func() { x.Sqrt() } }},
	{"inv_sqrt", 4096, func(x *CrypTensor) func() { return func() { x.InvSqrt() } }},
	{"sigmoid", 4096, func(x *CrypTensor) func() { return func() { x.Sigmoid() } }},
	{"tanh", 4096, func(x *CrypTensor) func() { return func() { x.Tanh() } }},
	{"softmax over 10 (rows)", 4000, func(x *CrypTensor) func() { y := x.Reshape(-1, 10); return func() { y.Softmax(1) } }},
	{"log_softmax over 10 (rows)", 4000, func(x *CrypTensor) func() { y := x.Reshape(-1, 10); return func() { y.LogSoftmax(1) } }},
}

var poolOpts2x2 = tensor.PoolOpts{Kernel: [2]int{2, 2}}
