package onnx

import (
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// f32 rounds values through float32, as an ONNX file stores them.
func f32(t *tensor.Tensor) *tensor.Tensor {
	return t.Apply(func(v float64) float64 { return float64(float32(v)) })
}

func dims64(t *tensor.Tensor) []int64 {
	d := make([]int64, t.Dims())
	for i, s := range t.Shape() {
		d[i] = int64(s)
	}
	return d
}

// opCase is one ONNX graph and the reference its output must match.
type opCase struct {
	name  string
	model *wModel
	x     *tensor.Tensor
	want  *tensor.Tensor
	tol   float64 // encrypted against plaintext
}

// importBytes decodes and imports b.
func importBytes(t *testing.T, b []byte) *nn.Model {
	t.Helper()
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	model, err := Import(m)
	if err != nil {
		t.Fatal(err)
	}
	return model
}

// checkImported runs the model on x in plaintext against want, then
// encrypted at 2 and 3 parties (the model shared by rank 1, x from rank 0)
// against plaintext.
func checkImported(t *testing.T, c opCase) {
	t.Helper()
	b := c.model.encode()
	owner := importBytes(t, b)
	got, err := owner.Forward(nn.NewVariable(c.x))
	if err != nil {
		t.Fatalf("plaintext: %v", err)
	}
	if !tensor.SameShape(got.Shape(), c.want.Shape()) {
		t.Fatalf("plaintext: shape %v, want %v", got.Shape(), c.want.Shape())
	}
	if d := tensor.MaxAbsDiff(got.Tensor(), c.want); d > 1e-9 {
		t.Fatalf("plaintext differs from the reference by %g", d)
	}
	for _, n := range []int{2, 3} {
		res, err := mpc.RunLocal(n, func(p *mpc.Party) (any, error) {
			var mine *nn.Model
			x := tensor.ZerosLike(c.x)
			switch p.Rank() {
			case 1:
				mine = importBytes(t, b)
			case 0:
				x = c.x
			}
			m, err := nn.ShareModel(p, mine, 1)
			if err != nil {
				return nil, err
			}
			out, err := m.Forward(nn.NewVariable(x).Encrypt(p, 0))
			if err != nil {
				return nil, err
			}
			return out.PlainText()
		})
		if err != nil {
			t.Fatalf("%d parties: %v", n, err)
		}
		enc := res[0].Value.(*tensor.Tensor)
		if d := tensor.MaxAbsDiff(enc, c.want); d > c.tol {
			t.Errorf("%d parties: encrypted differs from plaintext by %g (tolerance %g)", n, d, c.tol)
		}
	}
}

// single is a model of one node on input x, with initializers.
func single(opset int64, x *tensor.Tensor, outDims []int64, node wNode, inits ...*wTensor) *wModel {
	return &wModel{opset: opset, nodes: []wNode{node}, inits: inits,
		inputs: []wValue{{"x", dims64(x)}}, outputs: []wValue{{"y", outDims}}}
}

func TestImportParityOps(t *testing.T) {
	x := f32(tensor.RandN(1, 2, 4, 9))
	w1 := f32(tensor.RandN(2, 6, 2, 3).MulScalar(0.5))
	b1 := f32(tensor.RandN(3, 6))
	conv1d := tensor.Conv1d(x.Pad([][2]int{{0, 0}, {0, 0}, {1, 2}}, 0), w1, b1, tensor.Conv1dOpts{Stride: 2, Groups: 2})
	x4 := f32(tensor.RandN(4, 2, 3, 4, 5))
	wt := f32(tensor.RandN(5, 3, 2, 3, 3).MulScalar(0.5))
	bt := f32(tensor.RandN(6, 2))
	// ONNX pads crop the output (begin, end): PyTorch's transposed
	// convolution without padding, cropped.
	ct := tensor.ConvTranspose2d(x4, wt, bt, tensor.ConvTransposeOpts{Stride: [2]int{2, 2}, OutputPadding: [2]int{1, 1}})
	ct = ct.Slice(2, 1, ct.Dim(2), 1).Slice(3, 0, ct.Dim(3)-1, 1)
	x1 := f32(tensor.RandN(7, 2, 3, 6))
	w1t := f32(tensor.RandN(8, 3, 2, 4).MulScalar(0.5))
	ct1 := tensor.ConvTranspose1d(x1, w1t, nil, tensor.ConvTransposeOpts{Stride: [2]int{1, 2}, Padding: [2]int{0, 1}})
	small := f32(tensor.RandN(9, 3, 4))
	erfWant := small.Apply(math.Erf)
	mixed := f32(tensor.RandN(10, 3, 4).MulScalar(2))
	cases := []opCase{
		{"Conv 1-D asymmetric pads", single(13, x, []int64{2, 6, 5}, wNode{op: "Conv", in: []string{"x", "w", "b"}, out: []string{"y"},
			attrs: []wAttr{attrIs("kernel_shape", 3), attrIs("strides", 2), attrIs("pads", 1, 2), attrI("group", 2)}},
			ftensor("w", dims64(w1), w1.Data()), ftensor("b", dims64(b1), b1.Data())), x, conv1d, 1e-3},
		{"Clip opset 13", single(13, mixed, []int64{3, 4}, wNode{op: "Clip", in: []string{"x", "lo", "hi"}, out: []string{"y"}},
			ftensor("lo", nil, []float64{-1}), ftensor("hi", nil, []float64{0.5})), mixed, mixed.Clamp(-1, 0.5), 1e-4},
		{"Clip opset 9 min only", single(9, mixed, []int64{3, 4}, wNode{op: "Clip", in: []string{"x"}, out: []string{"y"},
			attrs: []wAttr{attrF("min", -0.25)}}), mixed, mixed.Apply(func(v float64) float64 { return max(v, float64(float32(-0.25))) }), 1e-4},
		{"Clip max only", single(13, mixed, []int64{3, 4}, wNode{op: "Clip", in: []string{"x", "", "hi"}, out: []string{"y"}},
			ftensor("hi", nil, []float64{1})), mixed, mixed.Apply(func(v float64) float64 { return min(v, 1) }), 1e-4},
		{"Erf", single(13, small, []int64{3, 4}, wNode{op: "Erf", in: []string{"x"}, out: []string{"y"}}), small, erfWant, 2e-4},
		{"LeakyRelu", single(13, mixed, []int64{3, 4}, wNode{op: "LeakyRelu", in: []string{"x"}, out: []string{"y"}, attrs: []wAttr{attrF("alpha", 0.25)}}),
			mixed, mixed.Apply(func(v float64) float64 {
				if v < 0 {
					return 0.25 * v
				}
				return v
			}), 1e-4},
		{"ReduceSum opset 13", single(13, x4, []int64{2, 5}, wNode{op: "ReduceSum", in: []string{"x", "axes"}, out: []string{"y"},
			attrs: []wAttr{attrI("keepdims", 0)}}, itensor("axes", []int64{2}, 1, -2)), x4, x4.Sum(2, false).Sum(1, false), 1e-3},
		{"ReduceMean opset 13", single(13, x4, []int64{2, 3, 4, 1}, wNode{op: "ReduceMean", in: []string{"x"}, out: []string{"y"},
			attrs: []wAttr{attrIs("axes", -1)}}), x4, x4.Mean(3, true), 1e-4},
		{"Pow 2", single(13, mixed, []int64{3, 4}, wNode{op: "Pow", in: []string{"x", "e"}, out: []string{"y"}}, ftensor("e", nil, []float64{2})),
			mixed, mixed.Mul(mixed), 1e-3},
		{"Pow 3", single(13, mixed, []int64{3, 4}, wNode{op: "Pow", in: []string{"x", "e"}, out: []string{"y"}}, ftensor("e", nil, []float64{3})),
			mixed, mixed.Mul(mixed).Mul(mixed), 1e-2},
		{"Expand", single(13, small.Slice(0, 0, 1, 1), []int64{2, 3, 4}, wNode{op: "Expand", in: []string{"x", "s"}, out: []string{"y"}},
			itensor("s", []int64{3}, 2, 3, 1)), small.Slice(0, 0, 1, 1), small.Slice(0, 0, 1, 1).BroadcastTo(2, 3, 4), 1e-5},
		{"ConvTranspose 2-D", single(13, x4, dims64(ct), wNode{op: "ConvTranspose", in: []string{"x", "w", "b"}, out: []string{"y"},
			attrs: []wAttr{attrIs("kernel_shape", 3, 3), attrIs("strides", 2, 2), attrIs("pads", 1, 0, 0, 1), attrIs("output_padding", 1, 1)}},
			ftensor("w", dims64(wt), wt.Data()), ftensor("b", dims64(bt), bt.Data())), x4, ct, 1e-3},
		{"ConvTranspose 1-D", single(13, x1, dims64(ct1), wNode{op: "ConvTranspose", in: []string{"x", "w"}, out: []string{"y"},
			attrs: []wAttr{attrIs("strides", 2), attrIs("pads", 1, 1)}}, ftensor("w", dims64(w1t), w1t.Data())), x1, ct1, 1e-3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkImported(t, c) })
	}
}

