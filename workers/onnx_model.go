package workers

import (
	"context"
	"fmt"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/serde"
)

// A model can also be stored as the ONNX file its owner exported (from
// PyTorch, say): the blob of its KindModel object holds the file's bytes
// as they were given, and every use (a job's nn.LoadModel, Get, training)
// imports them with mpc/nn/onnx, whose decoder bounds every count and size
// before allocating. The owner's file therefore stays on the owner's
// worker, byte for byte; MPC jobs share only its architecture and secret
// shares of its weights.

// EncodeONNXModel checks that data is an ONNX model gomplab can import
// (every operator supported) and wraps it as the blob of a KindModel
// object. Checking here means a model that could not run is refused when
// it is stored, not when a job needs it.
func EncodeONNXModel(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("encode ONNX model: empty file")
	}
	if _, _, err := importONNX(data); err != nil {
		return nil, err
	}
	out, err := serde.EncodeBody(&modelBlob{Version: modelBlobVersion, ONNX: data})
	if err != nil {
		return nil, fmt.Errorf("encode ONNX model: %w", err)
	}
	return []byte(out), nil
}

// importONNX decodes and imports an ONNX model, and returns its
// architecture's JSON as decodeModel does. A panic in the importer (a bug
// that its fuzz target has not found) becomes an error: the bytes come
// from outside.
func importONNX(data []byte) (m *nn.Model, spec []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, spec, err = nil, nil, fmt.Errorf("import ONNX model: %v", r)
		}
	}()
	om, err := onnx.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("import ONNX model: %w", err)
	}
	if m, err = onnx.Import(om); err != nil {
		return nil, nil, fmt.Errorf("import ONNX model: %w", err)
	}
	s, err := m.Spec()
	if err != nil {
		return nil, nil, fmt.Errorf("import ONNX model: %w", err)
	}
	if spec, err = s.Marshal(); err != nil {
		return nil, nil, fmt.Errorf("import ONNX model: %w", err)
	}
	return m, spec, nil
}

// LoadONNXInto stores the ONNX model data in the worker whose data
// directory is dir, as its owner, the way LoadInto stores a tensor (into
// the store file, or through the running daemon). The object is of kind
// model; jobs load it with nn.LoadModel(tag, rank).
func LoadONNXInto(ctx context.Context, dir string, data []byte, spec LoadSpec) (Info, string, error) {
	blob, err := EncodeONNXModel(data)
	if err != nil {
		return Info{}, "", err
	}
	if spec.Description == "" {
		spec.Description = "ONNX model"
	}
	return loadObject(ctx, dir, &Object{Kind: KindModel, Blob: blob}, spec)
}
