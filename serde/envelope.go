package serde

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Envelope is one wire message: a header that every build can read, and a
// Body whose meaning depends on Type.
//
// It is encoded as the MessagePack list [Version, Type, ID, Body], with Body
// inlined as a MessagePack value. Version always comes first, so that any
// later format can still be recognized and refused with a clear error.
type Envelope struct {
	// Version is the wire format version; DecodeEnvelope accepts only
	// Version, and EncodeEnvelope writes Version when this is zero.
	Version int
	// Type names the message, e.g. "get" or "run_job"; it selects the
	// struct Body decodes into.
	Type string
	// ID matches a reply to its request: a reply carries its request's ID.
	ID uint64
	// Body is one MessagePack value, normally made by EncodeBody; empty
	// means nil. After DecodeEnvelope it aliases the decoded input.
	Body msgpack.RawMessage
}

// EncodeEnvelope encodes e. It fails if e.Body is not exactly one
// MessagePack value, so a bad body is caught by its sender.
func EncodeEnvelope(e Envelope) ([]byte, error) {
	body := []byte(e.Body)
	if len(body) == 0 {
		body = []byte{msgpcode.Nil}
	}
	r := newReader("EncodeEnvelope", body, noLimits)
	if _, err := r.value(0, false); err != nil {
		return nil, fmt.Errorf("serde: EncodeEnvelope %q: body: %w", e.Type, err)
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("serde: EncodeEnvelope %q: body: %w", e.Type, err)
	}
	v := e.Version
	if v == 0 {
		v = Version
	}
	var buf bytes.Buffer
	buf.Grow(len(body) + len(e.Type) + 20)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	if err := enc.EncodeArrayLen(4); err != nil {
		return nil, err
	}
	if err := enc.EncodeInt(int64(v)); err != nil {
		return nil, err
	}
	if err := enc.EncodeString(e.Type); err != nil {
		return nil, err
	}
	if err := enc.EncodeUint(e.ID); err != nil {
		return nil, err
	}
	buf.Write(body)
	return buf.Bytes(), nil
}

