package workers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers/store"
)

// Config configures a Handler.
type Config struct {
	// WorkerID names the worker in replies, pointers and logs.
	WorkerID string
	// Store holds the objects. Required.
	Store store.Store
	// Users authenticates tokens. Required.
	Users *Users
	// AccessLog receives one record per request: who did what to which
	// object, and the outcome; never a value. Nil discards.
	AccessLog *slog.Logger
	// Log receives operational messages (refused frames, internal errors).
	// Nil discards.
	Log *slog.Logger
	// Limits bound every decoded message; zero fields take serde's
	// defaults.
	Limits serde.Limits
	// MaxResultElements bounds the result of one op (0: Limits.MaxElements).
	MaxResultElements int
	// MaxOpBytes bounds the memory one op may take, estimated from its
	// operands' shapes before it runs: result, intermediates and storing
	// it (0: no bound, as for a virtual worker, whose memory is its
	// user's own; a daemon sets DefaultMaxOpBytes). Every user's ops are
	// held to it.
	MaxOpBytes int64
	// MaxOpBytesInFlight bounds the estimated memory of the ops running
	// at once, all users together; more wait (0: MaxOpBytes).
	MaxOpBytesInFlight int64
	// RequestTimeout caps how long one request may run, whatever deadline
	// the client asked for (0: one minute).
	RequestTimeout time.Duration
	// Dial opens an authenticated client session to a peer worker,
	// presenting grant tokens (and proving this worker's identity: a
	// daemon presents its certificate, PeerDialer); used to resolve
	// pointers, to move objects and to deliver secure-aggregation
	// shares. Nil refuses such requests.
	Dial func(ctx context.Context, peer store.PointerTarget, cred Credentials) (*Client, error)
	// MaxAuthFailures closes a session after this many failures before
	// it authenticates: wrong tokens, malformed frames, and requests
	// other than auth (0: 3).
	MaxAuthFailures int
	// Certificate is the worker's long-term TLS key pair (a daemon's, or
	// the one a virtual worker makes when it is created): its fingerprint
	// names the worker in code requests and MPC jobs, and it signs the
	// credentials of the worker's MPC parties (comm.SignCredential); nil
	// when the worker has none, and then it cannot run a party of a job
	// that pins its parties' identities.
	Certificate *tls.Certificate
}

// HandlerFunc answers one request. It returns the reply body (encoded with
// serde.EncodeBody) or an error; errors wrapping this package's sentinels
// (ErrNotFound, ErrPermission, ...) keep their class on the wire.
type HandlerFunc func(ctx context.Context, r *Request) (any, error)

// Request is one authenticated request being handled.
type Request struct {
	Handler *Handler
	Session *Session
	Type    string
	ID      uint64
	Body    []byte

	// objects collects ids the request touched, for the access log.
	objects []string
	detail  []any
}

// User returns the authenticated user (for grant sessions, the user who
// issued the grants).
func (r *Request) User() *User { return r.Session.user }

// Decode decodes the request body into v under the handler's limits.
func (r *Request) Decode(v any) error {
	if err := decodeBody(r.Body, v, r.Handler.cfg.Limits); err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrBadRequest, r.Type, err)
	}
	return nil
}

// Touch records object ids for the access log.
func (r *Request) Touch(ids ...string) { r.objects = append(r.objects, ids...) }

// Note adds key/value pairs to the request's access log record; never pass
// a value of a private object.
func (r *Request) Note(kv ...any) { r.detail = append(r.detail, kv...) }

// Handler is the protocol core of a worker: it authenticates sessions and
// answers requests against a Store, with no network of its own. The TCP
// server and in-process virtual workers both drive it through Sessions.
type Handler struct {
	cfg    Config
	mu     sync.RWMutex
	routes map[string]HandlerFunc

	grantMu sync.Mutex // serialises grant use counting
	loadMu  sync.Mutex // serialises loads' tag checks with their puts

	peerMu sync.Mutex
	peers  map[string]*Client // cached peer sessions by address and grants

	kindChecks map[store.Kind]func(blob []byte, lim serde.Limits) error

	opBudget *opBudget // nil when ops are not bounded
}

