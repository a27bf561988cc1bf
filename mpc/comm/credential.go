package comm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Party identities.
//
// A worker proves which rank of which job its party holds without handing
// the party its long-term key: for each job it mints a PartyKey (an
// ephemeral ECDSA P-256 key with a self-signed certificate), signs a
// Credential saying "the holder of this party key is rank R of job J" with
// its long-term key, and gives the party process only the party key and
// the credential. Every mesh link is TLS 1.3 with both party keys as
// certificates; each end then checks the other's credential: signed by the
// worker whose certificate fingerprint the job lists for the claimed rank,
// for this job and that rank, and naming the very certificate the peer
// just proved it holds in the TLS handshake. A credential is public: it is
// useless without its party key, so relaying one gets nobody in.

// PartyKey is a party's ephemeral TLS identity for one job.
type PartyKey struct {
	cert tls.Certificate
}

// partyCertLifetime bounds a party certificate's validity. Peers check
// keys by fingerprint, not dates; the bound only keeps a leaked key from
// looking useful for long.
const partyCertLifetime = 7 * 24 * time.Hour

// NewPartyKey makes a fresh ECDSA P-256 key and a self-signed certificate
// for it.
func NewPartyKey() (*PartyKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("comm: party key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("comm: party key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "gomplab party"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(partyCertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("comm: party certificate: %w", err)
	}
	return &PartyKey{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, nil
}

// Fingerprint is "sha256:" and the hex SHA-256 of the party certificate.
func (k *PartyKey) Fingerprint() string { return Fingerprint(k.cert.Certificate[0]) }

// certDigest is the SHA-256 of the party certificate.
func (k *PartyKey) certDigest() [32]byte { return sha256.Sum256(k.cert.Certificate[0]) }

// MarshalPEM encodes the party key (certificate and private key) to hand
// it to the party process that will use it.
func (k *PartyKey) MarshalPEM() ([]byte, error) {
	kb, err := x509.MarshalPKCS8PrivateKey(k.cert.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("comm: party key: %w", err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: k.cert.Certificate[0]})
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	return b.Bytes(), nil
}

// maxPartyKeyPEM bounds an encoded party key (it is about 800 bytes).
const maxPartyKeyPEM = 8 << 10

// ParsePartyKey decodes MarshalPEM's output. It accepts exactly one
// certificate, an ECDSA P-256 key that matches it, and nothing else.
func ParsePartyKey(b []byte) (*PartyKey, error) {
	if len(b) > maxPartyKeyPEM {
		return nil, fmt.Errorf("comm: party key of %d bytes exceeds %d", len(b), maxPartyKeyPEM)
	}
	cert, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, fmt.Errorf("comm: party key: %w", err)
	}
	if len(cert.Certificate) != 1 {
		return nil, fmt.Errorf("comm: party key: %d certificates, want 1", len(cert.Certificate))
	}
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("comm: party key: %T, want an ECDSA P-256 key", cert.PrivateKey)
	}
	return &PartyKey{cert: cert}, nil
}

// Fingerprint formats the SHA-256 fingerprint of a DER certificate, as
// workers pin each other: "sha256:" and 64 hex digits.
func Fingerprint(der []byte) string {
	h := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(h[:])
}

// CheckFingerprint reports whether fp is a fingerprint as Fingerprint
// formats them.
func CheckFingerprint(fp string) error {
	_, err := parseFingerprint(fp)
	return err
}

