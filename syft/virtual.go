package syft

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/store"
)

// The registry of virtual workers in this process, by address, so that
// virtual workers can reach each other (moves, pointers to pointers) the way
// daemons dial each other.
var (
	registryMu sync.Mutex
	registry   = map[string]*virtualCore{}
	instances  atomic.Uint64
)

const virtualScheme = "virtual:"

// virtualCore is the worker itself: store, users and handler. Several
// VirtualWorker values (one per user) share one core.
type virtualCore struct {
	id   string
	addr string
	// identity is the worker's key pair, made when it is created: the
	// credentials of its MPC parties are signed with it.
	identity tls.Certificate
	w        *daemon.Worker
	h        *workers.Handler
	store    *store.MemStore
	users    *workers.Users
	owner    string // the owner's token
	me       string // the default user's token
}

// VirtualWorker is a worker in this process, for tutorials and tests. It
// has an in-memory store and the same request handler, access rules and
// wire encoding as a daemon. The value returned by NewVirtualWorker acts as
// the ordinary user "me"; Owner returns the same worker seen by its data
// owner (an admin), and AddUser creates further users.
type VirtualWorker struct {
	core *virtualCore
	l    *link
	user string
}

// DefaultUser is the user a VirtualWorker acts as (PySyft's local worker
// was called "me").
const DefaultUser = "me"

// NewVirtualWorker creates an empty virtual worker. It panics if id is not
// a valid worker id (letters, digits, '.', '_', '-', '@'), a programmer
// error, like regexp.MustCompile.
func NewVirtualWorker(id string) *VirtualWorker {
	users := workers.NewUsers()
	ownerTok, err := users.Add(workers.OwnerUser, workers.PermAdmin)
	if err != nil {
		panic(fmt.Sprintf("syft: NewVirtualWorker(%q): %v", id, err))
	}
	meTok, err := users.Add(DefaultUser)
	if err != nil {
		panic(fmt.Sprintf("syft: NewVirtualWorker(%q): %v", id, err))
	}
	store := store.NewMemStore()
	identity, err := newIdentity(id)
	if err != nil {
		panic(fmt.Sprintf("syft: NewVirtualWorker(%q): %v", id, err))
	}
	core := &virtualCore{
		id: id, addr: fmt.Sprintf("%s%s/%d", virtualScheme, id, instances.Add(1)),
		store: store, users: users, owner: ownerTok, me: meTok, identity: identity,
	}
	core.w, err = daemon.NewWorker(workers.Config{
		WorkerID: id, Store: store, Users: users, Dial: core.dial, Certificate: &core.identity,
	})
	if err != nil {
		panic(fmt.Sprintf("syft: NewVirtualWorker(%q): %v", id, err))
	}
	core.h = core.w.Handler
	registryMu.Lock()
	registry[core.addr] = core
	registryMu.Unlock()
	w, err := core.connect(DefaultUser, meTok)
	if err != nil {
		panic(fmt.Sprintf("syft: NewVirtualWorker(%q): %v", id, err))
	}
	return w
}

func (c *virtualCore) connect(user, token string) (*VirtualWorker, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := workers.NewClient(ctx, workers.NewSessionTransport(c.h, "in-process:"+user),
		workers.Credentials{Token: token}, workers.ClientOptions{})
	if err != nil {
		return nil, err
	}
	w := &VirtualWorker{core: c, user: user}
	w.l = &link{self: w, id: c.id, c: cl, timeout: 30 * time.Second,
		peer:     store.PointerTarget{Worker: c.id, Addr: c.addr},
		identity: workers.CertFingerprint(c.identity.Certificate[0])}
	w.l.rec = newReclaimer(w.l)
	return w, nil
}

// dial lets one virtual worker's handler reach another in-process; the
// link tells the other which worker dialed (virtual workers have no
// certificates: in one process, the worker id is the identity).
func (c *virtualCore) dial(ctx context.Context, p store.PointerTarget, cred workers.Credentials) (*workers.Client, error) {
	if !strings.HasPrefix(p.Addr, virtualScheme) {
		return nil, fmt.Errorf("virtual workers reach only virtual workers, not %s", p.Addr)
	}
	registryMu.Lock()
	core := registry[p.Addr]
	registryMu.Unlock()
	if core == nil {
		return nil, fmt.Errorf("no virtual worker at %s (closed?)", p.Addr)
	}
	return workers.NewClient(ctx, workers.NewPeerSessionTransport(core.h, "peer:"+c.id, workers.Peer{Worker: c.id}),
		workers.Credentials{Grants: cred.Grants, For: cred.For}, workers.ClientOptions{})
}

// ID implements Worker.
func (w *VirtualWorker) ID() string { return w.core.id }

// User is the account this value acts as.
func (w *VirtualWorker) User() string { return w.user }

// Owner returns the worker as seen by its data owner, an admin who may
// read private values and clear everything.
func (w *VirtualWorker) Owner() *VirtualWorker {
	o, err := w.core.connect(workers.OwnerUser, w.core.owner)
	if err != nil {
		panic(fmt.Sprintf("syft: in-process owner session failed: %v", err)) // cannot fail in-process
	}
	return o
}

// AddUser creates a user on the worker with the given permissions
// (workers.PermReadPrivate, workers.PermAdmin) and returns the worker as
// seen by that user.
func (w *VirtualWorker) AddUser(name string, perms ...string) (*VirtualWorker, error) {
	tok, err := w.core.users.Add(name, perms...)
	if err != nil {
		return nil, fmt.Errorf("virtual worker %s: add user: %w", w.core.id, err)
	}
	return w.core.connect(name, tok)
}

// Search implements Worker.
func (w *VirtualWorker) Search(terms ...string) ([]*Pointer, error) { return w.l.search(terms) }

// List implements Worker.
func (w *VirtualWorker) List() ([]ObjectInfo, error) { return w.l.list() }

// Clear implements Worker.
func (w *VirtualWorker) Clear() (int, error) { return w.l.clear() }

// Close ends this user's session. The worker itself stays reachable by
// other workers until Shutdown.
func (w *VirtualWorker) Close() error { return w.l.close() }

// Shutdown removes the worker from the process: its store is dropped and
// pointers to it fail.
func (w *VirtualWorker) Shutdown() {
	registryMu.Lock()
	delete(registry, w.core.addr)
	registryMu.Unlock()
	w.core.w.Close()
	w.l.close()
}

// Handler exposes the worker's request handler, for code that runs on the
// worker itself (MPC parties reading its store by tag).
func (w *VirtualWorker) Handler() *workers.Handler { return w.core.h }

func (w *VirtualWorker) link() *link { return w.l }

// String describes the worker like PySyft did: id and object count.
func (w *VirtualWorker) String() string {
	all, _ := w.core.store.Search()
	return fmt.Sprintf("<VirtualWorker id:%s #objects:%d>", w.core.id, len(all))
}

// newIdentity makes a virtual worker's key pair: an ECDSA P-256 key and a
// self-signed certificate, as a daemon's data directory holds.
func newIdentity(id string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "gomplab virtual worker " + id},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
