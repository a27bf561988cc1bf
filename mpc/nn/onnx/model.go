// Package onnx imports ONNX models (the format PyTorch exports to) as
// gomplab neural networks that run on plaintext or encrypted tensors.
//
// Decoding reads the ONNX protobuf with google.golang.org/protobuf's
// protowire rather than with code generated from onnx.proto: the importer
// needs only a handful of messages and fields, and a hand-written walk lets
// every count and size be checked against Limits before anything is
// allocated, which is what a decoder fed files from other parties must do.
//
// Import maps each operator to the nn graph executor (nn.Graph). Nodes whose
// inputs are all constants are folded at import time, so shape arithmetic
// that exporters emit (Shape, Gather, Concat of constants, Cast, ...) leaves
// no trace; constant operands that give shapes, pads or axes become
// attributes of the nodes that use them and so part of the model's public
// architecture, while initializers and constants used as data become the
// model's parameters and buffers, which Model.Encrypt secret-shares.
// An operator without a mapping fails with an error naming it and its node.
package onnx

import "fmt"

// Model is the part of an ONNX ModelProto gomplab uses.
type Model struct {
	IRVersion       int64
	ProducerName    string
	ProducerVersion string
	// Opsets maps an operator-set domain ("" is the default ai.onnx) to its version.
	Opsets map[string]int64
	Graph  Graph
}

// Graph is a GraphProto: nodes in topological order, the initializers
// (weights), and the graph's declared inputs and outputs.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is one operator application. An empty input name marks an omitted
// optional input.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []Attribute
}

// Attr returns the attribute called name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for i := range n.Attrs {
		if n.Attrs[i].Name == name {
			return &n.Attrs[i]
		}
	}
	return nil
}

// label names a node for error messages: its name when it has one, else its
// position and first output.
func (n *Node) label(i int) string {
	if n.Name != "" {
		return fmt.Sprintf("%s node %q", n.OpType, n.Name)
	}
	out := ""
	if len(n.Outputs) > 0 {
		out = n.Outputs[0]
	}
	return fmt.Sprintf("%s node #%d (output %q)", n.OpType, i, out)
}

// AttrType is AttributeProto.AttributeType.
type AttrType int32

// Attribute types used by the supported operators (others decode by type only).
const (
	AttrUndefined AttrType = 0
	AttrFloat     AttrType = 1
	AttrInt       AttrType = 2
	AttrString    AttrType = 3
	AttrTensor    AttrType = 4
	AttrGraph     AttrType = 5
	AttrFloats    AttrType = 6
	AttrInts      AttrType = 7
	AttrStrings   AttrType = 8
)

// Attribute is a named operator argument; which field is set depends on Type.
type Attribute struct {
	Name    string
	Type    AttrType
	F       float64
	I       int64
	S       string
	T       *Tensor
	Floats  []float64
	Ints    []int64
	Strings []string
}

// DataType is TensorProto.DataType.
type DataType int32

// Element types the decoder reads. Floating types decode to Tensor.Floats,
// integer and boolean types to Tensor.Ints.
const (
	Float  DataType = 1
	Uint8  DataType = 2
	Int8   DataType = 3
	Uint16 DataType = 4
	Int16  DataType = 5
	Int32  DataType = 6
	Int64  DataType = 7
	Bool   DataType = 9
	Double DataType = 11
)

var dataTypeNames = map[DataType]string{
	0: "UNDEFINED", Float: "FLOAT", Uint8: "UINT8", Int8: "INT8", Uint16: "UINT16",
	Int16: "INT16", Int32: "INT32", Int64: "INT64", 8: "STRING", Bool: "BOOL",
	10: "FLOAT16", Double: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
	15: "COMPLEX128", 16: "BFLOAT16",
}

// String returns the ONNX name of the type.
func (t DataType) String() string {
	if s, ok := dataTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(t))
}

// width is the size of one element in raw_data.
func (t DataType) width() int {
	switch t {
	case Double, Int64:
		return 8
	case Float, Int32:
		return 4
	case Int16, Uint16:
		return 2
	}
	return 1
}

// IsFloat reports whether values decode to Floats.
func (t DataType) IsFloat() bool { return t == Float || t == Double }

// Tensor is a TensorProto with its values decoded: Floats for floating
// types (float32 widened exactly to float64), Ints otherwise.
type Tensor struct {
	Name     string
	Dims     []int64
	DataType DataType
	Floats   []float64
	Ints     []int64
}

// ValueInfo is a graph input or output: its name, element type and shape.
type ValueInfo struct {
	Name     string
	ElemType DataType
	Shape    []Dim
}

// Dim is one dimension of a ValueInfo: a fixed size, or a symbolic name
// (such as "batch") when Param is set.
type Dim struct {
	Value int64
	Param string
}
