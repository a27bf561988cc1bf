package onnx

import (
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// TestEncryptedLeNet is the acceptance check of private inference: rank 1
// owns the LeNet exported by PyTorch, rank 0 owns 64 images; the model is
// shared by architecture and secret-shared weights, the images are
// encrypted, and the decrypted logits match PyTorch's within 1e-2.
func TestEncryptedLeNet(t *testing.T) {
	owner, err := Load(fixturePath("lenet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x := loadNPY(t, "lenet_input.npy")
	want := loadNPY(t, "lenet_output.npy")
	res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		var mine *nn.Model
		images := tensor.ZerosLike(x) // rank 1 does not know the images
		if p.Rank() == 1 {
			mine = owner
		} else {
			images = x
		}
		m, err := nn.ShareModel(p, mine, 1)
		if err != nil {
			return nil, err
		}
		out, err := m.Forward(nn.NewVariable(images).Encrypt(p, 0))
		if err != nil {
			return nil, err
		}
		return out.PlainText()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		got := r.Value.(*tensor.Tensor)
		if d := tensor.MaxAbsDiff(got, want); d > 1e-2 {
			t.Errorf("rank %d: encrypted logits differ from PyTorch's by %g", r.Rank, d)
		} else {
			t.Logf("rank %d: max abs error %.2e, %d bytes sent, %d rounds, %v", r.Rank, d, r.Stats.BytesSent, r.Stats.Rounds, r.Elapsed)
		}
	}
}
