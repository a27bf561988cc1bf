package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Limits bound what Decode accepts, so a malformed or hostile file fails with
// an error instead of exhausting memory. The zero value of a field means the
// default from DefaultLimits.
type Limits struct {
	// MaxBytes is the largest encoded model accepted.
	MaxBytes int
	// MaxNodes bounds the nodes of the graph.
	MaxNodes int
	// MaxTensorElements bounds the elements of any one tensor.
	MaxTensorElements int
	// MaxTotalElements bounds the elements of all tensors together.
	MaxTotalElements int
	// MaxDims bounds the rank of any tensor or value.
	MaxDims int
}

// DefaultLimits admit models up to 512 MiB with 64M-element tensors, far
// beyond what MPC inference on this project's scale can run.
var DefaultLimits = Limits{
	MaxBytes:          512 << 20,
	MaxNodes:          100000,
	MaxTensorElements: 64 << 20,
	MaxTotalElements:  128 << 20,
	MaxDims:           8,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxNodes > 0 {
		d.MaxNodes = l.MaxNodes
	}
	if l.MaxTensorElements > 0 {
		d.MaxTensorElements = l.MaxTensorElements
	}
	if l.MaxTotalElements > 0 {
		d.MaxTotalElements = l.MaxTotalElements
	}
	if l.MaxDims > 0 {
		d.MaxDims = l.MaxDims
	}
	return d
}

// Decode parses an ONNX ModelProto with DefaultLimits.
func Decode(b []byte) (*Model, error) { return DecodeLimits(b, Limits{}) }

// DecodeLimits parses an ONNX ModelProto, rejecting anything beyond lim.
// Fields gomplab does not use (doc strings, metadata, training info,
// functions, sparse initializers) are skipped; attributes holding subgraphs
// are recorded by type only, since no supported operator takes one.
func DecodeLimits(b []byte, lim Limits) (*Model, error) {
	d := &decoder{lim: lim.withDefaults()}
	if len(b) > d.lim.MaxBytes {
		return nil, fmt.Errorf("onnx: model is %d bytes, over the limit of %d", len(b), d.lim.MaxBytes)
	}
	m := &Model{Opsets: map[string]int64{}}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			m.IRVersion = int64(x)
		case 2:
			m.ProducerName = string(v)
		case 3:
			m.ProducerVersion = string(v)
		case 7:
			g, err := d.graph(v)
			if err != nil {
				return fmt.Errorf("graph: %w", err)
			}
			m.Graph = *g
		case 8:
			dom, ver, err := opset(v)
			if err != nil {
				return fmt.Errorf("opset_import: %w", err)
			}
			m.Opsets[dom] = ver
		}
		return nil
	}, fieldTypes{1: protowire.VarintType, 2: protowire.BytesType, 3: protowire.BytesType,
		7: protowire.BytesType, 8: protowire.BytesType})
	if err != nil {
		return nil, fmt.Errorf("onnx: decode model: %w", err)
	}
	return m, nil
}

type decoder struct {
	lim      Limits
	elements int // tensor elements decoded so far
}

// fieldTypes gives the wire type expected for each field number a message
// decoder reads; a field arriving with another type is malformed.
// Fields absent from the map are skipped whatever their type.
type fieldTypes map[protowire.Number]protowire.Type

// eachField walks the fields of one message. For BytesType fields v is the
// payload; for varint and fixed fields x is the value (fixed32/64 raw bits).
// Repeated scalar fields may arrive packed (as BytesType); the field's
// expected type in types is then the element type and the callback receives
// the packed payload in v with typ == BytesType.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error, types fieldTypes) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		want, known := types[num]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			x = uint64(u)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n >= 0 && known {
				return fmt.Errorf("field %d: unexpected wire type %d", num, typ)
			}
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if !known {
			continue
		}
		if typ != want && !(typ == protowire.BytesType && packable(want)) {
			return fmt.Errorf("field %d: wire type %d, want %d", num, typ, want)
		}
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func packable(t protowire.Type) bool {
	return t == protowire.VarintType || t == protowire.Fixed32Type || t == protowire.Fixed64Type
}

