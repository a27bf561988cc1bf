package workers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/store"
)

// The built-in request handlers. Access rules, in one place:
//
//   - any authenticated user may store objects, search and list metadata,
//     and compute on any object (private ones included);
//   - taking a value out (get, move to another worker) needs read access:
//     the object is not private, or the user has PermReadPrivate, or is
//     named in its AllowedUsers;
//   - removing an object (get without keep, free, move, clear) needs
//     ownership or PermAdmin;
//   - a grant session may only do what its grants allow, on the objects
//     they cover, as the user who issued them.

func (h *Handler) ping(_ context.Context, r *Request) (any, error) {
	all, err := h.cfg.Store.Search()
	if err != nil {
		return nil, err
	}
	return &PingReply{Worker: h.cfg.WorkerID, User: r.User().Name, Objects: len(all), Fingerprint: h.Fingerprint()}, nil
}

func (h *Handler) put(_ context.Context, r *Request) (any, error) {
	var p PutRequest
	if err := r.Decode(&p); err != nil {
		return nil, err
	}
	o := p.Object
	if o == nil {
		return nil, BadRequestf("put without an object")
	}
	if o.ID == "" {
		o.ID = store.NewID()
	}
	r.Touch(o.ID)
	s := r.Session
	var putGrant *store.Grant
	if s.ViaGrant() {
		// Worker-to-worker: the receiving end of a move.
		putGrant = s.grantFor(store.GrantPut, o.ID)
		if putGrant == nil {
			return nil, Deniedf("grant does not allow storing object %s", o.ID)
		}
		o.Provenance.Grant = putGrant.ID
		if o.Provenance.Source == "" {
			o.Provenance.Source = "move"
		}
	} else {
		if o.Provenance.Source == "" {
			o.Provenance.Source = "send"
		}
		// Only a grant's own puts are covered by it; only a job records
		// whose data a result derives from (a move carries the record
		// along).
		o.Provenance.Grant = ""
		o.DataOwners = nil
	}
	o.Owner = r.User().Name
	o.Created = time.Now().UnixNano()
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if check := h.kindCheck(o.Kind); check != nil {
		// Plans are refused on arrival if they hold an operation outside
		// the allow-list (plans.Register).
		if err := check(o.Blob, h.cfg.Limits); err != nil {
			return nil, err
		}
	}
	if o.Tensor != nil {
		r.Note("shape", o.Tensor.Shape())
	}
	if o.Provenance.Source == "load" {
		// A data owner's load (gomplab worker load to a running daemon):
		// the same tag rule as a load straight into the store.
		h.loadMu.Lock()
		err := store.PutLoad(h.cfg.Store, o, p.Replace)
		h.loadMu.Unlock()
		if err != nil {
			return nil, err
		}
		return &InfoReply{Info: o.Info()}, nil
	}
	if err := h.cfg.Store.Put(o); err != nil {
		return nil, err
	}
	if putGrant != nil {
		// A put grant stores each of its objects once.
		if err := h.consumePut(s, putGrant, o.ID); err != nil {
			return nil, err
		}
	}
	return &InfoReply{Info: o.Info()}, nil
}

// consumePut strikes id from a put grant's objects, in the session's copy
// and in the store; a grant with nothing left to allow is deleted.
func (h *Handler) consumePut(s *Session, g *store.Grant, id string) error {
	h.grantMu.Lock()
	defer h.grantMu.Unlock()
	g.Objects = slices.DeleteFunc(slices.Clone(g.Objects), func(x string) bool { return x == id })
	stored, err := h.cfg.Store.LoadGrant(g.TokenHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil // used up or expired meanwhile; the session's copy is updated
	}
	if err != nil {
		return err
	}
	stored.Objects = slices.DeleteFunc(stored.Objects, func(x string) bool { return x == id })
	if len(stored.Objects) == 0 {
		return h.cfg.Store.DeleteGrant(g.TokenHash)
	}
	return h.cfg.Store.SaveGrant(stored)
}

// Lookup loads the object id for r, refusing it when r comes through
// grants that do not allow action on it (GrantUse, GrantGet...).
func (h *Handler) Lookup(r *Request, id, action string) (*store.Object, error) {
	if err := store.ValidateID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	r.Touch(id)
	o, err := h.cfg.Store.Get(id)
	if err != nil {
		return nil, err
	}
	if r.Session.ViaGrant() && !r.Session.covers(action, o) {
		return nil, Deniedf("grant does not allow %s on object %s", action, id)
	}
	return o, nil
}

