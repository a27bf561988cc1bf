package syft_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// exampleClassify runs on alice (rank 0, the model) and bob (rank 1, the
// images): the model's weights and the images each stay on their worker,
// crossing to the other party only as secret shares.
func exampleClassify() (*tensor.Tensor, error) {
	x, err := mpc.Load("images", 1)
	if err != nil {
		return nil, err
	}
	model, err := nn.LoadModel("classifier", 0)
	if err != nil {
		return nil, err
	}
	logits, err := model.Forward(nn.NewEncrypted(x))
	if err != nil {
		return nil, err
	}
	return logits.CrypTensor().Argmax(1, false).GetPlainText()
}

// Model hiding: alice's data owner stores a PyTorch model (ONNX), bob's a
// batch of flattened 28x28 images; a user who may read neither gets the
// predicted labels.
func ExampleSendONNX() {
	alice, bob := syft.NewVirtualWorker("alice"), syft.NewVirtualWorker("bob")
	defer alice.Shutdown()
	defer bob.Shutdown()

	model, err := os.ReadFile("../mpc/nn/testdata/digits_mlp.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	mp, err := syft.SendONNX(model, alice.Owner(), syft.WithTags("classifier"), syft.AsPrivate())
	if err != nil {
		fmt.Println(err)
		return
	}
	mp.Pointer().Keep()
	images, err := tensor.LoadNPY("../mpc/nn/testdata/digits_mlp_input.npy") // (16, 784)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := syft.Send(images, bob.Owner(), syft.WithTags("images"), syft.AsPrivate())
	p.Keep()

	// Both owners approve the data scientist's request before it runs.
	f, err := syft.FuncOf(exampleClassify)
	if err != nil {
		fmt.Println(err)
		return
	}
	job := &syft.Job{Workers: []syft.Worker{alice, bob}, MasterAddr: "127.0.0.1", Func: f,
		Note: "classify bob's images with alice's model"}
	st, err := syft.Submit(job)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, owner := range []*syft.VirtualWorker{alice.Owner(), bob.Owner()} {
		if _, err := syft.Approve(owner, st.ID, "me"); err != nil {
			fmt.Println(err)
			return
		}
	}
	res, err := job.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	pytorch, _ := tensor.LoadNPY("../mpc/nn/testdata/digits_mlp_output.npy")
	fmt.Println("labels:", res.Tensor(1).Data())
	fmt.Println("PyTorch:", pytorch.Argmax(1, false).Data())
	// Output:
	// labels: [8 6 1 1 7 8 7 9 1 5 2 4 8 5 2 8]
	// PyTorch: [8 6 1 1 7 8 7 9 1 5 2 4 8 5 2 8]
}
