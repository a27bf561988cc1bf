package serde

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// oneM is the element count of the benchmark tensors (8 MiB of float64).
const oneM = 1 << 20

// BenchmarkMemcopy1M is the yardstick: copying the bytes of a 1M-element
// tensor once, into memory that already exists.
func BenchmarkMemcopy1M(b *testing.B) {
	src, dst := make([]float64, oneM), make([]float64, oneM)
	b.SetBytes(8 * oneM)
	for b.Loop() {
		copy(dst, src)
	}
}

// BenchmarkMemcopyAlloc1M copies into fresh memory each time, as any
// decoder that returns a new tensor must.
func BenchmarkMemcopyAlloc1M(b *testing.B) {
	src := make([]float64, oneM)
	b.SetBytes(8 * oneM)
	for b.Loop() {
		dst := make([]float64, oneM)
		copy(dst, src)
	}
}

// BenchmarkTensorEncodeDecode1M is encode then decode of a 1M-element
// tensor, each into fresh memory: the headline figure.
func BenchmarkTensorEncodeDecode1M(b *testing.B) {
	x := filled(oneM)
	b.SetBytes(8 * oneM)
	for b.Loop() {
		enc, err := EncodeTensor(x)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeTensor(enc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTensorEncodeDecodeReuse1M encodes into a reused buffer
// (AppendTensor), as a connection writing many messages does.
func BenchmarkTensorEncodeDecodeReuse1M(b *testing.B) {
	x := filled(oneM)
	var buf []byte
	b.SetBytes(8 * oneM)
	for b.Loop() {
		var err error
		buf, err = AppendTensor(buf[:0], x)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeTensor(buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTensorEncode1M(b *testing.B) {
	x := filled(oneM)
	b.SetBytes(8 * oneM)
	for b.Loop() {
		if _, err := EncodeTensor(x); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTensorDecode1M(b *testing.B) {
	enc, err := EncodeTensor(filled(oneM))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8 * oneM)
	for b.Loop() {
		if _, err := DecodeTensor(enc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalTensor1M goes through Marshal/Unmarshal, the path of an
// MPC job's return value.
func BenchmarkMarshalTensor1M(b *testing.B) {
	v := map[string]any{"logits": filled(oneM)}
	b.SetBytes(8 * oneM)
	for b.Loop() {
		enc, err := Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Unmarshal(enc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvelopeSmall is one small request through the whole message
// path: typed body, envelope, and back.
func BenchmarkEnvelopeSmall(b *testing.B) {
	req := runJob{Source: "func infer() (any, error) { return nil, nil }", Rank: 1, World: 2,
		Inputs: []*tensor.Tensor{filled(4)}}
	for b.Loop() {
		body, err := EncodeBody(req)
		if err != nil {
			b.Fatal(err)
		}
		msg, err := EncodeEnvelope(Envelope{Type: "run_job", ID: 7, Body: body})
		if err != nil {
			b.Fatal(err)
		}
		e, err := DecodeEnvelope(msg, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		var got runJob
		if err := DecodeBody(e.Body, &got, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalNested decodes a map of 100 small lists.
func BenchmarkUnmarshalNested(b *testing.B) {
	v := map[string]any{}
	for i := range 100 {
		v[fmt.Sprint("k", i)] = []any{int64(i), "value", 1.5, true}
	}
	enc, err := Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Unmarshal(enc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
