package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomplab/gomplab/workers/daemon"
)

// A data owner stores a model exported by PyTorch in its worker, as
// `gomplab worker load --file model.onnx` does; MPC jobs then load it with
// nn.LoadModel("crypten_model", rank).
func ExampleLoadONNXInto() {
	dir, err := os.MkdirTemp("", "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if _, err := daemon.InitDataDir(filepath.Join(dir, "alice"), "alice", nil); err != nil {
		fmt.Println(err)
		return
	}
	model, err := os.ReadFile("../../mpc/nn/testdata/digits_mlp.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	info, via, err := daemon.LoadONNXInto(context.Background(), filepath.Join(dir, "alice"), model,
		daemon.LoadSpec{Tags: []string{"crypten_model"}, Private: true, File: "model.onnx"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Kind, info.Tags, info.Private, info.Description, via)

	// A file with an operator gomplab cannot run is refused when stored.
	bad, _ := os.ReadFile("../../mpc/nn/testdata/unsupported.onnx")
	_, _, err = daemon.LoadONNXInto(context.Background(), filepath.Join(dir, "alice"), bad, daemon.LoadSpec{Tags: []string{"m"}})
	fmt.Println(err)
	// Output:
	// model [crypten_model] true ONNX model store
	// import ONNX model: onnx: Celu node "celu0": unsupported operator Celu
}
