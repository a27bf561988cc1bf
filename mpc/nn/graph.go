package nn

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/gomplab/gomplab/tensor"
)

// GraphSpec is a dataflow graph of operator nodes in topological order, the
// form imported ONNX models take. Values are named; Inputs name the graph's
// inputs, Params its parameters and buffers (the weights, never stored in the
// spec), and each node reads named values and defines new ones.
//
// Node operators and their attributes follow ONNX (opset 13 semantics), with
// constant operands already turned into attributes by the importer:
//
//	Gemm (transA, transB; alpha, beta), MatMul, Add, Sub, Mul, Div,
//	Relu, Sigmoid, Tanh, Exp, Log, Sqrt, Neg, Abs, Identity, Dropout,
//	Softmax and LogSoftmax (axis; coerce2d: 1 for the pre-13 rule that
//	flattens to 2-D at axis), Conv (kernel_shape, strides, pads,
//	dilations, group), MaxPool and AveragePool (kernel_shape, strides, pads,
//	dilations, ceil_mode, count_include_pad), GlobalAveragePool,
//	BatchNormalization (epsilon), Flatten (axis), Reshape (shape),
//	Transpose (perm), Concat (axis), Pad (pads; value), Slice (starts, ends,
//	axes, steps), Squeeze and Unsqueeze (axes); and for shapes computed at
//	run time (always plaintext, since shapes are public): Shape, Gather
//	(axis; plaintext indices as an input, or constant ones as attributes
//	indices and indices_shape), Cast (float: 0 truncates a plaintext value to
//	integers), ConstantOfShape (value), and Reshape with the shape as a
//	second input.
//
// pads list all begins, then all ends, as ONNX does.
type GraphSpec struct {
	Inputs  []string    `json:"inputs"`
	Outputs []string    `json:"outputs"`
	Params  []ParamSpec `json:"params,omitempty"`
	Nodes   []NodeSpec  `json:"nodes"`
}

// ParamSpec names a graph parameter and gives its shape.
type ParamSpec struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	// Buffer marks values that are not learned (running statistics and
	// constants), as Param.Buffer.
	Buffer bool `json:"buffer,omitempty"`
}

// NodeSpec is one operator application.
type NodeSpec struct {
	Op      string             `json:"op"`
	Name    string             `json:"name,omitempty"`
	Inputs  []string           `json:"inputs"`
	Outputs []string           `json:"outputs"`
	Ints    map[string][]int   `json:"ints,omitempty"`
	Floats  map[string]float64 `json:"floats,omitempty"`
}

func (n *NodeSpec) label(i int) string {
	if n.Name != "" {
		return fmt.Sprintf("%s node %q", n.Op, n.Name)
	}
	return fmt.Sprintf("%s node #%d", n.Op, i)
}

func (n *NodeSpec) ints(name string, def []int) []int {
	if v, ok := n.Ints[name]; ok {
		return v
	}
	return def
}

func (n *NodeSpec) int(name string, def int) int {
	if v, ok := n.Ints[name]; ok && len(v) == 1 {
		return v[0]
	}
	return def
}

func (n *NodeSpec) float(name string, def float64) float64 {
	if v, ok := n.Floats[name]; ok {
		return v
	}
	return def
}

func (s *GraphSpec) clone() *GraphSpec {
	c := &GraphSpec{Inputs: slices.Clone(s.Inputs), Outputs: slices.Clone(s.Outputs)}
	for _, p := range s.Params {
		p.Shape = slices.Clone(p.Shape)
		c.Params = append(c.Params, p)
	}
	for _, n := range s.Nodes {
		m := n
		m.Inputs, m.Outputs = slices.Clone(n.Inputs), slices.Clone(n.Outputs)
		m.Ints = map[string][]int{}
		for k, v := range n.Ints {
			m.Ints[k] = slices.Clone(v)
		}
		m.Floats = map[string]float64{}
		for k, v := range n.Floats {
			m.Floats[k] = v
		}
		c.Nodes = append(c.Nodes, m)
	}
	return c
}

// Graph executes a GraphSpec: a Module whose Forward runs the nodes in
// order. It is how imported ONNX models run, and, built only from
// Variable operations, it is differentiable and runs encrypted.
type Graph struct {
	spec   *GraphSpec
	plan   []NodeSpec // the nodes as executed (see poolBeforeRelu)
	params []Param
	byName map[string]*Variable
}

