package serde

import (
	"bytes"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/vmihailenco/msgpack/v5"
)

// fuzzLimits keeps fuzzed inputs cheap to decode.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16, MaxDepth: 16}

// checkDecodeError fails unless err is a *DecodeError of a known kind (or a
// *VersionError): decoders must say what was wrong, in their own terms.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	var de *DecodeError
	var ve *VersionError
	switch {
	case errors.As(err, &ve):
	case !errors.As(err, &de):
		t.Fatalf("error %q (%T) is not a *DecodeError", err, err)
	case !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrMalformed):
		t.Fatalf("error %q has no known kind", err)
	}
}

func tensorSeeds(f *testing.F) {
	for _, shape := range [][]int{{}, {0}, {3}, {2, 0, 4}, {2, 3}} {
		b, _ := EncodeTensor(filled(shape...))
		f.Add(b)
	}
	b, _ := appendTensor(nil, []int{2, 2}, []float64{1, 2, 3, 4}, Float32)
	f.Add(b)
	b, _ = appendTensor(nil, []int{3}, []float64{-1, 0, 1}, Int64)
	f.Add(b)
	f.Add([]byte{0xc9, 0xff, 0xff, 0xff, 0xff, byte(ExtTensor), byte(Float64)})
}

func FuzzDecodeTensor(f *testing.F) {
	tensorSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeTensor(b, fuzzLimits)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if x.Size() > fuzzLimits.MaxElements || x.Size() > len(b) {
			t.Fatalf("decoded %d elements from %d bytes", x.Size(), len(b))
		}
		enc, err := EncodeTensor(x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := DecodeTensor(enc, fuzzLimits)
		if err != nil {
			t.Fatal(err)
		}
		if !bitsEqual(x, y) {
			t.Fatal("re-encoded tensor changed")
		}
	})
}

// FuzzTensorExtension feeds payloads to the extension decoder that msgpack
// calls for *tensor.Tensor values, which has no Limits to lean on.
func FuzzTensorExtension(f *testing.F) {
	f.Add([]byte{byte(Float64), 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{byte(Float32), 1, 1, 0, 0, 0x80, 0x3f})
	f.Add([]byte{byte(Int64), 2, 0, 200})
	f.Fuzz(func(t *testing.T, payload []byte) {
		b := append(appendExtHeader(nil, ExtTensor, len(payload)), payload...)
		var x *tensor.Tensor
		errExt := msgpack.Unmarshal(b, &x)
		y, errOurs := DecodeTensor(b, Limits{MaxElements: math.MaxInt})
		if (errExt == nil) != (errOurs == nil) {
			t.Fatalf("msgpack extension says %v, DecodeTensor says %v", errExt, errOurs)
		}
		if errExt == nil && !bitsEqual(x, y) {
			t.Fatal("msgpack extension and DecodeTensor decode differently")
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	tensorSeeds(f)
	for _, v := range []any{
		nil, true, int64(-5), uint64(math.MaxUint64), 2.5, "s", []byte{1},
		[]any{int64(1), []any{"x", nil}}, map[string]any{"a": filled(2), "b": map[string]any{}},
		&RemoteError{Code: "c", Message: "m"},
	} {
		b, _ := Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(bytes.Repeat([]byte{0x91}, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Unmarshal(b, fuzzLimits)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		enc, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of a decoded value: %v", err)
		}
		w, err := Unmarshal(enc, fuzzLimits)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(v)): %v", err)
		}
		if !sameValue(v, w) {
			t.Fatalf("round trip changed %#v into %#v", v, w)
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	body, _ := EncodeBody(runJob{Source: "x", Inputs: []*tensor.Tensor{filled(2)}})
	for _, e := range []Envelope{{Type: "ping"}, {Type: "run_job", ID: 1 << 40, Body: body}, {Version: 2, Type: "x"}} {
		b, _ := EncodeEnvelope(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEnvelope(b, fuzzLimits)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		enc, err := EncodeEnvelope(e)
		if err != nil {
			t.Fatalf("EncodeEnvelope of a decoded envelope: %v", err)
		}
		e2, err := DecodeEnvelope(enc, fuzzLimits)
		if err != nil {
			t.Fatal(err)
		}
		if e2.Type != e.Type || e2.ID != e.ID || !bytes.Equal(e2.Body, e.Body) {
			t.Fatalf("round trip changed %+v into %+v", e, e2)
		}
		// Whatever the body holds, decoding it into a struct must fail
		// cleanly or succeed.
		var job runJob
		_ = DecodeBody(e.Body, &job, fuzzLimits)
	})
}

func FuzzDecodeBody(f *testing.F) {
	for _, v := range []any{
		runJob{Source: "s", Rank: 2, Deadline: time.Unix(1, 0), Inputs: []*tensor.Tensor{filled(3), nil},
			Weights: map[string]uint64{"w": 1}, Scale: []float64{1}, Err: &RemoteError{Message: "e"}},
		map[string]any{"inputs": []any{int64(1)}},
	} {
		b, _ := EncodeBody(v)
		f.Add([]byte(b))
	}
	f.Add([]byte{0x81, 0xa5, 's', 'c', 'a', 'l', 'e', 0xdd, 0x0f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var job runJob
		if err := DecodeBody(b, &job, fuzzLimits); err != nil {
			return
		}
		// A body that decoded re-encodes and decodes again.
		enc, err := EncodeBody(job)
		if err != nil {
			t.Fatalf("EncodeBody of a decoded body: %v", err)
		}
		var again runJob
		if err := DecodeBody(enc, &again, fuzzLimits); err != nil {
			t.Fatalf("DecodeBody(EncodeBody(job)): %v", err)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	var stream bytes.Buffer
	_ = WriteFrame(&stream, []byte("one"))
	_ = WriteFrame(&stream, nil)
	f.Add(stream.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		var rewritten bytes.Buffer
		for {
			frame, err := ReadFrame(r, 1<<16)
			if err == io.EOF {
				break
			}
			if err != nil {
				checkDecodeError(t, err)
				return
			}
			if err := WriteFrame(&rewritten, frame); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(rewritten.Bytes(), b) {
			t.Fatal("frames read from a well-formed stream do not write it back")
		}
	})
}
