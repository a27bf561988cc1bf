package syft

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

func limitsFor(maxBytes int) serde.Limits { return serde.Limits{MaxBytes: maxBytes} }

// Pointer refers to an object held by a worker. It holds no data: only
// where the object is and its metadata as of when the pointer was made.
// Pointers are safe for concurrent use.
type Pointer struct {
	st *ptrState
}

// ptrState is everything a pointer knows. It is separate from Pointer so
// that a runtime cleanup attached to the Pointer can still reach it.
type ptrState struct {
	mu   sync.Mutex
	l    *link
	info store.Info
	// owns: this pointer created the object and frees it when collected.
	owns bool
	// gone: the object was taken, freed or handed on; the pointer is dead.
	gone string
}

func newPointer(l *link, info store.Info, owns bool) *Pointer {
	p := &Pointer{st: &ptrState{l: l, info: info, owns: owns}}
	runtime.AddCleanup(p, reclaim, p.st)
	return p
}

// reclaim runs after an owning pointer became unreachable.
func reclaim(st *ptrState) {
	st.mu.Lock()
	l, in, owns, gone := st.l, st.info, st.owns, st.gone
	st.mu.Unlock()
	if owns && gone == "" {
		l.rec.enqueue(in.ID, in.Tags)
	}
}

// snapshot returns the pointer's current location and object id, or an
// error if the pointer is dead.
func (p *Pointer) snapshot(op string) (*link, store.Info, error) {
	if p == nil || p.st == nil {
		return nil, store.Info{}, fmt.Errorf("syft: %s on a nil pointer", op)
	}
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if p.st.gone != "" {
		return nil, store.Info{}, fmt.Errorf("syft: %s: pointer to %s:%s is no longer valid: the object was %s",
			op, p.st.l.id, p.st.info.ID, p.st.gone)
	}
	return p.st.l, p.st.info, nil
}

func (p *Pointer) kill(why string) {
	p.st.mu.Lock()
	p.st.gone = why
	p.st.mu.Unlock()
}

// ID is the object's id on its worker.
func (p *Pointer) ID() string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.st.info.ID
}

// Location is the worker holding the object.
func (p *Pointer) Location() Worker {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.st.l.self
}

// Info is the object's metadata as of the pointer's creation.
func (p *Pointer) Info() ObjectInfo {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.st.info
}

// Shape is the tensor's shape (for a pointer to a pointer, the shape of
// the tensor at the end of the chain).
func (p *Pointer) Shape() []int { return slices.Clone(p.Info().Shape) }

// Tags are the object's tags.
func (p *Pointer) Tags() []string { return slices.Clone(p.Info().Tags) }

// Private reports whether the object is private (or computed from private
// data), so that Get is refused unless the user is allowed.
func (p *Pointer) Private() bool { return p.Info().Private }

// Owns reports whether dropping this pointer frees its object.
func (p *Pointer) Owns() bool {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.st.owns
}

// Keep releases the pointer's ownership: the object stays on the worker
// when the pointer is garbage collected, until freed explicitly.
func (p *Pointer) Keep() *Pointer {
	p.st.mu.Lock()
	p.st.owns = false
	p.st.mu.Unlock()
	return p
}

// String describes the pointer the way PySyft printed it.
func (p *Pointer) String() string {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	s := fmt.Sprintf("(Pointer -> %s:%s", p.st.l.id, p.st.info.ID)
	if p.st.info.Target != "" {
		s += " -> " + p.st.info.Target
	}
	if p.st.info.Shape != nil {
		s += fmt.Sprintf(" shape %v", p.st.info.Shape)
	}
	if len(p.st.info.Tags) > 0 {
		s += fmt.Sprintf(" tags %v", p.st.info.Tags)
	}
	if p.st.info.Private {
		s += " private"
	}
	if p.st.gone != "" {
		s += " (" + p.st.gone + ")"
	}
	return s + ")"
}

// SendOption sets metadata of an object being sent.
type SendOption func(*store.Object)

// WithTags tags the object (search finds objects by tags).
func WithTags(tags ...string) SendOption {
	return func(o *store.Object) { o.Tags = append(o.Tags, tags...) }
}

