package daemon

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/gomplab/gomplab/internal/connlimit"
	"github.com/gomplab/gomplab/internal/logfile"
	"github.com/gomplab/gomplab/internal/lograte"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/store"
)

// Config configures a worker daemon.
type Config struct {
	// Dir is the data directory made by InitDataDir.
	Dir string
	// Listen is the TCP address to listen on ("127.0.0.1:7101").
	Listen string
	// InsecureLoopback serves plaintext; refused unless Listen is a
	// loopback address.
	InsecureLoopback bool
	// CertFile and KeyFile supply a TLS key pair instead of the one in Dir.
	CertFile, KeyFile string
	// UsersFile is the user table to use instead of the one in Dir (a
	// file mounted from a secret, say); the daemon only reads it, and
	// picks up changes within a second.
	UsersFile string
	// Log receives operational logs. Nil discards.
	Log *slog.Logger
	// Limits bound decoded requests (zero: serde's defaults).
	Limits serde.Limits
	// RequestTimeout caps each request (0: one minute).
	RequestTimeout time.Duration
	// StoreWait is how long to wait for the store file lock (0: 1 s).
	StoreWait time.Duration
	// Bounds holds what a client may cost the daemon; zero fields take
	// the defaults of DefaultBounds.
	Bounds Bounds
	// Quotas bound what one authenticated user may take.
	Quotas Quotas
}

// Quotas are per-user bounds after authentication.
type Quotas struct {
	// StoreBytesPerUser bounds the bytes one user's objects take in the
	// store (0: no bound).
	StoreBytesPerUser int64
	// OpBytes bounds the memory one op may take, estimated before it
	// runs (0: workers.DefaultMaxOpBytes; negative: no bound); OpBytesInFlight bounds the ops
	// running at once (0: OpBytes). See workers.Config.
	OpBytes, OpBytesInFlight int64
	// StoreCacheBytes bounds the decoded objects the store keeps in
	// memory (0: DefaultStoreCacheBytes).
	StoreCacheBytes int64
	// MemoryLimit is the Go runtime's soft memory limit for the daemon's
	// process (runtime/debug.SetMemoryLimit), which `gomplab worker`
	// sets: the garbage collector keeps the heap under it, and returns
	// freed memory to the system, instead of letting it grow to twice
	// what is live (0: MemoryLimitFor; negative: none).
	MemoryLimit int64
}

// MemoryLimitFor is the default soft memory limit for quotas q: what the
// ops running at once and the store cache may hold, and 32 MiB for the
// rest of the daemon; -1 (none) when ops are not bounded.
func MemoryLimitFor(q Quotas) int64 {
	op := q.OpBytes
	if op == 0 {
		op = workers.DefaultMaxOpBytes
	}
	if op < 0 {
		return -1 // ops unbounded: no limit would hold them
	}
	inFlight := q.OpBytesInFlight
	if inFlight <= 0 {
		inFlight = max(op, 0)
	}
	cache := q.StoreCacheBytes
	if cache <= 0 {
		cache = DefaultStoreCacheBytes
	}
	return 32<<20 + inFlight + cache
}

// DefaultStoreCacheBytes is a daemon's store cache: small enough that
// the daemon stays within a couple of hundred megabytes of its idle size
// whatever its users read.
const DefaultStoreCacheBytes = 32 << 20

// Bounds are the resources clients may take, before and after they
// authenticate (docs/deploy.md, "Bounded resources").
type Bounds struct {
	// MaxConnsPerHost caps the connections open from one client IP
	// address; MaxConns caps them all. Connections over a cap are closed
	// at once.
	MaxConnsPerHost, MaxConns int
	// PreAuthMaxFrame bounds a frame before its connection authenticates;
	// AuthTimeout is the time a new connection has to authenticate
	// (TLS handshake included); MaxAuthFailures closes a connection after
	// that many wrong tokens or requests sent before authenticating.
	PreAuthMaxFrame int
	AuthTimeout     time.Duration
	MaxAuthFailures int
	// LogBurst identical log lines (same level and message) are written
	// per LogInterval; the rest are counted, and the next line let
	// through says how many were left out. The access log's refusals are
	// limited so; its records of requests are all kept.
	LogBurst    int
	LogInterval time.Duration
	// AccessLogMaxBytes is the size at which the access log rotates
	// (access.log becomes access.log.1, ...); AccessLogKeep old files are
	// kept.
	AccessLogMaxBytes int64
	AccessLogKeep     int
}

