package serde

import (
	"errors"
	"fmt"
)

// Version is the wire format version this build writes and accepts. It
// changes whenever an older build could misread what a newer one writes.
const Version = 1

// MaxRank is the largest number of dimensions a decoded tensor may have.
const MaxRank = 64

// Limits bounds what a decoder accepts. A field that is zero or negative
// takes its value from DefaultLimits, so Limits{} means the defaults.
type Limits struct {
	// MaxBytes bounds the size of the encoded input.
	MaxBytes int
	// MaxElements bounds the sum, over the whole input, of tensor elements,
	// list items and map entries: the things that cost memory to decode
	// out of proportion to their encoded size.
	MaxElements int
	// MaxDepth bounds the nesting of lists and maps; a flat list has
	// depth 1.
	MaxDepth int
}

// DefaultLimits admits any message up to 1 GiB holding up to 2^27 elements
// (a 1 GiB float64 tensor) nested up to 32 deep.
var DefaultLimits = Limits{MaxBytes: 1 << 30, MaxElements: 1 << 27, MaxDepth: 32}

// orDefault fills unset fields from DefaultLimits.
func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	return l
}

// noLimits is used by the msgpack extension decoders, which cannot be given
// Limits: they still never allocate more than their input justifies, and the
// serde entry points check the caller's limits before msgpack runs.
var noLimits = Limits{MaxBytes: maxInt, MaxElements: maxInt, MaxDepth: DefaultLimits.MaxDepth}

const maxInt = int(^uint(0) >> 1)

// The kinds of decoding failure; a *DecodeError wraps exactly one of them,
// so callers can test with errors.Is.
var (
	// ErrTruncated means the input ended before the value it declares.
	ErrTruncated = errors.New("truncated input")
	// ErrLimit means the input exceeds a Limits bound.
	ErrLimit = errors.New("limit exceeded")
	// ErrMalformed means the input is not a valid encoding of the expected
	// value: an invalid code, a wrong type, a bad tensor header, trailing
	// bytes.
	ErrMalformed = errors.New("malformed input")
)

// DecodeError reports why and where decoding failed.
type DecodeError struct {
	Op     string // the decoder, e.g. "Unmarshal" or "DecodeTensor"
	Path   string // where in the value, e.g. `[2]["weights"]`; empty at top level
	Offset int    // byte offset into the input where the problem was found
	Kind   error  // ErrTruncated, ErrLimit or ErrMalformed
	Msg    string // what exactly went wrong
}

// Error says what failed to decode and why.
func (e *DecodeError) Error() string {
	where := fmt.Sprintf("at byte %d", e.Offset)
	if e.Path != "" {
		where = fmt.Sprintf("at %s (byte %d)", e.Path, e.Offset)
	}
	return fmt.Sprintf("serde: %s: %s: %v: %s", e.Op, where, e.Kind, e.Msg)
}

// Unwrap returns the kind of failure, so errors.Is(err, ErrTruncated) works.
func (e *DecodeError) Unwrap() error { return e.Kind }

// VersionError reports a message written in another wire format version.
type VersionError struct {
	Got int // the version the message declares
}

// Error names both versions.
func (e *VersionError) Error() string {
	return fmt.Sprintf("serde: message version %d, this build speaks %d", e.Got, Version)
}

// checkSize reports input longer than lim.MaxBytes (lim already defaulted).
func checkSize(op string, b []byte, lim Limits) error {
	if len(b) > lim.MaxBytes {
		return &DecodeError{Op: op, Kind: ErrLimit,
			Msg: fmt.Sprintf("input is %d bytes, limit is %d", len(b), lim.MaxBytes)}
	}
	return nil
}