// TestImportLogic covers Equal, Greater, Less and Where in one graph:
// y = where(x > 0.5, x, 2·[x < −0.5]) + [x == c].
func TestImportLogic(t *testing.T) {
	x := f32(tensor.RandN(11, 3, 4))
	x.Data()[5] = 0.75 // equal to c somewhere
	m := &wModel{opset: 13, inputs: []wValue{{"x", []int64{3, 4}}}, outputs: []wValue{{"y", []int64{3, 4}}},
		inits: []*wTensor{ftensor("half", nil, []float64{0.5}), ftensor("mhalf", nil, []float64{-0.5}),
			ftensor("two", nil, []float64{2}), ftensor("c", nil, []float64{0.75})},
		nodes: []wNode{
			{op: "Greater", in: []string{"x", "half"}, out: []string{"gt"}},
			{op: "Less", in: []string{"x", "mhalf"}, out: []string{"lt"}},
			{op: "Mul", in: []string{"lt", "two"}, out: []string{"lt2"}},
			{op: "Where", in: []string{"gt", "x", "lt2"}, out: []string{"w"}},
			{op: "Equal", in: []string{"x", "c"}, out: []string{"eq"}},
			{op: "Add", in: []string{"w", "eq"}, out: []string{"y"}},
		}}
	want := x.Apply(func(v float64) float64 {
		r := 0.0
		switch {
		case v > 0.5:
			r = v
		case v < -0.5:
			r = 2
		}
		if v == 0.75 {
			r++
		}
		return r
	})
	checkImported(t, opCase{"logic", m, x, want, 1e-4})
}

