package serde

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/vmihailenco/msgpack/v5"
)

// runJob stands in for the request structs the worker daemon defines.
type runJob struct {
	Source   string            `msgpack:"source"`
	Rank     int               `msgpack:"rank"`
	World    int               `msgpack:"world"`
	Deadline time.Time         `msgpack:"deadline"`
	Inputs   []*tensor.Tensor  `msgpack:"inputs"`
	Weights  map[string]uint64 `msgpack:"weights"`
	Scale    []float64         `msgpack:"scale"`
	Err      *RemoteError      `msgpack:"err"`
	Result   msgpack.RawMessage
}

func TestEnvelopeRoundTrip(t *testing.T) {
	result, err := Marshal(map[string]any{"acc": 0.93})
	if err != nil {
		t.Fatal(err)
	}
	job := runJob{
		Source: "func infer() (any, error) { return nil, nil }", Rank: 1, World: 3,
		Deadline: time.Unix(1700000000, 5).UTC(),
		Inputs:   []*tensor.Tensor{filled(2, 2), nil, filled(0)},
		Weights:  map[string]uint64{"b": 2, "a": 1<<63 + 1},
		Scale:    []float64{0.5, -0},
		Result:   result,
	}
	body, err := EncodeBody(job)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{0, 1, 1 << 40, 1<<64 - 1} {
		b, err := EncodeEnvelope(Envelope{Type: "run_job", ID: id, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		e, err := DecodeEnvelope(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if e.Version != Version || e.Type != "run_job" || e.ID != id || !bytes.Equal(e.Body, body) {
			t.Fatalf("got envelope %+v", e)
		}
		var got runJob
		if err := DecodeBody(e.Body, &got, Limits{}); err != nil {
			t.Fatal(err)
		}
		if got.Source != job.Source || got.Rank != 1 || got.World != 3 || !got.Deadline.Equal(job.Deadline) ||
			len(got.Inputs) != 3 || !bitsEqual(got.Inputs[0], job.Inputs[0]) || got.Inputs[1] != nil ||
			!bitsEqual(got.Inputs[2], job.Inputs[2]) || got.Weights["a"] != 1<<63+1 || got.Weights["b"] != 2 ||
			len(got.Scale) != 2 || got.Scale[0] != 0.5 || got.Err != nil {
			t.Fatalf("body came back as %+v", got)
		}
		v, err := Unmarshal(got.Result, Limits{})
		if err != nil || v.(map[string]any)["acc"] != 0.93 {
			t.Fatalf("result: %v %v", v, err)
		}
	}
}

func TestEnvelopeEmptyBody(t *testing.T) {
	b, err := EncodeEnvelope(Envelope{Type: "ping", ID: 9})
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEnvelope(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Body, []byte{0xc0}) {
		t.Fatalf("empty body came back as %x", e.Body)
	}
	var s struct{ X int }
	if err := DecodeBody(e.Body, &s, Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestEnvelopeVersionMismatch(t *testing.T) {
	v2, err := EncodeEnvelope(Envelope{Version: 2, Type: "get", ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A later version may change everything after the version number.
	for _, b := range [][]byte{v2, {0x92, 0x02, 0xa1, 'x'}, {0x91, 0x02}, {0x91, 0xff}, {0x91, 0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0}} {
		_, err := DecodeEnvelope(b, Limits{})
		var ve *VersionError
		if !errors.As(err, &ve) {
			t.Fatalf("%x: got %v, want *VersionError", b, err)
		}
	}
	_, err = DecodeEnvelope(v2, Limits{})
	if want := "serde: message version 2, this build speaks 1"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestEnvelopeBadInput(t *testing.T) {
	good, err := EncodeEnvelope(Envelope{Type: "get", ID: 3, Body: []byte{0x91, 0x91, 0x01}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		in    []byte
		lim   Limits
		kind  error
		frags []string
	}{
		{"empty", nil, Limits{}, ErrTruncated, []string{"envelope needs 1 byte"}},
		{"not a list", []byte{0x80}, Limits{}, ErrMalformed, []string{"envelope is map, want list"}},
		{"empty list", []byte{0x90}, Limits{}, ErrMalformed, []string{"empty list"}},
		{"version not int", []byte{0x94, 0xa1, '1'}, Limits{}, ErrMalformed, []string{"envelope version is string, want integer"}},
		{"too few fields", []byte{0x93, 0x01, 0xa0, 0x00}, Limits{}, ErrMalformed, []string{"envelope has 3 fields, want 4"}},
		{"type not string", []byte{0x94, 0x01, 0x05, 0x00, 0xc0}, Limits{}, ErrMalformed, []string{"message type is integer, want string"}},
		{"negative id", []byte{0x94, 0x01, 0xa0, 0xff, 0xc0}, Limits{}, ErrMalformed, []string{"message id -1 is negative"}},
		{"id not int", []byte{0x94, 0x01, 0xa0, 0xc3, 0xc0}, Limits{}, ErrMalformed, []string{"message id is bool, want integer"}},
		{"no body", []byte{0x94, 0x01, 0xa0, 0x00}, Limits{}, ErrTruncated, []string{"value needs 1 byte"}},
		{"short body", good[:len(good)-1], Limits{}, ErrTruncated, []string{"at body[0] (byte 8)", "list of 1 items, 0 bytes left"}},
		{"trailing", append(append([]byte{}, good...), 0), Limits{}, ErrMalformed, []string{"1 trailing bytes"}},
		{"body too deep", good, Limits{MaxDepth: 1}, ErrLimit, []string{"at body[0]", "nesting deeper than 1"}},
		{"too big", good, Limits{MaxBytes: 4}, ErrLimit, []string{"limit is 4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeEnvelope(c.in, c.lim)
			wantErr(t, err, c.kind, append(c.frags, "serde: DecodeEnvelope: ")...)
		})
	}
	for n := range len(good) {
		_, err := DecodeEnvelope(good[:n], Limits{})
		wantErr(t, err, ErrTruncated)
	}
}

func TestEncodeEnvelopeChecksBody(t *testing.T) {
	for _, body := range [][]byte{{0x92, 0x01}, {0x01, 0x02}, {0xc1}} {
		if _, err := EncodeEnvelope(Envelope{Type: "x", Body: body}); err == nil {
			t.Fatalf("EncodeEnvelope accepted body %x", body)
		}
	}
}

func TestDecodeBodyBadInput(t *testing.T) {
	type small struct {
		N     int       `msgpack:"n"`
		Scale []float64 `msgpack:"scale"`
	}
	var s small
	// A declared length far beyond the input: msgpack alone would size the
	// []float64 from it.
	lying := []byte{0x81, 0xa5, 's', 'c', 'a', 'l', 'e', 0xdd, 0x0f, 0xff, 0xff, 0xff, 0xcb}
	err := DecodeBody(lying, &s, Limits{})
	wantErr(t, err, ErrTruncated, `at ["scale"]`, "list of 268435455 items")

	deep := append(bytes.Repeat([]byte{0x91}, 40), 0x01)
	wantErr(t, DecodeBody(deep, &s, Limits{}), ErrLimit, "nesting deeper than 32")

	wantErr(t, DecodeBody(nil, &s, Limits{}), ErrTruncated, "empty body")
	wantErr(t, DecodeBody([]byte{0x80, 0x01}, &s, Limits{}), ErrMalformed, "trailing")
	if err := DecodeBody([]byte{0x81, 0xa1, 'n', 0xa1, 'x'}, &s, Limits{}); err == nil {
		t.Fatal("string decoded into an int field")
	} else {
		wantErr(t, err, nil, "serde: DecodeBody into *serde.small")
	}
	if err := DecodeBody(make([]byte, 64), &s, Limits{MaxBytes: 63}); !errors.Is(err, ErrLimit) {
		t.Fatalf("oversized body: %v", err)
	}
	// Unknown fields are ignored, so newer peers may add some.
	raw, err := EncodeBody(map[string]any{"n": 4, "added_later": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := DecodeBody(raw, &s, Limits{}); err != nil || s.N != 4 {
		t.Fatalf("unknown field: %v, n=%d", err, s.N)
	}
}

func TestEncodeBodyRefusesWhatDecodeBodyWould(t *testing.T) {
	type withIntKeys struct{ M map[uint64]int }
	for _, v := range []any{map[int]string{1: "a"}, withIntKeys{M: map[uint64]int{1: 2}}} {
		_, err := EncodeBody(v)
		wantErr(t, err, ErrMalformed, "serde: EncodeBody", "would not decode", "map key 0 is integer, want string")
	}
	if _, err := EncodeBody(make(chan int)); err == nil {
		t.Fatal("EncodeBody of a channel succeeded")
	}
}

func TestDecodeBodyMsgpackPanicIsAnError(t *testing.T) {
	// msgpack v5.4.1 panics decoding nil into a time.Time field.
	raw := []byte{0x81, 0xa8, 'd', 'e', 'a', 'd', 'l', 'i', 'n', 'e', 0xc0}
	var job runJob
	err := DecodeBody(raw, &job, Limits{})
	wantErr(t, err, ErrMalformed, "serde: DecodeBody", "msgpack cannot decode this input into *serde.runJob")
}