// NewGraph builds a Graph from spec with the given parameter values (every
// ParamSpec must have a plaintext tensor of its shape in values).
func NewGraph(spec *GraphSpec, values map[string]*tensor.Tensor) (*Graph, error) {
	b := &builder{limit: MaxSpecElements}
	g, err := b.graph(spec)
	if err != nil {
		return nil, fmt.Errorf("nn: graph: %w", err)
	}
	for _, p := range g.params {
		t, ok := values[p.Name]
		if !ok {
			return nil, fmt.Errorf("nn: graph: no value for parameter %q", p.Name)
		}
		if !tensor.SameShape(t.Shape(), p.Var.val.dims()) {
			return nil, fmt.Errorf("nn: graph: parameter %q has shape %v, spec says %v", p.Name, t.Shape(), p.Var.val.dims())
		}
		p.Var.val = plain{t.Clone()}
	}
	return g, nil
}

// Spec returns a copy of the graph's description.
func (g *Graph) Spec() *GraphSpec { return g.spec.clone() }

// Params returns the graph's parameters in spec order.
func (g *Graph) Params() []Param { return slices.Clone(g.params) }

// SetTraining does nothing: imported graphs hold inference-mode operators
// (BatchNormalization uses its running statistics, Dropout passes through).
func (g *Graph) SetTraining(bool) {}

// Forward runs a graph with one input and returns its first output.
func (g *Graph) Forward(x *Variable) (*Variable, error) {
	outs, err := g.ForwardMany(x)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// ForwardMany runs the graph on its inputs, in spec order, and returns all
// its outputs.
func (g *Graph) ForwardMany(xs ...*Variable) ([]*Variable, error) {
	if len(xs) != len(g.spec.Inputs) {
		return nil, fmt.Errorf("nn: graph takes %d inputs, given %d", len(g.spec.Inputs), len(xs))
	}
	env := make(map[string]*Variable, len(g.byName)+len(g.plan))
	for k, v := range g.byName {
		env[k] = v
	}
	for i, name := range g.spec.Inputs {
		if xs[i] == nil || xs[i].err != nil {
			return nil, fmt.Errorf("nn: graph input %q: %w", name, xs[i].Err())
		}
		env[name] = xs[i]
	}
	for i := range g.plan {
		n := &g.plan[i]
		in := make([]*Variable, len(n.Inputs))
		for j, name := range n.Inputs {
			if name != "" {
				in[j] = env[name]
			}
		}
		outs, err := evalNode(n, in)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", n.label(i), err)
		}
		for j, o := range outs {
			if n.Outputs[j] != "" {
				env[n.Outputs[j]] = o
			}
		}
	}
	outs := make([]*Variable, len(g.spec.Outputs))
	for i, name := range g.spec.Outputs {
		outs[i] = env[name]
	}
	return outs, nil
}

// graphOp is one supported operator: its input count range, a check of its
// attributes at build time, and its evaluation: run for operators with one
// output (only the first is computed: Dropout's mask and MaxPool's indices
// are not), runMany for those with several (Split).
type graphOp struct {
	minIn, maxIn int
	check        func(n *NodeSpec) error
	run          func(n *NodeSpec, in []*Variable) *Variable
	runMany      func(n *NodeSpec, in []*Variable) []*Variable
}

// evalNode runs node n on its inputs and returns the values of its
// outputs (one, or as many as the node names for runMany operators).
func evalNode(n *NodeSpec, in []*Variable) ([]*Variable, error) {
	op := graphOps[n.Op]
	if op.runMany == nil {
		out := op.run(n, in)
		if out.err != nil {
			return nil, out.err
		}
		return []*Variable{out}, nil
	}
	outs := op.runMany(n, in)
	for _, o := range outs {
		if o.err != nil {
			return nil, o.err
		}
	}
	if len(outs) != len(n.Outputs) {
		return nil, fmt.Errorf("%d outputs computed for %d named", len(outs), len(n.Outputs))
	}
	return outs, nil
}

