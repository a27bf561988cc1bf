package serde

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// RemoteError is an error that crossed the wire: Marshal turns any error
// into one, and it decodes back as an error value.
type RemoteError struct {
	// Code classifies the error for programs (such as "not_found" or
	// "deadline"); empty when the sender gave none.
	Code string
	// Message is the sender's error text.
	Message string
}

// Error is the remote side's message, prefixed with its code.
func (e *RemoteError) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is a *RemoteError with the same non-empty
// Code, so errors.Is(err, &RemoteError{Code: "not_found"}) tests the class
// of a remote failure.
func (e *RemoteError) Is(target error) bool {
	t, ok := target.(*RemoteError)
	return ok && t.Code != "" && t.Code == e.Code
}

// ToRemoteError returns err as a *RemoteError: err itself if it is one,
// else its message with the Code of the first *RemoteError in its chain.
// It returns nil for a nil err.
func ToRemoteError(err error) *RemoteError {
	if err == nil {
		return nil
	}
	if re, ok := err.(*RemoteError); ok {
		return re
	}
	re := &RemoteError{Message: err.Error()}
	var inner *RemoteError
	if errors.As(err, &inner) && inner != nil {
		re.Code = inner.Code
	}
	return re
}

func encodeErrorExt(_ *msgpack.Encoder, v reflect.Value) ([]byte, error) {
	return errorPayload(v.Interface().(*RemoteError))
}

func decodeErrorExt(d *msgpack.Decoder, v reflect.Value, n int) error {
	p, err := readExtPayload(d, n)
	if err != nil {
		return err
	}
	e, err := decodeErrorPayload(p)
	if err != nil {
		err.(*DecodeError).Op = "msgpack error extension"
		return err
	}
	*v.Interface().(*RemoteError) = *e
	return nil
}

// decodeErrorPayload decodes an ExtError payload: the list [code, message].
// Errors are *DecodeError with offsets relative to p.
func decodeErrorPayload(p []byte) (*RemoteError, error) {
	r := newReader("", p, noLimits)
	c, err := r.take(1, "error payload")
	if err != nil {
		return nil, err
	}
	if !msgpcode.IsFixedArray(c[0]) && c[0] != msgpcode.Array16 && c[0] != msgpcode.Array32 {
		return nil, r.errorf(0, ErrMalformed, "error payload is %s, want list [code, message]", typeName(c[0]))
	}
	n, err := r.lengthOf(c[0])
	if err != nil {
		return nil, err
	}
	if n != 2 {
		return nil, r.errorf(0, ErrMalformed, "error payload is a list of %d items, want [code, message]", n)
	}
	var parts [2]string
	for i := range parts {
		at := r.off
		s, err := r.take(1, "error string")
		if err != nil {
			return nil, err
		}
		if !msgpcode.IsString(s[0]) {
			return nil, r.errorf(at, ErrMalformed, "error payload item %d is %s, want string", i, typeName(s[0]))
		}
		v, err := r.str(s[0], true)
		if err != nil {
			return nil, err
		}
		parts[i] = v.(string)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return &RemoteError{Code: parts[0], Message: parts[1]}, nil
}

// errorPayload encodes e as an ExtError payload.
func errorPayload(e *RemoteError) ([]byte, error) {
	b, err := msgpack.Marshal([]string{e.Code, e.Message})
	if err != nil {
		return nil, fmt.Errorf("serde: encode error %q: %w", e.Message, err)
	}
	return b, nil
}
