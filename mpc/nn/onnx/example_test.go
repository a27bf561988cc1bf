package onnx_test

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/tensor"
)

func ExampleLoad() {
	m, err := onnx.Load("../testdata/lenet.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := m.Forward(nn.NewVariable(tensor.Zeros(2, 1, 28, 28)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(m.Params()), "parameters,", m.NumParams(), "weights; output shape", out.Shape())
	// Output: 8 parameters, 33542 weights; output shape [2 10]
}

func ExampleLoad_unsupported() {
	_, err := onnx.Load("../testdata/unsupported.onnx")
	fmt.Println(err)
	// Output: onnx: Celu node "celu0": unsupported operator Celu (file ../testdata/unsupported.onnx)
}