// GraphOps lists the operators a GraphSpec may use, sorted.
func GraphOps() []string {
	ops := make([]string, 0, len(graphOps))
	for k := range graphOps {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

func unaryOp(f func(x *Variable) *Variable) graphOp {
	return graphOp{minIn: 1, maxIn: 1, run: func(_ *NodeSpec, in []*Variable) *Variable { return f(in[0]) }}
}

func binaryOp(f func(a, b *Variable) *Variable) graphOp {
	return graphOp{minIn: 2, maxIn: 2, run: func(_ *NodeSpec, in []*Variable) *Variable { return f(in[0], in[1]) }}
}

var graphOps map[string]graphOp

func init() {
	identity := graphOp{minIn: 1, maxIn: 3, run: func(_ *NodeSpec, in []*Variable) *Variable { return in[0] }}
	graphOps = map[string]graphOp{
		"Add":      binaryOp((*Variable).Add),
		"Sub":      binaryOp((*Variable).Sub),
		"Mul":      binaryOp((*Variable).Mul),
		"Div":      binaryOp(divFull),
		"MatMul":   binaryOp((*Variable).MatMul),
		"Relu":     unaryOp((*Variable).Relu),
		"Sigmoid":  unaryOp((*Variable).Sigmoid),
		"Tanh":     unaryOp((*Variable).Tanh),
		"Exp":      unaryOp((*Variable).Exp),
		"Log":      unaryOp((*Variable).Log),
		"Sqrt":     unaryOp((*Variable).sqrtFull),
		"Neg":      unaryOp((*Variable).Neg),
		"Abs":      unaryOp((*Variable).Abs),
		"Identity": identity,
		"Dropout":  identity,
		"Gemm":     {minIn: 2, maxIn: 3, run: runGemm},
		"Softmax": {minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			return softmaxNode(n, in[0], (*Variable).Softmax)
		}},
		"LogSoftmax": {minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			return softmaxNode(n, in[0], (*Variable).LogSoftmax)
		}},
		"Conv":        {minIn: 2, maxIn: 3, check: checkWindow, run: runConv},
		"MaxPool":     {minIn: 1, maxIn: 1, check: checkWindow, run: runPool},
		"AveragePool": {minIn: 1, maxIn: 1, check: checkWindow, run: runPool},
		"GlobalAveragePool": {minIn: 1, maxIn: 1, run: func(_ *NodeSpec, in []*Variable) *Variable {
			if in[0].err == nil && len(in[0].val.dims()) != 4 {
				return Errorf("GlobalAveragePool: input shape %v, want (N, C, H, W)", in[0].val.dims())
			}
			return in[0].MeanKeep(2, 3)
		}},
		"BatchNormalization": {minIn: 5, maxIn: 5, run: runBatchNorm},
		"Flatten": {minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			x := in[0]
			if x.err != nil {
				return x
			}
			sh := x.val.dims()
			axis := n.int("axis", 1)
			if axis < 0 {
				axis += len(sh)
			}
			if axis < 0 || axis > len(sh) {
				return Errorf("Flatten: axis %d for shape %v", n.int("axis", 1), sh)
			}
			return x.Reshape(tensor.Numel(sh[:axis]), tensor.Numel(sh[axis:]))
		}},
		"Reshape": {minIn: 1, maxIn: 2, check: shapeAttrOrInput, run: func(n *NodeSpec, in []*Variable) *Variable {
			shape := n.Ints["shape"]
			if len(in) > 1 {
				var err error
				if shape, err = plainInts(in[1], "shape"); err != nil {
					return &Variable{err: err}
				}
			}
			v, err := NewReshape(shape...).Forward(in[0])
			if err != nil {
				return &Variable{err: err}
			}
			return v
		}},
		"Shape": {minIn: 1, maxIn: 1, run: func(_ *NodeSpec, in []*Variable) *Variable {
			if in[0].err != nil {
				return in[0]
			}
			sh := in[0].val.dims()
			f := make([]float64, len(sh))
			for i, d := range sh {
				f[i] = float64(d)
			}
			return NewVariable(tensor.FromSlice(f))
		}},
		"Gather": {minIn: 1, maxIn: 2, check: gatherIndices, run: func(n *NodeSpec, in []*Variable) *Variable {
			idx := NewVariable(nil)
			if len(in) > 1 {
				idx = in[1]
			} else if sh := n.Ints["indices_shape"]; tensor.Numel(sh) == len(n.Ints["indices"]) {
				f := make([]float64, len(n.Ints["indices"]))
				for i, v := range n.Ints["indices"] {
					f[i] = float64(v)
				}
				idx = NewVariable(tensor.MustNew(f, sh...))
			}
			return gather(in[0], idx, n.int("axis", 0))
		}},
		"Cast": {minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			x := in[0]
			if x.err != nil || n.int("float", 1) == 1 {
				return x
			}
			t := x.Tensor()
			if t == nil {
				return Errorf("Cast: an encrypted value cannot be cast to an integer type")
			}
			return NewVariable(t.Apply(math.Trunc))
		}},
		"ConstantOfShape": {minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			shape, err := plainInts(in[0], "shape")
			if err != nil {
				return &Variable{err: err}
			}
			if !withinLimit(shape) {
				return Errorf("ConstantOfShape: shape %v is negative or too large", shape)
			}
			return NewVariable(tensor.Full(n.float("value", 0), shape...))
		}},
		"Transpose": {minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			x := in[0]
			if x.err != nil {
				return x
			}
			perm := n.Ints["perm"]
			if perm == nil {
				r := len(x.val.dims())
				for i := range r {
					perm = append(perm, r-1-i)
				}
			}
			return x.Permute(perm...)
		}},
		"Concat": {minIn: 1, maxIn: maxGraphArity, check: needInts("axis"), run: func(n *NodeSpec, in []*Variable) *Variable {
			return Concat(n.int("axis", 0), in...)
		}},
		"Pad":   {minIn: 1, maxIn: 1, check: needInts("pads"), run: runPad},
		"Slice": {minIn: 1, maxIn: 1, check: needInts("starts", "ends"), run: runSlice},
		"Squeeze": {minIn: 1, maxIn: 1, run: func(n *NodeSpec, in []*Variable) *Variable {
			return squeeze(in[0], n.Ints["axes"], false)
		}},
		"Unsqueeze": {minIn: 1, maxIn: 1, check: needInts("axes"), run: func(n *NodeSpec, in []*Variable) *Variable {
			return squeeze(in[0], n.Ints["axes"], true)
		}},
	}
	addParityOps(graphOps)
}