// resizeRef resizes the last two dims of x by the definitions of ONNX's
// Resize (nearest with asymmetric coordinates and floor; linear with
// half-pixel or align-corners coordinates, clamped).
func resizeRef(x *tensor.Tensor, oh, ow int, linear, alignCorners bool) *tensor.Tensor {
	s := x.Shape()
	h, w := s[2], s[3]
	out := tensor.Zeros(s[0], s[1], oh, ow)
	src := func(i, in, o int) float64 {
		if alignCorners {
			if o == 1 {
				return 0
			}
			return float64(i) * float64(in-1) / float64(o-1)
		}
		if !linear {
			return float64(i) * float64(in) / float64(o)
		}
		return max(0, min((float64(i)+0.5)*float64(in)/float64(o)-0.5, float64(in-1)))
	}
	for n := 0; n < s[0]; n++ {
		for c := 0; c < s[1]; c++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					y, xx := src(i, h, oh), src(j, w, ow)
					if !linear {
						out.Set(x.At(n, c, min(int(math.Floor(y)), h-1), min(int(math.Floor(xx)), w-1)), n, c, i, j)
						continue
					}
					y0, x0 := int(y), int(xx)
					y1, x1 := min(y0+1, h-1), min(x0+1, w-1)
					fy, fx := y-float64(y0), xx-float64(x0)
					v := (1-fy)*(1-fx)*x.At(n, c, y0, x0) + (1-fy)*fx*x.At(n, c, y0, x1) + fy*(1-fx)*x.At(n, c, y1, x0) + fy*fx*x.At(n, c, y1, x1)
					out.Set(v, n, c, i, j)
				}
			}
		}
	}
	return out
}

