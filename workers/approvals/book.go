package approvals

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
	"github.com/vmihailenco/msgpack/v5"
)

// Message types of code requests.
const (
	// MsgSubmit submits a request (SubmitRequest): the worker checks it
	// and, when it needs the owners' approval, keeps it as pending. The
	// reply (SubmitReply) is the worker's Verdict. Submitting the same
	// request again changes nothing; it is how the orchestrator asks
	// every worker before a job starts.
	MsgSubmit = "request.submit"
	// MsgList lists requests (ListRequest -> ListReply): every request
	// for an owner (admin), one's own for anyone else.
	MsgList = "request.list"
	// MsgShow shows one request (ShowRequest -> ShowReply) with its
	// review text: to an owner, or to its requester.
	MsgShow = "request.show"
	// MsgApprove approves a request with limits (ApproveRequest ->
	// DecideReply). Owners only.
	MsgApprove = "request.approve"
	// MsgDeny denies a request with a reason (DenyRequest ->
	// DecideReply). Owners only.
	MsgDeny = "request.deny"
)

// SubmitRequest submits a request with its public arguments.
type SubmitRequest struct {
	Request Request `msgpack:"request"`
	Args    []byte  `msgpack:"args,omitempty"`
}

// SubmitReply is the worker's verdict.
type SubmitReply struct {
	Verdict Verdict `msgpack:"verdict"`
}

// ListRequest lists requests, optionally of one status only.
type ListRequest struct {
	Status Status `msgpack:"status,omitempty"`
}

// ListReply lists requests, newest first.
type ListReply struct {
	Requests []Summary `msgpack:"requests"`
}

// ShowRequest names a request; Requester is needed only when several
// requesters submitted the same request.
type ShowRequest struct {
	ID        string `msgpack:"id"`
	Requester string `msgpack:"requester,omitempty"`
}

// ShowReply is one request with its status and review text.
type ShowReply struct {
	Record Record `msgpack:"record"`
	Status Status `msgpack:"status"`
	// Review is the text an owner reads before deciding (Review).
	Review string `msgpack:"review"`
}

// ApproveRequest approves a request, within limits.
type ApproveRequest struct {
	ID        string `msgpack:"id"`
	Requester string `msgpack:"requester,omitempty"`
	Limits    Limits `msgpack:"limits"`
}

// DenyRequest denies a request.
type DenyRequest struct {
	ID        string `msgpack:"id"`
	Requester string `msgpack:"requester,omitempty"`
	Reason    string `msgpack:"reason,omitempty"`
}

// DecideReply is the request after the decision.
type DecideReply struct {
	Summary Summary `msgpack:"summary"`
}

// Options configure a Book.
type Options struct {
	// Describe renders the code of a request kind for reviews, for kinds
	// whose encoding this package does not know (KindTrain: workers/fl
	// supplies it).
	Describe map[Kind]func(code []byte) (string, error)
	// Now is the clock (time.Now when nil), for tests of expiry.
	Now func() time.Time
}

// Book is a worker's code requests and its owners' decisions, kept in
// the worker's store (store.Records), and the check every capability
// applies (Check).
type Book struct {
	h           *workers.Handler
	recs        store.Records
	fingerprint string
	opts        Options
}

// Buckets of the store's records.
const (
	bucketRequests = "requests"       // ID 0 requester -> Record
	bucketRanges   = "request-ranges" // requester 0 base ID 0 ID -> empty
)

// New returns the book of h's worker, kept in h's store, which must
// implement store.Records (MemStore and BoltStore do). Register adds its
// messages.
func New(h *workers.Handler, opts Options) (*Book, error) {
	recs, ok := h.Store().(store.Records)
	if !ok {
		return nil, fmt.Errorf("approvals: worker %s's store (%T) cannot keep records", h.WorkerID(), h.Store())
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Book{h: h, recs: recs, fingerprint: h.Fingerprint(), opts: opts}, nil
}

// Register makes the book of h's worker (New) and adds the request.*
// messages to h.
func Register(h *workers.Handler, opts Options) (*Book, error) {
	b, err := New(h, opts)
	if err != nil {
		return nil, err
	}
	h.Handle(MsgSubmit, b.submit)
	h.Handle(MsgList, b.list)
	h.Handle(MsgShow, b.show)
	h.Handle(MsgApprove, b.approve)
	h.Handle(MsgDeny, b.deny)
	return b, nil
}

func (b *Book) now() time.Time { return b.opts.Now() }

func recordKey(id, user string) string { return id + "\x00" + user }

// get returns the record of id for user, or store.ErrNotFound.
func (b *Book) get(id, user string) (*Record, error) {
	v, err := b.recs.GetRecord(bucketRequests, recordKey(id, user))
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := msgpack.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("approvals: stored request %s: %w", id, err)
	}
	return &rec, nil
}