const maxGraphArity = 4096

// divFull divides as graphs mean it whatever the divisor's magnitude: by
// an encrypted divisor through the full-range reciprocal (a plaintext one
// is exact anyway).
func divFull(a, b *Variable) *Variable {
	if b == nil || b.err != nil || !b.Encrypted() {
		return a.Div(b)
	}
	return a.Mul(b.reciprocalFull())
}

// withinLimit reports whether shape is non-negative with at most
// MaxSpecElements elements: graph operators whose output size comes from
// attributes (pads, shapes) check it, so a hostile spec cannot exhaust memory.
func withinLimit(shape []int) bool {
	n := 1
	for _, d := range shape {
		if d < 0 || d > MaxSpecElements {
			return false
		}
		if d > 0 && n > MaxSpecElements/d {
			return false
		}
		n *= d
	}
	return true
}

// paddedWithin checks the size of x padded by the ONNX pads of a 2-D
// window operator.
func paddedWithin(x *Variable, pads []int) error {
	if x.err != nil || len(pads) != 4 {
		return nil
	}
	sh := append([]int(nil), x.val.dims()...)
	if len(sh) != 4 {
		return fmt.Errorf("input shape %v, want (N, C, H, W)", sh)
	}
	sh[2] += pads[0] + pads[2]
	sh[3] += pads[1] + pads[3]
	if !withinLimit(sh) {
		return fmt.Errorf("pads %v make the input too large", pads)
	}
	return nil
}

func needInts(names ...string) func(n *NodeSpec) error {
	return func(n *NodeSpec) error {
		for _, k := range names {
			if _, ok := n.Ints[k]; !ok {
				return fmt.Errorf("missing attribute %q", k)
			}
		}
		return nil
	}
}

// gatherIndices requires constant indices as attributes (indices, and
// indices_shape, empty for a scalar) when they are not an input.
func gatherIndices(n *NodeSpec) error {
	if len(n.Inputs) > 1 {
		return nil
	}
	idx, ok := n.Ints["indices"]
	sh, ok2 := n.Ints["indices_shape"]
	if !ok || !ok2 || len(sh) > 8 || slices.ContainsFunc(sh, func(d int) bool { return d < 0 || d > maxGraphArity }) || tensor.Numel(sh) != len(idx) {
		return fmt.Errorf("indices %v do not fill indices_shape %v", idx, sh)
	}
	return nil
}

func shapeAttrOrInput(n *NodeSpec) error {
	if _, ok := n.Ints["shape"]; !ok && len(n.Inputs) < 2 {
		return fmt.Errorf("no shape attribute or input")
	}
	return nil
}

