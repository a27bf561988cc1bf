package workers

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/workers/store"
)

// More errors the protocol distinguishes. Requests that fail come back to
// the client as an *Error whose Code names one of these, so errors.Is works
// the same against a virtual worker and a remote one.
var (
	// ErrPermission: the user may not do this (private values, other
	// users' objects, admin-only requests).
	ErrPermission = errors.New("permission denied")
	// ErrBadRequest: the request is malformed or names an impossible
	// operation (unknown op, wrong shapes, bad ids).
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthenticated: no valid token was presented.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrReplay: the request id is not greater than every earlier one of
	// the session.
	ErrReplay = errors.New("replayed request")
	// ErrVersion: the peer speaks another wire format version.
	ErrVersion = errors.New("protocol version mismatch")
	// ErrTooLarge: a message or result exceeds the worker's limits.
	ErrTooLarge = errors.New("too large")
	// ErrPeer: a worker this request needed to reach (pointer target, move
	// destination) failed or could not be reached.
	ErrPeer = errors.New("peer worker failed")
	// ErrDeadline: the request ran past its deadline.
	ErrDeadline = errors.New("deadline exceeded")
	// ErrUnavailable: the worker is shutting down or the connection was
	// lost; whether the request took effect is unknown.
	ErrUnavailable = errors.New("worker unavailable")
	// ErrInternal: a bug on the worker; it keeps serving.
	ErrInternal = errors.New("internal error")
)

var codes = []struct {
	code string
	err  error
}{
	{"not_found", store.ErrNotFound},
	{"exists", store.ErrExists},
	{"ambiguous", store.ErrAmbiguous},
	{"damaged", store.ErrDamaged},
	{"quota", store.ErrQuota},
	{"permission", ErrPermission},
	{"bad_request", ErrBadRequest},
	{"unauthenticated", ErrUnauthenticated},
	{"replay", ErrReplay},
	{"version", ErrVersion},
	{"too_large", ErrTooLarge},
	{"peer", ErrPeer},
	{"deadline", ErrDeadline},
	{"unavailable", ErrUnavailable},
	{"internal", ErrInternal},
}

// codeOf names the class of err for the wire.
func codeOf(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

func errOfCode(code string) error {
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return ErrInternal
}

// Error is a failed request as the client sees it: which worker refused
// what, and why. It matches the sentinel errors of this package and of
// the store with errors.Is (store.ErrNotFound, ErrPermission, ...).
type Error struct {
	Worker string // the worker that answered
	Op     string // the request type
	Code   string // the class of failure, e.g. "not_found"
	Msg    string // the worker's explanation
}

// Error names the worker, the request and what went wrong.
func (e *Error) Error() string {
	return fmt.Sprintf("worker %s: %s: %s", e.Worker, e.Op, e.Msg)
}

// Is matches the sentinel error of e's code.
func (e *Error) Is(target error) bool { return errOfCode(e.Code) == target }

// BadRequestf returns an error of class ErrBadRequest with a formatted
// explanation: the request is malformed or impossible. Capability
// handlers (jobs, plans, federated learning) answer with it too.
func BadRequestf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// Deniedf returns an error of class ErrPermission with a formatted
// explanation: the user may not do this.
func Deniedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPermission, fmt.Sprintf(format, args...))
}