// repeatedVarints appends one varint field occurrence, packed or not, to dst.
func repeatedVarints(dst []int64, typ protowire.Type, v []byte, x uint64, limit int) ([]int64, error) {
	if typ != protowire.BytesType {
		if len(dst) >= limit {
			return nil, fmt.Errorf("more than %d values", limit)
		}
		return append(dst, int64(x)), nil
	}
	for len(v) > 0 {
		u, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return nil, fmt.Errorf("packed varint: %w", protowire.ParseError(n))
		}
		if len(dst) >= limit {
			return nil, fmt.Errorf("more than %d values", limit)
		}
		dst = append(dst, int64(u))
		v = v[n:]
	}
	return dst, nil
}

// repeatedFixed appends fixed-width values (4 or 8 bytes), packed or not.
func repeatedFixed(dst []uint64, typ protowire.Type, v []byte, x uint64, width, limit int) ([]uint64, error) {
	if typ != protowire.BytesType {
		if len(dst) >= limit {
			return nil, fmt.Errorf("more than %d values", limit)
		}
		return append(dst, x), nil
	}
	if len(v)%width != 0 {
		return nil, fmt.Errorf("packed fixed%d payload of %d bytes", 8*width, len(v))
	}
	if len(dst)+len(v)/width > limit {
		return nil, fmt.Errorf("more than %d values", limit)
	}
	for i := 0; i < len(v); i += width {
		if width == 4 {
			dst = append(dst, uint64(binary.LittleEndian.Uint32(v[i:])))
		} else {
			dst = append(dst, binary.LittleEndian.Uint64(v[i:]))
		}
	}
	return dst, nil
}

func opset(b []byte) (string, int64, error) {
	var dom string
	var ver int64
	err := eachField(b, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
		if num == 1 {
			dom = string(v)
		} else {
			ver = int64(x)
		}
		return nil
	}, fieldTypes{1: protowire.BytesType, 2: protowire.VarintType})
	return dom, ver, err
}

func (d *decoder) graph(b []byte) (*Graph, error) {
	g := &Graph{}
	err := eachField(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case 1:
			if len(g.Nodes) >= d.lim.MaxNodes {
				return fmt.Errorf("more than %d nodes", d.lim.MaxNodes)
			}
			n, err := d.node(v)
			if err != nil {
				return fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, *n)
		case 2:
			g.Name = string(v)
		case 5:
			t, err := d.tensor(v)
			if err != nil {
				return fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			g.Initializers = append(g.Initializers, *t)
		case 11, 12:
			if len(g.Inputs)+len(g.Outputs) >= d.lim.MaxNodes {
				return fmt.Errorf("more than %d graph inputs and outputs", d.lim.MaxNodes)
			}
			vi, err := d.valueInfo(v)
			if err != nil {
				return fmt.Errorf("value info: %w", err)
			}
			if num == 11 {
				g.Inputs = append(g.Inputs, *vi)
			} else {
				g.Outputs = append(g.Outputs, *vi)
			}
		}
		return nil
	}, fieldTypes{1: protowire.BytesType, 2: protowire.BytesType, 5: protowire.BytesType,
		11: protowire.BytesType, 12: protowire.BytesType})
	return g, err
}

func (d *decoder) node(b []byte) (*Node, error) {
	n := &Node{}
	err := eachField(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case 1, 2:
			if len(n.Inputs)+len(n.Outputs) >= maxNodeArity {
				return fmt.Errorf("more than %d inputs and outputs", maxNodeArity)
			}
			if num == 1 {
				n.Inputs = append(n.Inputs, string(v))
			} else {
				n.Outputs = append(n.Outputs, string(v))
			}
		case 3:
			n.Name = string(v)
		case 4:
			n.OpType = string(v)
		case 7:
			n.Domain = string(v)
		case 5:
			if len(n.Attrs) >= maxNodeArity {
				return fmt.Errorf("more than %d attributes", maxNodeArity)
			}
			a, err := d.attribute(v)
			if err != nil {
				return fmt.Errorf("attribute %d: %w", len(n.Attrs), err)
			}
			n.Attrs = append(n.Attrs, *a)
		}
		return nil
	}, fieldTypes{1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType,
		4: protowire.BytesType, 5: protowire.BytesType, 7: protowire.BytesType})
	return n, err
}

