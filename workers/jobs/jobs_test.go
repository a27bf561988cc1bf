package jobs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// TestJobLoadsONNXModel: a model its owner stored as an ONNX file (as
// `gomplab worker load --file model.onnx` does) is what a job's
// nn.LoadModel finds by tag on the worker, imported and ready to run.
func TestJobLoadsONNXModel(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "mpc", "nn", "testdata", "digits_mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := modelcodec.EncodeONNX(data)
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemStore()
	o := &store.Object{ID: store.NewID(), Kind: store.KindModel, Blob: blob, Tags: []string{"crypten_model"}, Owner: workers.OwnerUser,
		Private: true, Created: time.Now().UnixNano(), Provenance: store.Provenance{Source: "load", File: "model.onnx"}}
	if err := st.Put(o); err != nil {
		t.Fatal(err)
	}
	h, err := workers.NewHandler(workers.Config{WorkerID: "alice", Store: st, Users: workers.NewUsers()})
	if err != nil {
		t.Fatal(err)
	}
	js := &jobStore{h: h, job: "j", user: workers.OwnerUser}
	m, err := js.LoadModel("crypten_model")
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(nn.NewVariable(tensor.Zeros(2, 784)))
	if err != nil || !tensor.SameShape(out.Shape(), []int{2, 10}) {
		t.Fatalf("forward: %v %v", out, err)
	}
	if _, err := js.LoadModel("no_such_model"); err == nil {
		t.Fatal("an untagged model was found")
	}
}