// NewHandler returns a Handler with the built-in message types registered.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Users == nil {
		return nil, errors.New("workers: NewHandler needs a Store and Users")
	}
	if cfg.WorkerID == "" {
		return nil, errors.New("workers: NewHandler needs a WorkerID")
	}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.AccessLog == nil {
		cfg.AccessLog = discard
	}
	if cfg.Log == nil {
		cfg.Log = discard
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = time.Minute
	}
	if cfg.MaxAuthFailures <= 0 {
		cfg.MaxAuthFailures = 3
	}
	h := &Handler{cfg: cfg, routes: map[string]HandlerFunc{}, peers: map[string]*Client{}}
	if cfg.MaxOpBytes > 0 {
		if cfg.MaxOpBytesInFlight <= 0 {
			cfg.MaxOpBytesInFlight = cfg.MaxOpBytes
		}
		h.cfg.MaxOpBytesInFlight = cfg.MaxOpBytesInFlight
		h.opBudget = newOpBudget(cfg.MaxOpBytesInFlight)
	}
	h.Handle(MsgPing, h.ping)
	h.Handle(MsgPut, h.put)
	h.Handle(MsgGet, h.get)
	h.Handle(MsgInfo, h.info)
	h.Handle(MsgFree, h.free)
	h.Handle(MsgSearch, h.search)
	h.Handle(MsgClear, h.clear)
	h.Handle(MsgOp, h.op)
	h.Handle(MsgCopy, h.copy)
	h.Handle(MsgGrant, h.grant)
	h.Handle(MsgMove, h.move)
	return h, nil
}

// Handle registers (or replaces) the function answering msgType; this is
// how the capabilities above the core (MPC jobs, plans, federated
// learning) add their message types, each from its Register function,
// which the worker's constructor calls.
func (h *Handler) Handle(msgType string, fn HandlerFunc) {
	if msgType == MsgAuth || msgType == MsgError || msgType == "" {
		panic("workers: Handle: reserved message type " + msgType)
	}
	h.mu.Lock()
	h.routes[msgType] = fn
	h.mu.Unlock()
}

// Store returns the handler's store, for code running on the worker (MPC
// parties loading and saving tensors by tag).
func (h *Handler) Store() store.Store { return h.cfg.Store }

// WorkerID returns the worker's id.
func (h *Handler) WorkerID() string { return h.cfg.WorkerID }

// Certificate returns the worker's long-term key pair, or nil.
func (h *Handler) Certificate() *tls.Certificate { return h.cfg.Certificate }

// Fingerprint returns the SHA-256 fingerprint of the worker's certificate
// ("sha256:..."), or "" when it has none.
func (h *Handler) Fingerprint() string {
	if c := h.cfg.Certificate; c != nil && len(c.Certificate) > 0 {
		return CertFingerprint(c.Certificate[0])
	}
	return ""
}

// Limits returns the bounds every decoded message is held to (serde's
// defaults for zero fields).
func (h *Handler) Limits() serde.Limits { return h.cfg.Limits }

// AccessLog is where request handlers record what they did to which
// object for whom (never a value): one record per request is written by
// the handler itself; capabilities add records of their own (a job's
// loads and saves).
func (h *Handler) AccessLog() *slog.Logger { return h.cfg.AccessLog }

// CheckKind registers fn to vet, on arrival, the blob of every object of
// kind stored with put (plans refuse a plan with an operation outside
// their allow-list); its error is the request's.
func (h *Handler) CheckKind(kind store.Kind, fn func(blob []byte, lim serde.Limits) error) {
	h.mu.Lock()
	if h.kindChecks == nil {
		h.kindChecks = map[store.Kind]func([]byte, serde.Limits) error{}
	}
	h.kindChecks[kind] = fn
	h.mu.Unlock()
}

// kindCheck returns the check registered for kind, or nil.
func (h *Handler) kindCheck(kind store.Kind) func([]byte, serde.Limits) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.kindChecks[kind]
}

// Close drops cached peer sessions. (A worker's capabilities close their
// own state: see jobs.Register.)
func (h *Handler) Close() {
	h.peerMu.Lock()
	defer h.peerMu.Unlock()
	for k, c := range h.peers {
		c.Close()
		delete(h.peers, k)
	}
}

// Session is the server side of one connection: it authenticates it,
// enforces increasing request ids, and dispatches requests. A Session
// handles one frame at a time; it is not safe for concurrent use.
type Session struct {
	h        *Handler
	remote   string
	peer     Peer
	user     *User
	grants   []*store.Grant
	forUser  string
	lastID   uint64
	failures int
}

// Peer is what the transport of a session proved about its other end.
// The zero Peer is a verified link with no worker identity (a user's
// session, or a TLS client presenting no certificate).
type Peer struct {
	// Worker is the id of the worker at the other end of an in-process
	// link (a virtual worker dialing another).
	Worker string
	// Fingerprint is the certificate the other end presented in the TLS
	// handshake (and proved it holds the key of).
	Fingerprint string
	// Unverified: the transport proves nothing about the other end
	// (plaintext on loopback, --insecure-loopback): grants' audiences
	// cannot be checked there.
	Unverified bool
}

// String names the peer for logs.
func (p Peer) String() string {
	switch {
	case p.Unverified:
		return "unverified"
	case p.Fingerprint != "":
		return p.Fingerprint
	case p.Worker != "":
		return "in-process:" + p.Worker
	}
	return ""
}

