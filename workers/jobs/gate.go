package jobs

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// The gate: a job reaches data its requester may not read only under a
// request every owner of that data approved (docs/privacy.md). job.start
// carries the request (StartRequest.Request); before the party starts,
// the worker checks that the job is exactly what the request says (the
// code, the arguments, the parties, this worker's rank, the provider, the
// pinned identities) and asks the book (approvals.Book.Check, counting a
// run). At run time the party's store (jobStore) resolves tags in the
// requester's namespace and hands out data the requester may not read
// only when the request declares that load here and the check approved
// it. A job without a request may load only what its requester may read.

// DefaultProvider is the provider a job that names none runs with (the
// party's default, mpc.NewParty's): what a request for such a job must
// name.
const DefaultProvider = mpc.ProviderTFP

// ProviderOf is the provider j runs with.
func ProviderOf(j *sandbox.Job) string {
	switch j.Provider {
	case "", "trusted-first-party":
		return DefaultProvider
	case "ttp", "trusted-third-party":
		return mpc.ProviderDealer
	}
	return j.Provider
}

// permit is what the gate decided about a party: the request it runs
// under (nil: none), the verdict, and the restriction the party runs
// under.
type permit struct {
	user    *workers.User
	req     *approvals.Request
	verdict *approvals.Verdict
	// restriction goes to the party (its reveal policy, and whether it
	// computes on restricted data from the start).
	restriction sandbox.Restriction
}

