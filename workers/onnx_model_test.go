package workers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "mpc", "nn", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestONNXModelBlob: an ONNX file stored as a model decodes to the model
// onnx.Decode/Import gives; files gomplab cannot run are refused when
// they are encoded, naming the reason.
func TestONNXModelBlob(t *testing.T) {
	good := readFixture(t, "digits_mlp.onnx")
	cases := []struct {
		name string
		data []byte
		err  string // "" for success
	}{
		{"digits classifier", good, ""},
		{"lenet", readFixture(t, "lenet.onnx"), ""},
		{"unsupported operator", readFixture(t, "unsupported.onnx"), "unsupported operator LeakyRelu"},
		{"truncated", good[:len(good)/2], "import ONNX model"},
		{"not ONNX", []byte("hello, world"), "import ONNX model"},
		{"empty", nil, "empty file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			blob, err := EncodeONNXModel(c.data)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := DecodeModel(blob, serde.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			om, err := onnx.Decode(c.data)
			if err != nil {
				t.Fatal(err)
			}
			want, err := onnx.Import(om)
			if err != nil {
				t.Fatal(err)
			}
			if m.NumParams() != want.NumParams() {
				t.Fatalf("%d parameters, want %d", m.NumParams(), want.NumParams())
			}
			got, _ := m.StateDict()
			exp, _ := want.StateDict()
			for name, w := range exp {
				if !tensor.AllClose(got[name], w, 0, 0) {
					t.Errorf("parameter %s differs", name)
				}
			}
			// A decoded ONNX model can be stored natively (after training,
			// say): the two forms are interchangeable.
			if _, err := EncodeModel(m); err != nil {
				t.Fatalf("re-encoding: %v", err)
			}
		})
	}
}

// TestLoadONNXInto stores an ONNX model into a worker's data directory,
// directly and through its running daemon, as `gomplab worker load --file
// model.onnx` does.
func TestLoadONNXInto(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	if _, err := InitDataDir(dir, "alice", nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := readFixture(t, "digits_mlp.onnx")
	in, via, err := LoadONNXInto(ctx, dir, data, LoadSpec{ID: "offline", Tags: []string{"crypten_model"}, Private: true, File: "/m/model.onnx"})
	if err != nil || via != "store" || in.Kind != KindModel || !in.Private || in.Provenance.File != "model.onnx" || in.Description != "ONNX model" {
		t.Fatalf("offline load: %+v %s %v", in, via, err)
	}
	if _, _, err := LoadONNXInto(ctx, dir, readFixture(t, "unsupported.onnx"), LoadSpec{Tags: []string{"x"}}); err == nil {
		t.Fatal("a model with an unsupported operator was stored")
	}
	d, err := StartDaemon(DaemonConfig{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	in, via, err = LoadONNXInto(ctx, dir, data, LoadSpec{ID: "online", Tags: []string{"other_model"}})
	if err != nil || !strings.HasPrefix(via, "daemon at ") || in.Kind != KindModel {
		t.Fatalf("online load: %+v %s %v", in, via, err)
	}
	// A job on this worker finds it by tag.
	js := &jobStore{h: d.Handler(), job: "j", user: OwnerUser}
	m, err := js.LoadModel("crypten_model")
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.Zeros(2, 784)
	out, err := m.Forward(nn.NewVariable(x))
	if err != nil || !tensor.SameShape(out.Shape(), []int{2, 10}) {
		t.Fatalf("forward: %v %v", out, err)
	}
}

func FuzzDecodeONNXModel(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "mpc", "nn", "testdata", "crafted.onnx")); err == nil {
		blob, _ := serde.EncodeBody(&modelBlob{Version: modelBlobVersion, ONNX: b})
		f.Add([]byte(blob))
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, _ := serde.EncodeBody(&modelBlob{Version: modelBlobVersion, ONNX: b})
		if m, err := DecodeModel([]byte(blob), serde.Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16}); err == nil {
			if _, err := EncodeModel(m); err != nil {
				t.Fatalf("a decoded ONNX model does not encode: %v", err)
			}
		}
	})
}
