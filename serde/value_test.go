package serde

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
	"github.com/vmihailenco/msgpack/v5"
)

func TestMarshalRoundTrip(t *testing.T) {
	x := filled(2, 3)
	cases := []any{
		nil, true, false, "", "héllo\x00world", []byte{}, []byte{0, 1, 255},
		[]any{}, map[string]any{},
		x, filled(), filled(0, 4),
		&RemoteError{}, &RemoteError{Code: "not_found", Message: "no tensor tagged \"x\""},
		uint64(math.MaxUint64), uint64(math.MaxInt64 + 1),
		[]any{nil, true, int64(1), "s", []byte("b"), x, []any{[]any{}}, map[string]any{"k": x}},
		map[string]any{"": int64(0), "weights": x, "nested": map[string]any{"list": []any{1.5, "x"}}},
	}
	for _, i := range []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 32, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32 - 1, math.MinInt64} {
		cases = append(cases, i)
	}
	for _, f := range specials {
		cases = append(cases, f)
	}
	for _, v := range cases {
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		got, err := Unmarshal(b, Limits{})
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(%#v)): %v", v, err)
		}
		if !sameValue(v, got) {
			t.Fatalf("round trip of %#v gave %#v", v, got)
		}
	}
}

type celsius float64
type label string
type byteString []byte

func TestMarshalNormalizes(t *testing.T) {
	wrapped := fmt.Errorf("load %q: %w", "x", &RemoteError{Code: "not_found", Message: "gone"})
	cases := []struct {
		in, want any
	}{
		{int8(-5), int64(-5)},
		{int16(300), int64(300)},
		{int32(-70000), int64(-70000)},
		{int(7), int64(7)},
		{uint8(200), int64(200)},
		{uint32(7), int64(7)},
		{uint(1 << 40), int64(1 << 40)},
		{uint64(5), int64(5)},
		{float32(1.5), 1.5},
		{float32(0.1), float64(float32(0.1))},
		{celsius(21.5), 21.5},
		{label("l"), "l"},
		{byteString("bs"), []byte("bs")},
		{[2]byte{1, 2}, []byte{1, 2}},
		{[]float64{1, 2, 3}, tensor.MustNew([]float64{1, 2, 3}, 3)},
		{[]float32{1, 0.5}, tensor.MustNew([]float64{1, 0.5}, 2)},
		{[]float64{}, tensor.MustNew([]float64{}, 0)},
		{[]int{1, -2}, []any{int64(1), int64(-2)}},
		{[]string{"a", "b"}, []any{"a", "b"}},
		{[3]bool{true}, []any{true, false, false}},
		{[][]float64{{1}, {}}, []any{tensor.MustNew([]float64{1}, 1), tensor.MustNew([]float64{}, 0)}},
		{[]*tensor.Tensor{nil}, []any{nil}},
		{map[string]int{"b": 2, "a": 1}, map[string]any{"a": int64(1), "b": int64(2)}},
		{map[label][]string{"k": nil}, map[string]any{"k": nil}},
		{errors.New("boom"), &RemoteError{Message: "boom"}},
		{wrapped, &RemoteError{Code: "not_found", Message: `load "x": not_found: gone`}},
		{[]error{errors.New("e")}, []any{&RemoteError{Message: "e"}}},
		{[]any(nil), nil},
		{map[string]any(nil), nil},
		{[]byte(nil), nil},
		{[]float64(nil), nil},
		{(*tensor.Tensor)(nil), nil},
		{(*RemoteError)(nil), nil},
		{(*int)(nil), nil},
	}
	for _, c := range cases {
		b, err := Marshal(c.in)
		if err != nil {
			t.Fatalf("Marshal(%T %v): %v", c.in, c.in, err)
		}
		got, err := Unmarshal(b, Limits{})
		if err != nil {
			t.Fatalf("Unmarshal of %T: %v", c.in, err)
		}
		if !sameValue(c.want, got) {
			t.Fatalf("%T %v came back as %T %v, want %T %v", c.in, c.in, got, got, c.want, c.want)
		}
	}
}