// canRead enforces privacy: may this user see o's value?
func canRead(u *User, o *store.Object) error {
	if !o.Private || u.Has(PermReadPrivate) || slices.Contains(o.AllowedUsers, u.Name) {
		return nil
	}
	what := "is private"
	if o.Provenance.Source == "op" || o.Provenance.Source == "copy" {
		what = "is computed from private data"
	}
	return Deniedf("object %s %s: its value is released only to allowed users, and user %q is not one (compute on it remotely, or use it in an MPC job)", o.ID, what, u.Name)
}

// PrivacyOf is the privacy of a result computed from objs (nil entries
// are scalars): as private as its most private input, so private if any
// is, and readable only by the users allowed on every private one.
func PrivacyOf(objs ...*store.Object) (bool, []string) {
	private, first := false, true
	var allowed []string
	for _, o := range objs {
		if o == nil || !o.Private {
			continue
		}
		if first {
			allowed = slices.Clone(o.AllowedUsers)
			first = false
		} else {
			allowed = slices.DeleteFunc(allowed, func(u string) bool { return !slices.Contains(o.AllowedUsers, u) })
		}
		private = true
	}
	return private, allowed
}

// canUsePointer enforces ownership of pointer objects: a pointer object
// acts, on the worker it points to, with the grants its owner was given,
// so only its owner (or an admin) may read through it, compute with it,
// copy it or move it; another user would act there as its owner.
func canUsePointer(s *Session, o *store.Object) error {
	if o.Kind != store.KindPointer {
		return nil
	}
	u := s.user
	if u.Has(PermAdmin) || o.Owner == u.Name {
		return nil
	}
	return Deniedf("object %s is a pointer of user %q to worker %s: it acts there with that user's grants, so only its owner may use, copy or move it", o.ID, o.Owner, o.Pointer.Worker)
}

// CanRemove enforces ownership: only o's owner or an admin may remove it
// (and a grant session only when its grants allow freeing or taking o).
func CanRemove(s *Session, o *store.Object) error {
	u := s.user
	if u.Has(PermAdmin) || o.Owner == u.Name {
		if s.ViaGrant() && !s.covers(store.GrantFree, o) && !s.covers(store.GrantGet, o) {
			return Deniedf("grant does not allow removing object %s", o.ID)
		}
		return nil
	}
	return Deniedf("object %s belongs to user %q; user %q may not remove it (get it with keep, or copy it)", o.ID, o.Owner, u.Name)
}

