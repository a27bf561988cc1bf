package serde

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/tensor"
	"github.com/vmihailenco/msgpack/v5"
)

// shapes covers 0-d, empty (a 0 in any dim), ones, and ranks up to 8.
var shapes = [][]int{
	{}, {0}, {1}, {7}, {1000},
	{0, 3}, {3, 0}, {0, 0}, {2, 0, 4}, {1, 1, 1},
	{2, 3}, {3, 2}, {2, 3, 4}, {1, 2, 1, 3, 1},
	{1, 1, 1, 1, 1, 1}, {2, 1, 2, 1, 2, 1, 2, 1}, {5, 0, 5, 0},
	{100, 100},
}

// codecs are the ways a tensor goes through serde; each must round-trip
// every shape bit for bit.
var codecs = []struct {
	name string
	rt   func(*tensor.Tensor) (*tensor.Tensor, error)
}{
	{"EncodeTensor", func(x *tensor.Tensor) (*tensor.Tensor, error) {
		b, err := EncodeTensor(x)
		if err != nil {
			return nil, err
		}
		return DecodeTensor(b, Limits{})
	}},
	{"Marshal", func(x *tensor.Tensor) (*tensor.Tensor, error) {
		b, err := Marshal([]any{"t", x})
		if err != nil {
			return nil, err
		}
		v, err := Unmarshal(b, Limits{})
		if err != nil {
			return nil, err
		}
		return v.([]any)[1].(*tensor.Tensor), nil
	}},
	{"msgpack", func(x *tensor.Tensor) (*tensor.Tensor, error) {
		b, err := msgpack.Marshal(map[string]any{"t": x})
		if err != nil {
			return nil, err
		}
		var out map[string]any
		if err := msgpack.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		return out["t"].(*tensor.Tensor), nil
	}},
	{"EncodeBody", func(x *tensor.Tensor) (*tensor.Tensor, error) {
		type body struct {
			T     *tensor.Tensor
			Items []*tensor.Tensor
		}
		b, err := EncodeBody(body{T: x, Items: []*tensor.Tensor{x}})
		if err != nil {
			return nil, err
		}
		var out body
		if err := DecodeBody(b, &out, Limits{}); err != nil {
			return nil, err
		}
		if !bitsEqual(out.T, out.Items[0]) {
			return nil, fmt.Errorf("field and list item differ")
		}
		return out.T, nil
	}},
}

func TestTensorRoundTripEveryShape(t *testing.T) {
	for _, portable := range []bool{false, true} {
		saved := littleEndian
		if portable {
			littleEndian = false // exercise the per-element fallback
		}
		for _, c := range codecs {
			for _, shape := range shapes {
				x := filled(shape...)
				y, err := c.rt(x)
				if err != nil {
					t.Fatalf("%s portable=%v shape %v: %v", c.name, portable, shape, err)
				}
				if !bitsEqual(x, y) {
					t.Fatalf("%s portable=%v shape %v: got %v %v, want %v %v",
						c.name, portable, shape, y.Shape(), y.Data(), x.Shape(), x.Data())
				}
			}
		}
		littleEndian = saved
	}
}

func TestDecodedTensorDoesNotAliasInput(t *testing.T) {
	b, err := EncodeTensor(filled(4))
	if err != nil {
		t.Fatal(err)
	}
	y, err := DecodeTensor(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := y.Clone()
	for i := range b {
		b[i] = 0xff
	}
	if !bitsEqual(y, want) {
		t.Fatal("decoded tensor changed when its input was overwritten")
	}
}

func TestEncodeTensorMatchesMsgpack(t *testing.T) {
	// Ones-shapes of rank 0..8 give payloads of 10..18 bytes and empty
	// shapes of rank 1..8 payloads of 3..10, covering the fixext and ext8
	// header forms; the 1000x1000 tensor needs ext32.
	var ts []*tensor.Tensor
	for rank := 0; rank <= 8; rank++ {
		ones, empty := make([]int, rank), make([]int, rank)
		for i := range ones {
			ones[i] = 1
		}
		ts = append(ts, filled(ones...))
		if rank > 0 {
			ts = append(ts, filled(empty...))
		}
	}
	ts = append(ts, filled(40), filled(1000, 1000))
	for _, x := range ts {
		mine, err := EncodeTensor(x)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := msgpack.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("shape %v: EncodeTensor %x, msgpack.Marshal %x", x.Shape(), mine[:8], theirs[:8])
		}
		viaMarshal, err := Marshal(x)
		if err != nil || !bytes.Equal(mine, viaMarshal) {
			t.Fatalf("shape %v: Marshal differs from EncodeTensor (%v)", x.Shape(), err)
		}
	}
}

