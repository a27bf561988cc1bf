package modelcodec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

func TestModelBlobRoundTrip(t *testing.T) {
	r := tensor.NewRNG(1)
	m := nn.NewModel(nn.NewSequential(nn.NewLinear(3, 4, r), nn.NewReLU(), nn.NewBatchNorm1d(4), nn.NewLinear(4, 2, r)))
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, serde.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.StateDict()
	gs, _ := got.StateDict()
	for k, v := range want {
		if !tensor.Equal(v, gs[k]) {
			t.Errorf("%s changed", k)
		}
	}
	for _, tc := range []struct {
		name string
		blob func() []byte
		want string
	}{
		{"garbage", func() []byte { return []byte{1, 2, 3} }, "decode model"},
		{"version", func() []byte { return mustBody(t, &modelBlob{Version: 9}) }, "version 9"},
		{"bad spec", func() []byte { return mustBody(t, &modelBlob{Version: 1, Spec: []byte("{")}) }, "decode model"},
		{"missing weights", func() []byte {
			sp, _ := m.Spec()
			sj, _ := sp.Marshal()
			return mustBody(t, &modelBlob{Version: 1, Spec: sj})
		}, "missing"},
		{"count", func() []byte { return mustBody(t, &modelBlob{Version: 1, Names: []string{"a"}}) }, "1 names but 0 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.blob(), serde.Limits{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func mustBody(t *testing.T, v any) []byte {
	b, err := serde.EncodeBody(v)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b)
}

func FuzzDecodeModel(f *testing.F) {
	m := nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(1)))
	b, _ := Encode(m)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x85})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, serde.Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16})
		if err == nil {
			if _, err := Encode(m); err != nil {
				t.Fatalf("a decoded model does not encode: %v", err)
			}
		}
	})
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestONNXModelBlob: an ONNX file stored as a model decodes to the model
// onnx.Decode/Import gives; files gomplab cannot run are refused when
// they are encoded, naming the reason.
func TestONNXModelBlob(t *testing.T) {
	good := fixture(t, "digits_mlp.onnx")
	cases := []struct {
		name string
		data []byte
		err  string // "" for success
	}{
		{"digits classifier", good, ""},
		{"lenet", fixture(t, "lenet.onnx"), ""},
		{"unsupported operator", fixture(t, "unsupported.onnx"), "unsupported operator Celu"},
		{"truncated", good[:len(good)/2], "import ONNX model"},
		{"not ONNX", []byte("hello, world"), "import ONNX model"},
		{"empty", nil, "empty file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			blob, err := EncodeONNX(c.data)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(blob, serde.Limits{})
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
			if _, err := Encode(m); err != nil {
				t.Fatalf("re-encoding: %v", err)
			}
		})
	}
}

func FuzzDecodeONNXModel(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "testdata", "crafted.onnx")); err == nil {
		blob, _ := serde.EncodeBody(&modelBlob{Version: modelBlobVersion, ONNX: b})
		f.Add([]byte(blob))
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, _ := serde.EncodeBody(&modelBlob{Version: modelBlobVersion, ONNX: b})
		if m, err := Decode([]byte(blob), serde.Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16}); err == nil {
			if _, err := Encode(m); err != nil {
				t.Fatalf("a decoded ONNX model does not encode: %v", err)
			}
		}
	})
}

// TestEncodeRefusesEncrypted: an encrypted model has no plaintext weights
// to encode; the error says what to do.
func TestEncodeRefusesEncrypted(t *testing.T) {
	_, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		m := nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(1)))
		if err := m.Encrypt(p, 0); err != nil {
			return nil, err
		}
		if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), "decrypt it first") {
			return nil, fmt.Errorf("encrypted model: err %v", err)
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDecodeLimits: a blob larger than the caller's limit is refused
// before any of it is used.
func TestDecodeLimits(t *testing.T) {
	r := tensor.NewRNG(1)
	b, err := Encode(nn.NewModel(nn.NewLinear(64, 64, r)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b, serde.Limits{MaxBytes: len(b) - 1}); err == nil {
		t.Fatal("a blob over MaxBytes was decoded")
	}
	if _, err := Decode(b, serde.Limits{MaxElements: 100}); err == nil {
		t.Fatal("a blob over MaxElements was decoded")
	}
	if _, err := Decode(b, serde.Limits{MaxBytes: len(b)}); err != nil {
		t.Fatalf("a blob at the limit: %v", err)
	}
}