// DefaultBounds are the bounds of a daemon that sets none.
var DefaultBounds = Bounds{
	MaxConnsPerHost:   256,
	MaxConns:          2048,
	PreAuthMaxFrame:   workers.DefaultPreAuthMaxFrame,
	AuthTimeout:       workers.DefaultAuthTimeout,
	MaxAuthFailures:   3,
	LogBurst:          10,
	LogInterval:       10 * time.Second,
	AccessLogMaxBytes: 64 << 20,
	AccessLogKeep:     4,
}

// withDefaults fills b's zero fields from DefaultBounds.
func (b Bounds) withDefaults() Bounds {
	d := DefaultBounds
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&b.MaxConnsPerHost, d.MaxConnsPerHost)
	pick(&b.MaxConns, d.MaxConns)
	pick(&b.PreAuthMaxFrame, d.PreAuthMaxFrame)
	pick(&b.MaxAuthFailures, d.MaxAuthFailures)
	pick(&b.LogBurst, d.LogBurst)
	pick(&b.AccessLogKeep, d.AccessLogKeep)
	if b.AuthTimeout <= 0 {
		b.AuthTimeout = d.AuthTimeout
	}
	if b.LogInterval <= 0 {
		b.LogInterval = d.LogInterval
	}
	if b.AccessLogMaxBytes <= 0 {
		b.AccessLogMaxBytes = d.AccessLogMaxBytes
	}
	return b
}

// Daemon is a running worker: data directory, bbolt store, handler, and
// TLS server.
type Daemon struct {
	cfg         Config
	dir         *DataDir
	store       *store.BoltStore
	worker      *Worker
	server      *workers.Server
	ln          net.Listener
	accessFile  *logfile.File
	fingerprint string
	done        chan error
}

// Start opens the data directory and store and starts serving. It
// returns once the listener is bound.
func Start(cfg Config) (*Daemon, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Bounds = cfg.Bounds.withDefaults()
	bounds := cfg.Bounds
	// A client that makes the daemon log the same thing over and over
	// costs a few lines per interval, not megabytes.
	cfg.Log = slog.New(lograte.New(cfg.Log.Handler(), bounds.LogBurst, bounds.LogInterval))
	if cfg.InsecureLoopback {
		if err := workers.RequireLoopback(cfg.Listen); err != nil {
			return nil, fmt.Errorf("--insecure-loopback: %w", err)
		}
	}
	dir, err := OpenDataDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	var users *workers.Users
	if cfg.UsersFile != "" {
		users, err = workers.LoadUsers(cfg.UsersFile)
	} else {
		users, err = dir.Users()
	}
	if err != nil {
		return nil, err
	}
	var cert tls.Certificate
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err = tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS key pair: %w", err)
		}
	} else if cert, err = dir.Certificate(); err != nil {
		return nil, err
	}
	wait := cfg.StoreWait
	if wait <= 0 {
		wait = time.Second
	}
	bs, err := store.OpenBolt(dir.StorePath(), store.BoltOptions{Wait: wait, MustExist: true})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%w (is another worker running on %s?)", err, cfg.Dir)
		}
		return nil, err
	}
	reportDamage(cfg.Log, bs)
	bs.SetQuota(cfg.Quotas.StoreBytesPerUser)
	if cfg.Quotas.StoreCacheBytes <= 0 {
		cfg.Quotas.StoreCacheBytes = DefaultStoreCacheBytes
	}
	bs.SetCacheBytes(cfg.Quotas.StoreCacheBytes)
	af, err := logfile.Open(dir.AccessLogPath(), bounds.AccessLogMaxBytes, bounds.AccessLogKeep)
	if err != nil {
		bs.Close()
		return nil, fmt.Errorf("open access log: %w", err)
	}
	d := &Daemon{cfg: cfg, dir: dir, store: bs, accessFile: af, done: make(chan error, 1),
		fingerprint: workers.CertFingerprint(cert.Certificate[0])}
	d.worker, err = NewWorker(workers.Config{
		WorkerID: dir.WorkerID,
		Store:    bs,
		Users:    users,
		AccessLog: slog.New(lograte.New(slog.NewJSONHandler(af, nil), bounds.LogBurst, bounds.LogInterval).
			Only(func(l slog.Level, msg string) bool { return msg == "refused" })).With("worker", dir.WorkerID),
		MaxAuthFailures:    bounds.MaxAuthFailures,
		MaxOpBytes:         cmp.Or(cfg.Quotas.OpBytes, workers.DefaultMaxOpBytes),
		MaxOpBytesInFlight: cfg.Quotas.OpBytesInFlight,
		Log:                cfg.Log,
		Limits:             cfg.Limits,
		RequestTimeout:     cfg.RequestTimeout,
		Dial:               workers.PeerDialer(&cert),
		Certificate:        &cert,
	})
	if err != nil {
		d.closeFiles()
		return nil, err
	}
	var tlsCfg *tls.Config
	if !cfg.InsecureLoopback {
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	}
	d.worker.Handler.Handle(MsgBackup, d.backup)
	d.server = workers.NewServer(workers.ServerConfig{Handler: d.worker.Handler, TLS: tlsCfg, Log: cfg.Log,
		PreAuthMaxFrame: bounds.PreAuthMaxFrame, AuthTimeout: bounds.AuthTimeout})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		d.closeFiles()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	cl := connlimit.New(ln, bounds.MaxConnsPerHost, bounds.MaxConns)
	cl.Refused = func(remote string, perHost bool) {
		limit := fmt.Sprintf("%d connections in all", bounds.MaxConns)
		if perHost {
			limit = fmt.Sprintf("%d connections from one address", bounds.MaxConnsPerHost)
		}
		cfg.Log.Warn("connection refused: over the limit", "remote", remote, "limit", limit)
	}
	d.ln = cl
	if err := dir.WriteDaemonInfo(Info{Addr: d.ln.Addr().String(), Insecure: cfg.InsecureLoopback, PID: os.Getpid()}); err != nil {
		cfg.Log.Warn("cannot record daemon address", "err", err)
	}
	go func() { d.done <- d.server.Serve(d.ln) }()
	cfg.Log.Info("worker started", "id", dir.WorkerID, "addr", d.ln.Addr().String(),
		"tls", !cfg.InsecureLoopback, "fingerprint", d.fingerprint, "data", cfg.Dir)
	return d, nil
}

