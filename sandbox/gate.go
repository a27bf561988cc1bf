package sandbox

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

// Restriction is what a worker decides about its party of a job that may
// compute on private data (docs/mpc.md, "Restricted data and the reveal
// policy"): the reveal policy of the request it approved, the job's save
// quota, and whether the party is restricted from the start. It comes
// from the worker, never from the job's submitter, and travels to a child
// party with its job.
type Restriction struct {
	// Policy is the party's reveal policy (mpc.WithRevealPolicy); nil:
	// none, so a restricted party reveals nothing.
	Policy *mpc.RevealPolicy `msgpack:"policy,omitempty"`
	// SaveQuota bounds the party's saves (mpc.WithSaveQuota); nil: none.
	SaveQuota *mpc.SaveQuota `msgpack:"save_quota,omitempty"`
	// Restricted marks the party restricted before it runs (mpc.Restrict).
	Restricted bool `msgpack:"restricted,omitempty"`
}

// options are the party options carrying r.
func (r Restriction) options() []mpc.Option {
	var opts []mpc.Option
	if r.Policy != nil {
		opts = append(opts, mpc.WithRevealPolicy(*r.Policy))
	}
	if r.SaveQuota != nil {
		opts = append(opts, mpc.WithSaveQuota(*r.SaveQuota))
	}
	return opts
}

// apply restricts p if r says so.
func (r Restriction) apply(p *mpc.Party) {
	if r.Restricted {
		mpc.Restrict(p)
	}
}

// GateResult withholds from res what party p may not send to its job's
// requester (mpc.ReturnAllowed: p computed on restricted data and its
// reveal policy does not name the requester): the returned value, the
// printed output, and every error text the program could have written
// into (returned errors, panics, results, and peer failures, which may
// wrap them). The requester still gets the error's kind and position, the
// traffic, and the engine's own refusals (KindRefused), which name only
// the operation and the request. A successful run that had something to
// return fails with KindRefused instead. Workers call it on a party's
// result before sending it anywhere; on an unrestricted party, or one
// whose policy names the requester, it changes nothing.
func GateResult(p *mpc.Party, res *Result) {
	if p == nil || res == nil {
		return
	}
	err := mpc.ReturnAllowed(p)
	if err == nil {
		return
	}
	refusal := err.Error()
	withheld := ""
	if n := len(res.Output); n > 0 {
		withheld = fmt.Sprintf(" (%d bytes of printed output withheld)", n)
	}
	res.Output = ""
	hasValue := len(res.Value) > 0 && !(len(res.Value) == 1 && res.Value[0] == 0xc0) // msgpack nil
	res.Value = nil
	if res.Err == nil {
		if hasValue || withheld != "" {
			res.Err = errorf(KindRefused, "%s%s", refusal, withheld)
			res.Err.Rank, res.Err.Worker, res.Err.Phase = res.Rank, res.Worker, PhaseCollect
		}
		return
	}
	switch res.Err.Kind {
	case KindError, KindPanic, KindResult, KindPeer:
		res.Err.Msg = clipText("message withheld: "+refusal+withheld, MaxErrorMsg)
	}
}
