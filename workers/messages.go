package workers

import "github.com/gomplab/gomplab/workers/store"

// Message types. Each request names one; the Handler dispatches on it to one
// handler function (see Handler.Handle). Replies carry the request's type
// (and id), or MsgError with a RemoteError body.
const (
	// MsgAuth must be the first request of a session: it presents a user
	// token or a grant token.
	MsgAuth = "auth"
	// MsgPing checks the session and returns the worker's identity.
	MsgPing = "ping"
	// MsgPut stores a new object (Send, and the receiving end of Move).
	MsgPut = "put"
	// MsgGet returns an object's value and, unless Keep, removes it.
	MsgGet = "get"
	// MsgInfo returns an object's metadata.
	MsgInfo = "info"
	// MsgFree deletes objects.
	MsgFree = "free"
	// MsgSearch lists the objects every given term (an id or a tag)
	// matches, among those the user may use (all objects when none are
	// given), without values.
	MsgSearch = "search"
	// MsgClear deletes the caller's objects (everyone's for admins).
	MsgClear = "clear"
	// MsgOp runs an allow-listed op where its operands are.
	MsgOp = "op"
	// MsgCopy duplicates an object under a new id on the same worker.
	MsgCopy = "copy"
	// MsgGrant issues a grant token for a peer worker to use.
	MsgGrant = "grant"
	// MsgMove sends an object to another worker, worker to worker.
	MsgMove = "move"
	// MsgError is the type of error replies.
	MsgError = "error"
)

// AuthRequest opens a session with a user token or a grant token.
type AuthRequest struct {
	Token string `msgpack:"token,omitempty"`
	Grant string `msgpack:"grant,omitempty"`
	// For names, on a grant session, the user on whose behalf the
	// presenting worker acts ("alice/ds": user ds of worker alice), for
	// the access log. It is the presenting worker's statement: the grant
	// still acts with its issuer's rights only.
	For string `msgpack:"for,omitempty"`
}

// AuthReply says who the session is and which worker answered.
type AuthReply struct {
	Worker string `msgpack:"worker"`
	User   string `msgpack:"user"`
	// Grant is the grant id when the session authenticated with a grant.
	Grant string `msgpack:"grant,omitempty"`
}

// PingReply identifies the worker.
type PingReply struct {
	Worker  string `msgpack:"worker"`
	User    string `msgpack:"user"`
	Objects int    `msgpack:"objects"`
	// Fingerprint is the worker's certificate fingerprint, as it says
	// itself: what a client that did not pin it names the worker by in a
	// code request (docs/privacy.md).
	Fingerprint string `msgpack:"fingerprint,omitempty"`
}

// PutRequest stores an object. Owner and Created are set by the worker;
// an empty ID is replaced by a fresh one.
type PutRequest struct {
	Object *store.Object `msgpack:"object"`
	// Replace, for an owner's load (provenance "load"), replaces the
	// objects the load would make ambiguous instead of refusing it.
	Replace bool `msgpack:"replace,omitempty"`
}

// InfoReply carries one object's metadata.
type InfoReply struct {
	Info store.Info `msgpack:"info"`
}

// IDRequest names one object.
type IDRequest struct {
	ID string `msgpack:"id"`
}

// GetRequest asks for an object's value.
type GetRequest struct {
	ID string `msgpack:"id"`
	// Keep leaves the object on the worker (PySyft's get_copy).
	Keep bool `msgpack:"keep,omitempty"`
	// Reason is recorded in the access log.
	Reason string `msgpack:"reason,omitempty"`
}

// GetReply carries the value. A pointer object on the worker is resolved:
// the value comes from the worker it points to.
type GetReply struct {
	Object *store.Object `msgpack:"object"`
}

// FreeRequest deletes objects. Missing ids are reported, not an error, so
// that a retried or duplicate free is harmless.
type FreeRequest struct {
	IDs []string `msgpack:"ids"`
}

// FreeReply counts what was deleted.
type FreeReply struct {
	Freed   int      `msgpack:"freed"`
	Missing []string `msgpack:"missing,omitempty"`
}

// SearchRequest lists the objects in the user's namespace that every term
// matches (AND), a term matching an object's id or one of its tags (Find);
// no terms list every object.
type SearchRequest struct {
	Tags []string `msgpack:"tags,omitempty"`
}

// SearchReply lists metadata, never values.
type SearchReply struct {
	Objects []store.Info `msgpack:"objects"`
}

// ClearReply counts deleted objects.
type ClearReply struct {
	Deleted int `msgpack:"deleted"`
}

// Operand is an op argument: a stored object by id, or a scalar.
type Operand struct {
	ID     string   `msgpack:"id,omitempty"`
	Scalar *float64 `msgpack:"scalar,omitempty"`
}

// OpRequest runs an allow-listed op; the result is stored under ResultID
// (fresh when empty) and its metadata returned.
type OpRequest struct {
	Op       string    `msgpack:"op"`
	Args     []Operand `msgpack:"args"`
	Params   OpParams  `msgpack:"params"`
	ResultID string    `msgpack:"result_id,omitempty"`
}

// CopyRequest duplicates an object (tags, description and privacy
// included) under NewID (fresh when empty).
type CopyRequest struct {
	ID    string `msgpack:"id"`
	NewID string `msgpack:"new_id,omitempty"`
}

// GrantRequest asks the worker for a grant token acting as the caller,
// for one other worker (the audience) to present.
type GrantRequest struct {
	Actions []string `msgpack:"actions"`
	Objects []string `msgpack:"objects"`
	// Audience is the worker the grant is for, and AudienceFingerprint
	// its certificate (empty for a virtual worker): a session presenting
	// the grant must prove it is that worker.
	Audience            string `msgpack:"audience"`
	AudienceFingerprint string `msgpack:"audience_fp,omitempty"`
	// Uses limits how often the grant authenticates a session; 0 means
	// unlimited.
	Uses int `msgpack:"uses,omitempty"`
	// TTLMillis limits its lifetime; 0 means no expiry.
	TTLMillis int64 `msgpack:"ttl_ms,omitempty"`
}

// GrantReply carries the token, shown once.
type GrantReply struct {
	ID    string `msgpack:"id"`
	Token string `msgpack:"token"`
}

// MoveRequest sends object ID to the worker described by Dest (whose Grant
// must allow GrantPut); the object keeps its id, and is deleted here once
// the destination has acknowledged it.
type MoveRequest struct {
	ID   string              `msgpack:"id"`
	Dest store.PointerTarget `msgpack:"dest"`
}