func (h *Handler) get(ctx context.Context, r *Request) (any, error) {
	var g GetRequest
	if err := r.Decode(&g); err != nil {
		return nil, err
	}
	if g.Reason != "" {
		r.Note("reason", g.Reason)
	}
	o, err := h.Lookup(r, g.ID, store.GrantGet)
	if err != nil {
		return nil, err
	}
	if !g.Keep {
		if err := CanRemove(r.Session, o); err != nil {
			return nil, err
		}
	}
	if o.Kind == store.KindPointer {
		// Resolve: the value comes from where the pointer points; the
		// worker there applies its own privacy rules to our grant.
		if err := canUsePointer(r.Session, o); err != nil {
			return nil, err
		}
		var rep GetReply
		err := h.forward(ctx, r, o.Pointer, MsgGet, &GetRequest{ID: o.Pointer.ID, Keep: g.Keep, Reason: g.Reason}, &rep)
		if err != nil {
			return nil, err
		}
		if !g.Keep {
			if err := h.cfg.Store.Delete(o.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		return &rep, nil
	}
	if err := canRead(r.User(), o); err != nil {
		return nil, err
	}
	if o.Private && r.Session.ViaGrant() {
		// A grant is held by another worker, whose other users could
		// use it: private values are released only to a user directly.
		return nil, Deniedf("object %s is private: its value is never released to another worker, even for a user allowed to read it (that user may get it directly)", o.ID)
	}
	if !g.Keep {
		// Take, not Delete: two concurrent gets must not both succeed.
		if o, err = h.cfg.Store.Take(o.ID); err != nil {
			return nil, err
		}
	}
	return &GetReply{Object: o}, nil
}

func (h *Handler) info(_ context.Context, r *Request) (any, error) {
	var q IDRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	o, err := h.Lookup(r, q.ID, store.GrantUse)
	if err != nil {
		return nil, err
	}
	return &InfoReply{Info: o.Info()}, nil
}

func (h *Handler) free(ctx context.Context, r *Request) (any, error) {
	var f FreeRequest
	if err := r.Decode(&f); err != nil {
		return nil, err
	}
	if len(f.IDs) > 10000 {
		return nil, BadRequestf("free of %d ids, at most 10000 at once", len(f.IDs))
	}
	var rep FreeReply
	for _, id := range f.IDs {
		o, err := h.Lookup(r, id, store.GrantFree)
		if errors.Is(err, store.ErrNotFound) {
			rep.Missing = append(rep.Missing, id)
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := CanRemove(r.Session, o); err != nil {
			return nil, err
		}
		if err := h.cfg.Store.Delete(id); errors.Is(err, store.ErrNotFound) {
			rep.Missing = append(rep.Missing, id)
			continue
		} else if err != nil {
			return nil, err
		}
		rep.Freed++
		if o.Kind == store.KindPointer && o.Pointer.Owns {
			// The pointer object owned its target: release it too,
			// best effort (the target may already be gone).
			var fr FreeReply
			if err := h.forward(ctx, r, o.Pointer, MsgFree, &FreeRequest{IDs: []string{o.Pointer.ID}}, &fr); err != nil {
				h.cfg.Log.Warn("cascading free failed", "pointer", o.ID, "target", o.Pointer.Worker+":"+o.Pointer.ID, "err", err)
			}
		}
	}
	return &rep, nil
}

func (h *Handler) search(_ context.Context, r *Request) (any, error) {
	var q SearchRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	for _, t := range q.Tags {
		if err := store.ValidateTag(t); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
	}
	r.Note("tags", q.Tags)
	var infos []store.Info
	var err error
	if len(q.Tags) > 0 {
		// A lookup by tag or id: only among the objects this user may use.
		infos, err = h.Find(r.User(), q.Tags...)
	} else {
		infos, err = h.cfg.Store.Search()
	}
	if err != nil {
		return nil, err
	}
	if r.Session.ViaGrant() {
		infos = slices.DeleteFunc(infos, func(in store.Info) bool {
			o := &store.Object{ID: in.ID, Provenance: in.Provenance}
			return !r.Session.covers(store.GrantUse, o)
		})
	}
	if infos == nil {
		infos = []store.Info{}
	}
	return &SearchReply{Objects: infos}, nil
}

func (h *Handler) clear(_ context.Context, r *Request) (any, error) {
	if r.Session.ViaGrant() {
		return nil, Deniedf("a grant cannot clear a worker")
	}
	owner := r.User().Name
	if r.User().Has(PermAdmin) {
		owner = ""
	}
	n, err := h.cfg.Store.Clear(owner)
	if err != nil {
		return nil, err
	}
	r.Note("deleted", n)
	return &ClearReply{Deleted: n}, nil
}

// MaxResult is the most elements one computed result (op, plan output,
// training batch) may hold on this worker.
func (h *Handler) MaxResult() int {
	if h.cfg.MaxResultElements > 0 {
		return h.cfg.MaxResultElements
	}
	if h.cfg.Limits.MaxElements > 0 {
		return h.cfg.Limits.MaxElements
	}
	return 1 << 27
}

func (h *Handler) op(ctx context.Context, r *Request) (any, error) {
	var q OpRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	spec, ok := LookupOp(q.Op)
	if !ok {
		return nil, BadRequestf("op %q is not allowed (allowed: %s)", q.Op, strings.Join(opNames(), ", "))
	}
	r.Note("op", q.Op)
	if len(q.Args) != spec.Arity {
		return nil, BadRequestf("op %s takes %d operands, got %d", q.Op, spec.Arity, len(q.Args))
	}
	if q.ResultID == "" {
		q.ResultID = store.NewID()
	} else if err := store.ValidateID(q.ResultID); err != nil {
		return nil, fmt.Errorf("%w: result id: %v", ErrBadRequest, err)
	}
	objs := make([]*store.Object, len(q.Args))
	var inputs []string
	nobj := 0
	for i, a := range q.Args {
		switch {
		case a.ID != "" && a.Scalar == nil:
			o, err := h.Lookup(r, a.ID, store.GrantUse)
			if err != nil {
				return nil, fmt.Errorf("op %s operand %d: %w", q.Op, i, err)
			}
			objs[i] = o
			inputs = append(inputs, o.ID)
			nobj++
		case a.ID == "" && a.Scalar != nil:
		default:
			return nil, BadRequestf("op %s operand %d: give exactly one of an object id or a scalar", q.Op, i)
		}
	}
	if nobj == 0 {
		return nil, BadRequestf("op %s: no stored operand (compute on scalars locally)", q.Op)
	}
	// Where are the operands? All here, or all behind pointers to one
	// other worker; mixing is refused, as in PySyft.
	var target *store.PointerTarget
	local := 0
	for i, o := range objs {
		if o == nil {
			continue
		}
		switch o.Kind {
		case store.KindTensor:
			local++
		case store.KindPointer:
			if err := canUsePointer(r.Session, o); err != nil {
				return nil, fmt.Errorf("op %s operand %d: %w", q.Op, i, err)
			}
			if target == nil {
				target = o.Pointer
			} else if target.Worker != o.Pointer.Worker || target.Addr != o.Pointer.Addr {
				return nil, BadRequestf("op %s: operands point to different workers (%s and %s); move them together first", q.Op, target.Worker, o.Pointer.Worker)
			}
		default:
			return nil, BadRequestf("op %s operand %d: object %s is a %s, not a tensor", q.Op, i, o.ID, o.Kind)
		}
	}
	if local > 0 && target != nil {
		return nil, BadRequestf("op %s: some operands are here and some on worker %s; move them together first", q.Op, target.Worker)
	}
	if target != nil {
		return h.forwardOp(ctx, r, q, objs, inputs)
	}

	args := make([]*tensor.Tensor, len(q.Args))
	for i, a := range q.Args {
		if objs[i] == nil {
			args[i] = tensor.Scalar(*a.Scalar)
			continue
		}
		args[i] = objs[i].Tensor
	}
	private, allowed := PrivacyOf(objs...)
	shapes := make([][]int, len(args))
	for i, a := range args {
		shapes[i] = a.Shape()
	}
	est, release, err := h.admitOp(ctx, q.Op, shapes, q.Params)
	if err != nil {
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrDeadline) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	defer release()
	r.Note("estimate_bytes", est.Total())
	out, err := runOp(spec, args, q.Params, h.MaxResult())
	if err != nil {
		if strings.Contains(err.Error(), "exceeds the worker's limit") {
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	res := OpResult(r, q.ResultID, q.Op, inputs)
	res.Kind, res.Tensor, res.Private, res.AllowedUsers = store.KindTensor, out, private, allowed
	return h.StoreResult(r, res)
}

// OpResult is the object an op (or a plan, op "plan:NAME") computes for
// r's user: its value and privacy are the caller's to set.
func OpResult(r *Request, id, op string, inputs []string) *store.Object {
	return &store.Object{ID: id, Owner: r.User().Name,
		Provenance: store.Provenance{Source: "op", Op: op, Inputs: inputs, Grant: r.Session.creatingGrant()},
		Created:    time.Now().UnixNano()}
}

// StoreResult stores an object a request made and replies with its
// metadata.
func (h *Handler) StoreResult(r *Request, o *store.Object) (any, error) {
	r.Touch(o.ID)
	if err := h.cfg.Store.Put(o); err != nil {
		return nil, err
	}
	return &InfoReply{Info: o.Info()}, nil
}

func opNames() []string {
	var names []string
	for _, s := range Ops() {
		names = append(names, s.Name)
	}
	return names
}

// forwardOp runs an op whose operands are pointers to one other worker
// there, and stores here a pointer to the result.
func (h *Handler) forwardOp(ctx context.Context, r *Request, q OpRequest, objs []*store.Object, inputs []string) (any, error) {
	var target *store.PointerTarget
	remote := q
	remote.ResultID = store.NewID()
	remote.Args = slices.Clone(q.Args)
	var grants []string
	for i, o := range objs {
		if o == nil {
			continue
		}
		remote.Args[i] = Operand{ID: o.Pointer.ID}
		if target == nil {
			c := *o.Pointer
			target = &c
		}
		for _, g := range o.Pointer.Grants {
			if !slices.Contains(grants, g) {
				grants = append(grants, g)
			}
		}
	}
	target.Grants = grants
	var rep InfoReply
	if err := h.forward(ctx, r, target, MsgOp, &remote, &rep); err != nil {
		return nil, err
	}
	res := OpResult(r, q.ResultID, q.Op, inputs)
	res.Kind, res.Private = store.KindPointer, rep.Info.Private
	res.Pointer = &store.PointerTarget{Worker: target.Worker, Addr: target.Addr, Fingerprint: target.Fingerprint,
		Insecure: target.Insecure, Grants: grants, ID: rep.Info.ID, Owns: true, Shape: rep.Info.Shape}
	return h.StoreResult(r, res)
}

func (h *Handler) copy(ctx context.Context, r *Request) (any, error) {
	var q CopyRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	o, err := h.Lookup(r, q.ID, store.GrantUse)
	if err != nil {
		return nil, err
	}
	if q.NewID == "" {
		q.NewID = store.NewID()
	} else if err := store.ValidateID(q.NewID); err != nil {
		return nil, fmt.Errorf("%w: new id: %v", ErrBadRequest, err)
	}
	if err := canUsePointer(r.Session, o); err != nil {
		return nil, err
	}
	c := *o
	c.ID = q.NewID
	c.Tags = slices.Clone(o.Tags)
	c.AllowedUsers = slices.Clone(o.AllowedUsers)
	c.Owner = r.User().Name
	c.Provenance = store.Provenance{Source: "copy", Inputs: []string{o.ID}, Grant: r.Session.creatingGrant()}
	c.Created = time.Now().UnixNano()
	if o.Kind == store.KindPointer {
		var rep InfoReply
		if err := h.forward(ctx, r, o.Pointer, MsgCopy, &CopyRequest{ID: o.Pointer.ID}, &rep); err != nil {
			return nil, err
		}
		p := *o.Pointer
		p.ID, p.Owns = rep.Info.ID, true
		c.Pointer = &p
	}
	// Tensors are immutable once stored, so the copy shares the data.
	return h.StoreResult(r, &c)
}

func (h *Handler) grant(_ context.Context, r *Request) (any, error) {
	var q GrantRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	if r.Session.ViaGrant() {
		return nil, Deniedf("a grant cannot issue grants")
	}
	if len(q.Actions) == 0 {
		return nil, BadRequestf("grant without actions")
	}
	for _, a := range q.Actions {
		if !slices.Contains([]string{store.GrantPut, store.GrantUse, store.GrantGet, store.GrantFree}, a) {
			return nil, BadRequestf("unknown grant action %q (known: put, use, get, free)", a)
		}
	}
	if slices.Contains(q.Actions, store.GrantPut) && len(q.Actions) > 1 {
		return nil, BadRequestf("a put grant allows put only (ask for a second grant)")
	}
	if len(q.Objects) == 0 || len(q.Objects) > 1000 {
		return nil, BadRequestf("a grant names 1 to 1000 objects, not %d", len(q.Objects))
	}
	for _, id := range q.Objects {
		if err := store.ValidateID(id); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
	}
	if err := ValidateName(q.Audience); err != nil {
		return nil, BadRequestf("a grant names the worker it is for (audience): %v", err)
	}
	if fp := q.AudienceFingerprint; fp != "" && !validFingerprint(fp) {
		return nil, BadRequestf("audience fingerprint %.80q: want sha256: and 64 hex digits", fp)
	}
	if q.Uses < 0 || q.TTLMillis < 0 {
		return nil, BadRequestf("negative uses or ttl")
	}
	for _, id := range q.Objects {
		if slices.Contains(q.Actions, store.GrantPut) {
			continue // the object does not exist yet
		}
		if _, err := h.Lookup(r, id, store.GrantUse); err != nil {
			return nil, err
		}
	}
	token := NewToken()
	g := &store.Grant{ID: "g-" + store.NewID(), TokenHash: HashToken(token), User: r.User().Name,
		Actions: slices.Clone(q.Actions), Objects: slices.Clone(q.Objects), Uses: q.Uses,
		Audience: q.Audience, AudienceFingerprint: q.AudienceFingerprint}
	if q.TTLMillis > 0 {
		g.Expires = time.Now().Add(time.Duration(q.TTLMillis) * time.Millisecond).UnixNano()
	}
	if err := h.cfg.Store.SaveGrant(g); err != nil {
		return nil, err
	}
	r.Note("grant", g.ID, "actions", g.Actions, "audience", g.Audience)
	return &GrantReply{ID: g.ID, Token: token}, nil
}

// validFingerprint checks the form "sha256:" and 64 lowercase hex digits.
func validFingerprint(fp string) bool {
	h, ok := strings.CutPrefix(fp, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (h *Handler) move(ctx context.Context, r *Request) (any, error) {
	var q MoveRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	o, err := h.Lookup(r, q.ID, store.GrantGet)
	if err != nil {
		return nil, err
	}
	if err := CanRemove(r.Session, o); err != nil {
		return nil, err
	}
	// A pointer object's grants were given to this worker alone: moved,
	// they would not work anywhere else.
	if o.Kind == store.KindPointer {
		return nil, BadRequestf("object %s is a pointer to %s:%s, whose grants were given to worker %s alone: it cannot move; "+
			"send a new pointer from where the data is (Pointer.Send)", o.ID, o.Pointer.Worker, o.Pointer.ID, h.cfg.WorkerID)
	}
	// Moving releases the value to another worker, where other people
	// may administer it: the same rule as taking it.
	if err := canRead(r.User(), o); err != nil {
		return nil, err
	}
	if q.Dest.Worker == h.cfg.WorkerID {
		return &InfoReply{Info: o.Info()}, nil
	}
	if len(q.Dest.Grants) == 0 || q.Dest.Addr == "" {
		return nil, BadRequestf("move destination needs an address and a put grant")
	}
	r.Note("dest", q.Dest.Worker)
	moved := *o
	moved.Provenance = store.Provenance{Source: "move", From: h.cfg.WorkerID, Inputs: []string{o.ID}}
	var rep InfoReply
	// A fresh session: the grant is one-time, so it must not be cached.
	c, err := h.Dial(ctx, &q.Dest, r, false)
	if err != nil {
		return nil, err
	}
	err = c.Call(ctx, MsgPut, &PutRequest{Object: &moved}, &rep)
	c.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: move %s to %s: %v", ErrPeer, o.ID, q.Dest.Worker, err)
	}
	// The destination has the object durably; now drop ours. A crash in
	// between leaves it on both workers, never on neither.
	if err := h.cfg.Store.Delete(o.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return &rep, nil
}

// forward sends a request to the worker a pointer object targets, with
// the grants it carries, and decodes the reply into out.
func (h *Handler) forward(ctx context.Context, r *Request, p *store.PointerTarget, typ string, body, out any) error {
	r.Note("via", p.Worker)
	c, err := h.Dial(ctx, p, r, true)
	if err != nil {
		return err
	}
	if err := c.Call(ctx, typ, body, out); err != nil {
		var we *Error
		if errors.As(err, &we) {
			// The peer answered: pass its verdict on (not found,
			// permission...) with where it came from.
			return fmt.Errorf("via pointer to %s:%s: %w", p.Worker, p.ID, err)
		}
		h.dropPeer(p, onBehalf(r))
		return fmt.Errorf("%w: %s at %s: %v", ErrPeer, p.Worker, p.Addr, err)
	}
	return nil
}

func peerKey(p *store.PointerTarget, forUser string) string {
	return p.Addr + "|" + p.Fingerprint + "|" + strings.Join(p.Grants, ",") + "|" + forUser
}

// onBehalf names the real user a request to a peer is made for
// ("worker/user"): r's user here, or, when r itself came from another
// worker with grants, the user that worker named.
func onBehalf(r *Request) string {
	if r.Session.ViaGrant() && r.Session.forUser != "" {
		return r.Session.forUser
	}
	return r.Handler.cfg.WorkerID + "/" + r.User().Name
}

// Dial returns a session to a peer presenting p's grants on behalf of r's
// user, cached by address, grants and user when cache is set.
func (h *Handler) Dial(ctx context.Context, p *store.PointerTarget, r *Request, cache bool) (*Client, error) {
	if h.cfg.Dial == nil {
		return nil, fmt.Errorf("%w: this worker cannot reach other workers", ErrPeer)
	}
	forUser := onBehalf(r)
	key := peerKey(p, forUser)
	if cache {
		h.peerMu.Lock()
		c := h.peers[key]
		h.peerMu.Unlock()
		if c != nil {
			return c, nil
		}
	}
	c, err := h.cfg.Dial(ctx, *p, Credentials{Grants: p.Grants, For: forUser})
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s at %s: %v", ErrPeer, p.Worker, p.Addr, err)
	}
	if c.Worker() != p.Worker {
		c.Close()
		return nil, fmt.Errorf("%w: %s answered as worker %q, expected %q", ErrPeer, p.Addr, c.Worker(), p.Worker)
	}
	if cache {
		h.peerMu.Lock()
		if old := h.peers[key]; old != nil {
			h.peerMu.Unlock()
			c.Close()
			return old, nil
		}
		h.peers[key] = c
		h.peerMu.Unlock()
	}
	return c, nil
}

func (h *Handler) dropPeer(p *store.PointerTarget, forUser string) {
	key := peerKey(p, forUser)
	h.peerMu.Lock()
	c := h.peers[key]
	delete(h.peers, key)
	h.peerMu.Unlock()
	if c != nil {
		c.Close()
	}
}

// useGrants authenticates a grant session: every token must name a live
// grant of the same user, given to the worker at the other end (peer);
// each use is counted.
func (h *Handler) useGrants(tokens string, peer Peer) (*User, []*store.Grant, error) {
	h.grantMu.Lock()
	defer h.grantMu.Unlock()
	var user string
	var grants []*store.Grant
	list := strings.Split(tokens, ",")
	if len(list) > 64 {
		return nil, nil, fmt.Errorf("%w: %d grants, at most 64", ErrUnauthenticated, len(list))
	}
	now := time.Now().UnixNano()
	for _, t := range list {
		g, err := h.cfg.Store.LoadGrant(HashToken(t))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: unknown or used-up grant", ErrUnauthenticated)
		}
		if g.Expires != 0 && now > g.Expires {
			_ = h.cfg.Store.DeleteGrant(g.TokenHash)
			return nil, nil, fmt.Errorf("%w: grant %s expired", ErrUnauthenticated, g.ID)
		}
		if err := audienceCheck(g, peer); err != nil {
			return nil, nil, err
		}
		if user == "" {
			user = g.User
		} else if g.User != user {
			return nil, nil, fmt.Errorf("%w: grants of different users in one session", ErrUnauthenticated)
		}
		grants = append(grants, g)
	}
	u, ok := h.cfg.Users.lookup(user)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the user who issued the grant no longer exists", ErrUnauthenticated)
	}
	for _, g := range grants {
		switch {
		case g.Uses == 1:
			if err := h.cfg.Store.DeleteGrant(g.TokenHash); err != nil {
				return nil, nil, err
			}
		case g.Uses > 1:
			g.Uses--
			if err := h.cfg.Store.SaveGrant(g); err != nil {
				return nil, nil, err
			}
		}
	}
	return u, grants, nil
}

// audienceCheck refuses a grant presented by another worker than the one
// it was given to: the peer must hold the audience's certificate (or, on
// an in-process link to a virtual worker, be that worker). A plaintext
// loopback link proves nothing, so there the check cannot be made.
func audienceCheck(g *store.Grant, peer Peer) error {
	switch {
	case g.Audience == "":
		return fmt.Errorf("%w: grant %s names no worker it was given to (issued by an older version); ask for it again", ErrUnauthenticated, g.ID)
	case peer.Unverified:
		return nil
	case g.AudienceFingerprint != "" && peer.Fingerprint == g.AudienceFingerprint:
		return nil
	case g.AudienceFingerprint == "" && peer.Fingerprint == "" && peer.Worker == g.Audience:
		return nil
	}
	return fmt.Errorf("%w: grant %s was given to worker %s; this session has not proven it is that worker", ErrUnauthenticated, g.ID, g.Audience)
}

// grantFor returns a session grant allowing action on object id.
func (s *Session) grantFor(action, id string) *store.Grant {
	for _, g := range s.grants {
		if g.Allows(action) && (len(g.Objects) == 0 || slices.Contains(g.Objects, id)) {
			return g
		}
	}
	return nil
}

// covers reports whether some session grant allows action on o.
func (s *Session) covers(action string, o *store.Object) bool {
	for _, g := range s.grants {
		if g.Allows(action) && g.Covers(o) {
			return true
		}
	}
	return false
}

// creatingGrant is recorded in the provenance of objects a grant session
// creates, so the same grants can later use and free them.
func (s *Session) creatingGrant() string {
	if len(s.grants) > 0 {
		return s.grants[0].ID
	}
	return ""
}
