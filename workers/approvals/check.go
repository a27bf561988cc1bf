package approvals

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// Query asks whether a user may run a request on this worker.
type Query struct {
	Request *Request
	// Args are the actual public arguments (serde encoding); they must
	// hash to Request.ArgsHash.
	Args []byte
	// User is the requester, as this worker authenticated them.
	User *workers.User
	// Run counts a run against the approval's limits (job.start, a plan
	// run, a training round). Without it the check only looks (the
	// orchestrator's validate phase).
	Run bool
}

// Verdict is a worker's answer to a Query: whether the request may run
// here, and if it may, under which terms.
type Verdict struct {
	ID     string `msgpack:"id"`
	Worker string `msgpack:"worker"`
	// Rank is this worker's rank in the request, or -1 when it is the
	// dealer.
	Rank   int    `msgpack:"rank"`
	Status Status `msgpack:"status"`
	// Approved names the record the request runs under (the request
	// itself, or an approval whose argument ranges cover its arguments).
	Approved string `msgpack:"approved,omitempty"`
	// Objects are the data loaded here.
	Objects []Object `msgpack:"objects,omitempty"`
	// Restricted: some data loaded here is data the requester may not
	// read, so the job runs under the approval's reveal policy.
	Restricted bool `msgpack:"restricted,omitempty"`
	// Reason says, when the request may not run, why, naming the objects
	// and their owners; Action says what to do.
	Reason string `msgpack:"reason,omitempty"`
	Action string `msgpack:"action,omitempty"`
	// RunsLeft is the number of runs the approval has left (-1: no
	// limit); Expires its end (Unix ns, 0: never).
	RunsLeft int   `msgpack:"runs_left,omitempty"`
	Expires  int64 `msgpack:"expires,omitempty"`
	// RunsUsed counts the runs started under the approval, this one
	// included when the check counted it (a federated training bounds
	// its rounds by it).
	RunsUsed int `msgpack:"runs_used,omitempty"`
}

// OK reports whether the request may run here.
func (v *Verdict) OK() bool { return v.Status == StatusAllowed || v.Status == StatusApproved }

// Err returns nil when the request may run here, else a *RefusalError.
func (v *Verdict) Err() error {
	if v.OK() {
		return nil
	}
	return &RefusalError{Verdict: *v}
}

// Policy is the reveal policy of this worker's party: the request's
// recipients, named by its id.
func (v *Verdict) Policy(r *Request) mpc.RevealPolicy {
	return mpc.RevealPolicy{Request: v.ID, Recipients: slices.Clone(r.Recipients)}
}

// RefusalError is a request that may not run on a worker. Its text names
// the worker, the request, the objects and their owners, and what to do;
// it wraps workers.ErrPermission.
type RefusalError struct{ Verdict Verdict }

// Error says what is refused and what to do.
func (e *RefusalError) Error() string {
	v := &e.Verdict
	s := fmt.Sprintf("worker %s: request %s is %s: %s", v.Worker, v.ID, v.Status, v.Reason)
	if v.Action != "" {
		s += "; " + v.Action
	}
	return s
}

// Unwrap returns workers.ErrPermission.
func (e *RefusalError) Unwrap() error { return workers.ErrPermission }

// ApproveCommand is what an owner runs to approve request id on a
// worker: the command line (DIR standing for the worker's data directory)
// and the Go call on an owner's session.
func ApproveCommand(id string) string {
	return fmt.Sprintf("gomplab worker requests approve %s --data DIR (or, on an owner's session, syft.Approve(w, %q, requester))", id, id)
}

// MaxPendingPerUser bounds the requests awaiting a decision that one
// requester may have on a worker.
const MaxPendingPerUser = 256

// Check answers q: it validates the request against this worker (its
// place among the parties, its fingerprint, the arguments), resolves the
// data it loads here in the requester's namespace, and applies the rule:
// data the requester may read needs nothing; otherwise the worker's
// owners must have approved this exact request (or one whose argument
// ranges cover these arguments), and it must be neither expired nor out
// of runs. With q.Run a run is counted, atomically with the check. A
// request that cannot be understood fails with an error wrapping
// workers.ErrBadRequest; one that may not run returns a Verdict saying
// why (its Err is a *RefusalError).
func (b *Book) Check(q Query) (*Verdict, error) {
	r := q.Request
	if r == nil || q.User == nil {
		return nil, workers.BadRequestf("a check needs a request and a user")
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%w: request: %v", workers.ErrBadRequest, err)
	}
	id := r.ID()
	v := &Verdict{ID: id, Worker: b.h.WorkerID(), Rank: r.Rank(b.h.WorkerID())}
	if err := b.checkRole(r, v); err != nil {
		return nil, err
	}
	if got := ArgsDigest(q.Args); got != r.ArgsHash {
		return nil, workers.BadRequestf("request %s binds arguments %s…, but the job carries arguments %s…", id, r.ArgsHash[:12], got[:12])
	}
	if v.Rank < 0 {
		// The dealer: it loads nothing and sees no shares of data.
		v.Status = StatusAllowed
		return v, nil
	}
	objs, err := b.resolve(r, v.Rank, q.User)
	if err != nil {
		return nil, err
	}
	v.Objects = objs
	var restricted []Object
	for _, o := range objs {
		if o.Restricted {
			restricted = append(restricted, o)
		}
	}
	if len(restricted) == 0 {
		v.Status = StatusAllowed
		return v, nil
	}
	v.Restricted = true
	err = b.decide(q, v, restricted)
	return v, err
}

