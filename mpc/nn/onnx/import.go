package onnx

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// Supported default-domain operator-set versions.
const (
	MinOpset = 7
	MaxOpset = 21
)

// Load reads, decodes and imports the ONNX model in file path.
func Load(path string) (*nn.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer f.Close()
	m, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return m, nil
}

// Read decodes and imports an ONNX model of at most DefaultLimits.MaxBytes.
func Read(r io.Reader) (*nn.Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(DefaultLimits.MaxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("onnx: read: %w", err)
	}
	m, err := Decode(b)
	if err != nil {
		return nil, err
	}
	return Import(m)
}

// Import converts a decoded model into an nn.Model whose root is an
// nn.Graph. The model is in evaluation mode; its parameters are the
// initializers (by their ONNX names, which PyTorch sets to state-dict names)
// and any constants used as data, as buffers.
func Import(m *Model) (*nn.Model, error) {
	opset, ok := m.Opsets[""]
	if !ok {
		opset, ok = m.Opsets["ai.onnx"]
	}
	if !ok {
		return nil, fmt.Errorf("onnx: model imports no default-domain operator set")
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("onnx: operator set %d outside the supported %d..%d", opset, MinOpset, MaxOpset)
	}
	im := &importer{opset: opset, consts: map[string]*constant{}, values: map[string]*tensor.Tensor{},
		emitted: map[string]bool{}, buffers: map[string]bool{}}
	g := &m.Graph
	for i := range g.Initializers {
		in := &g.Initializers[i]
		t, err := toTensor(in)
		if err != nil {
			return nil, fmt.Errorf("onnx: initializer %q: %w", in.Name, err)
		}
		im.consts[in.Name] = &constant{t: t, isInt: !in.DataType.IsFloat(), init: true}
	}
	for _, vi := range g.Inputs {
		if _, isInit := im.consts[vi.Name]; !isInit {
			im.spec.Inputs = append(im.spec.Inputs, vi.Name)
		}
	}
	if len(im.spec.Inputs) == 0 {
		return nil, fmt.Errorf("onnx: graph has no inputs")
	}
	for i := range g.Nodes {
		if err := im.node(i, &g.Nodes[i]); err != nil {
			return nil, fmt.Errorf("onnx: %s: %w", g.Nodes[i].label(i), err)
		}
	}
	for _, vi := range g.Outputs {
		name := vi.Name
		if _, ok := im.consts[name]; ok { // a constant output: pass its parameter through
			im.emitParam(name)
			out := name + "/output"
			im.spec.Nodes = append(im.spec.Nodes, nn.NodeSpec{Op: "Identity", Inputs: []string{name}, Outputs: []string{out}})
			name = out
		}
		im.spec.Outputs = append(im.spec.Outputs, name)
	}
	graph, err := nn.NewGraph(&im.spec, im.values)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	model := nn.NewModel(graph)
	model.Eval()
	return model, nil
}

// constant is a value known at import time.
type constant struct {
	t     *tensor.Tensor
	isInt bool // integer-typed in the model (shapes, indices)
	init  bool // an initializer, hence a learnable weight when used as data
}

type importer struct {
	opset   int64
	consts  map[string]*constant
	spec    nn.GraphSpec
	values  map[string]*tensor.Tensor
	emitted map[string]bool
	buffers map[string]bool // constants used as BatchNormalization statistics
}

// maxExactInt bounds integers carried in float64 (exact up to 2^53); larger
// ones, like the INT64_MAX that exporters use for "to the end" in Slice,
// are clamped, which keeps their meaning.
const maxExactInt = 1 << 53

func toTensor(t *Tensor) (*tensor.Tensor, error) {
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		shape[i] = int(d)
	}
	data := t.Floats
	if !t.DataType.IsFloat() {
		data = make([]float64, len(t.Ints))
		for i, v := range t.Ints {
			data[i] = float64(max(-maxExactInt, min(v, maxExactInt)))
		}
	}
	if len(shape) == 0 {
		if len(data) != 1 {
			return nil, fmt.Errorf("scalar with %d values", len(data))
		}
		return tensor.Scalar(data[0]), nil
	}
	return tensor.New(data, shape...)
}

// intsOf reads a constant holding integers.
func intsOf(c *constant, what string) ([]int, error) {
	out := make([]int, c.t.Size())
	for i, f := range c.t.Data() {
		if f != math.Trunc(f) || math.Abs(f) > maxExactInt {
			return nil, fmt.Errorf("%s holds a value that is not an integer", what)
		}
		out[i] = int(f)
	}
	return out, nil
}