// plainInts reads a plaintext Variable of integers (a shape or indices,
// which are public).
func plainInts(v *Variable, what string) ([]int, error) {
	if v == nil {
		return nil, fmt.Errorf("nn: %s: missing", what)
	}
	if v.err != nil {
		return nil, v.err
	}
	t := v.Tensor()
	if t == nil {
		return nil, fmt.Errorf("nn: %s must be plaintext, not encrypted", what)
	}
	out := make([]int, t.Size())
	for i, f := range t.Data() {
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("nn: %s holds a value that is not an integer", what)
		}
		out[i] = int(f)
	}
	return out, nil
}

// gather selects indices (plaintext, any shape) along axis of x, as ONNX
// Gather: the result's shape is x's with axis replaced by the indices'
// shape. It is IndexSelect, local on encrypted x.
func gather(x, indices *Variable, axis int) *Variable {
	if _, err := plainInts(indices, "Gather indices"); err != nil {
		return &Variable{err: err}
	}
	if x.err != nil {
		return x
	}
	if indices.Tensor().Size() == 0 {
		return Errorf("Gather: no indices")
	}
	return x.IndexSelect(axis, indices.Tensor())
}

func runGemm(n *NodeSpec, in []*Variable) *Variable {
	a, b := in[0], in[1]
	if n.int("transA", 0) != 0 {
		a = a.T()
	}
	if n.int("transB", 0) != 0 {
		b = b.T()
	}
	y := a.MatMul(b)
	if alpha := n.float("alpha", 1); alpha != 1 {
		y = y.MulScalar(alpha)
	}
	if len(in) > 2 && in[2] != nil {
		c := in[2]
		if beta := n.float("beta", 1); beta != 1 {
			c = c.MulScalar(beta)
		}
		y = y.Add(c)
	}
	return y
}

func softmaxNode(n *NodeSpec, x *Variable, f func(*Variable, int) *Variable) *Variable {
	if x.err != nil {
		return x
	}
	axis := n.int("axis", -1)
	if n.int("coerce2d", 0) == 0 {
		return f(x, axis)
	}
	sh := x.val.dims()
	if axis < 0 {
		axis += len(sh)
	}
	if axis < 0 || axis > len(sh) {
		return Errorf("softmax axis %d for shape %v", n.int("axis", 1), sh)
	}
	return f(x.Reshape(tensor.Numel(sh[:axis]), tensor.Numel(sh[axis:])), 1).Reshape(sh...)
}

// checkWindow validates the spatial attributes of Conv and pooling nodes
// (two spatial dims; Conv also one).
func checkWindow(n *NodeSpec) error {
	r := 2
	if k, ok := n.Ints["kernel_shape"]; ok && len(k) == 1 && n.Op == "Conv" {
		r = 1
	}
	for _, k := range []string{"kernel_shape", "strides", "dilations"} {
		if v, ok := n.Ints[k]; ok && (len(v) != r || slices.Min(v) < 1) {
			return fmt.Errorf("attribute %s = %v: want %d positive sizes (1-D Conv or 2-D only)", k, v, r)
		}
	}
	if v, ok := n.Ints["pads"]; ok && (len(v) != 2*r || slices.Min(v) < 0) {
		return fmt.Errorf("attribute pads = %v: want %d non-negative sizes", v, 2*r)
	}
	if n.Op != "Conv" {
		if _, ok := n.Ints["kernel_shape"]; !ok {
			return fmt.Errorf("missing attribute kernel_shape")
		}
	}
	if g := n.int("group", 1); g < 1 {
		return fmt.Errorf("group %d", g)
	}
	return nil
}

func pair(v []int) [2]int { return [2]int{v[0], v[1]} }

// windowPads splits ONNX pads into symmetric padding for the operator and
// any extra, asymmetric padding to apply first.
func windowPads(n *NodeSpec) (sym [2]int, extra [][2]int) {
	p := n.ints("pads", []int{0, 0, 0, 0})
	sym = [2]int{min(p[0], p[2]), min(p[1], p[3])}
	if p[0] != p[2] || p[1] != p[3] {
		extra = [][2]int{{0, 0}, {0, 0}, {p[0] - sym[0], p[2] - sym[0]}, {p[1] - sym[1], p[3] - sym[1]}}
	}
	return sym, extra
}

