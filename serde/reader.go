package serde

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// reader walks MessagePack bytes held in memory, checking every declared
// length against the bytes that remain before acting on it and charging
// every list item, map entry and tensor element against Limits.
//
// msgpack's own Decoder is used only after a reader has validated the input
// (see DecodeBody): it has no depth bound, so deeply nested input would
// exhaust the stack, and it may size a slice from a declared length alone.
type reader struct {
	op    string
	b     []byte
	off   int
	lim   Limits
	elems int
}

func newReader(op string, b []byte, lim Limits) *reader {
	return &reader{op: op, b: b, lim: lim}
}

func (r *reader) errorf(at int, kind error, format string, args ...any) *DecodeError {
	return &DecodeError{Op: r.op, Offset: at, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func (r *reader) left() int { return len(r.b) - r.off }

// take returns the next n bytes of the input (not copied).
func (r *reader) take(n int, what string) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, r.errorf(r.off, ErrTruncated, "%s needs %s, %d left", what, nbytes(n), r.left())
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p, nil
}

// nbytes says "1 byte" or "n bytes".
func nbytes(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return strconv.Itoa(n) + " bytes"
}

// uintBE reads a big-endian unsigned integer of size 1, 2, 4 or 8 bytes.
func (r *reader) uintBE(size int, what string) (uint64, error) {
	p, err := r.take(size, what)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

// count charges n elements, found at offset at, against MaxElements.
func (r *reader) count(n, at int, what string) error {
	if n > r.lim.MaxElements-r.elems {
		return r.errorf(at, ErrLimit, "%s of %d elements brings the total past %d, the limit",
			what, n, r.lim.MaxElements)
	}
	r.elems += n
	return nil
}

// end reports bytes left over after a complete value.
func (r *reader) end() error {
	if r.left() != 0 {
		return r.errorf(r.off, ErrMalformed, "%d trailing bytes after the value", r.left())
	}
	return nil
}

// typeName names the MessagePack type that code c starts, for errors.
func typeName(c byte) string {
	switch {
	case msgpcode.IsFixedNum(c), c >= msgpcode.Uint8 && c <= msgpcode.Int64:
		return "integer"
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		return "map"
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		return "list"
	case msgpcode.IsString(c):
		return "string"
	case msgpcode.IsBin(c):
		return "bytes"
	case msgpcode.IsExt(c):
		return "extension"
	case c == msgpcode.Nil:
		return "nil"
	case c == msgpcode.False, c == msgpcode.True:
		return "bool"
	case c == msgpcode.Float, c == msgpcode.Double:
		return "float"
	}
	return fmt.Sprintf("invalid code 0x%02x", c)
}

// lengthOf returns the length a str, bin, array, map or ext code declares,
// reading the length bytes that follow non-fixed codes.
func (r *reader) lengthOf(c byte) (int, error) {
	size := 0
	switch c {
	case msgpcode.Str8, msgpcode.Bin8, msgpcode.Ext8:
		size = 1
	case msgpcode.Str16, msgpcode.Bin16, msgpcode.Ext16, msgpcode.Array16, msgpcode.Map16:
		size = 2
	case msgpcode.Str32, msgpcode.Bin32, msgpcode.Ext32, msgpcode.Array32, msgpcode.Map32:
		size = 4
	default:
		switch {
		case msgpcode.IsFixedString(c):
			return int(c & msgpcode.FixedStrMask), nil
		case msgpcode.IsFixedArray(c):
			return int(c & msgpcode.FixedArrayMask), nil
		case msgpcode.IsFixedMap(c):
			return int(c & msgpcode.FixedMapMask), nil
		case msgpcode.IsFixedExt(c):
			return 1 << (c - msgpcode.FixExt1), nil
		}
		return 0, r.errorf(r.off-1, ErrMalformed, "code 0x%02x has no length", c)
	}
	n, err := r.uintBE(size, typeName(c)+" length")
	if err != nil {
		return 0, err
	}
	if n > uint64(maxInt) {
		return 0, r.errorf(r.off-size, ErrLimit, "%s length %d does not fit in int", typeName(c), n)
	}
	return int(n), nil
}

// value decodes one value at the given nesting depth (0 at top level).
// With build false it only validates, allocating nothing.
func (r *reader) value(depth int, build bool) (any, error) {
	at := r.off
	p, err := r.take(1, "value")
	if err != nil {
		return nil, err
	}
	c := p[0]
	switch {
	case c <= msgpcode.PosFixedNumHigh:
		return int64(c), nil
	case c >= msgpcode.NegFixedNumLow:
		return int64(int8(c)), nil
	case msgpcode.IsFixedString(c):
		return r.str(c, build)
	case msgpcode.IsFixedArray(c):
		return r.list(c, at, depth, build)
	case msgpcode.IsFixedMap(c):
		return r.dict(c, at, depth, build)
	}
	switch c {
	case msgpcode.Nil:
		return nil, nil
	case msgpcode.False:
		return false, nil
	case msgpcode.True:
		return true, nil
	case msgpcode.Float:
		u, err := r.uintBE(4, "float32")
		return float64(math.Float32frombits(uint32(u))), err
	case msgpcode.Double:
		u, err := r.uintBE(8, "float64")
		return math.Float64frombits(u), err
	case msgpcode.Uint8, msgpcode.Uint16, msgpcode.Uint32, msgpcode.Uint64:
		u, err := r.uintBE(1<<(c-msgpcode.Uint8), "integer")
		if u <= math.MaxInt64 {
			return int64(u), err
		}
		return u, err
	case msgpcode.Int8:
		u, err := r.uintBE(1, "integer")
		return int64(int8(u)), err
	case msgpcode.Int16:
		u, err := r.uintBE(2, "integer")
		return int64(int16(u)), err
	case msgpcode.Int32:
		u, err := r.uintBE(4, "integer")
		return int64(int32(u)), err
	case msgpcode.Int64:
		u, err := r.uintBE(8, "integer")
		return int64(u), err
	case msgpcode.Str8, msgpcode.Str16, msgpcode.Str32:
		return r.str(c, build)
	case msgpcode.Bin8, msgpcode.Bin16, msgpcode.Bin32:
		n, err := r.lengthOf(c)
		if err != nil {
			return nil, err
		}
		p, err := r.take(n, "bytes")
		if err != nil || !build {
			return nil, err
		}
		return append([]byte{}, p...), nil
	case msgpcode.Array16, msgpcode.Array32:
		return r.list(c, at, depth, build)
	case msgpcode.Map16, msgpcode.Map32:
		return r.dict(c, at, depth, build)
	}
	if msgpcode.IsExt(c) {
		return r.ext(c, at, build)
	}
	return nil, r.errorf(at, ErrMalformed, "invalid MessagePack code 0x%02x", c)
}

// str reads the string that code c starts.
func (r *reader) str(c byte, build bool) (any, error) {
	n, err := r.lengthOf(c)
	if err != nil {
		return nil, err
	}
	p, err := r.take(n, "string")
	if err != nil || !build {
		return nil, err
	}
	return string(p), nil
}

// enter checks the nesting depth of a list or map starting at offset at.
func (r *reader) enter(depth, at int) error {
	if depth+1 > r.lim.MaxDepth {
		return r.errorf(at, ErrLimit, "nesting deeper than %d", r.lim.MaxDepth)
	}
	return nil
}

func (r *reader) list(c byte, at, depth int, build bool) (any, error) {
	if err := r.enter(depth, at); err != nil {
		return nil, err
	}
	n, err := r.lengthOf(c)
	if err != nil {
		return nil, err
	}
	// Every item takes at least one byte, so a longer list is truncated;
	// checking first keeps the allocation below proportional to the input.
	if n > r.left() {
		return nil, r.errorf(at, ErrTruncated, "list of %d items, %d bytes left", n, r.left())
	}
	if err := r.count(n, at, "list"); err != nil {
		return nil, err
	}
	var out []any
	if build {
		out = make([]any, n)
	}
	for i := range n {
		v, err := r.value(depth+1, build)
		if err != nil {
			return nil, inPath(err, "["+strconv.Itoa(i)+"]")
		}
		if build {
			out[i] = v
		}
	}
	return out, nil
}

func (r *reader) dict(c byte, at, depth int, build bool) (any, error) {
	if err := r.enter(depth, at); err != nil {
		return nil, err
	}
	n, err := r.lengthOf(c)
	if err != nil {
		return nil, err
	}
	if n > r.left()/2 {
		return nil, r.errorf(at, ErrTruncated, "map of %d entries, %d bytes left", n, r.left())
	}
	if err := r.count(n, at, "map"); err != nil {
		return nil, err
	}
	var out map[string]any
	if build {
		out = make(map[string]any, n)
	}
	for i := range n {
		kat := r.off
		p, err := r.take(1, "map key")
		if err != nil {
			return nil, err
		}
		if !msgpcode.IsString(p[0]) {
			return nil, r.errorf(kat, ErrMalformed, "map key %d is %s, want string", i, typeName(p[0]))
		}
		k, err := r.str(p[0], true)
		if err != nil {
			return nil, err
		}
		key := k.(string)
		if build {
			if _, dup := out[key]; dup {
				return nil, r.errorf(kat, ErrMalformed, "duplicate map key %q", key)
			}
		}
		v, err := r.value(depth+1, build)
		if err != nil {
			return nil, inPath(err, "["+strconv.Quote(key)+"]")
		}
		if build {
			out[key] = v
		}
	}
	return out, nil
}

// ext decodes the extension value that code c (at offset at) starts.
func (r *reader) ext(c byte, at int, build bool) (any, error) {
	n, err := r.lengthOf(c)
	if err != nil {
		return nil, err
	}
	id, err := r.take(1, "extension type")
	if err != nil {
		return nil, err
	}
	payloadAt := r.off
	payload, err := r.take(n, "extension payload")
	if err != nil {
		return nil, err
	}
	switch int8(id[0]) {
	case ExtTensor:
		t, err := decodeTensorPayload(payload, r.lim.MaxElements-r.elems, build)
		if err != nil {
			return nil, r.fromPayload(payloadAt, err)
		}
		r.elems += t.numel
		if !build {
			return nil, nil
		}
		return t.tensor, nil
	case ExtError:
		e, err := decodeErrorPayload(payload)
		if err != nil {
			return nil, r.fromPayload(payloadAt, err)
		}
		return e, nil
	}
	if !build {
		// Validation for msgpack's typed decoding lets other extension
		// types (such as its timestamps) through to the type they decode
		// into; Unmarshal has no type to put them in.
		return nil, nil
	}
	return nil, r.errorf(at, ErrMalformed, "unknown extension type %d", int8(id[0]))
}

// fromPayload moves a payload decoding error to this reader's coordinates.
func (r *reader) fromPayload(payloadAt int, err error) error {
	if de, ok := err.(*DecodeError); ok {
		de.Op = r.op
		de.Offset += payloadAt
		return de
	}
	return err
}

// inPath prefixes a path segment to a *DecodeError as it unwinds.
func inPath(err error, seg string) error {
	if de, ok := err.(*DecodeError); ok {
		de.Path = seg + de.Path
	}
	return err
}
