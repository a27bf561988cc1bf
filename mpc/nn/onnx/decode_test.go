package onnx

import (
	"github.com/gomplab/gomplab/tensor"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeFixtures(t *testing.T) {
	tests := []struct {
		file      string
		opset     int64
		ops       []string
		inits     int
		firstInit string
		firstDims []int64
	}{
		{"mlp.onnx", 13, []string{"Gemm", "Relu", "Gemm", "Tanh", "Gemm", "Softmax"}, 6, "fc1.weight", []int64{32, 20}},
		{"lenet.onnx", 13, []string{"Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm"}, 8, "conv1.weight", []int64{16, 1, 5, 5}},
		{"crafted.onnx", 13, []string{"Identity", "Constant", "Concat", "Transpose"}, 0, "", nil},
		{"unsupported.onnx", 13, []string{"Celu"}, 0, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m, err := Decode(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Opsets[""]; got != tc.opset {
				t.Errorf("opset %d, want %d", got, tc.opset)
			}
			var ops []string
			for _, n := range m.Graph.Nodes {
				ops = append(ops, n.OpType)
			}
			if strings.Join(ops, ",") != strings.Join(tc.ops, ",") {
				t.Errorf("ops %v, want %v", ops, tc.ops)
			}
			if len(m.Graph.Initializers) != tc.inits {
				t.Fatalf("%d initializers, want %d", len(m.Graph.Initializers), tc.inits)
			}
			if tc.inits > 0 {
				in := m.Graph.Initializers[0]
				if in.Name != tc.firstInit || len(in.Dims) != len(tc.firstDims) {
					t.Fatalf("first initializer %q %v, want %q %v", in.Name, in.Dims, tc.firstInit, tc.firstDims)
				}
				n := 1
				for i, d := range in.Dims {
					if d != tc.firstDims[i] {
						t.Fatalf("dims %v, want %v", in.Dims, tc.firstDims)
					}
					n *= int(d)
				}
				if len(in.Floats) != n {
					t.Errorf("%d floats, want %d", len(in.Floats), n)
				}
			}
		})
	}
}

func TestDecodeAttributes(t *testing.T) {
	m, err := Decode(readFixture(t, "lenet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	conv := m.Graph.Nodes[0]
	a := conv.Attr("kernel_shape")
	if a == nil || a.Type != AttrInts || len(a.Ints) != 2 || a.Ints[0] != 5 {
		t.Fatalf("kernel_shape = %+v", a)
	}
	if conv.Attr("nonexistent") != nil {
		t.Error("found a nonexistent attribute")
	}
	in := m.Graph.Inputs[0]
	if in.Name != "input" || in.ElemType != Float || len(in.Shape) != 4 || in.Shape[0].Value != 64 || in.Shape[2].Value != 28 {
		t.Errorf("input %+v", in)
	}
	c, err := Decode(readFixture(t, "crafted.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Graph.Nodes[1].Attr("value")
	if v == nil || v.Type != AttrTensor || v.T == nil || len(v.T.Floats) != 6 || v.T.Floats[5] != 1.25 {
		t.Fatalf("constant value = %+v", v)
	}
}

// appendTensor builds a TensorProto by hand, for cases exporters never write.
func appendTensor(b []byte, name string, dt DataType, dims []int64, body func([]byte) []byte) []byte {
	var t []byte
	for _, d := range dims {
		t = protowire.AppendTag(t, 1, protowire.VarintType)
		t = protowire.AppendVarint(t, uint64(d))
	}
	t = protowire.AppendTag(t, 2, protowire.VarintType)
	t = protowire.AppendVarint(t, uint64(dt))
	t = protowire.AppendTag(t, 8, protowire.BytesType)
	t = protowire.AppendString(t, name)
	t = body(t)
	return protowire.AppendBytes(b, t)
}

func modelWithInit(init []byte) []byte {
	var g []byte
	g = protowire.AppendTag(g, 5, protowire.BytesType)
	g = append(g, init...)
	var m []byte
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	return protowire.AppendBytes(m, g)
}

func TestDecodeTensorEncodings(t *testing.T) {
	// int64_data unpacked, int32_data for INT8, double_data packed.
	unpacked := appendTensor(nil, "i", Int64, []int64{3}, func(b []byte) []byte {
		for _, v := range []int64{-1, 0, 7} {
			b = protowire.AppendTag(b, 7, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
		return b
	})
	m, err := Decode(modelWithInit(unpacked))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Graph.Initializers[0].Ints; len(got) != 3 || got[0] != -1 || got[2] != 7 {
		t.Errorf("ints %v", got)
	}
	packed := appendTensor(nil, "d", Double, []int64{2}, func(b []byte) []byte {
		b = protowire.AppendTag(b, 10, protowire.BytesType)
		var p []byte
		p = protowire.AppendFixed64(p, 0x3ff0000000000000) // 1.0
		p = protowire.AppendFixed64(p, 0xc000000000000000) // -2.0
		return protowire.AppendBytes(b, p)
	})
	m, err = Decode(modelWithInit(packed))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Graph.Initializers[0].Floats; len(got) != 2 || got[0] != 1 || got[1] != -2 {
		t.Errorf("doubles %v", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	lenet := readFixture(t, "lenet.onnx")
	tooFew := appendTensor(nil, "w", Float, []int64{2, 2}, func(b []byte) []byte {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		return protowire.AppendBytes(b, make([]byte, 12))
	})
	huge := appendTensor(nil, "h", Float, []int64{1 << 40, 1 << 40}, func(b []byte) []byte { return b })
	negative := appendTensor(nil, "n", Float, []int64{-3}, func(b []byte) []byte { return b })
	external := appendTensor(nil, "e", Float, []int64{1}, func(b []byte) []byte {
		b = protowire.AppendTag(b, 14, protowire.VarintType)
		return protowire.AppendVarint(b, 1)
	})
	badType := appendTensor(nil, "s", 8, []int64{1}, func(b []byte) []byte { return b })
	wrongWire := protowire.AppendTag(nil, 7, protowire.VarintType)
	wrongWire = protowire.AppendVarint(wrongWire, 3)
	tests := []struct {
		name string
		b    []byte
		lim  Limits
		want string
	}{
		{"truncated", lenet[:len(lenet)/2], Limits{}, "onnx: decode model"},
		{"too big", lenet, Limits{MaxBytes: 1000}, "over the limit"},
		{"too many nodes", lenet, Limits{MaxNodes: 3}, "more than 3 nodes"},
		{"tensor too big", lenet, Limits{MaxTensorElements: 1000}, "over 1000 elements"},
		{"model too big", lenet, Limits{MaxTotalElements: 10000}, "more than 10000 tensor elements"},
		{"raw size", modelWithInit(tooFew), Limits{}, `tensor "w": 12 raw bytes for 4 elements of FLOAT`},
		{"huge dims", modelWithInit(huge), Limits{}, `tensor "h": dims`},
		{"negative dims", modelWithInit(negative), Limits{}, `tensor "n": dims`},
		{"external", modelWithInit(external), Limits{}, "external file"},
		{"string tensor", modelWithInit(badType), Limits{}, "unsupported data type STRING"},
		{"wrong wire type", wrongWire, Limits{}, "wire type"},
		{"garbage tag", []byte{0xff, 0xff, 0xff}, Limits{}, "bad field tag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeLimits(tc.b, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"crafted.onnx", "unsupported.onnx"} {
		f.Add(readFixture(f, name))
	}
	// Graphs of the operators added for CrypTen parity, from the test writer.
	x := tensor.Zeros(1, 2, 3, 3)
	for _, m := range []*wModel{
		single(13, x, []int64{1, 2, 6, 6}, wNode{op: "Resize", in: []string{"x", "", "s"}, out: []string{"y"}, attrs: []wAttr{attrS("mode", "linear")}},
			ftensor("s", []int64{4}, []float64{1, 1, 2, 2})),
		single(13, x, []int64{1, 1, 3, 3}, wNode{op: "Split", in: []string{"x", "n"}, out: []string{"y", "z"}, attrs: []wAttr{attrI("axis", 1)}},
			itensor("n", []int64{2}, 1, 1)),
		single(13, x, []int64{1, 1, 7, 7}, wNode{op: "ConvTranspose", in: []string{"x", "w"}, out: []string{"y"}, attrs: []wAttr{attrIs("strides", 2, 2)}},
			ftensor("w", []int64{2, 1, 3, 3}, make([]float64, 18))),
		single(13, x, []int64{3}, wNode{op: "Range", in: []string{"a", "b", "c"}, out: []string{"y"}},
			itensor("a", nil, 0), itensor("b", nil, 3), itensor("c", nil, 1)),
	} {
		f.Add(m.encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxTensorElements: 1 << 16, MaxTotalElements: 1 << 18, MaxNodes: 1000}
		m, err := DecodeLimits(b, lim)
		if err != nil {
			return
		}
		for _, in := range m.Graph.Initializers {
			if len(in.Floats) > 1<<16 || len(in.Ints) > 1<<16 {
				t.Fatalf("tensor %q over the element limit", in.Name)
			}
		}
		// Importing whatever decoded must fail cleanly or succeed.
		_, _ = Import(m)
	})
}