func TestAppendTensorReusesBuffer(t *testing.T) {
	x := filled(64)
	buf := make([]byte, 0, 1024)
	out, err := AppendTensor(buf[:0], x)
	if err != nil {
		t.Fatal(err)
	}
	if &out[0] != &buf[:1][0] {
		t.Fatal("AppendTensor allocated although the buffer had room")
	}
	out, err = AppendTensor(out, x) // two tensors back to back
	if err != nil {
		t.Fatal(err)
	}
	half := len(out) / 2
	for _, b := range [][]byte{out[:half], out[half:]} {
		y, err := DecodeTensor(b, Limits{})
		if err != nil || !bitsEqual(x, y) {
			t.Fatalf("decode appended tensor: %v", err)
		}
	}
}

func TestDecodeNarrowerDTypes(t *testing.T) {
	vals := []float64{0, -0.5, 3, 1e30, math.Inf(-1), -7}
	ints := []float64{0, -1, 1 << 40, -(1 << 53), 42, 7}
	for _, c := range []struct {
		dt   DType
		in   []float64
		want []float64
	}{
		{Float32, vals, []float64{0, -0.5, 3, float64(float32(1e30)), math.Inf(-1), -7}},
		{Int64, ints, ints},
		{Float64, vals, vals},
	} {
		b, err := appendTensor(nil, []int{2, 3}, c.in, c.dt)
		if err != nil {
			t.Fatal(err)
		}
		y, err := DecodeTensor(b, Limits{})
		if err != nil {
			t.Fatalf("%v: %v", c.dt, err)
		}
		if want := tensor.MustNew(c.want, 2, 3); !bitsEqual(y, want) {
			t.Fatalf("%v: got %v, want %v", c.dt, y.Data(), c.want)
		}
	}
	if Float32.String() != "float32" || DType(9).String() != "DType(9)" {
		t.Fatal("DType names")
	}
}

func TestEncodeTensorRejects(t *testing.T) {
	if _, err := EncodeTensor(nil); err == nil {
		t.Fatal("EncodeTensor(nil) succeeded")
	}
	if _, err := EncodeTensor(&tensor.Tensor{}); err == nil {
		t.Fatal("encoding a zero-value tensor succeeded")
	}
	if _, err := Marshal([]any{&tensor.Tensor{}}); err == nil {
		t.Fatal("Marshal of a zero-value tensor succeeded")
	}
}

// rawTensor builds an extension value with an arbitrary tensor payload.
func rawTensor(payload ...byte) []byte {
	return append(appendExtHeader(nil, ExtTensor, len(payload)), payload...)
}