func (im *importer) node(i int, n *Node) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return fmt.Errorf("operator %s of domain %q is not supported", n.OpType, n.Domain)
	}
	if len(n.Outputs) == 0 || n.Outputs[0] == "" {
		return fmt.Errorf("node has no output")
	}
	if n.OpType == "Constant" {
		c, err := constantValue(n)
		if err != nil {
			return err
		}
		im.consts[n.Outputs[0]] = c
		return nil
	}
	ns, err := im.convert(n)
	if err != nil {
		return err
	}
	// Fold nodes whose inputs are all known now.
	foldable := true
	for _, in := range ns.Inputs {
		if _, ok := im.consts[in]; in != "" && !ok {
			foldable = false
		}
	}
	if foldable {
		return im.fold(ns)
	}
	for j, in := range ns.Inputs {
		if c, ok := im.consts[in]; ok && in != "" {
			if ns.Op == "BatchNormalization" && j >= 3 {
				im.buffers[in] = true
			}
			if c.isInt && c.t.Size() <= maxPublicConst {
				im.emitPublic(in)
			} else {
				im.emitParam(in)
			}
		}
	}
	im.spec.Nodes = append(im.spec.Nodes, *ns)
	return nil
}

// maxPublicConst bounds the integer constants kept in the architecture.
const maxPublicConst = 4096

// emitPublic makes integer constant name a Constant node (once): shapes,
// axes and indices are public architecture, so a model encrypted or
// shared keeps them in the clear (an encrypted -1 in a computed shape
// would leave Reshape nothing to reshape by).
func (im *importer) emitPublic(name string) {
	if im.emitted[name] {
		return
	}
	im.emitted[name] = true
	c := im.consts[name]
	v, err := intsOf(c, name)
	if err != nil { // not integral after all: a buffer like any constant
		im.emitted[name] = false
		im.emitParam(name)
		return
	}
	shape := c.t.Shape()
	if shape == nil {
		shape = []int{}
	}
	im.spec.Nodes = append(im.spec.Nodes, nn.NodeSpec{Op: "Constant", Name: name, Outputs: []string{name},
		Inputs: []string{}, Ints: map[string][]int{"value": v, "shape": shape}})
}

// emitParam makes constant name a graph parameter (once).
func (im *importer) emitParam(name string) {
	if im.emitted[name] {
		return
	}
	im.emitted[name] = true
	c := im.consts[name]
	im.values[name] = c.t
	im.spec.Params = append(im.spec.Params, nn.ParamSpec{Name: name, Shape: c.t.Shape(),
		Buffer: !c.init || c.isInt || im.buffers[name]})
}

// fold evaluates a node on constants with the graph's own operators.
func (im *importer) fold(ns *nn.NodeSpec) error {
	in := make([]*nn.Variable, len(ns.Inputs))
	allInt := true
	for j, name := range ns.Inputs {
		if name == "" {
			continue
		}
		c := im.consts[name]
		in[j] = nn.NewVariable(c.t)
		allInt = allInt && c.isInt
	}
	outs, err := nn.EvalNodeMany(ns, in)
	if err != nil {
		return fmt.Errorf("fold: %w", err)
	}
	isInt := allInt
	switch ns.Op {
	case "Shape", "Equal", "Greater", "Less":
		isInt = true
	case "Cast", "ConstantOfShape":
		isInt = ns.Ints["int"] != nil
	}
	for i, out := range outs {
		t := out.Tensor()
		if ns.Op == "Div" && allInt {
			t = t.Apply(math.Trunc) // integer division truncates
		}
		if ns.Outputs[i] != "" {
			im.consts[ns.Outputs[i]] = &constant{t: t, isInt: isInt}
		}
	}
	return nil
}