// parseFingerprint decodes a "sha256:<hex>" fingerprint.
func parseFingerprint(fp string) ([32]byte, error) {
	var d [32]byte
	h, ok := strings.CutPrefix(fp, "sha256:")
	if !ok || len(h) != 64 {
		return d, fmt.Errorf("fingerprint %q: want sha256: and 64 hex digits", fp)
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil {
		return d, fmt.Errorf("fingerprint %q: %v", fp, err)
	}
	return d, nil
}

// Credential is a worker's signed statement that the holder of one party
// key runs one rank of one job. It carries the worker's certificate so a
// peer can check the signature against the fingerprint it pinned.
type Credential struct {
	Job    string   // the job id the credential is valid for
	Rank   int      // the rank (Size for the trusted third party)
	Party  [32]byte // SHA-256 of the party certificate
	Worker []byte   // the worker's long-term certificate (DER)
	Sig    []byte   // the worker's signature over signedBytes
}

// Bounds of a credential's fields.
const (
	maxWorkerCert = 4 << 10
	maxSignature  = 256
)

var credMagic = [4]byte{'G', 'M', 'C', 'R'}

const credVersion = 1

// credDomain separates credential signatures from anything else a worker
// key signs.
const credDomain = "gomplab party credential v1\x00"

// SignCredential signs, with the worker's long-term key pair, a credential
// binding party to rank of job. Call it in the worker; give the party
// process only the party key and the credential.
func SignCredential(worker tls.Certificate, job string, rank int, party *PartyKey) (*Credential, error) {
	switch {
	case len(worker.Certificate) == 0:
		return nil, errors.New("comm: sign credential: the worker key pair has no certificate")
	case len(worker.Certificate[0]) > maxWorkerCert:
		return nil, fmt.Errorf("comm: sign credential: worker certificate of %d bytes exceeds %d", len(worker.Certificate[0]), maxWorkerCert)
	case len(job) > maxJobID:
		return nil, fmt.Errorf("comm: sign credential: job id of %d bytes exceeds %d", len(job), maxJobID)
	case rank < 0 || rank >= maxParties:
		return nil, fmt.Errorf("comm: sign credential: rank %d out of range", rank)
	case party == nil:
		return nil, errors.New("comm: sign credential: no party key")
	}
	signer, ok := worker.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("comm: sign credential: worker key %T cannot sign", worker.PrivateKey)
	}
	c := &Credential{Job: job, Rank: rank, Party: party.certDigest(), Worker: worker.Certificate[0]}
	msg := c.signedBytes()
	var err error
	switch signer.Public().(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		c.Sig, err = signer.Sign(rand.Reader, d[:], crypto.SHA256)
	case ed25519.PublicKey:
		c.Sig, err = signer.Sign(rand.Reader, msg, crypto.Hash(0))
	default:
		return nil, fmt.Errorf("comm: sign credential: worker key %T: only ECDSA and Ed25519 keys sign credentials", signer.Public())
	}
	if err != nil {
		return nil, fmt.Errorf("comm: sign credential: %w", err)
	}
	// Check against the certificate now, so a key pair that does not
	// match fails here and not at every peer.
	if err := c.checkSignature(); err != nil {
		return nil, fmt.Errorf("comm: sign credential: %w", err)
	}
	return c, nil
}

// signedBytes is what the worker signs: the domain, the job id, the rank
// and the party certificate's digest.
func (c *Credential) signedBytes() []byte {
	b := append([]byte(credDomain), 0, 0)
	binary.LittleEndian.PutUint16(b[len(credDomain):], uint16(len(c.Job)))
	b = append(b, c.Job...)
	b = binary.LittleEndian.AppendUint32(b, uint32(c.Rank))
	return append(b, c.Party[:]...)
}

// checkSignature verifies Sig with the key of the Worker certificate.
func (c *Credential) checkSignature() error {
	cert, err := x509.ParseCertificate(c.Worker)
	if err != nil {
		return fmt.Errorf("worker certificate: %v", err)
	}
	msg := c.signedBytes()
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(pub, d[:], c.Sig) {
			return errors.New("bad signature")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, msg, c.Sig) {
			return errors.New("bad signature")
		}
	default:
		return fmt.Errorf("worker key %T cannot sign credentials", cert.PublicKey)
	}
	return nil
}

