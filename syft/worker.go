package syft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// ObjectInfo is what a listing shows of a stored object: id, kind, shape,
// tags, description, privacy, owner and provenance; never its value.
type ObjectInfo = store.Info

// Worker is a place that holds objects: a *VirtualWorker in this process
// or a *RemoteWorker daemon. The two implementations run the same protocol
// against the same handler and behave identically. The interface is sealed
// (it has an unexported method): every Worker is one of those two, so that
// pointers can rely on the protocol underneath.
type Worker interface {
	// ID is the worker's id ("bob").
	ID() string
	// Search returns pointers to the objects that every one of terms
	// matches, a term matching an object's id or one of its tags, as
	// PySyft's search did; only objects the user may use are found (its
	// own, the worker owners', those naming it among their allowed users).
	// With no terms it returns every object. The pointers do not own the
	// objects: dropping them never frees anything.
	Search(terms ...string) ([]*Pointer, error)
	// List describes every object on the worker, without values.
	List() ([]ObjectInfo, error)
	// Clear deletes the caller's objects on the worker (every object when
	// the caller is the worker's admin) and returns how many.
	Clear() (int, error)
	// Close ends the session; pointers to this worker stop working.
	Close() error

	link() *link
}

// link is the client side shared by every Worker implementation.
type link struct {
	self    Worker
	id      string
	c       *workers.Client
	peer    store.PointerTarget // how other workers reach this one
	timeout time.Duration
	rec     *reclaimer
	// identity is the fingerprint of the worker's certificate when this
	// client has pinned it (a TLS session, or a virtual worker's own):
	// MPC jobs then bind each rank to its worker.
	identity string
	// reported is the fingerprint the worker reports itself, asked once
	// when identity is empty (requests name every party by one).
	fpOnce   sync.Once
	reported string
	fpErr    error
}

func (l *link) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), l.timeout)
}

func (l *link) call(typ string, req, rep any) error {
	ctx, cancel := l.ctx()
	defer cancel()
	return l.c.Call(ctx, typ, req, rep)
}

func (l *link) search(tags []string) ([]*Pointer, error) {
	var rep workers.SearchReply
	if err := l.call(workers.MsgSearch, &workers.SearchRequest{Tags: tags}, &rep); err != nil {
		return nil, err
	}
	out := make([]*Pointer, len(rep.Objects))
	for i, in := range rep.Objects {
		out[i] = newPointer(l, in, false)
	}
	return out, nil
}

func (l *link) list() ([]ObjectInfo, error) {
	var rep workers.SearchReply
	if err := l.call(workers.MsgSearch, &workers.SearchRequest{}, &rep); err != nil {
		return nil, err
	}
	return rep.Objects, nil
}

func (l *link) clear() (int, error) {
	var rep workers.ClearReply
	if err := l.call(workers.MsgClear, struct{}{}, &rep); err != nil {
		return 0, err
	}
	return rep.Deleted, nil
}

func (l *link) close() error {
	l.rec.stop()
	return l.c.Close()
}

// grant asks the worker for a grant token acting as this client's user.
func (l *link) grant(req workers.GrantRequest) (string, error) {
	var rep workers.GrantReply
	if err := l.call(workers.MsgGrant, &req, &rep); err != nil {
		return "", err
	}
	return rep.Token, nil
}

// Search finds the objects that all of terms match (each an object's id
// or one of its tags, as Worker.Search) across a grid of workers, in the
// order of the workers given. A worker that fails makes Search fail,
// naming it; use each worker's Search to tolerate failures.
func Search(ws []Worker, tags ...string) ([]*Pointer, error) {
	var out []*Pointer
	for _, w := range ws {
		ps, err := w.Search(tags...)
		if err != nil {
			return nil, fmt.Errorf("search %s: %w", w.ID(), err)
		}
		out = append(out, ps...)
	}
	return out, nil
}

// reclaimer sends the frees queued by garbage-collected owning pointers,
// batched, from one goroutine per worker session.
type reclaimer struct {
	l       *link
	mu      sync.Mutex
	pending []string
	// released remembers the last maxReleased objects freed this way, so
	// that a job failing to find one by tag can say what happened to it
	// (released).
	released []releasedObject
	wake     chan struct{}
	done     chan struct{}
	once     sync.Once
	started  bool
}

func newReclaimer(l *link) *reclaimer {
	return &reclaimer{l: l, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// releasedObject is an object freed because its owning pointer was
// garbage collected.
type releasedObject struct {
	id   string
	tags []string
}

// maxReleased bounds the objects a reclaimer remembers.
const maxReleased = 256

// enqueue is called from runtime cleanups: it must not block.
func (r *reclaimer) enqueue(id string, tags []string) {
	r.mu.Lock()
	r.pending = append(r.pending, id)
	if len(tags) > 0 {
		if len(r.released) == maxReleased {
			r.released = slices.Delete(r.released, 0, 1)
		}
		r.released = append(r.released, releasedObject{id: id, tags: tags})
	}
	if !r.started {
		r.started = true
		go r.run()
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reclaimer) run() {
	for {
		select {
		case <-r.done:
			return
		case <-r.wake:
		}
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		r.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		// Best effort: a worker that is gone has nothing left to free.
		_ = r.l.call(workers.MsgFree, &workers.FreeRequest{IDs: batch}, nil)
	}
}

func (r *reclaimer) stop() { r.once.Do(func() { close(r.done) }) }

// flush sends pending frees now (for tests and orderly shutdown).
func (r *reclaimer) flush() error {
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return r.l.call(workers.MsgFree, &workers.FreeRequest{IDs: batch}, nil)
}

// releasedFor explains an error of this worker that found no object by a
// tag: for each object this session freed because its owning pointer was
// garbage collected and that carried a tag the error names (quoted, as
// the workers quote tags), newest first, a sentence naming it and saying
// how to keep it. It returns "" when the error is another or names none.
func (r *reclaimer) releasedFor(errText string) string {
	if !strings.Contains(errText, "no object tagged") {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for i := len(r.released) - 1; i >= 0; i-- {
		o := r.released[i]
		for _, t := range o.tags {
			if strings.Contains(errText, strconv.Quote(t)) {
				fmt.Fprintf(&b, "; object %s tagged %q on %s was freed when the owning pointer to it (from Send) was garbage collected after its last use in this program: keep it with ptr.Keep() (then Free it when done), or keep the pointer in use until the job ran (runtime.KeepAlive(ptr)), and send it again", o.id, t, r.l.id)
				break
			}
		}
	}
	return b.String()
}

// FlushFrees sends the frees queued for garbage-collected pointers to w
// now rather than in the background.
func FlushFrees(w Worker) error { return w.link().rec.flush() }

var errNilWorker = errors.New("syft: nil worker")