func TestImportResize(t *testing.T) {
	x := f32(tensor.RandN(12, 2, 3, 4, 5))
	resize := func(attrs []wAttr, scales []float64, sizes []int64, oh, ow int64) *wModel {
		in := []string{"x", "", "scales"}
		inits := []*wTensor{}
		if sizes != nil {
			in = []string{"x", "", "", "sizes"}
			inits = append(inits, itensor("sizes", []int64{4}, sizes...))
		} else {
			inits = append(inits, ftensor("scales", []int64{4}, scales))
		}
		return single(13, x, []int64{2, 3, oh, ow}, wNode{op: "Resize", in: in, out: []string{"y"}, attrs: attrs}, inits...)
	}
	cases := []opCase{
		{"nearest x2 (nn.Upsample)", resize([]wAttr{attrS("mode", "nearest"), attrS("coordinate_transformation_mode", "asymmetric"), attrS("nearest_mode", "floor")},
			[]float64{1, 1, 2, 2}, nil, 8, 10), x, resizeRef(x, 8, 10, false, false), 1e-5},
		{"linear half_pixel to 7x9", resize([]wAttr{attrS("mode", "linear")}, nil, []int64{2, 3, 7, 9}, 7, 9), x, resizeRef(x, 7, 9, true, false), 1e-3},
		{"linear align_corners x1.5", resize([]wAttr{attrS("mode", "linear"), attrS("coordinate_transformation_mode", "align_corners")},
			[]float64{1, 1, 1.5, 1.5}, nil, 6, 7), x, resizeRef(x, 6, 7, true, true), 1e-3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkImported(t, c) })
	}
}

// TestImportSplit splits along dims by sizes and into equal parts, and
// joins the pieces in another order.
func TestImportSplit(t *testing.T) {
	x := f32(tensor.RandN(13, 2, 5, 6))
	m := &wModel{opset: 13, inputs: []wValue{{"x", []int64{2, 5, 6}}}, outputs: []wValue{{"y", []int64{2, 5, 6}}},
		inits: []*wTensor{itensor("sizes", []int64{2}, 2, 3)},
		nodes: []wNode{
			{op: "Split", in: []string{"x", "sizes"}, out: []string{"a", "b"}, attrs: []wAttr{attrI("axis", 1)}},
			{op: "Concat", in: []string{"b", "a"}, out: []string{"ba"}, attrs: []wAttr{attrI("axis", 1)}},
			{op: "Split", in: []string{"ba"}, out: []string{"p", "q", "r"}, attrs: []wAttr{attrI("axis", -1)}},
			{op: "Concat", in: []string{"r", "p", "q"}, out: []string{"y"}, attrs: []wAttr{attrI("axis", 2)}},
		}}
	ba := tensor.Concat(1, x.Slice(1, 2, 5, 1), x.Slice(1, 0, 2, 1))
	want := tensor.Concat(2, ba.Slice(2, 4, 6, 1), ba.Slice(2, 0, 2, 1), ba.Slice(2, 2, 4, 1))
	checkImported(t, opCase{"split", m, x, want, 1e-5})
	// Opset 11: sizes as an attribute.
	m11 := single(11, x, []int64{2, 1, 6}, wNode{op: "Split", in: []string{"x"}, out: []string{"y", "z"}, attrs: []wAttr{attrI("axis", 1), attrIs("split", 1, 4)}})
	checkImported(t, opCase{"split opset 11", m11, x, x.Slice(1, 0, 1, 1), 1e-5})
}