// maxNodeArity bounds a node's inputs, outputs and attributes (Concat of
// thousands of tensors would be legal ONNX but is not a model we run).
const maxNodeArity = 4096

func (d *decoder) attribute(b []byte) (*Attribute, error) {
	a := &Attribute{}
	var floats []uint64
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		var err error
		switch num {
		case 1:
			a.Name = string(v)
		case 20:
			a.Type = AttrType(x)
		case 2:
			a.F = float64(math.Float32frombits(uint32(x)))
		case 3:
			a.I = int64(x)
		case 4:
			a.S = string(v)
		case 5:
			a.T, err = d.tensor(v)
		case 7:
			floats, err = repeatedFixed(floats, typ, v, x, 4, d.lim.MaxTensorElements)
		case 8:
			a.Ints, err = repeatedVarints(a.Ints, typ, v, x, d.lim.MaxTensorElements)
		case 9:
			if len(a.Strings) >= maxNodeArity {
				return fmt.Errorf("more than %d strings", maxNodeArity)
			}
			a.Strings = append(a.Strings, string(v))
		}
		return err
	}, fieldTypes{1: protowire.BytesType, 20: protowire.VarintType, 2: protowire.Fixed32Type,
		3: protowire.VarintType, 4: protowire.BytesType, 5: protowire.BytesType,
		7: protowire.Fixed32Type, 8: protowire.VarintType, 9: protowire.BytesType})
	if err != nil {
		return nil, err
	}
	for _, u := range floats {
		a.Floats = append(a.Floats, float64(math.Float32frombits(uint32(u))))
	}
	if a.Type == AttrUndefined {
		// IR version < 3 files may omit the type; infer it from what is set.
		a.Type = a.inferType()
	}
	return a, nil
}

func (a *Attribute) inferType() AttrType {
	switch {
	case a.T != nil:
		return AttrTensor
	case len(a.Floats) > 0:
		return AttrFloats
	case len(a.Ints) > 0:
		return AttrInts
	case len(a.Strings) > 0:
		return AttrStrings
	case a.S != "":
		return AttrString
	case a.F != 0:
		return AttrFloat
	}
	return AttrInt
}

func (d *decoder) valueInfo(b []byte) (*ValueInfo, error) {
	vi := &ValueInfo{}
	err := eachField(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		if num == 1 {
			vi.Name = string(v)
			return nil
		}
		// TypeProto: only tensor_type (1) matters; sequences and maps are not supported.
		return eachField(v, func(_ protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
			return eachField(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
				if num == 1 {
					vi.ElemType = DataType(x)
					return nil
				}
				return eachField(v, func(_ protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
					if len(vi.Shape) >= d.lim.MaxDims {
						return fmt.Errorf("more than %d dims", d.lim.MaxDims)
					}
					var dim Dim
					err := eachField(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
						if num == 1 {
							dim.Value = int64(x)
						} else {
							dim.Param = string(v)
						}
						return nil
					}, fieldTypes{1: protowire.VarintType, 2: protowire.BytesType})
					vi.Shape = append(vi.Shape, dim)
					return err
				}, fieldTypes{1: protowire.BytesType})
			}, fieldTypes{1: protowire.VarintType, 2: protowire.BytesType})
		}, fieldTypes{1: protowire.BytesType})
	}, fieldTypes{1: protowire.BytesType, 2: protowire.BytesType})
	return vi, err
}

// errExternal is returned for tensors stored outside the model file.
var errExternal = errors.New("tensor data stored in an external file is not supported")