// checkRole checks this worker's place in r: a party or the dealer, under
// its own fingerprint.
func (b *Book) checkRole(r *Request, v *Verdict) error {
	me, fp := b.h.WorkerID(), b.fingerprint
	var listed *Party
	if v.Rank >= 0 {
		listed = &r.Parties[v.Rank]
	} else if r.Dealer != nil && r.Dealer.Worker == me {
		listed = r.Dealer
	} else {
		return workers.BadRequestf("request %s does not name worker %s among its parties or as its dealer", r.ID(), me)
	}
	if listed.Fingerprint != fp {
		want := fp
		if want == "" {
			want = "none (a virtual worker)"
		}
		return workers.BadRequestf("request %s lists worker %s with fingerprint %q, but its fingerprint is %s", r.ID(), me, listed.Fingerprint, want)
	}
	return nil
}

// resolve finds the data r loads at rank on this worker, in user's
// namespace, and says of each whether user may read it.
func (b *Book) resolve(r *Request, rank int, user *workers.User) ([]Object, error) {
	var out []Object
	for _, l := range r.LoadsAt(rank) {
		var o *store.Object
		var err error
		if l.Object != "" {
			o, err = b.h.Store().Get(l.Object)
		} else {
			o, err = b.h.Resolve(user, l.Tag)
		}
		if err != nil && l.Tag != "" && errors.Is(err, store.ErrNotFound) {
			// Nothing in the requester's namespace carries the tag: the
			// load reads nothing, and fails where the job makes it (an
			// object stored there later needs this check again at the
			// job's start).
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("request %s loads %s at rank %d (worker %s): %w", r.ID(), loadName(l), rank, b.h.WorkerID(), err)
		}
		want := store.KindTensor
		if l.Kind == LoadModel {
			want = store.KindModel
		}
		if o.Kind != want {
			return nil, workers.BadRequestf("request %s loads %s at rank %d as a %s, but object %s is a %s", r.ID(), loadName(l), rank, l.Kind, o.ID, o.Kind)
		}
		ob := Object{Rank: rank, Tag: l.Tag, ID: o.ID, Kind: l.Kind, Owner: o.Owner, DataOwners: slices.Clone(o.DataOwners),
			Private: o.Private, Restricted: workers.CanRead(user, o) != nil}
		if o.Tensor != nil {
			ob.Shape = o.Tensor.Shape()
		}
		out = append(out, ob)
	}
	return out, nil
}

func loadName(l Load) string {
	if l.Tag != "" {
		return fmt.Sprintf("tag %q", l.Tag)
	}
	return "object " + l.Object
}

// decide applies the approval rule to a request loading restricted data
// here, counting a run when q.Run, and fills v.
func (b *Book) decide(q Query, v *Verdict, restricted []Object) error {
	what := describeRestricted(restricted, q.User.Name)
	now := b.now()
	rec, err := b.runnable(q, v.ID, now)
	if err != nil {
		return err
	}
	if rec == nil {
		v.Status = StatusPending
		v.Reason = what + "; no owner of worker " + v.Worker + " has approved it"
		v.Action = "ask the worker's owner to review and approve it: " + ApproveCommand(v.ID)
		if st, ok := b.statusOf(v.ID, q.User.Name, now); ok {
			v.Status = st
			switch st {
			case StatusDenied:
				v.Reason = what + "; the owner denied it"
				if d := b.decisionOf(v.ID, q.User.Name); d != nil && d.Reason != "" {
					v.Reason += ": " + clip(d.Reason, 512)
				}
				v.Action = "change the request (a new request id) and submit it again"
			case StatusExhausted:
				v.Reason = what + "; its approved runs are used up"
				v.Action = "ask the owner to approve it again with more runs: " + ApproveCommand(v.ID)
			case StatusExpired:
				v.Reason = what + "; its approval has expired"
				v.Action = "ask the owner to approve it again: " + ApproveCommand(v.ID)
			}
		}
		return nil
	}
	v.Status, v.Approved, v.Expires = StatusApproved, rec.ID, rec.Limits.Expires
	v.RunsLeft, v.RunsUsed = -1, rec.RunsUsed
	if rec.Limits.Runs > 0 {
		v.RunsLeft = rec.Limits.Runs - rec.RunsUsed
	}
	return nil
}

