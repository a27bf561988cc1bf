package workers

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers/store"
)

// Transport carries one request frame to a worker and brings back its
// reply frame. Implementations: a TLS (or loopback plaintext) connection to
// a daemon, and a direct call into an in-process Session.
type Transport interface {
	RoundTrip(ctx context.Context, frame []byte) ([]byte, error)
	Close() error
}

// Credentials authenticate a client session: a user token, or grant
// tokens (for worker-to-worker sessions).
type Credentials struct {
	Token  string
	Grants []string
	// For names the user on whose behalf a worker presents grants
	// (AuthRequest.For).
	For string
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Timeout bounds each call without a context deadline (0: 30 s).
	Timeout time.Duration
	// Limits bound decoded replies (zero fields: serde's defaults).
	Limits serde.Limits
	// Redial reopens the transport after the connection was lost, so the
	// next call can go on; nil leaves the client broken.
	Redial func(ctx context.Context) (Transport, error)
}

// Client speaks the worker protocol over a Transport: it authenticates,
// numbers requests (ids strictly increase, which the worker uses to refuse
// replays), enforces timeouts, and turns error replies into *Error. Calls
// are serialised; a Client is safe for concurrent use.
//
// When a call fails in transit (connection lost, timeout) the outcome on
// the worker is unknown, so the call is not retried; the error says so
// and wraps ErrUnavailable or ErrDeadline. The next call reconnects if
// ClientOptions.Redial is set.
type Client struct {
	mu     sync.Mutex
	tr     Transport
	cred   Credentials
	opts   ClientOptions
	worker string
	user   string
	nextID uint64
	broken error
	closed bool
}

// NewClient authenticates over tr and returns the client.
func NewClient(ctx context.Context, tr Transport, cred Credentials, opts ClientOptions) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	c := &Client{tr: tr, cred: cred, opts: opts}
	if err := c.authLocked(ctx); err != nil {
		tr.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) authLocked(ctx context.Context) error {
	req := AuthRequest{Token: c.cred.Token, Grant: strings.Join(c.cred.Grants, ","), For: c.cred.For}
	var rep AuthReply
	if err := c.roundTripLocked(ctx, MsgAuth, &req, &rep); err != nil {
		return err
	}
	c.worker, c.user = rep.Worker, rep.User
	return nil
}

// Worker is the id of the worker this client talks to.
func (c *Client) Worker() string { return c.worker }

// User is the account the client authenticated as.
func (c *Client) User() string { return c.user }

// Close closes the transport.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.tr.Close()
}

// Call sends a request of type typ with body req and decodes the reply
// body into rep (which may be nil to ignore it).
func (c *Client) Call(ctx context.Context, typ string, req, rep any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("worker %s: %s: %w: client closed", c.worker, typ, ErrUnavailable)
	}
	if c.broken != nil {
		if c.opts.Redial == nil {
			return fmt.Errorf("worker %s: %s: %w: connection lost earlier (%v)", c.worker, typ, ErrUnavailable, c.broken)
		}
		tr, err := c.opts.Redial(ctx)
		if err != nil {
			return fmt.Errorf("worker %s: %s: %w: reconnect: %v", c.worker, typ, ErrUnavailable, err)
		}
		c.tr.Close()
		c.tr, c.broken, c.nextID = tr, nil, 0
		if err := c.authLocked(ctx); err != nil {
			c.broken = err
			return err
		}
	}
	return c.roundTripLocked(ctx, typ, req, rep)
}