func (d *decoder) tensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	var raw []byte
	var hasRaw, external bool
	var fixed32, fixed64 []uint64
	var ints []int64
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		var err error
		switch num {
		case 1:
			t.Dims, err = repeatedVarints(t.Dims, typ, v, x, d.lim.MaxDims)
		case 2:
			t.DataType = DataType(x)
		case 4:
			fixed32, err = repeatedFixed(fixed32, typ, v, x, 4, d.lim.MaxTensorElements)
		case 5, 7:
			ints, err = repeatedVarints(ints, typ, v, x, d.lim.MaxTensorElements)
		case 8:
			t.Name = string(v)
		case 9:
			raw, hasRaw = v, true
		case 10, 11:
			fixed64, err = repeatedFixed(fixed64, typ, v, x, 8, d.lim.MaxTensorElements)
		case 14:
			external = x == 1
		}
		return err
	}, fieldTypes{1: protowire.VarintType, 2: protowire.VarintType, 4: protowire.Fixed32Type,
		5: protowire.VarintType, 7: protowire.VarintType, 8: protowire.BytesType,
		9: protowire.BytesType, 10: protowire.Fixed64Type, 11: protowire.Fixed64Type,
		14: protowire.VarintType})
	if err != nil {
		return nil, err
	}
	name := t.Name
	if external {
		return nil, fmt.Errorf("tensor %q: %w", name, errExternal)
	}
	n := 1
	for _, dim := range t.Dims {
		if dim < 0 || dim > int64(d.lim.MaxTensorElements) || (dim > 0 && n > d.lim.MaxTensorElements/int(dim)) {
			return nil, fmt.Errorf("tensor %q: dims %v: negative or over %d elements", name, t.Dims, d.lim.MaxTensorElements)
		}
		n *= int(dim)
	}
	if d.elements+n > d.lim.MaxTotalElements {
		return nil, fmt.Errorf("tensor %q: model holds more than %d tensor elements", name, d.lim.MaxTotalElements)
	}
	d.elements += n
	switch t.DataType {
	case Float, Double, Int64, Int32, Int8, Uint8, Int16, Uint16, Bool:
	default:
		return nil, fmt.Errorf("tensor %q: unsupported data type %s", name, t.DataType)
	}
	if hasRaw {
		w := t.DataType.width()
		if len(raw) != n*w {
			return nil, fmt.Errorf("tensor %q: %d raw bytes for %d elements of %s", name, len(raw), n, t.DataType)
		}
		t.setRaw(raw, n)
		return t, nil
	}
	var got int
	switch t.DataType {
	case Float:
		got = len(fixed32)
		t.Floats = make([]float64, got)
		for i, u := range fixed32 {
			t.Floats[i] = float64(math.Float32frombits(uint32(u)))
		}
	case Double:
		got = len(fixed64)
		t.Floats = make([]float64, got)
		for i, u := range fixed64 {
			t.Floats[i] = math.Float64frombits(u)
		}
	default:
		// int32_data holds every narrow integer type and bool; int64_data int64.
		got = len(ints)
		t.Ints = make([]int64, got)
		for i, v := range ints {
			if t.DataType != Int64 {
				v = int64(int32(v))
			}
			t.Ints[i] = v
		}
	}
	if got != n {
		return nil, fmt.Errorf("tensor %q: %d values for dims %v (%d elements)", name, got, t.Dims, n)
	}
	return t, nil
}

func (t *Tensor) setRaw(raw []byte, n int) {
	switch t.DataType {
	case Float:
		t.Floats = make([]float64, n)
		for i := range t.Floats {
			t.Floats[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case Double:
		t.Floats = make([]float64, n)
		for i := range t.Floats {
			t.Floats[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	default:
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			switch t.DataType {
			case Int64:
				t.Ints[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			case Int32:
				t.Ints[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			case Int16:
				t.Ints[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
			case Uint16:
				t.Ints[i] = int64(binary.LittleEndian.Uint16(raw[2*i:]))
			case Int8:
				t.Ints[i] = int64(int8(raw[i]))
			default: // Uint8, Bool
				t.Ints[i] = int64(raw[i])
			}
		}
	}
}