// WithDescription describes the object.
func WithDescription(d string) SendOption {
	return func(o *store.Object) { o.Description = d }
}

// AsPrivate marks the object private: it can be computed on, but its value
// and anything computed from it are released only to the named users (and
// users with the read-private permission).
func AsPrivate(allowedUsers ...string) SendOption {
	return func(o *store.Object) {
		o.Private = true
		o.AllowedUsers = append(o.AllowedUsers, allowedUsers...)
	}
}

// WithID stores the object under a chosen id (fresh random by default).
// Resending with the same id fails with store.ErrExists, which makes a
// send safe to retry after a lost connection.
func WithID(id string) SendOption {
	return func(o *store.Object) { o.ID = id }
}

// Send stores t on w and returns an owning pointer to it.
func Send(t *tensor.Tensor, w Worker, opts ...SendOption) (*Pointer, error) {
	if t == nil {
		return nil, errors.New("syft: Send of a nil tensor")
	}
	if w == nil {
		return nil, errNilWorker
	}
	return sendObject(&store.Object{Kind: store.KindTensor, Tensor: t}, w, opts, "")
}

// sendObject stores o on w, with opts applied, and returns an owning
// pointer to it. what names the object in errors ("model ": "send model
// to bob: ...").
func sendObject(o *store.Object, w Worker, opts []SendOption, what string) (*Pointer, error) {
	o.Provenance = store.Provenance{Source: "send"}
	for _, opt := range opts {
		opt(o)
	}
	if o.ID == "" {
		o.ID = store.NewID()
	}
	l := w.link()
	var rep workers.InfoReply
	if err := l.call(workers.MsgPut, &workers.PutRequest{Object: o}, &rep); err != nil {
		return nil, fmt.Errorf("send %sto %s: %w", what, l.id, err)
	}
	return newPointer(l, rep.Info, true), nil
}

// Get returns the object's value and removes it from the worker (PySyft's
// get). For a pointer to a pointer, the value is fetched from the end of
// the chain, and every link is removed. A private object is refused with
// an error wrapping workers.ErrPermission, and stays on the worker.
func (p *Pointer) Get() (*tensor.Tensor, error) { return p.get(false) }

// GetCopy returns the object's value and leaves it on the worker.
func (p *Pointer) GetCopy() (*tensor.Tensor, error) { return p.get(true) }

func (p *Pointer) get(keep bool) (*tensor.Tensor, error) {
	l, in, err := p.snapshot("Get")
	if err != nil {
		return nil, err
	}
	var rep workers.GetReply
	if err := l.call(workers.MsgGet, &workers.GetRequest{ID: in.ID, Keep: keep}, &rep); err != nil {
		return nil, fmt.Errorf("get %s from %s: %w", in.ID, l.id, err)
	}
	if !keep {
		p.kill("taken by Get")
	}
	if rep.Object == nil || rep.Object.Tensor == nil {
		kind := store.Kind("nothing")
		if rep.Object != nil {
			kind = rep.Object.Kind
		}
		return nil, fmt.Errorf("get %s from %s: object is a %s, not a tensor", in.ID, l.id, kind)
	}
	return rep.Object.Tensor, nil
}

// Free deletes the object from its worker. Freeing an object that is
// already gone is not an error.
func (p *Pointer) Free() error {
	if p == nil || p.st == nil {
		return errors.New("syft: Free on a nil pointer")
	}
	l, in, err := p.snapshot("Free")
	if err != nil {
		return nil // already taken or freed
	}
	var rep workers.FreeReply
	if err := l.call(workers.MsgFree, &workers.FreeRequest{IDs: []string{in.ID}}, &rep); err != nil {
		return fmt.Errorf("free %s on %s: %w", in.ID, l.id, err)
	}
	p.kill("freed")
	return nil
}