// Verify checks that c lets the holder of the party certificate partyDER
// act as rank of job, signed by the worker pinned as workerFP. Cheap
// checks come first, so a stranger's credential costs no signature check.
func (c *Credential) Verify(job string, rank int, workerFP string, partyDER []byte) error {
	want, err := parseFingerprint(workerFP)
	if err != nil {
		return fmt.Errorf("expected identity of rank %d: %v", rank, err)
	}
	switch {
	case c.Job != job:
		return fmt.Errorf("credential for job %q, not this job", truncate(c.Job, 80))
	case c.Rank != rank:
		return fmt.Errorf("credential for rank %d presented as rank %d", c.Rank, rank)
	case sha256.Sum256(c.Worker) != want:
		return fmt.Errorf("credential signed by worker %s, but rank %d belongs to worker %s",
			Fingerprint(c.Worker), rank, workerFP)
	case sha256.Sum256(partyDER) != c.Party:
		return fmt.Errorf("credential names party certificate sha256:%x, but the link presented %s",
			c.Party, Fingerprint(partyDER))
	}
	if err := c.checkSignature(); err != nil {
		return fmt.Errorf("credential of rank %d: %v", rank, err)
	}
	return nil
}

// MarshalBinary encodes c:
//
//	"GMCR" | version | job (uint16 length + bytes) | rank (uint32) |
//	party digest (32 bytes) | worker certificate (uint16 length + DER) |
//	signature (uint16 length + bytes)
func (c *Credential) MarshalBinary() ([]byte, error) {
	switch {
	case len(c.Job) > maxJobID:
		return nil, fmt.Errorf("comm: credential job id of %d bytes exceeds %d", len(c.Job), maxJobID)
	case len(c.Worker) > maxWorkerCert:
		return nil, fmt.Errorf("comm: credential worker certificate of %d bytes exceeds %d", len(c.Worker), maxWorkerCert)
	case len(c.Sig) > maxSignature:
		return nil, fmt.Errorf("comm: credential signature of %d bytes exceeds %d", len(c.Sig), maxSignature)
	case c.Rank < 0 || c.Rank >= maxParties:
		return nil, fmt.Errorf("comm: credential rank %d out of range", c.Rank)
	}
	b := append([]byte(nil), credMagic[:]...)
	b = append(b, credVersion)
	putBytes := func(p []byte) {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	putBytes([]byte(c.Job))
	b = binary.LittleEndian.AppendUint32(b, uint32(c.Rank))
	b = append(b, c.Party[:]...)
	putBytes(c.Worker)
	putBytes(c.Sig)
	return b, nil
}

// ParseCredential decodes MarshalBinary's output, bounding every field.
// It checks the form only; Verify checks what the credential says.
func ParseCredential(b []byte) (*Credential, error) {
	r := wireReader{b: b}
	magic := r.bytes(4, "credential magic")
	if r.err == nil && string(magic) != string(credMagic[:]) {
		return nil, fmt.Errorf("comm: credential: bad magic %q", magic)
	}
	if v := r.bytes(1, "credential version"); r.err == nil && v[0] != credVersion {
		return nil, fmt.Errorf("comm: credential version %d, this build reads %d", v[0], credVersion)
	}
	c := &Credential{}
	c.Job = r.str("credential job id", maxJobID)
	c.Rank = r.u32("credential rank", maxParties-1)
	copy(c.Party[:], r.bytes(32, "party digest"))
	c.Worker = []byte(r.str("worker certificate", maxWorkerCert))
	c.Sig = []byte(r.str("signature", maxSignature))
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes after the credential", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("comm: credential: %w", r.err)
	}
	return c, nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// BindJob is the job id the parties of a pinned job use (in their
// credentials, the rendezvous and every link) when the orchestrator also
// gave them a job secret: the job's id followed by a digest of the id and
// the secret. A job id is not a secret (results and errors name it), so
// pinned identities alone say which worker holds each rank, not that
// every rank was started by the same submitter: anyone with an account on
// a worker could start a rank of someone else's job there, and the
// worker would sign its credential. Bound to the secret, which only the
// job's orchestrator knows, such a party names another job and is
// refused at the rendezvous.
func BindJob(job string, secret []byte) string {
	h := sha256.New()
	h.Write([]byte("gomplab job binding v1\x00"))
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(job)))
	h.Write(n[:])
	h.Write([]byte(job))
	h.Write(secret)
	return job + "~" + hex.EncodeToString(h.Sum(nil)[:16])
}