func runConv(n *NodeSpec, in []*Variable) *Variable {
	x := in[0]
	if x.err == nil && len(x.val.dims()) == 3 {
		return runConv1d(n, in)
	}
	if err := paddedWithin(x, n.Ints["pads"]); err != nil {
		return &Variable{err: err}
	}
	sym, extra := windowPads(n)
	if extra != nil {
		x = x.Pad(extra, 0)
	}
	var bias *Variable
	if len(in) > 2 {
		bias = in[2]
	}
	o := tensor.ConvOpts{Stride: pair(n.ints("strides", []int{1, 1})), Padding: sym,
		Dilation: pair(n.ints("dilations", []int{1, 1})), Groups: n.int("group", 1)}
	if k, ok := n.Ints["kernel_shape"]; ok && in[1].err == nil {
		if ws := in[1].val.dims(); len(ws) != 4 || ws[2] != k[0] || ws[3] != k[1] {
			return Errorf("Conv: kernel_shape %v but weight shape %v", k, ws)
		}
	}
	return x.Conv2d(in[1], bias, o)
}

// runConv1d is Conv on (N, C, L): ONNX's 1-D attributes on Conv1d, with
// unequal pads applied first.
func runConv1d(n *NodeSpec, in []*Variable) *Variable {
	x := in[0]
	one := func(name string, def int) int {
		if v := n.Ints[name]; len(v) == 1 {
			return v[0]
		}
		return def
	}
	p := n.ints("pads", []int{0, 0})
	if len(p) != 2 {
		return Errorf("Conv: pads %v for a 1-D input", p)
	}
	if x.err == nil {
		if sh := x.val.dims(); p[0] < 0 || p[1] < 0 || !withinLimit([]int{sh[0], sh[1], sh[2] + p[0] + p[1]}) {
			return Errorf("Conv: pads %v make the input too large", p)
		}
	}
	sym := min(p[0], p[1])
	if p[0] != p[1] {
		x = x.Pad([][2]int{{0, 0}, {0, 0}, {p[0] - sym, p[1] - sym}}, 0)
	}
	var bias *Variable
	if len(in) > 2 {
		bias = in[2]
	}
	if k, ok := n.Ints["kernel_shape"]; ok && in[1].err == nil {
		if ws := in[1].val.dims(); len(k) != 1 || len(ws) != 3 || ws[2] != k[0] {
			return Errorf("Conv: kernel_shape %v but weight shape %v", k, ws)
		}
	}
	return x.Conv1d(in[1], bias, tensor.Conv1dOpts{Stride: one("strides", 1), Padding: sym,
		Dilation: one("dilations", 1), Groups: n.int("group", 1)})
}

func runPool(n *NodeSpec, in []*Variable) *Variable {
	x := in[0]
	if err := paddedWithin(x, n.Ints["pads"]); err != nil {
		return &Variable{err: err}
	}
	sym, extra := windowPads(n)
	o := tensor.PoolOpts{Kernel: pair(n.Ints["kernel_shape"]), Stride: pair(n.ints("strides", []int{1, 1})),
		Padding: sym, Dilation: pair(n.ints("dilations", []int{1, 1})), CeilMode: n.int("ceil_mode", 0) != 0,
		CountIncludePad: n.int("count_include_pad", 0) != 0}
	if n.Op == "MaxPool" {
		if extra != nil {
			return Errorf("MaxPool: asymmetric pads %v are not supported", n.Ints["pads"])
		}
		return x.MaxPool2d(o)
	}
	if extra != nil {
		if !o.CountIncludePad {
			return Errorf("AveragePool: asymmetric pads %v without count_include_pad are not supported", n.Ints["pads"])
		}
		x = x.Pad(extra, 0)
	}
	return x.AvgPool2d(o)
}

func runBatchNorm(n *NodeSpec, in []*Variable) *Variable {
	x, scale, bias, mean, variance := in[0], in[1], in[2], in[3], in[4]
	if x.err != nil {
		return x
	}
	sh := x.val.dims()
	if len(sh) < 2 {
		return Errorf("BatchNormalization: input shape %v", sh)
	}
	bshape := make([]int, len(sh))
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[1] = sh[1]
	inv := variance.AddScalar(n.float("epsilon", 1e-5)).invSqrtFull().Mul(scale).Reshape(bshape...)
	return x.Sub(mean.Reshape(bshape...)).Mul(inv).Add(bias.Reshape(bshape...))
}

