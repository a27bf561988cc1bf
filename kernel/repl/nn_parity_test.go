package repl

import (
	"context"
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// TestParityModulesInCells builds a network from the modules added for
// CrypTen parity in a cell, as a notebook user would, and checks its
// output against the same network built in Go (the symbol tables export
// the new API).
func TestParityModulesInCells(t *testing.T) {
	build := func() *nn.Model {
		r := tensor.NewRNG(1)
		return nn.NewModel(nn.NewSequential(
			nn.NewConv1d(2, 4, 3, tensor.Conv1dOpts{Padding: 1}, r), nn.NewGELU(false),
			nn.NewLayerNorm(4, 6), nn.NewLeakyReLU(0.1), nn.NewUnsqueeze(1),
			nn.NewConvTranspose2d(1, 2, 2, tensor.ConvTransposeOpts{Stride: [2]int{2, 2}}, r),
			nn.NewGroupNorm(2, 2), nn.NewReLU6(), nn.NewAdaptiveMaxPool2d(3, 5), nn.NewGlobalAveragePool(),
			nn.NewFlatten(1)))
	}
	x := tensor.RandN(2, 3, 2, 6)
	want, err := build().Forward(nn.NewVariable(x))
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := newTestSession(t)
	cell := `import (
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)
r := tensor.NewRNG(1)
m := nn.NewModel(nn.NewSequential(
	nn.NewConv1d(2, 4, 3, tensor.Conv1dOpts{Padding: 1}, r), nn.NewGELU(false),
	nn.NewLayerNorm(4, 6), nn.NewLeakyReLU(0.1), nn.NewUnsqueeze(1),
	nn.NewConvTranspose2d(1, 2, 2, tensor.ConvTransposeOpts{Stride: [2]int{2, 2}}, r),
	nn.NewGroupNorm(2, 2), nn.NewReLU6(), nn.NewAdaptiveMaxPool2d(3, 5), nn.NewGlobalAveragePool(),
	nn.NewFlatten(1)))
out, err := m.Forward(nn.NewVariable(tensor.RandN(2, 3, 2, 6)))
if err != nil {
	panic(err)
}
fmt.Sprint(out.Tensor().Data())`
	res, cerr := s.Execute(context.Background(), "import \"fmt\"\n"+cell)
	if cerr != nil {
		t.Fatalf("%v %q", cerr, cerr.Traceback)
	}
	if got := resultText(t, res); got != fmt.Sprint(want.Tensor().Data()) {
		t.Errorf("cell computed %s, Go %v", got, want.Tensor().Data())
	}
}
