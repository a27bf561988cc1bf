package comm

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// Link authentication. A mesh runs in one of three modes, chosen by the
// Config:
//
//   - pinned (Identities, Key and Credential set): every link is TLS 1.3
//     with the parties' ephemeral keys, and each end checks the other's
//     Credential against the worker fingerprint the job lists for the rank
//     the peer claims. Nobody without a rank's party key (which only that
//     rank's worker and party hold) can take that rank.
//   - secret (Secret set): every link is TLS 1.3 with keys made for this
//     Dial, and each end proves it knows the job's secret with a MAC over
//     the TLS session's exported keying material, so the proof cannot be
//     replayed on, or relayed to, another connection. For parties started
//     by one orchestrator that hands each the secret over an authenticated
//     channel (in-process virtual workers, local launches).
//   - plain (neither): unencrypted TCP, for parties on one host started
//     by one user (tests, benchmarks).
//
// In every mode a connection proves it belongs to the job (its hello
// carries the proof) before it is given a rank's slot.

type authMode int

const (
	authPlain authMode = iota
	authPinned
	authSecret
)

func (m authMode) String() string {
	switch m {
	case authPinned:
		return "pinned identities"
	case authSecret:
		return "job secret"
	}
	return "plain"
}

// MinSecret is the shortest Config.Secret accepted.
const MinSecret = 16

// Proof roles: who computes a secret-mode MAC, so a dialer's proof cannot
// be reflected back as the acceptor's.
const (
	roleDialer   byte = 'D'
	roleAcceptor byte = 'A'
)

// ekmLabel is the TLS exporter label of secret-mode proofs.
const ekmLabel = "EXPORTER-gomplab-comm-link"

// macDomain separates link MACs from other uses of the job secret.
const macDomain = "gomplab comm link v1\x00"

// tlsServerName is the name dialers ask for; party certificates are
// checked by credential, not by name.
const tlsServerName = "gomplab-party"

// linkAuth authenticates one party's links.
type linkAuth struct {
	mode   authMode
	job    string
	ids    []string // pinned: worker fingerprint by rank
	key    *PartyKey
	cred   []byte // pinned: this party's credential, encoded
	secret []byte
}

// newLinkAuth checks cfg's authentication settings for a world of p
// endpoints and prepares this party's side.
func newLinkAuth(cfg Config, p int) (*linkAuth, error) {
	a := &linkAuth{job: cfg.JobID}
	pinned := cfg.Identities != nil || cfg.Key != nil || cfg.Credential != nil
	switch {
	case pinned && cfg.Secret != nil:
		return nil, errors.New("comm: set either Identities (with Key and Credential) or Secret, not both")
	case pinned:
		a.mode = authPinned
		switch {
		case len(cfg.Identities) != p:
			return nil, fmt.Errorf("comm: %d identities for a world of %d endpoints (one per rank, the TTP's last)", len(cfg.Identities), p)
		case cfg.Key == nil || cfg.Credential == nil:
			return nil, errors.New("comm: pinned identities need this party's Key and Credential")
		}
		for r, id := range cfg.Identities {
			if _, err := parseFingerprint(id); err != nil {
				return nil, fmt.Errorf("comm: identity of rank %d: %v", r, err)
			}
		}
		c := cfg.Credential
		if err := c.Verify(cfg.JobID, cfg.Rank, cfg.Identities[cfg.Rank], cfg.Key.cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("comm: this party's own credential does not fit the job: %v", err)
		}
		b, err := c.MarshalBinary()
		if err != nil {
			return nil, err
		}
		a.ids, a.key, a.cred = cfg.Identities, cfg.Key, b
	case cfg.Secret != nil:
		if len(cfg.Secret) < MinSecret {
			return nil, fmt.Errorf("comm: job secret of %d bytes, want at least %d", len(cfg.Secret), MinSecret)
		}
		a.mode = authSecret
		a.secret = cfg.Secret
		k, err := NewPartyKey()
		if err != nil {
			return nil, err
		}
		a.key = k
	}
	return a, nil
}