// NewSession starts a session for a connection from remote (an address,
// or a label for in-process clients).
func (h *Handler) NewSession(remote string) *Session {
	return &Session{h: h, remote: remote}
}

// NewPeerSession starts a session for a connection from remote whose
// transport proved peer.
func (h *Handler) NewPeerSession(remote string, peer Peer) *Session {
	return &Session{h: h, remote: remote, peer: peer}
}

// User returns the authenticated user, or nil before authentication.
func (s *Session) User() *User { return s.user }

// ViaGrant reports whether the session authenticated with grants (a
// peer worker acting on a user's behalf) rather than a user's token.
func (s *Session) ViaGrant() bool { return len(s.grants) > 0 }

// Peer is what the session's transport proved about its other end: a
// capability taking messages from other workers (secure aggregation's
// masks) authenticates the sending worker by it, never by what a client
// claims.
func (s *Session) Peer() Peer { return s.peer }

// GrantAllows reports whether one of a grant session's grants allows
// action on the object id, stored or not (a capability's own messages
// under a grant its user issued for them).
func (s *Session) GrantAllows(action, id string) bool { return s.grantFor(action, id) != nil }

// Handle answers one frame and returns the reply frame to send back.
// close is true when the session must end after that reply: too many
// failures before authentication (wrong tokens, requests sent before
// authenticating, malformed frames: Config.MaxAuthFailures in all), or a
// frame of another protocol version. After authentication, malformed,
// replayed and unknown requests get an error reply, are logged, and the
// session goes on.
func (s *Session) Handle(ctx context.Context, frame []byte) (reply []byte, close bool) {
	h := s.h
	env, err := decodeEnvelope(frame, h.cfg.Limits)
	if err != nil {
		h.refuse(s, "malformed", 0, "", err)
		if errors.Is(err, ErrVersion) {
			return h.errorReply(0, "", err), true
		}
		if s.user == nil {
			s.failures++
		}
		return h.errorReply(0, "", err), s.user == nil && s.failures >= h.cfg.MaxAuthFailures
	}
	if env.Type == MsgAuth {
		return s.auth(env)
	}
	if s.user == nil {
		// Before authentication every request but auth is a failure: a
		// client that keeps sending them is cut off as a wrong token is.
		s.failures++
		h.refuse(s, "unauthenticated", env.ID, env.Type, nil)
		return h.errorReply(env.ID, env.Type, fmt.Errorf("%w: authenticate first (send %q with a token)", ErrUnauthenticated, MsgAuth)), s.failures >= h.cfg.MaxAuthFailures
	}
	if env.ID <= s.lastID {
		err := fmt.Errorf("%w: request id %d is not greater than the previous %d", ErrReplay, env.ID, s.lastID)
		h.refuse(s, "replay", env.ID, env.Type, err)
		return h.errorReply(env.ID, env.Type, err), false
	}
	s.lastID = env.ID

	h.mu.RLock()
	fn := h.routes[env.Type]
	h.mu.RUnlock()
	if fn == nil {
		err := BadRequestf("unknown message type %q", env.Type)
		h.refuse(s, "unknown type", env.ID, env.Type, err)
		return h.errorReply(env.ID, env.Type, err), false
	}

	// The server's own deadline; clients enforce theirs by giving up on
	// the connection.
	ctx, cancel := context.WithTimeout(ctx, h.cfg.RequestTimeout)
	defer cancel()
	req := &Request{Handler: h, Session: s, Type: env.Type, ID: env.ID, Body: env.Body}
	start := time.Now()
	out, err := h.call(ctx, fn, req)
	var body []byte
	if err == nil {
		body, err = encodeBody(out)
		if err != nil {
			err = fmt.Errorf("%w: encode %s reply: %v", ErrInternal, env.Type, err)
		}
	}
	h.logAccess(s, req, time.Since(start), err)
	if err != nil {
		return h.errorReply(env.ID, env.Type, err), false
	}
	b, err := encodeEnvelope(&envelope{Type: env.Type, ID: env.ID, Body: body})
	if err != nil {
		return h.errorReply(env.ID, env.Type, fmt.Errorf("%w: %v", ErrInternal, err)), false
	}
	return b, false
}

// call runs fn, turning a panic into an internal error so that one bad
// request never takes the worker down.
func (h *Handler) call(ctx context.Context, fn HandlerFunc, req *Request) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			h.cfg.Log.Error("handler panic", "type", req.Type, "id", req.ID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("%w: %s handler failed (see worker log)", ErrInternal, req.Type)
		}
	}()
	out, err = fn(ctx, req)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrDeadline) {
		err = fmt.Errorf("%w: %v", ErrDeadline, err)
	}
	return out, err
}