// Addr is the address the daemon listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Fingerprint is the daemon's certificate fingerprint.
func (d *Daemon) Fingerprint() string { return d.fingerprint }

// WorkerID is the daemon's worker id.
func (d *Daemon) WorkerID() string { return d.dir.WorkerID }

// Handler is the daemon's protocol core (to register more message types).
func (d *Daemon) Handler() *workers.Handler { return d.worker.Handler }

// Jobs is the daemon's table of MPC parties (to configure how they run:
// gomplab worker runs them as child processes under resource limits).
func (d *Daemon) Jobs() *jobs.Table { return d.worker.Jobs }

// FL returns the worker's federated learning, for configuring it
// (gomplab worker --fl-min-contributors).
func (d *Daemon) FL() *fl.Service { return d.worker.FL }

// Done receives Serve's result when the server stops.
func (d *Daemon) Done() <-chan error { return d.done }

// Shutdown stops accepting, finishes requests in flight (their writes are
// already committed when they reply), and closes the store. Data
// acknowledged before Shutdown is on disk either way; Shutdown only makes
// the exit orderly.
func (d *Daemon) Shutdown(ctx context.Context) error {
	err := d.server.Shutdown(ctx)
	d.worker.Close()
	d.dir.RemoveDaemonInfo()
	if cerr := d.closeFiles(); err == nil {
		err = cerr
	}
	d.cfg.Log.Info("worker stopped", "id", d.dir.WorkerID)
	return err
}

func (d *Daemon) closeFiles() error {
	err := d.store.Close()
	d.accessFile.Sync()
	d.accessFile.Close()
	return err
}

// DefaultAdvertise is the host a worker listening on listen is reached by
// when --advertise is not given: the host of listen when it is a specific
// address or name, and otherwise (listening on every interface) the
// address of the interface that leads out of this host, found by asking
// the routing table (no packet is sent), or loopback when there is none.
func DefaultAdvertise(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return host
	}
	// A UDP "connection" to a documentation address picks the route and
	// the local address without sending anything.
	for _, probe := range []string{"192.0.2.1:9", "[2001:db8::1]:9"} {
		c, err := net.Dial("udp", probe)
		if err != nil {
			continue
		}
		a := c.LocalAddr().(*net.UDPAddr).IP
		c.Close()
		if !a.IsUnspecified() {
			return a.String()
		}
	}
	return "127.0.0.1"
}
