package workers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gomplab/gomplab/serde"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	Handler *Handler
	// TLS is the server's TLS configuration; nil serves plaintext (the
	// caller has checked the address is loopback). MinVersion is forced
	// to TLS 1.3.
	TLS *tls.Config
	// Log receives connection-level events. Nil discards.
	Log *slog.Logger
	// MaxFrame bounds request frames in bytes (0: Handler limits' MaxBytes,
	// else serde's default).
	MaxFrame int
	// IdleTimeout closes connections with no request for this long
	// (0: 10 minutes).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake (0: 30 s); the
	// handshake must also end within AuthTimeout.
	HandshakeTimeout time.Duration
	// PreAuthMaxFrame bounds the frames of a connection that has not
	// authenticated yet (0: DefaultPreAuthMaxFrame): an auth request is
	// small, so a stranger cannot make the worker hold large buffers.
	PreAuthMaxFrame int
	// AuthTimeout is how long a new connection has to complete its TLS
	// handshake and authenticate (0: DefaultAuthTimeout); a connection
	// that sends nothing, or sends a frame slowly, is closed then.
	AuthTimeout time.Duration
}

// Defaults of ServerConfig's bounds before authentication.
const (
	DefaultPreAuthMaxFrame = 64 << 10
	DefaultAuthTimeout     = 5 * time.Second
)

// Server puts a Handler on the network: one goroutine and one Session per
// connection, any number of connections at once.
type Server struct {
	cfg ServerConfig

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*serverConn]struct{}
	closing bool
	wg      sync.WaitGroup
}

type serverConn struct {
	c    net.Conn
	mu   sync.Mutex
	busy bool // a request is being handled
}

// NewServer returns a server for cfg.Handler.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = cfg.Handler.cfg.Limits.MaxBytes
	}
	if cfg.PreAuthMaxFrame <= 0 {
		cfg.PreAuthMaxFrame = DefaultPreAuthMaxFrame
	}
	if cfg.MaxFrame > 0 && cfg.PreAuthMaxFrame > cfg.MaxFrame {
		cfg.PreAuthMaxFrame = cfg.MaxFrame
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = DefaultAuthTimeout
	}
	if cfg.TLS != nil {
		c := cfg.TLS.Clone()
		c.MinVersion = tls.VersionTLS13
		// A worker dialing another presents its certificate, which
		// proves which worker it is (grants are given to one worker);
		// users present none. Certificates are pinned by fingerprint,
		// never checked against a CA.
		if c.ClientAuth == tls.NoClientCert {
			c.ClientAuth = tls.RequestClientCert
		}
		cfg.TLS = c
	}
	return &Server{cfg: cfg, conns: map[*serverConn]struct{}{}}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("workers: server closed")

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		sc := &serverConn{c: c}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[sc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(sc)
	}
}

func (s *Server) serveConn(sc *serverConn) {
	defer func() {
		sc.c.Close()
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
		s.wg.Done()
	}()
	remote := sc.c.RemoteAddr().String()
	conn := sc.c
	peer := Peer{Unverified: true}
	// Until it authenticates, a connection has AuthTimeout in all, and
	// frames of at most PreAuthMaxFrame bytes.
	authBy := time.Now().Add(s.cfg.AuthTimeout)
	if s.cfg.TLS != nil {
		tc := tls.Server(sc.c, s.cfg.TLS)
		tc.SetDeadline(earliest(time.Now().Add(s.cfg.HandshakeTimeout), authBy))
		if err := tc.Handshake(); err != nil {
			s.cfg.Log.Warn("TLS handshake failed", "remote", remote, "err", err)
			return
		}
		conn = tc
		peer = Peer{}
		if cs := tc.ConnectionState(); len(cs.PeerCertificates) > 0 {
			peer.Fingerprint = CertFingerprint(cs.PeerCertificates[0].Raw)
		}
	}
	sess := s.cfg.Handler.NewPeerSession(remote, peer)
	s.cfg.Log.Debug("connection", "remote", remote)
	for {
		// Deadline first, then the closing check: Shutdown sets closing
		// before it cuts idle reads short, so one of the two sees it.
		authed := sess.User() != nil
		maxFrame := s.cfg.MaxFrame
		if authed {
			conn.SetDeadline(time.Now().Add(s.cfg.IdleTimeout))
		} else {
			conn.SetDeadline(authBy)
			maxFrame = s.cfg.PreAuthMaxFrame
		}
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			return
		}
		frame, err := serde.ReadFrame(conn, maxFrame)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.mu.Lock()
				closing := s.closing
				s.mu.Unlock()
				if !authed && !closing {
					s.cfg.Handler.refuse(sess, "slow", 0, "", fmt.Errorf("did not authenticate within %v", s.cfg.AuthTimeout))
				}
				return // idle, or shutdown
			}
			if !authed && errors.Is(err, serde.ErrLimit) {
				err = fmt.Errorf("%w (before authentication only an auth request of at most %d bytes is accepted)", err, maxFrame)
			}
			// Oversized or cut-short frames: the stream cannot be
			// resynchronised. Say why, then hang up.
			why := ErrBadRequest
			if errors.Is(err, serde.ErrLimit) {
				why = ErrTooLarge
			}
			s.cfg.Handler.refuse(sess, "bad frame", 0, "", err)
			if reply := s.cfg.Handler.errorReply(0, "", errors.Join(why, err)); reply != nil {
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				serde.WriteFrame(conn, reply)
			}
			return
		}
		sc.mu.Lock()
		sc.busy = true
		sc.mu.Unlock()
		conn.SetDeadline(time.Time{})
		reply, closeIt := sess.Handle(context.Background(), frame)
		if reply != nil {
			conn.SetDeadline(time.Now().Add(s.cfg.IdleTimeout))
			if err := serde.WriteFrame(conn, reply); err != nil {
				s.cfg.Log.Info("reply not delivered", "remote", remote, "err", err)
				closeIt = true
			}
		}
		sc.mu.Lock()
		sc.busy = false
		sc.mu.Unlock()
		if closeIt {
			return
		}
	}
}

// Addr is the listening address (nil before Serve).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting connections, lets requests being handled finish
// and their replies go out, closes idle connections, and waits for every
// connection to end or ctx to expire.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	for sc := range s.conns {
		sc.mu.Lock()
		if !sc.busy {
			// Wakes a connection blocked reading its next request.
			sc.c.SetReadDeadline(time.Now())
		}
		sc.mu.Unlock()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for sc := range s.conns {
			sc.c.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
