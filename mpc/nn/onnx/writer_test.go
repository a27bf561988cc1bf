package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A small ONNX writer for tests: enough of ModelProto to build graphs of
// any operator with initializers, attributes and symbolic input dims, so
// each operator the importer maps can be tested on a file made here
// rather than committed.

// wNode is a node to write.
type wNode struct {
	op, name string
	in, out  []string
	attrs    []wAttr
}

// wAttr is an attribute: exactly one of the value fields is used, chosen
// by typ.
type wAttr struct {
	name   string
	typ    AttrType
	f      float64
	i      int64
	s      string
	t      *wTensor
	floats []float64
	ints   []int64
}

func attrI(name string, v int64) wAttr       { return wAttr{name: name, typ: AttrInt, i: v} }
func attrF(name string, v float64) wAttr     { return wAttr{name: name, typ: AttrFloat, f: v} }
func attrS(name, v string) wAttr             { return wAttr{name: name, typ: AttrString, s: v} }
func attrIs(name string, v ...int64) wAttr   { return wAttr{name: name, typ: AttrInts, ints: v} }
func attrT(name string, t *wTensor) wAttr    { return wAttr{name: name, typ: AttrTensor, t: t} }
func attrFs(name string, v ...float64) wAttr { return wAttr{name: name, typ: AttrFloats, floats: v} }

// wTensor is a tensor to write: floats as FLOAT (float32), ints as INT64
// (or BOOL with boolean set).
type wTensor struct {
	name    string
	dims    []int64
	floats  []float64
	ints    []int64
	boolean bool
}

func ftensor(name string, dims []int64, v []float64) *wTensor {
	return &wTensor{name: name, dims: dims, floats: v}
}

func itensor(name string, dims []int64, v ...int64) *wTensor {
	return &wTensor{name: name, dims: dims, ints: v}
}

// wValue is a graph input or output: its name and dims (-1 for a symbolic
// one, named "batch").
type wValue struct {
	name string
	dims []int64
}

// wModel is a model to write.
type wModel struct {
	opset   int64
	nodes   []wNode
	inits   []*wTensor
	inputs  []wValue
	outputs []wValue
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func (t *wTensor) encode() []byte {
	var b []byte
	for _, d := range t.dims {
		b = appendVarint(b, 1, uint64(d))
	}
	switch {
	case t.floats != nil:
		b = appendVarint(b, 2, uint64(Float))
		raw := make([]byte, 4*len(t.floats))
		for i, v := range t.floats {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(v)))
		}
		b = appendString(b, 8, t.name)
		b = appendMessage(b, 9, raw)
	default:
		typ := Int64
		if t.boolean {
			typ = Bool
		}
		b = appendVarint(b, 2, uint64(typ))
		var packed []byte
		for _, v := range t.ints {
			packed = protowire.AppendVarint(packed, uint64(v))
		}
		if typ == Bool {
			b = appendMessage(b, 5, packed) // int32_data
		} else {
			b = appendMessage(b, 7, packed) // int64_data
		}
		b = appendString(b, 8, t.name)
	}
	return b
}

func (a wAttr) encode() []byte {
	b := appendString(nil, 1, a.name)
	b = appendVarint(b, 20, uint64(a.typ))
	switch a.typ {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(float32(a.f)))
	case AttrInt:
		b = appendVarint(b, 3, uint64(a.i))
	case AttrString:
		b = appendString(b, 4, a.s)
	case AttrTensor:
		b = appendMessage(b, 5, a.t.encode())
	case AttrFloats:
		var packed []byte
		for _, v := range a.floats {
			packed = protowire.AppendFixed32(packed, math.Float32bits(float32(v)))
		}
		b = appendMessage(b, 7, packed)
	case AttrInts:
		var packed []byte
		for _, v := range a.ints {
			packed = protowire.AppendVarint(packed, uint64(v))
		}
		b = appendMessage(b, 8, packed)
	}
	return b
}

func (n wNode) encode() []byte {
	var b []byte
	for _, in := range n.in {
		b = appendString(b, 1, in)
	}
	for _, out := range n.out {
		b = appendString(b, 2, out)
	}
	b = appendString(b, 3, n.name)
	b = appendString(b, 4, n.op)
	for _, a := range n.attrs {
		b = appendMessage(b, 5, a.encode())
	}
	return b
}

func (v wValue) encode() []byte {
	var shape []byte
	for _, d := range v.dims {
		var dim []byte
		if d < 0 {
			dim = appendString(nil, 2, "batch")
		} else {
			dim = appendVarint(nil, 1, uint64(d))
		}
		shape = appendMessage(shape, 1, dim)
	}
	tt := appendVarint(nil, 1, uint64(Float))
	tt = appendMessage(tt, 2, shape)
	typ := appendMessage(nil, 1, tt)
	b := appendString(nil, 1, v.name)
	return appendMessage(b, 2, typ)
}

// encode returns the model's ONNX bytes.
func (m *wModel) encode() []byte {
	var g []byte
	for _, n := range m.nodes {
		g = appendMessage(g, 1, n.encode())
	}
	g = appendString(g, 2, "test")
	for _, t := range m.inits {
		g = appendMessage(g, 5, t.encode())
	}
	for _, v := range m.inputs {
		g = appendMessage(g, 11, v.encode())
	}
	for _, v := range m.outputs {
		g = appendMessage(g, 12, v.encode())
	}
	b := appendVarint(nil, 1, 8) // IR version 8
	b = appendString(b, 2, "gomplab test")
	b = appendMessage(b, 7, g)
	op := appendString(nil, 1, "")
	op = appendVarint(op, 2, uint64(m.opset))
	return appendMessage(b, 8, op)
}
