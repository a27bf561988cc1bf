package nn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// Spec describes a model's architecture without its weights: layer types,
// sizes and options, and parameter shapes. The party that owns a model sends
// its Spec to the others, who Build the same architecture with placeholder
// parameters and then receive the weights only as secret shares, so the
// weights are never in the clear anywhere but at the owner.
//
// A Spec is plain data and encodes as JSON (Marshal, UnmarshalSpec).
type Spec struct {
	Type     string             `json:"type"`
	Ints     map[string][]int   `json:"ints,omitempty"`
	Floats   map[string]float64 `json:"floats,omitempty"`
	Children []*Spec            `json:"children,omitempty"`
	Graph    *GraphSpec         `json:"graph,omitempty"`
}

// Limits on specs received from other parties.
const (
	// MaxSpecBytes bounds an encoded Spec.
	MaxSpecBytes = 16 << 20
	// MaxSpecElements bounds the parameter elements a Spec may ask Build to
	// allocate (512 MiB of float64).
	MaxSpecElements = 64 << 20
	maxSpecDepth    = 32
	maxSpecDim      = 1 << 24
)

// Marshal encodes s as JSON.
func (s *Spec) Marshal() ([]byte, error) { return json.Marshal(s) }

// UnmarshalSpec decodes a JSON Spec of at most MaxSpecBytes. It checks only
// the encoding; Build checks the content.
func UnmarshalSpec(b []byte) (*Spec, error) {
	if len(b) > MaxSpecBytes {
		return nil, fmt.Errorf("nn: spec of %d bytes exceeds %d", len(b), MaxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("nn: decode spec: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("nn: decode spec: trailing data")
	}
	return &s, nil
}

func ints(vs ...int) []int { return vs }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Describe returns the architecture of m, which must be built from the
// package's modules (custom modules cannot be described).
func Describe(m Module) (*Spec, error) {
	switch l := m.(type) {
	case *Sequential:
		s := &Spec{Type: "Sequential"}
		for i, c := range l.layers {
			cs, err := Describe(c)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			s.Children = append(s.Children, cs)
		}
		return s, nil
	case *Linear:
		w := l.Weight.Shape()
		return &Spec{Type: "Linear", Ints: map[string][]int{"in": ints(w[1]), "out": ints(w[0]),
			"bias": ints(boolInt(l.Bias != nil))}}, nil
	case *Conv2d:
		w := l.Weight.Shape()
		o := convOpts(l.Opts)
		return &Spec{Type: "Conv2d", Ints: map[string][]int{"in": ints(w[1] * o.Groups), "out": ints(w[0]),
			"kernel": ints(w[2], w[3]), "stride": o.Stride[:], "padding": o.Padding[:],
			"dilation": o.Dilation[:], "groups": ints(o.Groups), "bias": ints(boolInt(l.Bias != nil))}}, nil
	case *ReLU:
		return &Spec{Type: "ReLU"}, nil
	case *Sigmoid:
		return &Spec{Type: "Sigmoid"}, nil
	case *Tanh:
		return &Spec{Type: "Tanh"}, nil
	case *Softmax:
		return &Spec{Type: "Softmax", Ints: map[string][]int{"dim": ints(l.Dim)}}, nil
	case *LogSoftmax:
		return &Spec{Type: "LogSoftmax", Ints: map[string][]int{"dim": ints(l.Dim)}}, nil
	case *MaxPool2d:
		return &Spec{Type: "MaxPool2d", Ints: poolInts(l.Opts)}, nil
	case *AvgPool2d:
		return &Spec{Type: "AvgPool2d", Ints: poolInts(l.Opts)}, nil
	case *AdaptiveAvgPool2d:
		return &Spec{Type: "AdaptiveAvgPool2d", Ints: map[string][]int{"out": l.Out[:]}}, nil
	case *BatchNorm:
		return &Spec{Type: fmt.Sprintf("BatchNorm%dd", l.rank/2),
			Ints:   map[string][]int{"features": ints(l.Weight.Shape()[0])},
			Floats: map[string]float64{"eps": l.Eps, "momentum": l.Momentum}}, nil
	case *Dropout:
		return &Spec{Type: "Dropout", Ints: map[string][]int{"seed": ints(int(l.seed))},
			Floats: map[string]float64{"p": l.P}}, nil
	case *Flatten:
		return &Spec{Type: "Flatten", Ints: map[string][]int{"start_dim": ints(l.StartDim)}}, nil
	case *Reshape:
		return &Spec{Type: "Reshape", Ints: map[string][]int{"shape": append([]int{}, l.Shape...)}}, nil
	case *Graph:
		gs := l.spec.clone()
		return &Spec{Type: "Graph", Graph: gs}, nil
	}
	return describeMore(m)
}

// describeMore describes the modules of layers_conv.go, layers_act.go,
// layers_norm.go and layers_shape.go.
func describeMore(m Module) (*Spec, error) {
	switch l := m.(type) {
	case *Conv1d:
		w := l.Weight.Shape()
		g := max(l.Opts.Groups, 1)
		return &Spec{Type: "Conv1d", Ints: map[string][]int{"in": ints(w[1] * g), "out": ints(w[0]),
			"kernel": ints(w[2]), "stride": ints(max(l.Opts.Stride, 1)), "padding": ints(l.Opts.Padding),
			"dilation": ints(max(l.Opts.Dilation, 1)), "groups": ints(g), "bias": ints(boolInt(l.Bias != nil))}}, nil
	case *ConvTranspose2d:
		w := l.Weight.Shape()
		o := l.Opts
		g := max(o.Groups, 1)
		return &Spec{Type: "ConvTranspose2d", Ints: map[string][]int{"in": ints(w[0]), "out": ints(w[1] * g),
			"kernel": ints(w[2], w[3]), "stride": ints(max(o.Stride[0], 1), max(o.Stride[1], 1)), "padding": o.Padding[:],
			"output_padding": o.OutputPadding[:], "dilation": ints(max(o.Dilation[0], 1), max(o.Dilation[1], 1)),
			"groups": ints(g), "bias": ints(boolInt(l.Bias != nil))}}, nil
	case *AdaptiveMaxPool2d:
		return &Spec{Type: "AdaptiveMaxPool2d", Ints: map[string][]int{"out": l.Out[:]}}, nil
	case *Hardtanh:
		return &Spec{Type: "Hardtanh", Floats: map[string]float64{"min": l.Min, "max": l.Max}}, nil
	case *LeakyReLU:
		return &Spec{Type: "LeakyReLU", Floats: map[string]float64{"slope": l.Slope}}, nil
	case *GELU:
		return &Spec{Type: "GELU", Ints: map[string][]int{"tanh": ints(boolInt(l.Tanh))}}, nil
	case *LayerNorm:
		return &Spec{Type: "LayerNorm", Ints: map[string][]int{"shape": append([]int{}, l.Shape...), "affine": ints(boolInt(l.Weight != nil))},
			Floats: map[string]float64{"eps": l.Eps}}, nil
	case *GroupNorm:
		c := 0
		if l.Weight != nil {
			c = l.Weight.Shape()[0]
		}
		return &Spec{Type: "GroupNorm", Ints: map[string][]int{"groups": ints(l.Groups), "channels": ints(c), "affine": ints(boolInt(l.Weight != nil))},
			Floats: map[string]float64{"eps": l.Eps}}, nil
	case *Squeeze:
		return &Spec{Type: "Squeeze", Ints: map[string][]int{"dims": append([]int{}, l.Dims...)}}, nil
	case *Unsqueeze:
		return &Spec{Type: "Unsqueeze", Ints: map[string][]int{"dims": append([]int{}, l.Dims...)}}, nil
	case *Transpose:
		return &Spec{Type: "Transpose", Ints: map[string][]int{"perm": append([]int{}, l.Perm...)}}, nil
	case *Gather:
		if l.Index == nil {
			return nil, fmt.Errorf("nn: Gather without an index")
		}
		idx := make([]int, l.Index.Size())
		for i, v := range l.Index.Data() {
			idx[i] = int(v)
		}
		return &Spec{Type: "Gather", Ints: map[string][]int{"dim": ints(l.Dim), "index": idx, "index_shape": l.Index.Shape()}}, nil
	case *Concatenate:
		s := &Spec{Type: "Concatenate", Ints: map[string][]int{"dim": ints(l.Dim)}}
		for i, c := range l.Branches {
			cs, err := Describe(c)
			if err != nil {
				return nil, fmt.Errorf("branch %d: %w", i, err)
			}
			s.Children = append(s.Children, cs)
		}
		return s, nil
	case *ConstantPad:
		return &Spec{Type: "ConstantPad", Ints: map[string][]int{"pads": append([]int{}, l.Pads...)}, Floats: map[string]float64{"value": l.Value}}, nil
	case *Constant:
		return &Spec{Type: "Constant", Ints: map[string][]int{"shape": l.Value.Shape()}}, nil
	case *GlobalAveragePool:
		return &Spec{Type: "GlobalAveragePool"}, nil
	}
	return nil, fmt.Errorf("nn: cannot describe module of type %T (only the package's modules have a Spec)", m)
}

func poolInts(o tensor.PoolOpts) map[string][]int {
	p := poolOpts(o)
	return map[string][]int{"kernel": p.Kernel[:], "stride": p.Stride[:], "padding": p.Padding[:],
		"dilation": p.Dilation[:], "ceil_mode": ints(boolInt(o.CeilMode)),
		"count_include_pad": ints(boolInt(o.CountIncludePad))}
}

// Build makes the module s describes, with zero parameters (placeholders to
// be loaded or encrypted into) and in training mode. It validates every
// size, so a Spec from another party cannot make it allocate more than
// MaxSpecElements parameter values.
func Build(s *Spec) (Module, error) { return buildLimit(s, MaxSpecElements) }

func buildLimit(s *Spec, limit int) (Module, error) {
	b := &builder{limit: limit}
	m, err := b.build(s, 0)
	if err != nil {
		return nil, fmt.Errorf("nn: build: %w", err)
	}
	return m, nil
}

type builder struct{ elements, limit int }

// alloc reserves a zero tensor of shape, enforcing the element budget.
func (b *builder) alloc(shape ...int) (*tensor.Tensor, error) {
	n := 1
	for _, d := range shape {
		if d <= 0 || d > maxSpecDim {
			return nil, fmt.Errorf("parameter shape %v: dims must be in [1, %d]", shape, maxSpecDim)
		}
		if n > b.limit/d {
			return nil, fmt.Errorf("parameter shape %v exceeds %d elements", shape, b.limit)
		}
		n *= d
	}
	if b.elements+n > b.limit {
		return nil, fmt.Errorf("parameters exceed %d elements", b.limit)
	}
	b.elements += n
	return tensor.Zeros(shape...), nil
}

// specInts reads named integer fields, each of the given length.
type specReader struct {
	s   *Spec
	err error
}

func (r *specReader) ints(name string, n int) []int {
	v, ok := r.s.Ints[name]
	if r.err == nil && (!ok || len(v) != n) {
		r.err = fmt.Errorf("%s: field %q: want %d integers, have %v", r.s.Type, name, n, v)
	}
	if r.err != nil {
		return make([]int, n)
	}
	return v
}

func (r *specReader) int(name string, lo, hi int) int {
	v := r.ints(name, 1)[0]
	if r.err == nil && (v < lo || v > hi) {
		r.err = fmt.Errorf("%s: field %q = %d outside [%d, %d]", r.s.Type, name, v, lo, hi)
	}
	return v
}

func (r *specReader) pair(name string, lo int) [2]int {
	v := r.ints(name, 2)
	if r.err == nil && (v[0] < lo || v[1] < lo || v[0] > maxSpecDim || v[1] > maxSpecDim) {
		r.err = fmt.Errorf("%s: field %q = %v outside [%d, %d]", r.s.Type, name, v, lo, maxSpecDim)
	}
	return [2]int{v[0], v[1]}
}

func (r *specReader) float(name string, lo, hi float64) float64 {
	v, ok := r.s.Floats[name]
	if r.err == nil && (!ok || !(v >= lo && v <= hi)) {
		r.err = fmt.Errorf("%s: field %q = %v missing or outside [%v, %v]", r.s.Type, name, v, lo, hi)
	}
	return v
}

func (b *builder) build(s *Spec, depth int) (Module, error) {
	if s == nil {
		return nil, fmt.Errorf("nil spec")
	}
	if depth > maxSpecDepth {
		return nil, fmt.Errorf("modules nested deeper than %d", maxSpecDepth)
	}
	r := &specReader{s: s}
	var m Module
	var err error
	switch s.Type {
	case "Sequential":
		seq := NewSequential()
		for i, c := range s.Children {
			cm, err := b.build(c, depth+1)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			seq.Append(cm)
		}
		return seq, nil
	case "Linear":
		in, out, bias := r.int("in", 1, maxSpecDim), r.int("out", 1, maxSpecDim), r.int("bias", 0, 1)
		if r.err != nil {
			return nil, r.err
		}
		l := &Linear{}
		l.Weight, l.Bias, err = b.weightBias([]int{out, in}, out, bias == 1)
		m = l
	case "Conv2d":
		in, out := r.int("in", 1, maxSpecDim), r.int("out", 1, maxSpecDim)
		k := r.pair("kernel", 1)
		o := tensor.ConvOpts{Stride: r.pair("stride", 1), Padding: r.pair("padding", 0),
			Dilation: r.pair("dilation", 1), Groups: r.int("groups", 1, maxSpecDim)}
		bias := r.int("bias", 0, 1)
		if r.err != nil {
			return nil, r.err
		}
		if in%o.Groups != 0 || out%o.Groups != 0 {
			return nil, fmt.Errorf("Conv2d: %d in and %d out channels do not split into %d groups", in, out, o.Groups)
		}
		c := &Conv2d{Opts: o}
		c.Weight, c.Bias, err = b.weightBias([]int{out, in / o.Groups, k[0], k[1]}, out, bias == 1)
		m = c
	case "ReLU":
		m = NewReLU()
	case "Sigmoid":
		m = NewSigmoid()
	case "Tanh":
		m = NewTanh()
	case "Softmax":
		m = NewSoftmax(r.int("dim", -maxSpecDepth, maxSpecDepth))
	case "LogSoftmax":
		m = NewLogSoftmax(r.int("dim", -maxSpecDepth, maxSpecDepth))
	case "MaxPool2d":
		m = NewMaxPool2d(r.pool())
	case "AvgPool2d":
		m = NewAvgPool2d(r.pool())
	case "AdaptiveAvgPool2d":
		o := r.pair("out", 1)
		m = NewAdaptiveAvgPool2d(o[0], o[1])
	case "BatchNorm1d", "BatchNorm2d":
		c := r.int("features", 1, maxSpecDim)
		eps, mom := r.float("eps", 0, 1), r.float("momentum", 0, 1)
		if r.err != nil {
			return nil, r.err
		}
		rank := 2
		if s.Type == "BatchNorm2d" {
			rank = 4
		}
		if b.elements+4*c > b.limit {
			return nil, fmt.Errorf("parameters exceed %d elements", b.limit)
		}
		b.elements += 4 * c
		bn := newBatchNorm(c, rank)
		bn.Eps, bn.Momentum = eps, mom
		m = bn
	case "Dropout":
		m = NewDropout(r.float("p", 0, 0.999999), uint64(r.int("seed", math.MinInt, math.MaxInt)))
	case "Flatten":
		m = NewFlatten(r.int("start_dim", -maxSpecDepth, maxSpecDepth))
	case "Reshape":
		sh := s.Ints["shape"]
		if len(sh) > maxSpecDepth {
			return nil, fmt.Errorf("Reshape: %d dims", len(sh))
		}
		for _, d := range sh {
			if d < -1 || d > maxSpecDim {
				return nil, fmt.Errorf("Reshape: bad dim %d in %v", d, sh)
			}
		}
		m = NewReshape(sh...)
	case "Graph":
		if s.Graph == nil {
			return nil, fmt.Errorf("Graph: no graph")
		}
		m, err = b.graph(s.Graph)
	default:
		m, err = b.buildMore(s, r, depth)
	}
	if r.err != nil {
		return nil, r.err
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (r *specReader) pool() tensor.PoolOpts {
	return tensor.PoolOpts{Kernel: r.pair("kernel", 1), Stride: r.pair("stride", 1),
		Padding: r.pair("padding", 0), Dilation: r.pair("dilation", 1),
		CeilMode: r.int("ceil_mode", 0, 1) == 1, CountIncludePad: r.int("count_include_pad", 0, 1) == 1}
}

func (b *builder) weightBias(wshape []int, out int, bias bool) (*Variable, *Variable, error) {
	w, err := b.alloc(wshape...)
	if err != nil {
		return nil, nil, err
	}
	if !bias {
		return param(w), nil, nil
	}
	bt, err := b.alloc(out)
	if err != nil {
		return nil, nil, err
	}
	return param(w), param(bt), nil
}

// buildMore builds the modules of layers_conv.go, layers_act.go,
// layers_norm.go and layers_shape.go.
func (b *builder) buildMore(s *Spec, r *specReader, depth int) (Module, error) {
	dims := func(name string) ([]int, error) {
		v := s.Ints[name]
		if len(v) > maxSpecDepth {
			return nil, fmt.Errorf("%s: %d dims in %q", s.Type, len(v), name)
		}
		for _, d := range v {
			if d < -maxSpecDepth || d > maxSpecDepth {
				return nil, fmt.Errorf("%s: dim %d in %q", s.Type, d, name)
			}
		}
		return append([]int(nil), v...), nil
	}
	switch s.Type {
	case "Conv1d":
		in, out, k := r.int("in", 1, maxSpecDim), r.int("out", 1, maxSpecDim), r.int("kernel", 1, maxSpecDim)
		o := tensor.Conv1dOpts{Stride: r.int("stride", 1, maxSpecDim), Padding: r.int("padding", 0, maxSpecDim),
			Dilation: r.int("dilation", 1, maxSpecDim), Groups: r.int("groups", 1, maxSpecDim)}
		bias := r.int("bias", 0, 1)
		if r.err != nil {
			return nil, r.err
		}
		if in%o.Groups != 0 || out%o.Groups != 0 {
			return nil, fmt.Errorf("Conv1d: %d in and %d out channels do not split into %d groups", in, out, o.Groups)
		}
		c := &Conv1d{Opts: o}
		var err error
		c.Weight, c.Bias, err = b.weightBias([]int{out, in / o.Groups, k}, out, bias == 1)
		return c, err
	case "ConvTranspose2d":
		in, out := r.int("in", 1, maxSpecDim), r.int("out", 1, maxSpecDim)
		k := r.pair("kernel", 1)
		o := tensor.ConvTransposeOpts{Stride: r.pair("stride", 1), Padding: r.pair("padding", 0),
			OutputPadding: r.pair("output_padding", 0), Dilation: r.pair("dilation", 1), Groups: r.int("groups", 1, maxSpecDim)}
		bias := r.int("bias", 0, 1)
		if r.err != nil {
			return nil, r.err
		}
		if in%o.Groups != 0 || out%o.Groups != 0 {
			return nil, fmt.Errorf("ConvTranspose2d: %d in and %d out channels do not split into %d groups", in, out, o.Groups)
		}
		c := &ConvTranspose2d{Opts: o}
		var err error
		c.Weight, c.Bias, err = b.weightBias([]int{in, out / o.Groups, k[0], k[1]}, out, bias == 1)
		return c, err
	case "AdaptiveMaxPool2d":
		o := r.pair("out", 1)
		return NewAdaptiveMaxPool2d(o[0], o[1]), r.err
	case "Hardtanh":
		lo, hi := r.float("min", -1e12, 1e12), r.float("max", -1e12, 1e12)
		if r.err == nil && lo > hi {
			return nil, fmt.Errorf("Hardtanh: min %v above max %v", lo, hi)
		}
		return NewHardtanh(lo, hi), r.err
	case "LeakyReLU":
		return NewLeakyReLU(r.float("slope", -1e6, 1e6)), r.err
	case "GELU":
		return NewGELU(r.int("tanh", 0, 1) == 1), r.err
	case "LayerNorm":
		sh := s.Ints["shape"]
		affine, eps := r.int("affine", 0, 1), r.float("eps", 0, 1)
		if r.err != nil {
			return nil, r.err
		}
		if len(sh) == 0 || len(sh) > 8 {
			return nil, fmt.Errorf("LayerNorm: shape %v", sh)
		}
		l := &LayerNorm{Shape: append([]int(nil), sh...), Eps: eps}
		if affine == 1 {
			w, err := b.alloc(sh...)
			if err != nil {
				return nil, err
			}
			bt, err := b.alloc(sh...)
			if err != nil {
				return nil, err
			}
			l.Weight, l.Bias = param(w), param(bt)
		} else if !withinLimit(sh) {
			return nil, fmt.Errorf("LayerNorm: shape %v", sh)
		}
		return l, nil
	case "GroupNorm":
		g, c, affine, eps := r.int("groups", 1, maxSpecDim), r.int("channels", 0, maxSpecDim), r.int("affine", 0, 1), r.float("eps", 0, 1)
		if r.err != nil {
			return nil, r.err
		}
		n := &GroupNorm{Groups: g, Eps: eps}
		if affine == 1 {
			var err error
			if n.Weight, n.Bias, err = b.weightBias([]int{c}, c, true); err != nil {
				return nil, err
			}
		}
		return n, nil
	case "Squeeze", "Unsqueeze", "Transpose":
		key := map[string]string{"Squeeze": "dims", "Unsqueeze": "dims", "Transpose": "perm"}[s.Type]
		d, err := dims(key)
		if err != nil {
			return nil, err
		}
		switch s.Type {
		case "Squeeze":
			return NewSqueeze(d...), nil
		case "Unsqueeze":
			return NewUnsqueeze(d...), nil
		}
		return NewTranspose(d...), nil
	case "Gather":
		dim := r.int("dim", -maxSpecDepth, maxSpecDepth)
		idx, sh := s.Ints["index"], s.Ints["index_shape"]
		if r.err != nil {
			return nil, r.err
		}
		if len(sh) > 8 || !withinLimit(sh) || tensor.Numel(sh) != len(idx) {
			return nil, fmt.Errorf("Gather: index of %d values for shape %v", len(idx), sh)
		}
		f := make([]float64, len(idx))
		for i, v := range idx {
			f[i] = float64(v)
		}
		return NewGather(dim, tensor.MustNew(f, sh...)), nil
	case "Concatenate":
		c := &Concatenate{Dim: r.int("dim", -maxSpecDepth, maxSpecDepth)}
		if r.err != nil {
			return nil, r.err
		}
		for i, cs := range s.Children {
			m, err := b.build(cs, depth+1)
			if err != nil {
				return nil, fmt.Errorf("branch %d: %w", i, err)
			}
			c.Branches = append(c.Branches, m)
		}
		return c, nil
	case "ConstantPad":
		pads := s.Ints["pads"]
		v := r.float("value", -1e12, 1e12)
		if r.err != nil {
			return nil, r.err
		}
		if len(pads) > 2*maxSpecDepth {
			return nil, fmt.Errorf("ConstantPad: %d pads", len(pads))
		}
		for _, p := range pads {
			if p < 0 || p > maxSpecDim {
				return nil, fmt.Errorf("ConstantPad: pad %d", p)
			}
		}
		return NewConstantPad(pads, v), nil
	case "Constant":
		sh := s.Ints["shape"]
		if len(sh) > 8 {
			return nil, fmt.Errorf("Constant: shape %v", sh)
		}
		var t *tensor.Tensor
		var err error
		if len(sh) == 0 {
			if _, err = b.alloc(1); err == nil {
				t = tensor.Scalar(0)
			}
		} else {
			t, err = b.alloc(sh...)
		}
		if err != nil {
			return nil, fmt.Errorf("Constant: %w", err)
		}
		return NewConstant(t), nil
	case "GlobalAveragePool":
		return NewGlobalAveragePool(), nil
	}
	return nil, fmt.Errorf("unknown module type %q", s.Type)
}