func TestMarshalRejects(t *testing.T) {
	type point struct{ X int }
	one := 1
	cyclic := []any{nil}
	cyclic[0] = cyclic
	deep := any("leaf")
	for range DefaultLimits.MaxDepth + 1 {
		deep = []any{deep}
	}
	cases := []struct {
		in    any
		frags []string
	}{
		{point{1}, []string{"cannot encode type serde.point", "use EncodeBody"}},
		{&one, []string{"cannot encode type *int"}},
		{make(chan int), []string{"cannot encode type chan int"}},
		{func() {}, []string{"cannot encode type func()"}},
		{map[int]string{1: "a"}, []string{"map key type int is not a string"}},
		{[]any{1, map[string]any{"inner": point{}}}, []string{`at [1]["inner"]: cannot encode type serde.point`}},
		{cyclic, []string{"nesting deeper than 32 (is the value cyclic?)"}},
		{deep, []string{"nesting deeper than 32"}},
	}
	for _, c := range cases {
		_, err := Marshal(c.in)
		var me *MarshalError
		if !errors.As(err, &me) {
			t.Fatalf("Marshal(%T): got %v, want *MarshalError", c.in, err)
		}
		wantErr(t, err, nil, append(c.frags, "serde: Marshal: ")...)
	}
	// Depth exactly at the limit is fine, and decodes under DefaultLimits.
	ok := any(int64(1))
	for range DefaultLimits.MaxDepth {
		ok = []any{ok}
	}
	b, err := Marshal(ok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(b, Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	m := map[string]any{}
	for i := range 50 {
		m[fmt.Sprintf("key%02d", 49-i)] = map[string]any{"b": i, "a": -i}
	}
	first, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, _ := Marshal(m)
		if !bytes.Equal(first, again) {
			t.Fatal("equal maps encoded to different bytes")
		}
	}
	if i, j := bytes.Index(first, []byte("key00")), bytes.Index(first, []byte("key01")); i < 0 || j < i {
		t.Fatal("map keys are not written in sorted order")
	}
}

func TestRemoteError(t *testing.T) {
	b, err := Marshal(fmt.Errorf("party 1: %w", &RemoteError{Code: "deadline", Message: "job timed out"}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := Unmarshal(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := v.(error)
	if !ok {
		t.Fatalf("decoded %T, want an error", v)
	}
	if !errors.Is(got, &RemoteError{Code: "deadline"}) || errors.Is(got, &RemoteError{Code: "other"}) {
		t.Fatal("errors.Is does not match by Code")
	}
	if want := "deadline: party 1: deadline: job timed out"; got.Error() != want {
		t.Fatalf("Error() = %q, want %q", got.Error(), want)
	}
	if ToRemoteError(nil) != nil {
		t.Fatal("ToRemoteError(nil) != nil")
	}
	if (&RemoteError{Message: "m"}).Error() != "m" {
		t.Fatal("Error() of a RemoteError without Code")
	}
	// Typed fields use the same extension.
	type reply struct{ Err *RemoteError }
	raw, err := EncodeBody(reply{Err: &RemoteError{Code: "c", Message: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	var r reply
	if err := DecodeBody(raw, &r, Limits{}); err != nil || r.Err == nil || *r.Err != (RemoteError{Code: "c", Message: "m"}) {
		t.Fatalf("typed RemoteError field: %v %+v", err, r.Err)
	}
}

func TestUnmarshalBadInput(t *testing.T) {
	nest := func(depth int) []byte {
		b := bytes.Repeat([]byte{0x91}, depth) // lists of one item
		return append(b, 0x01)
	}
	badErr := append(appendExtHeader(nil, ExtError, 2), 0x91, 0xa0)
	cases := []struct {
		name  string
		in    []byte
		lim   Limits
		kind  error
		frags []string
	}{
		{"empty", nil, Limits{}, ErrTruncated, []string{"at byte 0", "value needs 1 byte, 0 left"}},
		{"invalid code", []byte{0xc1}, Limits{}, ErrMalformed, []string{"invalid MessagePack code 0xc1"}},
		{"trailing", []byte{0x01, 0x02}, Limits{}, ErrMalformed, []string{"at byte 1", "1 trailing bytes"}},
		{"short string", []byte{0xa5, 'a', 'b'}, Limits{}, ErrTruncated, []string{"string needs 5 bytes, 2 left"}},
		{"short str32 length", []byte{0xdb, 0, 0}, Limits{}, ErrTruncated, []string{"string length needs 4 bytes, 2 left"}},
		{"short float", []byte{0xcb, 0, 0}, Limits{}, ErrTruncated, []string{"float64 needs 8 bytes"}},
		{"lying list", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, Limits{}, ErrTruncated, []string{"list of 4294967295 items, 1 bytes left"}},
		{"lying map", []byte{0xdf, 0x7f, 0xff, 0xff, 0xff}, Limits{}, ErrTruncated, []string{"map of 2147483647 entries, 0 bytes left"}},
		{"lying bytes", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}, Limits{}, ErrTruncated, []string{"bytes needs 4294967295 bytes"}},
		{"int key", []byte{0x81, 0x01, 0x02}, Limits{}, ErrMalformed, []string{"map key 0 is integer, want string"}},
		{"duplicate key", []byte{0x82, 0xa1, 'k', 0x01, 0xa1, 'k', 0x02}, Limits{}, ErrMalformed, []string{`duplicate map key "k"`}},
		{"unknown extension", []byte{0xd4, 0x09, 0x00}, Limits{}, ErrMalformed, []string{"unknown extension type 9"}},
		{"timestamp extension", []byte{0xd6, 0xff, 0, 0, 0, 0}, Limits{}, ErrMalformed, []string{"unknown extension type -1"}},
		{"bad error payload", badErr, Limits{}, ErrMalformed, []string{"error payload is a list of 1 items"}},
		{"too deep", nest(33), Limits{}, ErrLimit, []string{"at [0][0]", "nesting deeper than 32"}},
		{"too deep custom", nest(3), Limits{MaxDepth: 2}, ErrLimit, []string{"at [0][0] (byte 2)", "nesting deeper than 2"}},
		{"too many items", []byte{0x93, 1, 2, 3}, Limits{MaxElements: 2}, ErrLimit, []string{"list of 3 elements brings the total past 2"}},
		{"too many in total", []byte{0x92, 0x91, 1, 0x91, 2}, Limits{MaxElements: 3}, ErrLimit, []string{"at [1]"}},
		{"too many map entries", []byte{0x82, 0xa1, 'a', 1, 0xa1, 'b', 2}, Limits{MaxElements: 1}, ErrLimit, []string{"map of 2 elements"}},
		{"too big", []byte{0x93, 1, 2, 3}, Limits{MaxBytes: 3}, ErrLimit, []string{"input is 4 bytes, limit is 3"}},
		{"path", []byte{0x92, 0x01, 0x81, 0xa1, 'w', 0xa3, 'x'}, Limits{}, ErrTruncated, []string{`at [1]["w"] (byte 6)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unmarshal(c.in, c.lim)
			wantErr(t, err, c.kind, append(c.frags, "serde: Unmarshal: ")...)
		})
	}
	// Exactly at the limits is fine.
	if _, err := Unmarshal(nest(32), Limits{}); err != nil {
		t.Fatalf("depth 32: %v", err)
	}
	if _, err := Unmarshal([]byte{0x92, 0x91, 1, 0x90}, Limits{MaxElements: 3}); err != nil {
		t.Fatalf("3 elements under MaxElements 3: %v", err)
	}
}

func TestUnmarshalEveryTruncation(t *testing.T) {
	b, err := Marshal(map[string]any{
		"t": filled(3, 2), "s": "string", "l": []any{int64(-1000), 2.5, []byte("xy"), nil, true},
		"e": &RemoteError{Code: "c", Message: "m"}, "u": uint64(math.MaxUint64),
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		_, err := Unmarshal(b[:n], Limits{})
		wantErr(t, err, ErrTruncated)
	}
}

func TestUnmarshalCountsTensorElements(t *testing.T) {
	b, err := Marshal([]any{filled(10), filled(10)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Unmarshal(b, Limits{MaxElements: 21})
	wantErr(t, err, ErrLimit, "at [1]", "leaves room for 9")
	if _, err := Unmarshal(b, Limits{MaxElements: 22}); err != nil {
		t.Fatal(err)
	}
}

// Values written by msgpack itself decode, with the documented
// normalization; values written by Marshal decode with msgpack.
func TestInteropWithMsgpack(t *testing.T) {
	x := filled(2, 2)
	in := map[string]any{"i": 200, "n": -3, "f": float32(0.25), "s": []string{"a"}, "t": x,
		"b": []byte{1}, "m": map[string]any{"e": &RemoteError{Message: "m"}}}
	b, err := msgpack.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"i": int64(200), "n": int64(-3), "f": 0.25, "s": []any{"a"}, "t": x,
		"b": []byte{1}, "m": map[string]any{"e": &RemoteError{Message: "m"}}}
	if !sameValue(want, got) {
		t.Fatalf("got %#v", got)
	}
	b, err = Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := msgpack.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !bitsEqual(back["t"].(*tensor.Tensor), x) || back["m"].(map[string]any)["e"].(*RemoteError).Message != "m" {
		t.Fatalf("msgpack decoded %#v", back)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	e := &DecodeError{Op: "Unmarshal", Path: `[2]["w"]`, Offset: 57, Kind: ErrTruncated, Msg: "string needs 300 bytes, 12 left"}
	want := `serde: Unmarshal: at [2]["w"] (byte 57): truncated input: string needs 300 bytes, 12 left`
	if e.Error() != want {
		t.Fatalf("got %q, want %q", e.Error(), want)
	}
	if !strings.HasPrefix((&DecodeError{Op: "X", Kind: ErrLimit}).Error(), "serde: X: at byte 0: limit exceeded") {
		t.Fatal("message without path")
	}
}
