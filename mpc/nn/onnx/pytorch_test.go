package onnx

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// python is Debian's interpreter, which has python3-torch and
// python3-onnx when they are installed (CI installs them; see .ci/run).
const python = "/usr/bin/python3"

// TestPyTorchExports exports PyTorch models that use the layers whose
// ONNX operators the importer gained for CrypTen parity
// (testdata/export_parity.py, into a temporary directory) and checks the
// imported models against PyTorch's outputs: in plaintext to 1e-8, and
// encrypted and shared (model at rank 1, input at rank 0) at 2 and 3
// parties. Without torch it skips, saying so.
func TestPyTorchExports(t *testing.T) {
	if err := exec.Command(python, "-c", "import torch, onnx").Run(); err != nil {
		t.Skipf("%s cannot import torch and onnx (%v): install python3-torch and python3-onnx to run this test", python, err)
	}
	dir := t.TempDir()
	script, err := filepath.Abs(fixturePath("export_parity.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script, dir)
	cmd.Env = append(os.Environ(), "PYTHONWARNINGS=ignore")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	load := func(name string) *tensor.Tensor {
		x, err := tensor.LoadNPY(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, name := range []string{"parity1d", "parity2d", "parity2d_opset11"} {
		t.Run(name, func(t *testing.T) {
			owner, err := Load(filepath.Join(dir, name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			x, want := load(name+"_input.npy"), load(name+"_output.npy")
			got, err := owner.Forward(nn.NewVariable(x))
			if err != nil {
				t.Fatal(err)
			}
			if d := tensor.MaxAbsDiff(got.Tensor(), want); d > 1e-8 {
				t.Errorf("plaintext differs from PyTorch by %g", d)
			}
			for _, n := range []int{2, 3} {
				res, err := mpc.RunLocal(n, func(p *mpc.Party) (any, error) {
					var mine *nn.Model
					in := tensor.ZerosLike(x)
					switch p.Rank() {
					case 1:
						mine = owner
					case 0:
						in = x
					}
					m, err := nn.ShareModel(p, mine, 1)
					if err != nil {
						return nil, err
					}
					out, err := m.Forward(nn.NewVariable(in).Encrypt(p, 0))
					if err != nil {
						return nil, err
					}
					return out.PlainText()
				})
				if err != nil {
					t.Fatalf("%d parties: %v", n, err)
				}
				d := tensor.MaxAbsDiff(res[0].Value.(*tensor.Tensor), want)
				if d > 1e-3 {
					t.Errorf("%d parties: encrypted output differs from PyTorch's by %g", n, d)
				} else {
					t.Logf("%d parties: encrypted output within %.2e of PyTorch's", n, d)
				}
			}
		})
	}
}