func runPad(n *NodeSpec, in []*Variable) *Variable {
	x := in[0]
	if x.err != nil {
		return x
	}
	r := len(x.val.dims())
	p := n.Ints["pads"]
	if len(p) != 2*r {
		return Errorf("Pad: %d pads for %d dims", len(p), r)
	}
	w := make([][2]int, r)
	out := append([]int(nil), x.val.dims()...)
	for i := range w {
		w[i] = [2]int{p[i], p[r+i]}
		if p[i] < 0 || p[r+i] < 0 || p[i] > MaxSpecElements || p[r+i] > MaxSpecElements {
			return Errorf("Pad: pads %v negative or too large", p)
		}
		out[i] += p[i] + p[r+i]
	}
	if !withinLimit(out) {
		return Errorf("Pad: pads %v make the output too large", p)
	}
	return x.Pad(w, n.float("value", 0))
}

func runSlice(n *NodeSpec, in []*Variable) *Variable {
	x := in[0]
	if x.err != nil {
		return x
	}
	starts, ends := n.Ints["starts"], n.Ints["ends"]
	axes := n.Ints["axes"]
	if axes == nil {
		for i := range starts {
			axes = append(axes, i)
		}
	}
	steps := n.ints("steps", nil)
	if steps == nil {
		steps = slices.Repeat([]int{1}, len(starts))
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return Errorf("Slice: starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
	}
	for i := range starts {
		if steps[i] == 0 {
			return Errorf("Slice: step 0")
		}
		x = x.Slice(axes[i], starts[i], ends[i], steps[i])
	}
	return x
}

// squeeze removes (or, with insert, adds) size-1 dims at axes.
func squeeze(x *Variable, axes []int, insert bool) *Variable {
	if x.err != nil {
		return x
	}
	sh := x.val.dims()
	if !insert {
		var out []int
		for i, d := range sh {
			drop := d == 1 && len(axes) == 0
			for _, a := range axes {
				if a == i || a+len(sh) == i {
					if d != 1 {
						return Errorf("Squeeze: dim %d of shape %v is not 1", a, sh)
					}
					drop = true
				}
			}
			if !drop {
				out = append(out, d)
			}
		}
		return x.Reshape(out...)
	}
	r := len(sh) + len(axes)
	ones := make([]bool, r)
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r || ones[a] {
			return Errorf("Unsqueeze: axes %v for shape %v", axes, sh)
		}
		ones[a] = true
	}
	out := make([]int, 0, r)
	j := 0
	for i := range r {
		if ones[i] {
			out = append(out, 1)
		} else {
			out = append(out, sh[j])
			j++
		}
	}
	return x.Reshape(out...)
}

// EvalNode applies one graph node to its inputs (nil for omitted optional
// ones): the importer folds constant subgraphs with it, so folding and
// execution share one implementation of every operator.
func EvalNode(n *NodeSpec, in []*Variable) (*Variable, error) {
	if err := checkNode(n, 0); err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	if len(in) != len(n.Inputs) {
		return nil, fmt.Errorf("nn: %s: %d values for %d inputs", n.label(0), len(in), len(n.Inputs))
	}
	outs, err := evalNode(n, in)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", n.label(0), err)
	}
	return outs[0], nil
}

// EvalNodeMany is EvalNode for operators with several outputs (Split): it
// returns one value per output the node names.
func EvalNodeMany(n *NodeSpec, in []*Variable) ([]*Variable, error) {
	if err := checkNode(n, 0); err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	if len(in) != len(n.Inputs) {
		return nil, fmt.Errorf("nn: %s: %d values for %d inputs", n.label(0), len(in), len(n.Inputs))
	}
	outs, err := evalNode(n, in)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", n.label(0), err)
	}
	return outs, nil
}

// checkNode validates a node's operator, arity and attributes.
func checkNode(n *NodeSpec, i int) error {
	op, ok := graphOps[n.Op]
	if !ok {
		return fmt.Errorf("%s: unsupported operator %q", n.label(i), n.Op)
	}
	if len(n.Inputs) < op.minIn || len(n.Inputs) > op.maxIn {
		return fmt.Errorf("%s: %d inputs, want %d to %d", n.label(i), len(n.Inputs), op.minIn, op.maxIn)
	}
	if len(n.Outputs) == 0 {
		return fmt.Errorf("%s: no outputs", n.label(i))
	}
	for k, v := range n.Ints {
		if len(v) > maxGraphArity {
			return fmt.Errorf("%s: attribute %q has %d values", n.label(i), k, len(v))
		}
	}
	if op.check != nil {
		if err := op.check(n); err != nil {
			return fmt.Errorf("%s: %w", n.label(i), err)
		}
	}
	return nil
}

