package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// Files in a worker's data directory. The directory is the data owner's
// authority over the worker: whoever can read it can read the store, so
// the owner's token is kept there too (mode 0600) for the CLI to use.
const (
	fileWorker     = "worker.json"
	fileUsers      = "users.json"
	fileStore      = "store.db"
	fileAccessLog  = "access.log"
	fileCert       = "cert.pem"
	fileKey        = "key.pem"
	fileOwnerToken = "owner.token"
	fileDaemon     = "daemon.json"
)

// DataDir is a worker's data directory: identity, users, TLS key and
// certificate, the bbolt store and the access log.
type DataDir struct {
	Path string
	// WorkerID is the id the worker was initialised with.
	WorkerID string
}

type workerFile struct {
	ID      string `json:"id"`
	Created string `json:"created"`
}

// InitResult is what `gomplab worker init` prints.
type InitResult struct {
	Dir         *DataDir
	Fingerprint string
	OwnerToken  string
}

// InitDataDir creates a worker's data directory: its identity, an owner
// account (admin) with a fresh token, and an ECDSA P-256 key with a
// self-signed certificate valid for hosts (IP addresses or DNS names;
// loopback names are always included). Clients pin the certificate by its
// fingerprint rather than trusting a CA. An existing, initialised
// directory is refused so that tokens and keys are never overwritten.
func InitDataDir(path, id string, hosts []string) (*InitResult, error) {
	if err := workers.ValidateName(id); err != nil {
		return nil, fmt.Errorf("init %s: worker id: %w", path, err)
	}
	if _, err := os.Stat(filepath.Join(path, fileWorker)); err == nil {
		return nil, fmt.Errorf("init %s: already initialised (remove the directory to start over)", path)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	certPEM, keyPEM, fp, err := selfSignedCert(id, hosts)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	if err := workers.WriteFileAtomic(filepath.Join(path, fileKey), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := workers.WriteFileAtomic(filepath.Join(path, fileCert), certPEM, 0o644); err != nil {
		return nil, err
	}
	users := workers.NewUsersFile(filepath.Join(path, fileUsers))
	token, err := users.Add(workers.OwnerUser, workers.PermAdmin)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	if err := workers.WriteFileAtomic(filepath.Join(path, fileOwnerToken), []byte(token+"\n"), 0o600); err != nil {
		return nil, err
	}
	// The store is created now, so that a daemon never starts on a
	// store that vanished as if it were new (store.ErrMissing).
	bs, err := store.OpenBolt(filepath.Join(path, fileStore), store.BoltOptions{})
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	if err := bs.Close(); err != nil {
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	wf, _ := json.MarshalIndent(workerFile{ID: id, Created: time.Now().UTC().Format(time.RFC3339)}, "", "  ")
	// worker.json is written last: its presence marks a complete init.
	if err := workers.WriteFileAtomic(filepath.Join(path, fileWorker), append(wf, '\n'), 0o644); err != nil {
		return nil, err
	}
	return &InitResult{Dir: &DataDir{Path: path, WorkerID: id}, Fingerprint: fp, OwnerToken: token}, nil
}

// OpenDataDir opens an initialised data directory.
func OpenDataDir(path string) (*DataDir, error) {
	b, err := os.ReadFile(filepath.Join(path, fileWorker))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("data directory %s is not initialised (run `gomplab worker init --id ID --data %s`)", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open data directory: %w", err)
	}
	var wf workerFile
	if err := json.Unmarshal(b, &wf); err != nil || wf.ID == "" {
		return nil, fmt.Errorf("open data directory %s: bad %s", path, fileWorker)
	}
	return &DataDir{Path: path, WorkerID: wf.ID}, nil
}

// StorePath is the bbolt file.
func (d *DataDir) StorePath() string { return filepath.Join(d.Path, fileStore) }

// UsersPath is the user table.
func (d *DataDir) UsersPath() string { return filepath.Join(d.Path, fileUsers) }

// AccessLogPath is the JSON access log.
func (d *DataDir) AccessLogPath() string { return filepath.Join(d.Path, fileAccessLog) }

// Users loads the user table.
func (d *DataDir) Users() (*workers.Users, error) { return workers.LoadUsers(d.UsersPath()) }

// OwnerToken reads the owner's token that init left in the directory.
func (d *DataDir) OwnerToken() (string, error) {
	b, err := os.ReadFile(filepath.Join(d.Path, fileOwnerToken))
	if err != nil {
		return "", fmt.Errorf("owner token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Certificate loads the worker's TLS key pair.
func (d *DataDir) Certificate() (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(filepath.Join(d.Path, fileCert), filepath.Join(d.Path, fileKey))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load TLS key pair from %s: %w", d.Path, err)
	}
	return c, nil
}

// Fingerprint is the pinned identity clients check: "sha256:" and the hex
// SHA-256 of the certificate's DER bytes.
func (d *DataDir) Fingerprint() (string, error) {
	c, err := d.Certificate()
	if err != nil {
		return "", err
	}
	return workers.CertFingerprint(c.Certificate[0]), nil
}

// Info is written by a running daemon so that local tools (`gomplab
// worker load`) can find it; it is removed on clean shutdown.
type Info struct {
	Addr     string `json:"addr"`
	Insecure bool   `json:"insecure,omitempty"`
	PID      int    `json:"pid"`
}

// WriteDaemonInfo records the running daemon's address.
func (d *DataDir) WriteDaemonInfo(info Info) error {
	b, _ := json.Marshal(info)
	return workers.WriteFileAtomic(filepath.Join(d.Path, fileDaemon), b, 0o600)
}

// ReadDaemonInfo returns the recorded daemon address, if any.
func (d *DataDir) ReadDaemonInfo() (Info, error) {
	b, err := os.ReadFile(filepath.Join(d.Path, fileDaemon))
	if err != nil {
		return Info{}, err
	}
	info, err := parseDaemonInfo(b)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w (a daemon that crashed leaves it; remove it)", filepath.Join(d.Path, fileDaemon), err)
	}
	return info, nil
}

// parseDaemonInfo decodes daemon.json: an address of the form host:port
// with a port, and a process id.
func parseDaemonInfo(b []byte) (Info, error) {
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, fmt.Errorf("bad daemon record: %w", err)
	}
	host, port, err := net.SplitHostPort(info.Addr)
	if err != nil {
		return Info{}, fmt.Errorf("bad daemon record: address %.80q: %v", info.Addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || strings.ContainsAny(host, "/ ") {
		return Info{}, fmt.Errorf("bad daemon record: address %.80q", info.Addr)
	}
	if info.PID < 0 {
		return Info{}, fmt.Errorf("bad daemon record: pid %d", info.PID)
	}
	return info, nil
}

// RemoveDaemonInfo forgets the daemon address.
func (d *DataDir) RemoveDaemonInfo() { os.Remove(filepath.Join(d.Path, fileDaemon)) }

func selfSignedCert(id string, hosts []string) (certPEM, keyPEM []byte, fingerprint string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "gomplab worker " + id},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, "", err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	return certPEM, keyPEM, workers.CertFingerprint(der), nil
}