// describeRestricted names the restricted objects and their owners.
func describeRestricted(objs []Object, user string) string {
	parts := make([]string, len(objs))
	for i, o := range objs {
		owner := "owned by " + o.Owner
		if len(o.DataOwners) > 0 {
			owner += ", computed from data of " + strings.Join(o.DataOwners, ", ")
		}
		name := fmt.Sprintf("%s %s", o.Kind, o.ID)
		if o.Tag != "" {
			name = fmt.Sprintf("%s %s tagged %q", o.Kind, o.ID, o.Tag)
		}
		parts[i] = fmt.Sprintf("%s (%s)", name, owner)
	}
	return fmt.Sprintf("it loads private data user %s may not read: %s", user, strings.Join(parts, "; "))
}

// runnable returns the approved record q runs under, counting a run when
// q.Run, or nil when there is none (pending, denied, out of runs,
// expired, or never submitted). It looks at the request's own record,
// then at approvals with argument ranges for the same request with other
// arguments.
func (b *Book) runnable(q Query, id string, now time.Time) (*Record, error) {
	ids := []string{id}
	if ranged, err := b.rangedFor(q.User.Name, q.Request.BaseID()); err == nil {
		ids = append(ids, ranged...)
	} else {
		return nil, err
	}
	var args []any
	for _, rid := range ids {
		var got *Record
		err := b.lookAt(rid, q.User.Name, q.Run, func(rec *Record) (bool, error) {
			if rec.Status(now) != StatusApproved {
				return false, nil
			}
			if rid != id {
				if args == nil {
					a, err := decodeArgs(q.Args)
					if err != nil {
						return false, err
					}
					args = a
				}
				if !rec.covers(args) {
					return false, nil
				}
			}
			c := *rec
			got = &c
			if !q.Run {
				return false, nil
			}
			rec.RunsUsed++
			rec.LastRun = now.UnixNano()
			got.RunsUsed = rec.RunsUsed
			return true, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if got != nil {
			return got, nil
		}
	}
	return nil, nil
}

// decodeArgs decodes serde-encoded public arguments into a list.
func decodeArgs(b []byte) ([]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	v, err := serde.Unmarshal(b, serde.Limits{})
	if err != nil {
		return nil, workers.BadRequestf("arguments: %v", err)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, workers.BadRequestf("arguments are a %T, not a list", v)
	}
	return list, nil
}

// covers reports whether args fit rec's approval with argument ranges:
// as many arguments as submitted, each ranged one a number within its
// range, every other one equal to the submitted value.
func (rec *Record) covers(args []any) bool {
	sub, err := decodeArgs(rec.Args)
	if err != nil || len(sub) != len(args) {
		return false
	}
	for i := range args {
		if rg, ok := rec.rangeOf(i); ok {
			x, isNum := number(args[i])
			if !isNum || !(x >= rg.Lo && x <= rg.Hi) {
				return false
			}
			continue
		}
		a, err1 := serde.Marshal(args[i])
		s, err2 := serde.Marshal(sub[i])
		if err1 != nil || err2 != nil || string(a) != string(s) {
			return false
		}
	}
	return true
}

func (rec *Record) rangeOf(i int) (ArgRange, bool) {
	for _, r := range rec.Limits.ArgRanges {
		if r.Index == i {
			return r, true
		}
	}
	return ArgRange{}, false
}

// number reads a numeric argument.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// lookAt applies fn to the record of id for user: in one atomic change
// when write (fn's change is stored when it reports one), else on a copy
// read without locking the store for writing.
func (b *Book) lookAt(id, user string, write bool, fn func(*Record) (bool, error)) error {
	if write {
		return b.updateChanged(id, user, fn)
	}
	rec, err := b.get(id, user)
	if err != nil {
		return err
	}
	_, err = fn(rec)
	return err
}

// DataOwners names the owners of a private input for what is computed
// from it: the owners it was itself computed from (store.Object.
// DataOwners), "worker/owner" for an owner's object, or the worker's
// owners ("worker") for an object the requester derived from private data
// of the worker without recording whose (a remote op's result).
func DataOwners(worker, requester string, o *store.Object) []string {
	switch {
	case len(o.DataOwners) > 0:
		return o.DataOwners
	case o.Owner == requester:
		return []string{worker}
	}
	return []string{worker + "/" + o.Owner}
}