func (c *Client) roundTripLocked(ctx context.Context, typ string, req, rep any) error {
	body, err := encodeBody(req)
	if err != nil {
		return fmt.Errorf("worker %s: %s: encode request: %w", c.worker, typ, err)
	}
	c.nextID++
	id := c.nextID
	frame, err := encodeEnvelope(&envelope{Type: typ, ID: id, Body: body})
	if err != nil {
		return fmt.Errorf("worker %s: %s: encode request: %w", c.worker, typ, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	start := time.Now()
	out, err := c.tr.RoundTrip(ctx, frame)
	if err != nil {
		c.broken = err
		who := c.worker
		if who == "" {
			who = "(connecting)"
		}
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return fmt.Errorf("worker %s: %s request %d: %w after %v; whether it took effect is unknown",
				who, typ, id, ErrDeadline, time.Since(start).Round(time.Millisecond))
		}
		return fmt.Errorf("worker %s: %s request %d: %w: connection lost (%v); whether it took effect is unknown",
			who, typ, id, ErrUnavailable, err)
	}
	env, err := decodeEnvelope(out, c.opts.Limits)
	if err != nil {
		c.broken = err
		return fmt.Errorf("worker %s: %s: reply: %w", c.worker, typ, err)
	}
	if env.ID != id && !(env.Type == MsgError && env.ID == 0) {
		c.broken = errors.New("reply out of order")
		return fmt.Errorf("worker %s: %s: %w: reply id %d for request %d", c.worker, typ, ErrInternal, env.ID, id)
	}
	if env.Type == MsgError {
		var we wireError
		if err := decodeBody(env.Body, &we, c.opts.Limits); err != nil {
			return fmt.Errorf("worker %s: %s: undecodable error reply: %w", c.worker, typ, err)
		}
		who := c.worker
		if who == "" {
			who = "(connecting)"
		}
		return &Error{Worker: who, Op: typ, Code: we.Code, Msg: we.Msg}
	}
	if env.Type != typ {
		return fmt.Errorf("worker %s: %s: %w: reply of type %q", c.worker, typ, ErrInternal, env.Type)
	}
	if rep == nil {
		return nil
	}
	if err := decodeBody(env.Body, rep, c.opts.Limits); err != nil {
		return fmt.Errorf("worker %s: %s: reply: %w", c.worker, typ, err)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// SessionTransport calls straight into an in-process Session: the request
// is still encoded, decoded, authenticated and dispatched exactly as over
// the network (as PySyft's VirtualWorker serialised its messages), so
// virtual and remote workers behave alike.
type SessionTransport struct {
	mu     sync.Mutex
	s      *Session
	closed bool
}

// NewSessionTransport starts a session on h for an in-process client.
func NewSessionTransport(h *Handler, label string) *SessionTransport {
	return &SessionTransport{s: h.NewSession(label)}
}

// NewPeerSessionTransport starts a session on h for an in-process link
// whose other end is known (a virtual worker dialing another).
func NewPeerSessionTransport(h *Handler, label string, peer Peer) *SessionTransport {
	return &SessionTransport{s: h.NewPeerSession(label, peer)}
}

// RoundTrip implements Transport.
func (t *SessionTransport) RoundTrip(ctx context.Context, frame []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, net.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reply, closeIt := t.s.Handle(ctx, frame)
	if closeIt {
		t.closed = true
	}
	if reply == nil {
		return nil, net.ErrClosed
	}
	return reply, nil
}

// Close implements Transport.
func (t *SessionTransport) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return nil
}

// DialOptions configure DialTransport.
type DialOptions struct {
	// Fingerprint pins the worker's certificate ("sha256:<hex>", as
	// `gomplab worker init` prints). Required unless Insecure.
	Fingerprint string
	// Insecure uses plaintext; allowed only to loopback addresses.
	Insecure bool
	// MaxReply bounds reply frames in bytes (0: serde's default).
	MaxReply int
	// Certificate, when set, is presented to the worker as a client
	// certificate: how a worker proves to another which worker it is
	// (grants are given to one worker, Grant.Audience).
	Certificate *tls.Certificate
}

// DialTransport connects to a worker daemon: TLS 1.3 with the worker's
// certificate pinned by fingerprint (no CA is consulted), or plaintext to
// a loopback address when opts.Insecure.
func DialTransport(ctx context.Context, addr string, opts DialOptions) (Transport, error) {
	if opts.Insecure {
		if err := RequireLoopback(addr); err != nil {
			return nil, err
		}
	} else {
		fp, err := NormalizeFingerprint(opts.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		opts.Fingerprint = fp
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if !opts.Insecure {
		want := opts.Fingerprint
		cfg := &tls.Config{
			MinVersion: tls.VersionTLS13,
			// The certificate is checked below against the pinned
			// fingerprint instead of a CA chain and host name.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("worker sent no certificate")
				}
				if got := CertFingerprint(cs.PeerCertificates[0].Raw); got != want {
					return fmt.Errorf("certificate fingerprint %s does not match the pinned %s", got, want)
				}
				return nil
			},
		}
		if opts.Certificate != nil {
			cfg.Certificates = []tls.Certificate{*opts.Certificate}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("dial %s: TLS handshake: %w", addr, err)
		}
		conn = tc
	}
	return &connTransport{conn: conn, maxBytes: opts.MaxReply}, nil
}

// RequireLoopback refuses an address whose host is not a loopback one:
// plaintext is allowed only there.
func RequireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %s: plaintext is allowed only on loopback (127.0.0.1, ::1); use TLS", addr)
	}
	return nil
}

// connTransport is a framed request/reply stream over a connection.
type connTransport struct {
	conn     net.Conn
	maxBytes int
}

func (t *connTransport) RoundTrip(ctx context.Context, frame []byte) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		t.conn.SetDeadline(dl)
	} else {
		t.conn.SetDeadline(time.Time{})
	}
	// Cancellation interrupts blocked reads and writes at once.
	stop := context.AfterFunc(ctx, func() { t.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := serde.WriteFrame(t.conn, frame); err != nil {
		return nil, err
	}
	return serde.ReadFrame(t.conn, t.maxBytes)
}

func (t *connTransport) Close() error { return t.conn.Close() }

// PeerDialer is how a daemon reaches another worker: TLS with the pinned
// fingerprint the pointer or move destination carries (or loopback
// plaintext when it says so), presenting the daemon's own certificate
// (cert) so the peer knows which worker it is, authenticated with grant
// tokens.
func PeerDialer(cert *tls.Certificate) func(ctx context.Context, p store.PointerTarget, cred Credentials) (*Client, error) {
	return func(ctx context.Context, p store.PointerTarget, cred Credentials) (*Client, error) {
		tr, err := DialTransport(ctx, p.Addr, DialOptions{Fingerprint: p.Fingerprint, Insecure: p.Insecure, Certificate: cert})
		if err != nil {
			return nil, err
		}
		return NewClient(ctx, tr, cred, ClientOptions{})
	}
}

// CertFingerprint formats the SHA-256 fingerprint of a DER certificate.
func CertFingerprint(der []byte) string {
	h := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(h[:])
}

// NormalizeFingerprint checks a certificate fingerprint as users paste
// it: "sha256:" and 64 hex digits, as `gomplab worker init` prints it; the
// prefix may be left out and the digits may be upper case.
func NormalizeFingerprint(fp string) (string, error) {
	fp = strings.TrimSpace(fp)
	if fp == "" {
		return "", errors.New("a certificate fingerprint is required for TLS (sha256:..., printed by `gomplab worker init` and `gomplab worker info`)")
	}
	hexPart := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(fp, "sha256:"), "SHA256:"))
	if _, err := hex.DecodeString(hexPart); err != nil || len(hexPart) != 64 {
		return "", fmt.Errorf("certificate fingerprint %q is not sha256: and 64 hex digits, as `gomplab worker info --data DIR` prints it", fp)
	}
	return "sha256:" + hexPart, nil
}