// graph validates a GraphSpec and builds its Graph with zero parameters.
func (b *builder) graph(s *GraphSpec) (*Graph, error) {
	if len(s.Outputs) == 0 {
		return nil, fmt.Errorf("graph has no outputs")
	}
	if len(s.Nodes) > 1<<20 || len(s.Params) > 1<<20 {
		return nil, fmt.Errorf("graph too large: %d nodes, %d params", len(s.Nodes), len(s.Params))
	}
	g := &Graph{spec: s.clone(), byName: map[string]*Variable{}}
	defined := map[string]bool{"": true}
	define := func(name, what string) error {
		if name == "" || defined[name] {
			return fmt.Errorf("%s: value name %q empty or defined twice", what, name)
		}
		defined[name] = true
		return nil
	}
	for _, name := range s.Inputs {
		if err := define(name, "input"); err != nil {
			return nil, err
		}
	}
	for _, p := range s.Params {
		if err := define(p.Name, "param"); err != nil {
			return nil, err
		}
		if len(p.Shape) > 8 {
			return nil, fmt.Errorf("param %q: %d dims", p.Name, len(p.Shape))
		}
		var t *tensor.Tensor
		var err error
		if len(p.Shape) == 0 {
			t, err = b.alloc(1)
			if err == nil {
				t = tensor.Scalar(0)
			}
		} else {
			t, err = b.alloc(p.Shape...)
		}
		if err != nil {
			return nil, fmt.Errorf("param %q: %w", p.Name, err)
		}
		v := NewVariable(t).SetRequiresGrad(!p.Buffer)
		g.params = append(g.params, Param{Name: p.Name, Var: v, Buffer: p.Buffer})
		g.byName[p.Name] = v
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if err := checkNode(n, i); err != nil {
			return nil, err
		}
		for j, in := range n.Inputs {
			if !defined[in] || (in == "" && j < graphOps[n.Op].minIn) {
				return nil, fmt.Errorf("%s: input %q is not defined before use", n.label(i), in)
			}
		}
		// Only the first output is computed (Dropout's mask and MaxPool's
		// indices are not), except by operators with several (Split); later
		// uses of the others fail as undefined.
		if graphOps[n.Op].runMany != nil {
			for _, o := range n.Outputs {
				if o == "" {
					continue
				}
				if err := define(o, n.label(i)); err != nil {
					return nil, err
				}
			}
		} else if err := define(n.Outputs[0], n.label(i)); err != nil {
			return nil, err
		}
	}
	for _, o := range s.Outputs {
		if !defined[o] || o == "" {
			return nil, fmt.Errorf("graph output %q is never computed", o)
		}
	}
	g.plan = poolBeforeRelu(g.spec)
	return g, nil
}

// poolBeforeRelu returns the nodes to execute: the spec's, except that a
// Relu whose only use is a MaxPool runs after it instead of before. Both
// are monotone, so max(relu(a), relu(b)) = relu(max(a, b)) and the result
// (and its gradient, almost everywhere) is the same; but ReLU then acts on
// the pooled values only, which on encrypted values saves the comparisons
// of three ReLUs in four for a 2x2 pool.
func poolBeforeRelu(s *GraphSpec) []NodeSpec {
	plan := slices.Clone(s.Nodes)
	uses := map[string]int{}
	for _, n := range plan {
		for _, in := range n.Inputs {
			uses[in]++
		}
	}
	for _, o := range s.Outputs {
		uses[o]++
	}
	for i := 0; i+1 < len(plan); i++ {
		r, m := plan[i], plan[i+1]
		if r.Op != "Relu" || m.Op != "MaxPool" || len(m.Inputs) != 1 || m.Inputs[0] != r.Outputs[0] || uses[r.Outputs[0]] != 1 {
			continue
		}
		pool := m
		pool.Inputs = r.Inputs
		pool.Outputs = []string{r.Outputs[0]} // now the pooled, not yet rectified value
		relu := r
		relu.Inputs = []string{r.Outputs[0]}
		relu.Outputs = m.Outputs
		plan[i], plan[i+1] = pool, relu
		i++
	}
	return plan
}