// constantValue reads a Constant node's value attribute.
func constantValue(n *Node) (*constant, error) {
	if len(n.Attrs) != 1 {
		return nil, fmt.Errorf("want exactly one value attribute, have %d", len(n.Attrs))
	}
	a := &n.Attrs[0]
	switch a.Name {
	case "value":
		if a.T == nil {
			return nil, fmt.Errorf("value attribute is not a tensor")
		}
		t, err := toTensor(a.T)
		if err != nil {
			return nil, err
		}
		return &constant{t: t, isInt: !a.T.DataType.IsFloat()}, nil
	case "value_float":
		return &constant{t: tensor.Scalar(a.F)}, nil
	case "value_floats":
		return &constant{t: tensor.FromSlice(a.Floats)}, nil
	case "value_int":
		return &constant{t: tensor.Scalar(float64(a.I)), isInt: true}, nil
	case "value_ints":
		f := make([]float64, len(a.Ints))
		for i, v := range a.Ints {
			f[i] = float64(v)
		}
		return &constant{t: tensor.FromSlice(f), isInt: true}, nil
	}
	return nil, fmt.Errorf("attribute %q is not supported", a.Name)
}

// attrInts copies integer attributes that the graph operator reads as is.
func attrInts(n *Node, ns *nn.NodeSpec, names ...string) {
	for _, k := range names {
		if a := n.Attr(k); a != nil {
			if a.Type == AttrInt {
				ns.Ints[k] = []int{int(a.I)}
			} else {
				v := make([]int, len(a.Ints))
				for i, x := range a.Ints {
					v[i] = int(max(-maxExactInt, min(x, maxExactInt)))
				}
				ns.Ints[k] = v
			}
		}
	}
}

func attrFloats(n *Node, ns *nn.NodeSpec, names ...string) {
	for _, k := range names {
		if a := n.Attr(k); a != nil {
			ns.Floats[k] = a.F
		}
	}
}

// constInput moves optional input j, which must be constant, into integer
// attribute name. It reports whether the input was given.
func (im *importer) constInput(n *Node, ns *nn.NodeSpec, j int, name string) (bool, error) {
	if j >= len(n.Inputs) || n.Inputs[j] == "" {
		return false, nil
	}
	c, ok := im.consts[n.Inputs[j]]
	if !ok {
		return false, fmt.Errorf("input %d (%s) must be a constant", j, name)
	}
	v, err := intsOf(c, name)
	if err != nil {
		return false, err
	}
	ns.Ints[name] = v
	return true, nil
}

// noAutoPad rejects padding modes that depend on the input size.
func noAutoPad(n *Node) error {
	if a := n.Attr("auto_pad"); a != nil && a.S != "NOTSET" && a.S != "VALID" && a.S != "" {
		return fmt.Errorf("auto_pad %s is not supported; export with explicit pads", a.S)
	}
	return nil
}

var floatTypes = map[int64]bool{int64(Float): true, int64(Double): true, 10: true, 16: true}