// TestImportDynamicBatchEncrypted is the dynamic-batch export (Reshape
// through Shape, Gather, Unsqueeze and Concat with a constant -1) run
// encrypted and shared: its shape arithmetic stays public, on another
// batch size than it was exported with.
func TestImportDynamicBatchEncrypted(t *testing.T) {
	owner, err := Load(fixturePath("dynamic.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x := loadNPY(t, "dynamic_input.npy")
	want := loadNPY(t, "dynamic_output.npy")
	for _, p := range owner.Params() {
		if p.Name == "/Constant_1_output_0" {
			t.Errorf("the shape constant -1 is a parameter (encrypted with the model)")
		}
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
		if d := tensor.MaxAbsDiff(res[0].Value.(*tensor.Tensor), want); d > 1e-3 {
			t.Errorf("%d parties: encrypted output differs from PyTorch's by %g", n, d)
		}
	}
}

// TestImportRejectsParityOps: what the importer still refuses names the
// operator and the reason.
func TestImportRejectsParityOps(t *testing.T) {
	x := tensor.Zeros(1, 1, 4, 4)
	cases := []struct {
		name string
		m    *wModel
		want string
	}{
		{"resize cubic", single(13, x, []int64{1, 1, 8, 8}, wNode{op: "Resize", in: []string{"x", "", "s"}, out: []string{"y"}, attrs: []wAttr{attrS("mode", "cubic")}},
			ftensor("s", []int64{4}, []float64{1, 1, 2, 2})), `mode "cubic"`},
		{"resize channels", single(13, x, []int64{1, 2, 4, 4}, wNode{op: "Resize", in: []string{"x", "", "s"}, out: []string{"y"}},
			ftensor("s", []int64{4}, []float64{1, 2, 1, 1})), "only spatial dims"},
		{"conv transpose output_shape", single(13, x, []int64{1, 1, 8, 8}, wNode{op: "ConvTranspose", in: []string{"x", "w"}, out: []string{"y"},
			attrs: []wAttr{attrIs("output_shape", 8, 8)}}, ftensor("w", []int64{1, 1, 3, 3}, make([]float64, 9))), "output_shape"},
		{"clip computed bound", &wModel{opset: 13, inputs: []wValue{{"x", []int64{1, 1, 4, 4}}}, outputs: []wValue{{"y", []int64{1, 1, 4, 4}}},
			nodes: []wNode{{op: "Relu", in: []string{"x"}, out: []string{"r"}}, {op: "Clip", in: []string{"x", "r"}, out: []string{"y"}}}}, "must be a constant"},
	}
	for _, c := range cases {
		m, err := Decode(c.m.encode())
		if err != nil {
			t.Fatal(err)
		}
		_, err = Import(m)
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestImportRange: Range on public scalars, here a shape's last dim, feeds
// a Gather that reverses the input's columns (encrypted data, public
// indices).
func TestImportRange(t *testing.T) {
	x := f32(tensor.RandN(14, 2, 5))
	m := &wModel{opset: 13, inputs: []wValue{{"x", []int64{-1, 5}}}, outputs: []wValue{{"y", []int64{-1, 5}}},
		inits: []*wTensor{itensor("last", []int64{1}, -1), itensor("minus1", nil, -1), itensor("six", nil, 6), itensor("four", nil, 4)},
		nodes: []wNode{
			{op: "Shape", in: []string{"x"}, out: []string{"s"}},
			{op: "Gather", in: []string{"s", "last"}, out: []string{"n1"}},
			{op: "Squeeze", in: []string{"n1"}, out: []string{"n"}},
			{op: "Sub", in: []string{"n", "six"}, out: []string{"z"}},
			{op: "Range", in: []string{"four", "z", "minus1"}, out: []string{"idx"}},
			{op: "Gather", in: []string{"x", "idx"}, out: []string{"y"}, attrs: []wAttr{attrI("axis", 1)}},
		}}
	checkImported(t, opCase{"range", m, x, x.Slice(1, 4, -6, -1), 1e-5})
}

// TestImportLayerNormalization: opset 17's single operator, over the last
// two dims.
func TestImportLayerNormalization(t *testing.T) {
	x := f32(tensor.RandN(15, 2, 3, 4).MulScalar(3))
	g := f32(tensor.RandU(16, 0.5, 1.5, 3, 4))
	b := f32(tensor.RandN(17, 3, 4))
	want := x.Clone()
	for i := 0; i < 2; i++ {
		row := x.Slice(0, i, i+1, 1)
		mean := row.MeanAll()
		v := row.AddScalar(-mean)
		inv := 1 / math.Sqrt(v.Mul(v).MeanAll()+1e-5)
		for j := 0; j < 12; j++ {
			want.Data()[i*12+j] = (x.Data()[i*12+j]-mean)*inv*g.Data()[j] + b.Data()[j]
		}
	}
	m := single(17, x, []int64{2, 3, 4}, wNode{op: "LayerNormalization", in: []string{"x", "g", "b"}, out: []string{"y"},
		attrs: []wAttr{attrI("axis", 1), attrF("epsilon", 1e-5)}}, ftensor("g", dims64(g), g.Data()), ftensor("b", dims64(b), b.Data()))
	checkImported(t, opCase{"layernorm", m, x, want, 2e-3})
}