// secure wraps a fresh connection in TLS (unless plain) and runs the
// handshake; raw is the metered TCP connection.
func (a *linkAuth) secure(ctx context.Context, c net.Conn, server bool) (net.Conn, error) {
	if a.mode == authPlain {
		return c, nil
	}
	tc := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{a.key.cert},
		SessionTicketsDisabled: true,
	}
	var t *tls.Conn
	if server {
		// Any certificate: the peer's credential or MAC, checked before
		// the link is used, says whether it belongs.
		tc.ClientAuth = tls.RequireAnyClientCert
		t = tls.Server(c, tc)
	} else {
		// Party certificates are self-signed and checked against the
		// peer's credential or MAC after the handshake.
		tc.InsecureSkipVerify = true
		tc.ServerName = tlsServerName
		t = tls.Client(c, tc)
	}
	if err := t.HandshakeContext(ctx); err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) {
			return nil, fmt.Errorf("TLS handshake: the peer does not speak TLS; this party authenticates its links (%v): configure every party alike: %w", a.mode, err)
		}
		return nil, fmt.Errorf("TLS handshake (this party uses %v): %w", a.mode, err)
	}
	return t, nil
}

// proof is what this party sends on conn as rank from to rank to.
func (a *linkAuth) proof(conn net.Conn, role byte, from, to int) ([]byte, error) {
	switch a.mode {
	case authPinned:
		return a.cred, nil
	case authSecret:
		return a.mac(conn, role, from, to)
	}
	return nil, nil
}

// mac computes a secret-mode proof, bound to conn's TLS session.
func (a *linkAuth) mac(conn net.Conn, role byte, from, to int) ([]byte, error) {
	t, ok := conn.(*tls.Conn)
	if !ok {
		return nil, errors.New("no TLS session to bind the proof to")
	}
	cs := t.ConnectionState()
	ekm, err := cs.ExportKeyingMaterial(ekmLabel, nil, 32)
	if err != nil {
		return nil, fmt.Errorf("exporting keying material: %v", err)
	}
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(macDomain))
	var b [9]byte
	b[0] = role
	binary.LittleEndian.PutUint32(b[1:], uint32(from))
	binary.LittleEndian.PutUint32(b[5:], uint32(to))
	m.Write(b[:])
	binary.LittleEndian.PutUint16(b[:2], uint16(len(a.job)))
	m.Write(b[:2])
	m.Write([]byte(a.job))
	m.Write(ekm)
	return m.Sum(nil), nil
}

// verify checks the proof a peer claiming rank from sent on conn (to this
// party, rank to). The error is a reason fit to send back.
func (a *linkAuth) verify(conn net.Conn, role byte, from, to int, proof []byte) error {
	switch a.mode {
	case authPlain:
		if len(proof) > 0 {
			return errors.New("the peer authenticates its links but this party runs plain ones (configure both alike)")
		}
		return nil
	case authSecret:
		if len(proof) == 0 {
			return errors.New("no proof of the job secret")
		}
		want, err := a.mac(conn, role, from, to)
		if err != nil {
			return err
		}
		if !hmac.Equal(proof, want) {
			return fmt.Errorf("rank %d's proof of the job secret does not match", from)
		}
		return nil
	}
	if len(proof) == 0 {
		return fmt.Errorf("rank %d sent no credential", from)
	}
	t, ok := conn.(*tls.Conn)
	if !ok {
		return errors.New("no TLS session")
	}
	certs := t.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return errors.New("the peer presented no certificate")
	}
	c, err := ParseCredential(proof)
	if err != nil {
		return err
	}
	if from < 0 || from >= len(a.ids) {
		return fmt.Errorf("rank %d is not in this job", from)
	}
	return c.Verify(a.job, from, a.ids[from], certs[0].Raw)
}