// convert maps an ONNX node to a graph node, turning constant operands that
// carry shapes, pads or axes into attributes.
func (im *importer) convert(n *Node) (*nn.NodeSpec, error) {
	ns := &nn.NodeSpec{Op: n.OpType, Name: n.Name, Inputs: append([]string(nil), n.Inputs...),
		Outputs: append([]string(nil), n.Outputs...), Ints: map[string][]int{}, Floats: map[string]float64{}}
	var err error
	switch n.OpType {
	case "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt",
		"Neg", "Abs", "Identity", "GlobalAveragePool", "Shape":
		if n.OpType == "Shape" && (n.Attr("start") != nil || n.Attr("end") != nil) {
			return nil, fmt.Errorf("attributes start and end are not supported")
		}
	case "Gemm":
		attrInts(n, ns, "transA", "transB")
		attrFloats(n, ns, "alpha", "beta")
	case "Dropout":
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			c, ok := im.consts[n.Inputs[2]]
			if !ok || c.t.Size() != 1 || c.t.Data()[0] != 0 {
				return nil, fmt.Errorf("training mode is not supported")
			}
		}
		ns.Inputs = ns.Inputs[:1]
	case "Softmax", "LogSoftmax":
		if im.opset < 13 {
			ns.Ints["axis"] = []int{1}
			ns.Ints["coerce2d"] = []int{1}
		}
		attrInts(n, ns, "axis")
	case "Conv", "MaxPool", "AveragePool":
		if err := noAutoPad(n); err != nil {
			return nil, err
		}
		attrInts(n, ns, "kernel_shape", "strides", "pads", "dilations", "group", "ceil_mode", "count_include_pad")
		if a := n.Attr("storage_order"); a != nil && a.I != 0 {
			return nil, fmt.Errorf("storage_order %d is not supported", a.I)
		}
	case "BatchNormalization":
		if a := n.Attr("spatial"); a != nil && a.I != 1 {
			return nil, fmt.Errorf("spatial=0 is not supported")
		}
		if a := n.Attr("training_mode"); a != nil && a.I != 0 {
			return nil, fmt.Errorf("training mode is not supported")
		}
		attrFloats(n, ns, "epsilon")
	case "Flatten", "Concat", "Transpose", "Gather":
		attrInts(n, ns, "axis", "perm")
		if n.OpType == "Concat" && ns.Ints["axis"] == nil {
			return nil, fmt.Errorf("missing attribute axis")
		}
		if n.OpType == "Gather" && len(n.Inputs) == 2 {
			if c, ok := im.consts[n.Inputs[1]]; ok {
				if _, known := im.consts[n.Inputs[0]]; !known { // constant indices into data: attributes
					if ns.Ints["indices"], err = intsOf(c, "indices"); err != nil {
						return nil, err
					}
					ns.Ints["indices_shape"] = c.t.Shape()
					ns.Inputs = ns.Inputs[:1]
				}
			}
		}
	case "Reshape":
		if im.opset < 5 {
			attrInts(n, ns, "shape")
		} else if len(n.Inputs) == 2 {
			if c, ok := im.consts[n.Inputs[1]]; ok {
				if ns.Ints["shape"], err = intsOf(c, "shape"); err != nil {
					return nil, err
				}
				ns.Inputs = ns.Inputs[:1]
			}
		}
		if a := n.Attr("allowzero"); a != nil && a.I != 0 {
			for _, d := range ns.Ints["shape"] {
				if d == 0 {
					return nil, fmt.Errorf("allowzero with a 0 in the shape is not supported")
				}
			}
		}
	case "Pad":
		if a := n.Attr("mode"); a != nil && a.S != "constant" {
			return nil, fmt.Errorf("mode %q is not supported (only constant)", a.S)
		}
		if im.opset < 11 {
			attrInts(n, ns, "pads")
			attrFloats(n, ns, "value")
		} else {
			if ok, err := im.constInput(n, ns, 1, "pads"); err != nil || !ok {
				return nil, fmt.Errorf("pads: %v", orMissing(err))
			}
			if len(n.Inputs) > 2 && n.Inputs[2] != "" {
				c, ok := im.consts[n.Inputs[2]]
				if !ok || c.t.Size() != 1 {
					return nil, fmt.Errorf("constant_value must be a constant scalar")
				}
				ns.Floats["value"] = c.t.Data()[0]
			}
			if len(n.Inputs) > 3 && n.Inputs[3] != "" {
				return nil, fmt.Errorf("input axes is not supported")
			}
			ns.Inputs = ns.Inputs[:1]
		}
	case "Slice":
		if im.opset < 10 {
			attrInts(n, ns, "starts", "ends", "axes")
		} else {
			for j, k := range []string{"starts", "ends", "axes", "steps"} {
				if _, err := im.constInput(n, ns, j+1, k); err != nil {
					return nil, err
				}
			}
			ns.Inputs = ns.Inputs[:1]
		}
	case "Squeeze", "Unsqueeze":
		if im.opset < 13 {
			attrInts(n, ns, "axes")
		} else {
			if _, err := im.constInput(n, ns, 1, "axes"); err != nil {
				return nil, err
			}
			ns.Inputs = ns.Inputs[:1]
		}
	case "Cast":
		a := n.Attr("to")
		if a == nil {
			return nil, fmt.Errorf("missing attribute to")
		}
		if floatTypes[a.I] {
			ns.Ints["float"] = []int{1}
		} else {
			ns.Ints["float"] = []int{0}
			ns.Ints["int"] = []int{1}
		}
	case "ConstantOfShape":
		if a := n.Attr("value"); a != nil && a.T != nil {
			if len(a.T.Floats)+len(a.T.Ints) != 1 {
				return nil, fmt.Errorf("value must hold one element")
			}
			if a.T.DataType.IsFloat() {
				ns.Floats["value"] = a.T.Floats[0]
			} else {
				ns.Floats["value"] = float64(a.T.Ints[0])
				ns.Ints["int"] = []int{1}
			}
		}
	default:
		return im.convertMore(n, ns)
	}
	return ns, nil
}

func orMissing(err error) string {
	if err == nil {
		return "missing"
	}
	return err.Error()
}

// SupportedOps lists the ONNX operators Import maps, for documentation.
func SupportedOps() string {
	return strings.Join(append(nn.GraphOps(), "Constant"), ", ")
}