// update applies fn to the record of id for user in one atomic change;
// fn reports whether it changed the record. A missing record fails with
// store.ErrNotFound.
func (b *Book) update(id, user string, fn func(*Record) (bool, error)) error {
	return b.recs.UpdateRecord(bucketRequests, recordKey(id, user), func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, fmt.Errorf("request %s of user %s: %w", id, user, store.ErrNotFound)
		}
		var rec Record
		if err := msgpack.Unmarshal(old, &rec); err != nil {
			return nil, fmt.Errorf("approvals: stored request %s: %w", id, err)
		}
		changed, err := fn(&rec)
		if err != nil || !changed {
			if err == nil {
				err = errUnchanged
			}
			return nil, err
		}
		return msgpack.Marshal(&rec)
	})
}

// errUnchanged ends an update that changes nothing.
var errUnchanged = errors.New("unchanged")

func (b *Book) updateChanged(id, user string, fn func(*Record) (bool, error)) error {
	err := b.update(id, user, fn)
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// statusOf returns the status of id's record for user, if there is one.
func (b *Book) statusOf(id, user string, now time.Time) (Status, bool) {
	rec, err := b.get(id, user)
	if err != nil {
		return "", false
	}
	return rec.Status(now), true
}

func (b *Book) decisionOf(id, user string) *Decision {
	rec, err := b.get(id, user)
	if err != nil {
		return nil
	}
	return rec.Decision
}

// rangedFor lists the ids of user's approvals with argument ranges for
// requests with base id base.
func (b *Book) rangedFor(user, base string) ([]string, error) {
	var ids []string
	prefix := user + "\x00" + base + "\x00"
	err := b.recs.ScanRecords(bucketRanges, prefix, func(k string, _ []byte) error {
		ids = append(ids, strings.TrimPrefix(k, prefix))
		return nil
	})
	return ids, err
}

// records returns the records matching keep, newest first.
func (b *Book) records(keep func(*Record) bool) ([]*Record, error) {
	var out []*Record
	err := b.recs.ScanRecords(bucketRequests, "", func(_ string, v []byte) error {
		var rec Record
		if err := msgpack.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("approvals: a stored request: %w", err)
		}
		if keep(&rec) {
			out = append(out, &rec)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Submitted > out[j].Submitted })
	return out, err
}

// find returns the one record of id (of requester, when named).
func (b *Book) find(id, requester string) (*Record, error) {
	if err := ValidID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", workers.ErrBadRequest, err)
	}
	if requester != "" {
		rec, err := b.get(id, requester)
		if err != nil {
			return nil, fmt.Errorf("request %s of user %s on worker %s: %w", id, requester, b.h.WorkerID(), store.ErrNotFound)
		}
		return rec, nil
	}
	var found []*Record
	err := b.recs.ScanRecords(bucketRequests, id+"\x00", func(_ string, v []byte) error {
		var rec Record
		if err := msgpack.Unmarshal(v, &rec); err != nil {
			return err
		}
		found = append(found, &rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("request %s on worker %s: %w", id, b.h.WorkerID(), store.ErrNotFound)
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, r := range found {
		names[i] = r.Requester
	}
	return nil, workers.BadRequestf("request %s was submitted by %d users (%s): name one (--requester)", id, len(found), strings.Join(names, ", "))
}

// Submit checks q without counting a run and, when the request needs the
// owners' approval and this requester never submitted it, keeps it as
// pending. It is request.submit's handler's work, for callers in the
// worker (federated rounds).
func (b *Book) Submit(q Query) (*Verdict, error) {
	q.Run = false
	v, err := b.Check(q)
	if err != nil || v.Status != StatusPending {
		return v, err
	}
	if _, err := b.get(v.ID, q.User.Name); err == nil {
		return v, nil
	}
	pending := 0
	if _, err := b.records(func(r *Record) bool {
		if r.Requester == q.User.Name && r.Decision == nil {
			pending++
		}
		return false
	}); err != nil {
		return nil, err
	}
	if pending >= MaxPendingPerUser {
		return nil, fmt.Errorf("%w: user %s already has %d requests awaiting a decision on worker %s; wait for the owners, or ask them to deny old ones",
			workers.ErrUnavailable, q.User.Name, pending, b.h.WorkerID())
	}
	rec := &Record{ID: v.ID, Request: *q.Request.Canonical(), Args: q.Args, Requester: q.User.Name,
		Submitted: b.now().UnixNano(), Here: v.Objects}
	enc, err := msgpack.Marshal(rec)
	if err != nil {
		return nil, err
	}
	err = b.recs.UpdateRecord(bucketRequests, recordKey(v.ID, q.User.Name), func(old []byte) ([]byte, error) {
		if old != nil {
			return old, nil // submitted meanwhile
		}
		return enc, nil
	})
	return v, err
}

func (b *Book) submit(_ context.Context, r *workers.Request) (any, error) {
	if r.Session.ViaGrant() {
		return nil, workers.Deniedf("grant sessions may not submit requests")
	}
	var q SubmitRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	v, err := b.Submit(Query{Request: &q.Request, Args: q.Args, User: r.User()})
	if err != nil {
		return nil, err
	}
	r.Note("request", v.ID, "status", string(v.Status))
	return &SubmitReply{Verdict: *v}, nil
}

func (b *Book) list(_ context.Context, r *workers.Request) (any, error) {
	if r.Session.ViaGrant() {
		return nil, workers.Deniedf("grant sessions may not list requests")
	}
	var q ListRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	u, now := r.User(), b.now()
	admin := u.Has(workers.PermAdmin)
	recs, err := b.records(func(rec *Record) bool {
		return (admin || rec.Requester == u.Name) && (q.Status == "" || rec.Status(now) == q.Status)
	})
	if err != nil {
		return nil, err
	}
	rep := &ListReply{Requests: []Summary{}}
	for _, rec := range recs {
		rep.Requests = append(rep.Requests, rec.Summarize(now))
	}
	return rep, nil
}

func (b *Book) show(_ context.Context, r *workers.Request) (any, error) {
	if r.Session.ViaGrant() {
		return nil, workers.Deniedf("grant sessions may not show requests")
	}
	var q ShowRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	u := r.User()
	if !u.Has(workers.PermAdmin) {
		q.Requester = u.Name // one's own requests only
	}
	rec, err := b.find(q.ID, q.Requester)
	if err != nil {
		return nil, err
	}
	r.Note("request", rec.ID)
	return &ShowReply{Record: *rec, Status: rec.Status(b.now()), Review: b.Review(rec)}, nil
}

func (b *Book) approve(_ context.Context, r *workers.Request) (any, error) {
	var q ApproveRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	return b.decideRequest(r, q.ID, q.Requester, func(rec *Record) error {
		if err := q.Limits.validate(rec); err != nil {
			return err
		}
		rec.Decision = &Decision{Approved: true, By: r.User().Name, At: b.now().UnixNano()}
		rec.Limits, rec.RunsUsed = q.Limits, 0
		return nil
	})
}

func (b *Book) deny(_ context.Context, r *workers.Request) (any, error) {
	var q DenyRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	if err := printable("reason", q.Reason, 1024); err != nil {
		return nil, fmt.Errorf("%w: %v", workers.ErrBadRequest, err)
	}
	return b.decideRequest(r, q.ID, q.Requester, func(rec *Record) error {
		rec.Decision = &Decision{Approved: false, By: r.User().Name, At: b.now().UnixNano(), Reason: q.Reason}
		return nil
	})
}

// decideRequest records an owner's decision on a request (set changes
// the record) and keeps the index of approvals with argument ranges.
func (b *Book) decideRequest(r *workers.Request, id, requester string, set func(*Record) error) (any, error) {
	u := r.User()
	if r.Session.ViaGrant() || !u.Has(workers.PermAdmin) {
		return nil, workers.Deniedf("only the worker's owners (admins) decide on requests; user %q is not one", u.Name)
	}
	rec, err := b.find(id, requester)
	if err != nil {
		return nil, err
	}
	var out Record
	err = b.update(rec.ID, rec.Requester, func(x *Record) (bool, error) {
		if err := set(x); err != nil {
			return false, err
		}
		out = *x
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	rangeKey := rec.Requester + "\x00" + out.Request.BaseID() + "\x00" + out.ID
	ranged := out.Decision.Approved && len(out.Limits.ArgRanges) > 0
	if err := b.recs.UpdateRecord(bucketRanges, rangeKey, func([]byte) ([]byte, error) {
		if ranged {
			return []byte{}, nil
		}
		return nil, nil
	}); err != nil {
		return nil, err
	}
	verb := "denied"
	if out.Decision.Approved {
		verb = "approved"
	}
	r.Note("request", out.ID, "requester", out.Requester, "decision", verb)
	b.h.AccessLog().Info("request "+verb, "request", out.ID, "requester", out.Requester, "by", u.Name,
		"runs", out.Limits.Runs, "expires", out.Limits.Expires, "arg_ranges", len(out.Limits.ArgRanges))
	return &DecideReply{Summary: out.Summarize(b.now())}, nil
}

// validate checks limits against the record they would apply to.
func (l Limits) validate(rec *Record) error {
	if l.Runs < 0 {
		return workers.BadRequestf("runs %d: want 0 (no limit) or more", l.Runs)
	}
	if l.Expires < 0 {
		return workers.BadRequestf("expiry before 1970")
	}
	if len(l.ArgRanges) == 0 {
		return nil
	}
	args, err := decodeArgs(rec.Args)
	if err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, r := range l.ArgRanges {
		switch {
		case r.Index < 0 || r.Index >= len(args):
			return workers.BadRequestf("argument range %s: request %s takes %d arguments", r, rec.ID, len(args))
		case seen[r.Index]:
			return workers.BadRequestf("argument %d has two ranges", r.Index)
		case !(r.Lo <= r.Hi):
			return workers.BadRequestf("argument range %s is empty", r)
		}
		if _, ok := number(args[r.Index]); !ok {
			return workers.BadRequestf("argument %d of request %s is a %T, not a number: it cannot take a range", r.Index, rec.ID, args[r.Index])
		}
		seen[r.Index] = true
	}
	return nil
}