func TestDecodeTensorBadInput(t *testing.T) {
	good, err := EncodeTensor(filled(2, 3))
	if err != nil {
		t.Fatal(err)
	}
	le := func(x float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(x)) }
	huge := binary.AppendUvarint([]byte{byte(Float64), 2}, 1<<40)
	huge = binary.AppendUvarint(huge, 1<<40)
	cases := []struct {
		name  string
		in    []byte
		lim   Limits
		kind  error
		frags []string
	}{
		{"empty", nil, Limits{}, ErrTruncated, []string{"tensor needs 1 byte"}},
		{"string", []byte{0xa1, 'x'}, Limits{}, ErrMalformed, []string{"got string, want tensor"}},
		{"nil", []byte{0xc0}, Limits{}, ErrMalformed, []string{"got nil"}},
		{"list", []byte{0x90}, Limits{}, ErrMalformed, []string{"got list"}},
		{"other extension", append(appendExtHeader(nil, 5, 1), 0), Limits{}, ErrMalformed, []string{"got extension 5"}},
		{"trailing byte", append(append([]byte{}, good...), 0), Limits{}, ErrMalformed, []string{"1 trailing bytes"}},
		{"empty payload", rawTensor(), Limits{}, ErrTruncated, []string{"empty tensor payload"}},
		{"unknown dtype", rawTensor(9, 0, 0, 0, 0, 0, 0, 0, 0, 0), Limits{}, ErrMalformed, []string{"unknown tensor dtype 9"}},
		{"no rank", rawTensor(byte(Float64)), Limits{}, ErrTruncated, []string{"inside the rank"}},
		{"rank overflow", rawTensor(byte(Float64), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), Limits{}, ErrMalformed, []string{"overflows"}},
		{"rank too big", rawTensor(byte(Float64), 65), Limits{}, ErrLimit, []string{"rank 65 exceeds MaxRank 64"}},
		{"missing dim", rawTensor(byte(Float64), 2, 3), Limits{}, ErrTruncated, []string{"size of dim 1"}},
		{"elements overflow", rawTensor(huge...), Limits{}, ErrLimit, []string{"more elements than an int holds"}},
		{"over element limit", rawTensor(append([]byte{byte(Float64), 1, 3}, make([]byte, 24)...)...), Limits{MaxElements: 2}, ErrLimit, []string{"shape [3] has 3 elements; the element limit leaves room for 2"}},
		{"short data", rawTensor(append([]byte{byte(Float64), 1, 2}, le(1)...)...), Limits{}, ErrTruncated, []string{"float64 tensor of shape [2] needs 16 data bytes, payload has 8"}},
		{"extra data", rawTensor(append([]byte{byte(Float64), 0}, append(le(1), 0)...)...), Limits{}, ErrMalformed, []string{"1 bytes after the data"}},
		{"short float32 data", rawTensor(byte(Float32), 1, 2, 0, 0, 0, 0), Limits{}, ErrTruncated, []string{"float32 tensor"}},
		{"over byte limit", good, Limits{MaxBytes: 10}, ErrLimit, []string{fmt.Sprintf("input is %d bytes, limit is 10", len(good))}},
		{"lying length", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, byte(ExtTensor), byte(Float64)}, Limits{}, ErrTruncated, []string{"tensor payload needs 4294967295 bytes, 1 left"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeTensor(c.in, c.lim)
			wantErr(t, err, c.kind, append(c.frags, "serde: DecodeTensor: at byte")...)
		})
	}
}

func TestDecodeTensorEveryTruncation(t *testing.T) {
	for _, shape := range [][]int{{}, {0}, {2, 3}, {40, 40}} {
		b, err := EncodeTensor(filled(shape...))
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(b) {
			if _, err := DecodeTensor(b[:n], Limits{}); err == nil {
				t.Fatalf("shape %v: prefix of %d of %d bytes decoded", shape, n, len(b))
			} else {
				wantErr(t, err, ErrTruncated)
			}
		}
	}
}

func TestMsgpackTensorExtensionRejectsBadPayload(t *testing.T) {
	var x *tensor.Tensor
	for _, in := range [][]byte{
		rawTensor(9, 0),                         // unknown dtype
		rawTensor(byte(Float64), 1, 2, 0, 0, 0), // short data
		{0xc9, 0x7f, 0xff, 0xff, 0xff, byte(ExtTensor), byte(Float64)}, // lying length
	} {
		err := msgpack.Unmarshal(in, &x)
		if err == nil {
			t.Fatalf("msgpack.Unmarshal(%x) into *tensor.Tensor succeeded", in)
		}
		var v any
		if err := msgpack.Unmarshal(in, &v); err == nil {
			t.Fatalf("msgpack.Unmarshal(%x) into any succeeded", in)
		}
	}
	// A nil tensor field stays nil.
	var s struct{ T *tensor.Tensor }
	if err := msgpack.Unmarshal([]byte{0x81, 0xa1, 'T', 0xc0}, &s); err != nil || s.T != nil {
		t.Fatalf("nil tensor field: %v, %v", err, s.T)
	}
}

func TestMsgpackTensorExtensionFromStream(t *testing.T) {
	// A Decoder over a plain io.Reader cannot see how much input is left;
	// the payload is then read as it arrives.
	x := filled(300, 300)
	b, err := msgpack.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var y *tensor.Tensor
	if err := msgpack.NewDecoder(onlyReader{bytes.NewReader(b)}).Decode(&y); err != nil {
		t.Fatal(err)
	}
	if !bitsEqual(x, y) {
		t.Fatal("tensor changed through a streaming decoder")
	}
	err = msgpack.NewDecoder(onlyReader{bytes.NewReader(b[:len(b)/2])}).Decode(&y)
	wantErr(t, err, ErrTruncated, "extension payload")
}

// onlyReader hides every method but Read.
type onlyReader struct{ r *bytes.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
