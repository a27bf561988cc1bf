package syft

import (
	"context"
	"fmt"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// Options configure Connect.
type Options struct {
	// Token authenticates the user (printed by `gomplab worker init` for
	// the owner, by `gomplab worker user add` for others).
	Token string
	// Fingerprint pins the worker's TLS certificate ("sha256:..."), as
	// `gomplab worker init` printed it. Required unless Insecure.
	Fingerprint string
	// Insecure speaks plaintext; allowed only to a loopback address, and
	// only to a daemon started with --insecure-loopback.
	Insecure bool
	// Timeout bounds each request (0: 30 s). A request that times out
	// fails with an error wrapping workers.ErrDeadline.
	Timeout time.Duration
	// PeerAddr is the address other workers should dial to reach this one
	// (for Move and pointers to pointers); empty means addr.
	PeerAddr string
	// MaxReply bounds reply size in bytes (0: serde's default, 1 GiB).
	MaxReply int
	// Wrap, when set, wraps the transport to the worker (each time the
	// session connects): for tracing, or for tests that keep every
	// reply this session receives.
	Wrap func(workers.Transport) workers.Transport
}

// RemoteWorker is a client session with a worker daemon.
type RemoteWorker struct {
	l *link
}

// Connect opens an authenticated session with the worker daemon at addr.
// If the connection is lost later, the request in flight fails with a
// clear error (its effect unknown) and the next request reconnects.
func Connect(addr string, opts Options) (*RemoteWorker, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	dialOpts := workers.DialOptions{Fingerprint: opts.Fingerprint, Insecure: opts.Insecure, MaxReply: opts.MaxReply}
	dial := func(ctx context.Context) (workers.Transport, error) {
		tr, err := workers.DialTransport(ctx, addr, dialOpts)
		if err != nil || opts.Wrap == nil {
			return tr, err
		}
		return opts.Wrap(tr), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	tr, err := dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to worker at %s: %w", addr, err)
	}
	c, err := workers.NewClient(ctx, tr, workers.Credentials{Token: opts.Token},
		workers.ClientOptions{Timeout: opts.Timeout, Redial: dial, Limits: limitsFor(opts.MaxReply)})
	if err != nil {
		return nil, fmt.Errorf("connect to worker at %s: %w", addr, err)
	}
	peer := opts.PeerAddr
	if peer == "" {
		peer = addr
	}
	w := &RemoteWorker{}
	w.l = &link{self: w, id: c.Worker(), c: c, timeout: opts.Timeout,
		peer: store.PointerTarget{Worker: c.Worker(), Addr: peer, Fingerprint: opts.Fingerprint, Insecure: opts.Insecure}}
	if !opts.Insecure {
		w.l.identity = opts.Fingerprint
	}
	w.l.rec = newReclaimer(w.l)
	return w, nil
}

// ID implements Worker.
func (w *RemoteWorker) ID() string { return w.l.id }

// User is the account the session authenticated as.
func (w *RemoteWorker) User() string { return w.l.c.User() }

// Search implements Worker.
func (w *RemoteWorker) Search(terms ...string) ([]*Pointer, error) { return w.l.search(terms) }

// List implements Worker.
func (w *RemoteWorker) List() ([]ObjectInfo, error) { return w.l.list() }

// Clear implements Worker.
func (w *RemoteWorker) Clear() (int, error) { return w.l.clear() }

// Close implements Worker.
func (w *RemoteWorker) Close() error { return w.l.close() }

// Ping checks the session and returns the number of objects on the worker.
func (w *RemoteWorker) Ping() (int, error) {
	var rep workers.PingReply
	if err := w.l.call(workers.MsgPing, struct{}{}, &rep); err != nil {
		return 0, err
	}
	return rep.Objects, nil
}

func (w *RemoteWorker) link() *link { return w.l }

// String names the worker and where it is.
func (w *RemoteWorker) String() string {
	return fmt.Sprintf("<RemoteWorker id:%s addr:%s user:%s>", w.l.id, w.l.peer.Addr, w.l.c.User())
}
