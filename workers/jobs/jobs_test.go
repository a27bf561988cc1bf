package jobs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/sandbox"
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
	js := &jobStore{h: h, job: "j", user: workers.OwnerUser,
		permit: &permit{user: &workers.User{Name: workers.OwnerUser, Perms: []string{workers.PermAdmin}}}}
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

// TestStartRefusesForbidden: a worker refuses a job whose source imports
// a forbidden package before anything runs; the refusal is the rank's
// failure in the validate phase, naming its rank and this worker.
func TestStartRefusesForbidden(t *testing.T) {
	users := workers.NewUsers()
	tok, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	h, err := workers.NewHandler(workers.Config{WorkerID: "bob", Store: store.NewMemStore(), Users: users})
	if err != nil {
		t.Fatal(err)
	}
	tbl := Register(h, nil, Options{})
	defer tbl.Close()
	c, err := workers.NewClient(t.Context(), workers.NewSessionTransport(h, "me"), workers.Credentials{Token: tok}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job := sandbox.Job{ID: "j1", Rank: 1, WorldSize: 2, MasterAddr: "127.0.0.1:1", TimeoutMS: 1000,
		Program: sandbox.Program{Source: "package main\nimport \"os\"\nfunc f() { os.Exit(1) }", Entry: "f"}}
	var rep StartReply
	if err := c.Call(t.Context(), MsgStart, &StartRequest{Job: job}, &rep); err != nil {
		t.Fatal(err)
	}
	e := rep.Refused
	if e == nil || e.Kind != sandbox.KindForbidden || e.Phase != sandbox.PhaseValidate || e.Rank != 1 || e.Worker != "bob" {
		t.Fatalf("refusal %+v, want a forbidden import of rank 1 (bob) in the validate phase", e)
	}
	var wrep WaitReply
	if err := c.Call(t.Context(), MsgWait, &WaitRequest{JobID: "j1"}, &wrep); err == nil {
		t.Fatal("a refused job was started")
	}
}
