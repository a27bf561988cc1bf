package approvals

import (
	"fmt"
	"strconv"
	"time"
)

// Status is where a request stands on one worker, for one requester.
type Status string

// Statuses.
const (
	// StatusAllowed: the request needs no approval here (the requester
	// may read everything it loads on this worker, or it loads nothing
	// here). Such requests are not stored.
	StatusAllowed Status = "allowed"
	// StatusPending: waiting for the owners' decision.
	StatusPending Status = "pending"
	// StatusApproved: approved; runs with no further step.
	StatusApproved Status = "approved"
	// StatusDenied: the owners said no.
	StatusDenied Status = "denied"
	// StatusExhausted: approved, but its runs are used up.
	StatusExhausted Status = "exhausted"
	// StatusExpired: approved, but past its expiry.
	StatusExpired Status = "expired"
)

// Limits are what an approval allows beyond the exact request.
type Limits struct {
	// Runs is how many times the request may run (0: no limit). A run is
	// counted when a party starts.
	Runs int `msgpack:"runs,omitempty"`
	// Expires is when the approval ends (Unix nanoseconds; 0: never).
	Expires int64 `msgpack:"expires,omitempty"`
	// ArgRanges let numeric arguments vary within ranges instead of
	// being bound exactly; the other arguments stay bound.
	ArgRanges []ArgRange `msgpack:"arg_ranges,omitempty"`
}

// ArgRange bounds one numeric argument: Lo <= args[Index] <= Hi.
type ArgRange struct {
	Index int     `msgpack:"index"`
	Lo    float64 `msgpack:"lo"`
	Hi    float64 `msgpack:"hi"`
}

// String is the range as `gomplab worker requests approve --arg`
// takes it: "I=LO:HI".
func (a ArgRange) String() string {
	return fmt.Sprintf("%d=%s:%s", a.Index, strconv.FormatFloat(a.Lo, 'g', -1, 64), strconv.FormatFloat(a.Hi, 'g', -1, 64))
}

// Decision is an owner's answer.
type Decision struct {
	Approved bool   `msgpack:"approved"`
	By       string `msgpack:"by"`
	At       int64  `msgpack:"at"`
	Reason   string `msgpack:"reason,omitempty"`
}

// Record is one request as one worker keeps it, for one requester.
type Record struct {
	ID      string  `msgpack:"id"`
	Request Request `msgpack:"request"`
	// Args are the public arguments as submitted (serde encoding).
	Args      []byte `msgpack:"args,omitempty"`
	Requester string `msgpack:"requester"`
	Submitted int64  `msgpack:"submitted"`
	// Here are the objects the request loads on this worker, as resolved
	// when it was submitted.
	Here     []Object  `msgpack:"here,omitempty"`
	Decision *Decision `msgpack:"decision,omitempty"`
	Limits   Limits    `msgpack:"limits"`
	// RunsUsed counts the runs started under the approval.
	RunsUsed int   `msgpack:"runs_used,omitempty"`
	LastRun  int64 `msgpack:"last_run,omitempty"`
}

// Object is data a request loads on this worker, as a review shows it.
type Object struct {
	Rank  int    `msgpack:"rank"`
	Tag   string `msgpack:"tag,omitempty"`
	ID    string `msgpack:"id"`
	Kind  string `msgpack:"kind"`
	Owner string `msgpack:"owner"`
	// DataOwners are the owners of the private inputs a job's result was
	// computed from (store.Object.DataOwners).
	DataOwners []string `msgpack:"data_owners,omitempty"`
	Shape      []int    `msgpack:"shape,omitempty"`
	Private    bool     `msgpack:"private,omitempty"`
	// Restricted: the requester may not read it.
	Restricted bool `msgpack:"restricted,omitempty"`
}

// Status is the record's status at time now.
func (r *Record) Status(now time.Time) Status {
	switch {
	case r.Decision == nil:
		return StatusPending
	case !r.Decision.Approved:
		return StatusDenied
	case r.Limits.Expires > 0 && now.UnixNano() >= r.Limits.Expires:
		return StatusExpired
	case r.Limits.Runs > 0 && r.RunsUsed >= r.Limits.Runs:
		return StatusExhausted
	}
	return StatusApproved
}

// Summary is one line of a listing.
type Summary struct {
	ID        string `msgpack:"id"`
	Kind      Kind   `msgpack:"kind"`
	Requester string `msgpack:"requester"`
	Status    Status `msgpack:"status"`
	Submitted int64  `msgpack:"submitted"`
	// What names the code: the entry function, the plan's name, or the
	// training configuration.
	What       string   `msgpack:"what"`
	Parties    []string `msgpack:"parties"`
	Provider   string   `msgpack:"provider"`
	Restricted []string `msgpack:"restricted,omitempty"` // tags of data here the requester may not read
	RunsUsed   int      `msgpack:"runs_used,omitempty"`
	Runs       int      `msgpack:"runs,omitempty"`
	Note       string   `msgpack:"note,omitempty"`
}

// Summarize describes r in one line's worth of fields.
func (r *Record) Summarize(now time.Time) Summary {
	s := Summary{ID: r.ID, Kind: r.Request.Kind, Requester: r.Requester, Status: r.Status(now),
		Submitted: r.Submitted, Provider: r.Request.Provider, RunsUsed: r.RunsUsed, Runs: r.Limits.Runs,
		Note: clip(r.Request.Note, 80)}
	switch r.Request.Kind {
	case KindJob:
		s.What = r.Request.Program.Entry
	case KindPlan:
		s.What = "plan"
	case KindTrain:
		s.What = "training"
	}
	for _, p := range r.Request.Parties {
		s.Parties = append(s.Parties, p.Worker)
	}
	for _, o := range r.Here {
		if o.Restricted {
			t := o.Tag
			if t == "" {
				t = o.ID
			}
			s.Restricted = append(s.Restricted, t)
		}
	}
	return s
}