// DecodeEnvelope decodes a message encoded by EncodeEnvelope, checking the
// version first (a *VersionError if it differs) and the body against lim.
// The returned Body aliases b.
func DecodeEnvelope(b []byte, lim Limits) (Envelope, error) {
	lim = lim.orDefault()
	const op = "DecodeEnvelope"
	if err := checkSize(op, b, lim); err != nil {
		return Envelope{}, err
	}
	r := newReader(op, b, lim)
	p, err := r.take(1, "envelope")
	if err != nil {
		return Envelope{}, err
	}
	c := p[0]
	if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
		return Envelope{}, r.errorf(0, ErrMalformed, "envelope is %s, want list [version, type, id, body]", typeName(c))
	}
	n, err := r.lengthOf(c)
	if err != nil {
		return Envelope{}, err
	}
	if n == 0 {
		return Envelope{}, r.errorf(0, ErrMalformed, "envelope is an empty list, want [version, type, id, body]")
	}
	var e Envelope
	at := r.off
	v, err := r.value(1, true)
	if err != nil {
		return Envelope{}, inPath(err, "version")
	}
	switch ver := v.(type) {
	case int64:
		if ver != Version {
			return Envelope{}, &VersionError{Got: int(min(max(ver, -1<<31), 1<<31-1))}
		}
	case uint64:
		return Envelope{}, &VersionError{Got: 1<<31 - 1}
	default:
		return Envelope{}, r.errorf(at, ErrMalformed, "envelope version is %s, want integer", kindOf(v))
	}
	e.Version = Version
	if n != 4 {
		return Envelope{}, r.errorf(0, ErrMalformed, "envelope has %d fields, want 4 [version, type, id, body]", n)
	}
	at = r.off
	p, err = r.take(1, "message type")
	if err != nil {
		return Envelope{}, inPath(err, "type")
	}
	if !msgpcode.IsString(p[0]) {
		return Envelope{}, r.errorf(at, ErrMalformed, "message type is %s, want string", typeName(p[0]))
	}
	t, err := r.str(p[0], true)
	if err != nil {
		return Envelope{}, inPath(err, "type")
	}
	e.Type = t.(string)
	at = r.off
	v, err = r.value(1, true)
	if err != nil {
		return Envelope{}, inPath(err, "id")
	}
	switch id := v.(type) {
	case int64:
		if id < 0 {
			return Envelope{}, r.errorf(at, ErrMalformed, "message id %d is negative", id)
		}
		e.ID = uint64(id)
	case uint64:
		e.ID = id
	default:
		return Envelope{}, r.errorf(at, ErrMalformed, "message id is %s, want integer", kindOf(v))
	}
	start := r.off
	// The body is validated at depth 0: its own nesting is what the limit
	// bounds, not the envelope around it.
	if _, err := r.value(0, false); err != nil {
		return Envelope{}, inPath(err, "body")
	}
	e.Body = msgpack.RawMessage(b[start:r.off:r.off])
	if err := r.end(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// kindOf names the type of a decoded value, for errors.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "bool"
	case int64, uint64:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

// EncodeBody encodes a typed message body (usually a struct) with msgpack:
// exported fields by name or `msgpack:"..."` tag, tensors and *RemoteError
// as extensions, keys of map[string]any, map[string]string and
// map[string]bool sorted. It fails for a body that DecodeBody would refuse
// for its shape: map keys that are not strings (struct field names are),
// or nesting deeper than DefaultLimits.MaxDepth.
func EncodeBody(v any) (msgpack.RawMessage, error) {
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("serde: EncodeBody %T: %w", v, err)
	}
	r := newReader("EncodeBody", buf.Bytes(), noLimits)
	if _, err := r.value(0, false); err != nil {
		return nil, fmt.Errorf("serde: EncodeBody %T: the encoding would not decode: %w", v, err)
	}
	return buf.Bytes(), nil
}

// DecodeBody decodes a body made by EncodeBody into v, a pointer, after
// checking raw against lim (msgpack's decoder alone bounds neither nesting
// nor the sizes it allocates from declared lengths). Fields of v absent from
// raw keep their values and unknown fields in raw are ignored, so a newer
// peer may add fields. Fields of type any receive msgpack's loose decoding,
// which differs from Unmarshal in details (small non-negative integers may
// come back as uint64, bytes as string); for a dynamically typed field use
// msgpack.RawMessage, filled with Marshal and read with Unmarshal.
func DecodeBody(raw []byte, v any, lim Limits) error {
	lim = lim.orDefault()
	const op = "DecodeBody"
	if err := checkSize(op, raw, lim); err != nil {
		return err
	}
	if len(raw) == 0 {
		return &DecodeError{Op: op, Kind: ErrTruncated, Msg: "empty body"}
	}
	r := newReader(op, raw, lim)
	if _, err := r.value(0, false); err != nil {
		return err
	}
	if err := r.end(); err != nil {
		return err
	}
	return decodeTyped(raw, v)
}

// decodeTyped runs msgpack's reflective decoder on validated input. That
// decoder panics on some well-formed input (nil for a time.Time field, in
// v5.4.1), a bug in it that hostile input must not turn into a crash, so a
// panic becomes an ErrMalformed error.
func decodeTyped(raw []byte, v any) (err error) {
	dec := msgpack.NewDecoder(bytes.NewReader(raw))
	dec.UseLooseInterfaceDecoding(true)
	defer func() {
		if p := recover(); p != nil {
			err = &DecodeError{Op: "DecodeBody", Kind: ErrMalformed,
				Msg: fmt.Sprintf("msgpack cannot decode this input into %T: %v", v, p)}
		}
	}()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("serde: DecodeBody into %T: %w", v, err)
	}
	return nil
}