// gate decides whether j may start here for r's user, before anything
// runs: see the package's gate comment. Refusals name the object, its
// owner, the request and what to do, and carry no values.
func (t *Table) gate(r *workers.Request, j *sandbox.Job, req *approvals.Request) (*permit, error) {
	u := r.User()
	if req == nil {
		return &permit{user: u}, t.gateUnrequested(u, j)
	}
	if t.book == nil {
		return nil, fmt.Errorf("%w: worker %s keeps no book of requests", workers.ErrUnavailable, t.h.WorkerID())
	}
	if err := matchRequest(j, req); err != nil {
		return nil, workers.BadRequestf("job %s does not match request %s: %v", j.ID, req.ID(), err)
	}
	v, err := t.book.Check(approvals.Query{Request: req, Args: j.Args, User: u, Run: false})
	if err != nil {
		return nil, err
	}
	if err := rankMatches(j, v); err != nil {
		return nil, workers.BadRequestf("job %s does not match request %s: %v", j.ID, req.ID(), err)
	}
	if err := v.Err(); err != nil {
		t.h.AccessLog().Info("job refused", "job", j.ID, "user", u.Name, "rank", j.Rank, "request", v.ID, "status", string(v.Status))
		return nil, err
	}
	if v.Restricted && len(j.Link.Identities) == 0 {
		return nil, workers.BadRequestf("job %s computes on private data under request %s, but its parties are not pinned to their workers' certificates "+
			"(a job secret instead): connect to every worker over TLS with its fingerprint, so the parties that run are the ones the owners approved", j.ID, v.ID)
	}
	// Count the run, atomically with a last check (the limits may have
	// changed since the first look).
	if v.Restricted {
		if v, err = t.book.Check(approvals.Query{Request: req, Args: j.Args, User: u, Run: true}); err != nil {
			return nil, err
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	pol := v.Policy(req)
	return &permit{user: u, req: req, verdict: v,
		restriction: sandbox.Restriction{Policy: &pol, Restricted: v.Restricted}}, nil
}

// matchRequest checks that j is exactly the job req describes: its code,
// its arguments, its world size, its provider, and the identities its
// parties are pinned to.
func matchRequest(j *sandbox.Job, req *approvals.Request) error {
	switch req.Kind {
	case approvals.KindJob:
		if len(j.Plan) > 0 {
			return errors.New("the request is for source, the job runs a plan")
		}
		if j.Program != req.Program {
			return errors.New("the job's source or entry point differs from the request's")
		}
	case approvals.KindPlan:
		if len(j.Plan) == 0 || !bytes.Equal(j.Plan, req.Plan) {
			return errors.New("the job's plan differs from the request's")
		}
	default:
		return fmt.Errorf("a %s request does not run as an MPC job", req.Kind)
	}
	if got := approvals.ArgsDigest(j.Args); got != req.ArgsHash {
		return errors.New("the job's arguments differ from the request's")
	}
	if len(req.Parties) != j.WorldSize {
		return fmt.Errorf("the request names %d parties, the job runs %d", len(req.Parties), j.WorldSize)
	}
	if p := ProviderOf(j); p != req.Provider {
		return fmt.Errorf("the job runs provider %s, the request names %s", p, req.Provider)
	}
	ids := j.Link.Identities
	if len(ids) == 0 {
		return nil
	}
	for i, p := range req.Parties {
		if i >= len(ids) || ids[i] != p.Fingerprint {
			return fmt.Errorf("rank %d's pinned identity is not the fingerprint the request names for worker %s", i, p.Worker)
		}
	}
	if len(ids) > len(req.Parties) {
		if req.Dealer == nil || len(ids) != len(req.Parties)+1 || ids[len(req.Parties)] != req.Dealer.Fingerprint {
			return errors.New("the job pins a dealer the request does not name")
		}
	}
	return nil
}

// rankMatches checks that this worker runs the rank the request gives it:
// its place among the parties, or the dealer's (rank WorldSize).
func rankMatches(j *sandbox.Job, v *approvals.Verdict) error {
	if v.Rank >= 0 && v.Rank != j.Rank {
		return fmt.Errorf("the request names worker %s as rank %d, the job runs it as rank %d", v.Worker, v.Rank, j.Rank)
	}
	if v.Rank < 0 && j.Rank != j.WorldSize {
		return fmt.Errorf("the request names worker %s as the dealer, the job runs it as rank %d", v.Worker, j.Rank)
	}
	return nil
}

// gateUnrequested refuses, before it starts, a job that carries no
// request and whose source (or plan) loads here data its user may not
// read. Loads computed at run time are checked when they happen
// (jobStore).
func (t *Table) gateUnrequested(u *workers.User, j *sandbox.Job) error {
	var loads []approvals.Load
	if len(j.Plan) > 0 {
		loads = approvals.PlanLoads(j.Plan, j.WorldSize)
	} else {
		loads = approvals.InferLoads(j.Program.Source, j.WorldSize)
	}
	for _, l := range loads {
		if l.Rank != j.Rank {
			continue
		}
		o, err := t.h.Resolve(u, l.Tag)
		if err != nil {
			continue // fails, naming the tag, when the party loads it
		}
		if workers.CanRead(u, o) != nil {
			err := fmt.Errorf("%w: job %s loads %s (owner %s) on worker %s, private data user %s may not read, and carries no request: "+
				"submit it (syft.Job.Run and syft.Submit do) and ask the worker's owner to approve it (gomplab worker requests approve ID)",
				workers.ErrPermission, j.ID, describe(o, l.Tag), o.Owner, t.h.WorkerID(), u.Name)
			t.h.AccessLog().Info("job refused", "job", j.ID, "user", u.Name, "rank", j.Rank, "object", o.ID, "why", "no request")
			return err
		}
	}
	return nil
}

// describe names an object for refusals: its kind, id and tag.
func describe(o *store.Object, tag string) string {
	if tag == "" {
		return fmt.Sprintf("%s %s", o.Kind, o.ID)
	}
	return fmt.Sprintf("%s %s tagged %q", o.Kind, o.ID, tag)
}

// mayLoad decides at run time whether the party may load o (found by tag
// in the requester's namespace, as kind): data the requester may read
// always; other data only when the request declares this load here and
// the check approved it. It returns whether o is restricted.
func (p *permit) mayLoad(worker, job string, rank int, o *store.Object, tag, kind string) (bool, error) {
	if workers.CanRead(p.user, o) == nil {
		return false, nil
	}
	why := ""
	switch {
	case p.req == nil:
		why = "the job carries no request; submit one (syft.Job.Run and syft.Submit do) for the owner to approve"
	case !slices.Contains(p.req.LoadsAt(rank), approvals.Load{Rank: rank, Tag: tag, Kind: kind}):
		why = fmt.Sprintf("request %s does not declare loading it at rank %d; declare it (syft.Job.Loads) and have the new request approved", p.verdict.ID, rank)
	case p.verdict.Status != approvals.StatusApproved || !approvedObject(p.verdict, o.ID):
		why = fmt.Sprintf("request %s was not approved for it on this worker; %s", p.verdict.ID, approvals.ApproveCommand(p.verdict.ID))
	default:
		return true, nil
	}
	owner := o.Owner
	if len(o.DataOwners) > 0 {
		owner += ", computed from data of " + strings.Join(o.DataOwners, ", ")
	}
	return true, fmt.Errorf("%w: job %s, rank %d: %s on worker %s (owner %s) is private data user %s may not read: %s",
		workers.ErrPermission, job, rank, describe(o, tag), worker, owner, p.user.Name, why)
}

// approvedObject reports whether the verdict's check resolved id as one
// of the restricted objects it approved.
func approvedObject(v *approvals.Verdict, id string) bool {
	for _, o := range v.Objects {
		if o.ID == id && o.Restricted {
			return true
		}
	}
	return false
}
