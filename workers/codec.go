package workers

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/serde"
)

// envelope is a decoded message: serde's Envelope without the version,
// which decodeEnvelope has already checked.
type envelope struct {
	Type string
	ID   uint64
	Body []byte
}

// wireError is the body of an MsgError reply.
type wireError struct {
	Code string `msgpack:"code"`
	Type string `msgpack:"type,omitempty"`
	Msg  string `msgpack:"msg"`
}

func encodeEnvelope(e *envelope) ([]byte, error) {
	return serde.EncodeEnvelope(serde.Envelope{Type: e.Type, ID: e.ID, Body: e.Body})
}

// decodeEnvelope decodes a frame, classifying failures: another protocol
// version (ErrVersion), over a limit (ErrTooLarge), anything else
// (ErrBadRequest).
func decodeEnvelope(b []byte, lim serde.Limits) (*envelope, error) {
	e, err := serde.DecodeEnvelope(b, lim)
	if err != nil {
		var ve *serde.VersionError
		switch {
		case errors.As(err, &ve):
			return nil, fmt.Errorf("%w: the peer sent protocol version %d, this build speaks %d (upgrade the older side)", ErrVersion, ve.Got, serde.Version)
		case errors.Is(err, serde.ErrLimit):
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return &envelope{Type: e.Type, ID: e.ID, Body: e.Body}, nil
}

func encodeBody(v any) ([]byte, error) {
	b, err := serde.EncodeBody(v)
	return []byte(b), err
}

func decodeBody(raw []byte, v any, lim serde.Limits) error {
	err := serde.DecodeBody(raw, v, lim)
	if err != nil && errors.Is(err, serde.ErrLimit) {
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return err
}