// Copy duplicates the object on its worker and returns an owning pointer
// to the copy (a pointer to a pointer copies the object at the end of the
// chain too).
func (p *Pointer) Copy() (*Pointer, error) {
	l, in, err := p.snapshot("Copy")
	if err != nil {
		return nil, err
	}
	var rep workers.InfoReply
	if err := l.call(workers.MsgCopy, &workers.CopyRequest{ID: in.ID}, &rep); err != nil {
		return nil, fmt.Errorf("copy %s on %s: %w", in.ID, l.id, err)
	}
	return newPointer(l, rep.Info, true), nil
}

// Move sends the object to dst, directly from its worker to dst (the data
// does not pass through this process), keeping its id, tags and privacy;
// the object is removed from its old worker. The pointer then points to
// dst; Move returns it for chaining. Moving a private object is refused
// unless the user may read it, since dst may be run by someone else.
func (p *Pointer) Move(dst Worker) (*Pointer, error) {
	l, in, err := p.snapshot("Move")
	if err != nil {
		return nil, err
	}
	if dst == nil {
		return nil, errNilWorker
	}
	dl := dst.link()
	if dl.peer.Addr == l.peer.Addr {
		return p, nil
	}
	// dst issues a one-time grant to store this one object, for the
	// source worker alone; the source worker presents it (and proves who
	// it is) when it connects to dst.
	token, err := dl.grant(workers.GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{in.ID},
		Uses: 1, TTLMillis: int64(5 * time.Minute / time.Millisecond), Audience: l.id, AudienceFingerprint: l.peer.Fingerprint})
	if err != nil {
		return nil, fmt.Errorf("move %s to %s: %w", in.ID, dl.id, err)
	}
	dest := dl.peer
	dest.Grants = []string{token}
	var rep workers.InfoReply
	if err := l.call(workers.MsgMove, &workers.MoveRequest{ID: in.ID, Dest: dest}, &rep); err != nil {
		return nil, fmt.Errorf("move %s from %s to %s: %w", in.ID, l.id, dl.id, err)
	}
	p.st.mu.Lock()
	p.st.l, p.st.info = dl, rep.Info
	p.st.mu.Unlock()
	return p, nil
}

// Send gives dst a pointer to this pointer's object (PySyft's
// x_ptr.send(alice)): dst holds a pointer object that it resolves, by
// connecting to this pointer's worker, whenever it is used. The returned
// pointer refers to dst's pointer object and takes over ownership: freeing
// it (or its collection) frees the chain; this pointer no longer owns.
func (p *Pointer) Send(dst Worker) (*Pointer, error) {
	l, in, err := p.snapshot("Send")
	if err != nil {
		return nil, err
	}
	if dst == nil {
		return nil, errNilWorker
	}
	dl := dst.link()
	// The object's worker issues a grant for dst (and dst alone) to use,
	// read and free this object (and what is computed from it) as this
	// user.
	token, err := l.grant(workers.GrantRequest{
		Actions: []string{store.GrantUse, store.GrantGet, store.GrantFree},
		Objects: []string{in.ID}, Audience: dl.id, AudienceFingerprint: dl.peer.Fingerprint})
	if err != nil {
		return nil, fmt.Errorf("send pointer to %s:%s to %s: %w", l.id, in.ID, dl.id, err)
	}
	target := l.peer
	target.Grants = []string{token}
	target.ID = in.ID
	target.Shape = in.Shape
	p.st.mu.Lock()
	target.Owns = p.st.owns
	p.st.mu.Unlock()
	o := &store.Object{ID: store.NewID(), Kind: store.KindPointer, Pointer: &target,
		Tags: in.Tags, Description: in.Description, Private: in.Private,
		Provenance: store.Provenance{Source: "pointer"}}
	var rep workers.InfoReply
	if err := dl.call(workers.MsgPut, &workers.PutRequest{Object: o}, &rep); err != nil {
		return nil, fmt.Errorf("send pointer to %s:%s to %s: %w", l.id, in.ID, dl.id, err)
	}
	p.st.mu.Lock()
	p.st.owns = false
	p.st.mu.Unlock()
	// The new pointer always owns dst's pointer object; whether freeing
	// that frees the target too is target.Owns.
	return newPointer(dl, rep.Info, true), nil
}
