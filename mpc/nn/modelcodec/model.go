// Package modelcodec is the one encoding of a plaintext model as bytes:
// how a model is stored on a worker (the blob of a model object), sent to
// one (syft.SendModel, SendONNX), trained there (federated learning) and
// returned from an MPC job. Its users are the workers, syft and the
// sandbox; mpc/nn itself shares models between parties as an
// architecture plus secret shares (nn.ShareModel), never as this blob.
//
// A blob is the msgpack encoding of the architecture (an nn.Spec as JSON,
// the form mpc/nn sends to other parties) and the parameters and buffers
// by state-dict name, or of an ONNX file kept as its owner exported it.
// The spec lets a worker rebuild a model it has never seen: Decode reads
// within serde.Limits, nn.BuildModel bounds what a spec can make it
// allocate, and LoadStateDict checks every name and shape, so a hostile
// blob is refused, never trusted.
package modelcodec

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// modelBlobVersion is bumped when the layout changes.
const modelBlobVersion = 1

type modelBlob struct {
	Version int              `msgpack:"v"`
	Spec    []byte           `msgpack:"spec"`
	Names   []string         `msgpack:"names"`
	Values  []*tensor.Tensor `msgpack:"values"`
	// ONNX, when set, is the model as an ONNX file (and the fields above
	// are empty): it is kept as its owner gave it and imported when used
	// (EncodeONNX).
	ONNX []byte `msgpack:"onnx,omitempty"`
}

// Encode encodes a plaintext model (architecture and weights) as a blob
// (the value of a stored model object). Only models built from mpc/nn's
// modules can be encoded, since the receiver rebuilds them from their
// Spec; an encrypted model is refused (decrypt it first).
func Encode(m *nn.Model) ([]byte, error) {
	if m == nil {
		return nil, errors.New("encode model: nil model")
	}
	if m.Encrypted() {
		return nil, errors.New("encode model: the model is encrypted: decrypt it first (Decrypt, or DecryptTo a rank)")
	}
	spec, err := m.Spec()
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	sj, err := spec.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	sd, err := m.StateDict()
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	b := modelBlob{Version: modelBlobVersion, Spec: sj}
	for _, p := range m.Params() {
		b.Names = append(b.Names, p.Name)
		b.Values = append(b.Values, sd[p.Name])
	}
	out, err := serde.EncodeBody(&b)
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return []byte(out), nil
}

// Decode rebuilds a model from Encode's blob, checking it within
// lim (zero fields: serde's defaults): the spec must build, and the weights
// must name exactly the model's parameters with their shapes.
func Decode(blob []byte, lim serde.Limits) (*nn.Model, error) {
	m, _, err := DecodeWithSpec(blob, lim)
	return m, err
}

// DecodeWithSpec also returns the spec's JSON, which identifies the
// architecture (two models can be averaged only if these are equal).
func DecodeWithSpec(blob []byte, lim serde.Limits) (*nn.Model, []byte, error) {
	var b modelBlob
	if err := serde.DecodeBody(blob, &b, lim); err != nil {
		return nil, nil, fmt.Errorf("decode model: %w", err)
	}
	if b.Version != modelBlobVersion {
		return nil, nil, fmt.Errorf("decode model: blob version %d, this worker reads %d", b.Version, modelBlobVersion)
	}
	if b.ONNX != nil {
		return importONNX(b.ONNX)
	}
	if len(b.Names) != len(b.Values) {
		return nil, nil, fmt.Errorf("decode model: %d names but %d values", len(b.Names), len(b.Values))
	}
	spec, err := nn.UnmarshalSpec(b.Spec)
	if err != nil {
		return nil, nil, fmt.Errorf("decode model: %w", err)
	}
	m, err := buildModel(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("decode model: %w", err)
	}
	sd := make(map[string]*tensor.Tensor, len(b.Names))
	for i, n := range b.Names {
		if b.Values[i] == nil {
			return nil, nil, fmt.Errorf("decode model: parameter %q has no value", n)
		}
		if _, dup := sd[n]; dup {
			return nil, nil, fmt.Errorf("decode model: parameter %q given twice", n)
		}
		sd[n] = b.Values[i]
	}
	if err := m.LoadStateDict(sd); err != nil {
		return nil, nil, fmt.Errorf("decode model: %w", err)
	}
	return m, b.Spec, nil
}

// buildModel turns a panic inside nn.Build on a malformed spec into an
// error: specs come from other processes.
func buildModel(s *nn.Spec) (m *nn.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("build model from spec: %v", r)
		}
	}()
	return nn.BuildModel(s)
}

// A model can also be stored as the ONNX file its owner exported (from
// PyTorch, say): the blob of its model object holds the file's bytes
// as they were given, and every use (a job's nn.LoadModel, Get, training)
// imports them with mpc/nn/onnx, whose decoder bounds every count and size
// before allocating. The owner's file therefore stays on the owner's
// worker, byte for byte; MPC jobs share only its architecture and secret
// shares of its weights.

// EncodeONNX checks that data is an ONNX model gomplab can import
// (every operator supported) and wraps it as the blob of a model
// object. Checking here means a model that could not run is refused when
// it is stored, not when a job needs it.
func EncodeONNX(data []byte) ([]byte, error) {
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