func (s *Session) auth(env *envelope) ([]byte, bool) {
	h := s.h
	fail := func(err error) ([]byte, bool) {
		s.failures++
		h.refuse(s, "auth failed", env.ID, env.Type, err)
		return h.errorReply(env.ID, env.Type, err), s.failures >= h.cfg.MaxAuthFailures
	}
	if s.user != nil {
		return fail(BadRequestf("session already authenticated"))
	}
	var a AuthRequest
	if err := decodeBody(env.Body, &a, h.cfg.Limits); err != nil {
		return fail(BadRequestf("auth body: %v", err))
	}
	switch {
	case a.Token != "" && a.Grant == "":
		u, err := h.cfg.Users.Authenticate(a.Token)
		if err != nil {
			return fail(fmt.Errorf("%w: %v", ErrUnauthenticated, err))
		}
		s.user = u
	case a.Grant != "" && a.Token == "":
		if err := validFor(a.For); err != nil {
			return fail(err)
		}
		u, grants, err := h.useGrants(a.Grant, s.peer)
		if err != nil {
			return fail(err)
		}
		s.user, s.grants, s.forUser = u, grants, a.For
	default:
		return fail(fmt.Errorf("%w: present exactly one of a user token or grant tokens", ErrUnauthenticated))
	}
	s.lastID = env.ID
	rep := AuthReply{Worker: h.cfg.WorkerID, User: s.user.Name}
	if len(s.grants) > 0 {
		rep.Grant = s.grants[0].ID
	}
	if s.ViaGrant() {
		h.cfg.AccessLog.Info("auth", "remote", s.remote, "user", s.user.Name, "grants", grantIDs(s.grants),
			"issuer", s.user.Name, "on_behalf_of", s.forUser, "peer", s.peer.String(), "outcome", "ok")
	} else {
		h.cfg.AccessLog.Info("auth", "remote", s.remote, "user", s.user.Name, "outcome", "ok")
	}
	body, err := encodeBody(rep)
	if err != nil {
		return h.errorReply(env.ID, env.Type, err), true
	}
	b, err := encodeEnvelope(&envelope{Type: MsgAuth, ID: env.ID, Body: body})
	if err != nil {
		return h.errorReply(env.ID, env.Type, err), true
	}
	return b, false
}

// validFor checks AuthRequest.For: empty, or "worker/user" with both
// valid names.
func validFor(f string) error {
	if f == "" {
		return nil
	}
	w, u, ok := strings.Cut(f, "/")
	if !ok || ValidateName(w) != nil || ValidateName(u) != nil {
		return BadRequestf("auth: for %.80q: want worker/user", f)
	}
	return nil
}

func grantIDs(gs []*store.Grant) []string {
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}

// errorReply encodes err for the client. Only the error's text goes out:
// handlers never put values into errors.
func (h *Handler) errorReply(id uint64, typ string, err error) []byte {
	body, e := encodeBody(&wireError{Code: codeOf(err), Type: typ, Msg: err.Error()})
	if e != nil {
		body = nil
	}
	b, e := encodeEnvelope(&envelope{Type: MsgError, ID: id, Body: body})
	if e != nil {
		// Unreachable for these plain fields; the client sees a closed
		// connection rather than a hang.
		h.cfg.Log.Error("encode error reply", "err", e)
		return nil
	}
	return b
}

// refuse logs a request refused before reaching a handler.
func (h *Handler) refuse(s *Session, why string, id uint64, typ string, err error) {
	user := ""
	if s.user != nil {
		user = s.user.Name
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	h.cfg.Log.Warn("refused request", "remote", s.remote, "user", user, "why", why, "type", typ, "id", id, "err", msg)
	h.cfg.AccessLog.Warn("refused", "remote", s.remote, "user", user, "why", why, "type", typ, "req", id, "err", msg, "outcome", "refused")
}

func (h *Handler) logAccess(s *Session, r *Request, d time.Duration, err error) {
	attrs := []any{"remote", s.remote, "user", s.user.Name, "type", r.Type, "req", r.ID, "objects", r.objects, "ms", d.Milliseconds()}
	if s.ViaGrant() {
		// A peer worker acting with grants: the rights are the issuer's
		// (user); the person is the one the peer acts for.
		attrs = append(attrs, "grants", grantIDs(s.grants), "issuer", s.user.Name, "on_behalf_of", s.forUser, "peer", s.peer.String())
	}
	attrs = append(attrs, r.detail...)
	switch {
	case err == nil:
		h.cfg.AccessLog.Info("request", append(attrs, "outcome", "ok")...)
	case errors.Is(err, ErrPermission):
		h.cfg.AccessLog.Warn("request", append(attrs, "outcome", "denied", "err", err.Error())...)
	default:
		h.cfg.AccessLog.Info("request", append(attrs, "outcome", "error", "err", err.Error())...)
		if errors.Is(err, ErrInternal) {
			h.cfg.Log.Error("request failed", "type", r.Type, "id", r.ID, "err", err)
		}
	}
}
