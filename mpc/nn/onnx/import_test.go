package onnx

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

func fixturePath(name string) string { return filepath.Join("..", "testdata", name) }

func loadNPY(t testing.TB, name string) *tensor.Tensor {
	t.Helper()
	x, err := tensor.LoadNPY(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestImportMatchesPyTorch runs each fixture on its stored input and
// compares with PyTorch's output (computed in float64 from the same float32
// weights, so only summation order differs).
func TestImportMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"mlp", "lenet", "mixed", "mixed_opset9", "crafted", "dynamic", "digits_mlp"} {
		t.Run(name, func(t *testing.T) {
			m, err := Load(fixturePath(name + ".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			x := loadNPY(t, name+"_input.npy")
			want := loadNPY(t, name+"_output.npy")
			got, err := m.Forward(nn.NewVariable(x))
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(got.Shape(), want.Shape()) {
				t.Fatalf("output shape %v, want %v", got.Shape(), want.Shape())
			}
			if d := tensor.MaxAbsDiff(got.Tensor(), want); d > 1e-9 {
				t.Errorf("max abs difference from PyTorch %g", d)
			}
		})
	}
}

func TestImportStateDictNames(t *testing.T) {
	m, err := Load(fixturePath("lenet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	want := "conv1.weight conv1.bias conv2.weight conv2.bias fc1.weight fc1.bias fc2.weight fc2.bias"
	if strings.Join(names, " ") != want {
		t.Errorf("params %v, want %s", names, want)
	}
	mixed, err := Load(fixturePath("mixed.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range mixed.Params() {
		if strings.HasPrefix(p.Name, "bn1d.running") && !p.Buffer {
			t.Errorf("%s should be a buffer", p.Name)
		}
		if p.Name == "w" && p.Buffer {
			t.Errorf("w should be learnable")
		}
	}
}

func TestImportUnsupported(t *testing.T) {
	_, err := Load(fixturePath("unsupported.onnx"))
	if err == nil || !strings.Contains(err.Error(), "Celu") || !strings.Contains(err.Error(), "celu0") {
		t.Fatalf("error %v, want one naming Celu and node celu0", err)
	}
}

// TestImportedSpecRoundTrip is the model-hiding path: the owner describes
// an imported model, another party builds it from the description alone,
// and loading the weights reproduces the owner's outputs.
func TestImportedSpecRoundTrip(t *testing.T) {
	for _, name := range []string{"lenet", "mixed", "dynamic", "digits_mlp"} {
		m, err := Load(fixturePath(name + ".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		spec, err := m.Spec()
		if err != nil {
			t.Fatal(err)
		}
		b, err := spec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 8000 {
			t.Errorf("%s: spec is %d bytes; it should hold no weights", name, len(b))
		}
		s2, err := nn.UnmarshalSpec(b)
		if err != nil {
			t.Fatal(err)
		}
		other, err := nn.BuildModel(s2)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := m.StateDict()
		if err != nil {
			t.Fatal(err)
		}
		if err := other.LoadStateDict(sd); err != nil {
			t.Fatal(err)
		}
		x := nn.NewVariable(loadNPY(t, name+"_input.npy"))
		want, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := other.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if d := tensor.MaxAbsDiff(got.Tensor(), want.Tensor()); d != 0 {
			t.Errorf("%s: rebuilt model differs by %g", name, d)
		}
	}
}

// TestImportedModelTrains checks that imported graphs are differentiable:
// a few SGD steps on the MLP lower its loss.
func TestImportedModelTrains(t *testing.T) {
	m, err := Load(fixturePath("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x := nn.NewVariable(loadNPY(t, "mlp_input.npy"))
	y := nn.NewVariable(tensor.OneHot(tensor.MustNew([]float64{0, 1, 2, 3, 0, 1, 2, 3}, 8), 4))
	m.Train() // imported models start in evaluation mode
	opt := nn.NewSGD(m.Parameters(), 0.5, 0, 0)
	var first, last float64
	for i := 0; i < 20; i++ {
		opt.ZeroGrad()
		out, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		loss := nn.MSELoss(out, y)
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = loss.Tensor().Item()
		}
		last = loss.Tensor().Item()
	}
	if !(last < first*0.9) {
		t.Errorf("loss went from %v to %v", first, last)
	}
}
