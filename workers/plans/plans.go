// Package plans is the worker side of plans: it vets a plan object when
// it is stored (only the operations of the plan format's allow-list) and
// runs a stored plan on stored tensors where they are (plan.run), with
// the privacy of its inputs. The plan format is sandbox/plan; the client
// side, which builds plans from Go functions and ships them, is
// syft/plans.go.
package plans

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// MsgRun runs a stored plan on stored tensors, where they are.
const MsgRun = "plan.run"

// RunRequest runs plan PlanID on the tensors Args (object ids, one per
// plan input); the outputs are stored under ResultIDs (fresh when empty).
type RunRequest struct {
	PlanID    string   `msgpack:"plan_id"`
	Args      []string `msgpack:"args"`
	ResultIDs []string `msgpack:"result_ids,omitempty"`
	// Request is the code request the run is under (syft submits it
	// first): needed when an input is data the user may not read, and
	// then approved by this worker's owners (docs/privacy.md). It names
	// the plan's bytes, this worker as its one party, and every input as
	// a load of its object id at rank 0.
	Request *approvals.Request `msgpack:"request,omitempty"`
}

// RunReply describes the stored outputs.
type RunReply struct {
	Results []store.Info `msgpack:"results"`
}

// Register adds the plan message types to h, and the check that
// refuses a malformed plan, or one with an operation outside the
// allow-list, when it is stored. A run on data its user may not read
// needs a request book approved (a nil book refuses every such run).
func Register(h *workers.Handler, book *approvals.Book) {
	r := &runner{book: book}
	h.Handle(MsgRun, r.planRun)
	h.CheckKind(store.KindPlan, validatePlanBlob)
}

// runner runs plans where their inputs are.
type runner struct{ book *approvals.Book }

// validatePlanBlob refuses, on arrival, a plan object whose blob is not a
// valid plan: malformed, or holding an operation outside the allow-list.
func validatePlanBlob(b []byte, lim serde.Limits) error {
	if _, err := plan.Decode(b, lim); err != nil {
		return fmt.Errorf("%w: %v", workers.ErrBadRequest, err)
	}
	return nil
}

func (pr *runner) planRun(ctx context.Context, r *workers.Request) (any, error) {
	h := r.Handler
	var q RunRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	po, err := h.Lookup(r, q.PlanID, store.GrantUse)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if po.Kind != store.KindPlan {
		return nil, workers.BadRequestf("object %s is a %s, not a plan", po.ID, po.Kind)
	}
	p, err := plan.Decode(po.Blob, h.Limits())
	if err != nil {
		return nil, fmt.Errorf("%w: stored plan %s: %v", workers.ErrBadRequest, po.ID, err)
	}
	r.Note("plan", p.Name)
	if len(q.Args) != len(p.Inputs) {
		return nil, workers.BadRequestf("plan %q takes %d inputs, got %d", p.Name, len(p.Inputs), len(q.Args))
	}
	if len(q.ResultIDs) == 0 {
		for range p.Outputs {
			q.ResultIDs = append(q.ResultIDs, store.NewID())
		}
	}
	if len(q.ResultIDs) != len(p.Outputs) {
		return nil, workers.BadRequestf("plan %q has %d outputs, got %d result ids", p.Name, len(p.Outputs), len(q.ResultIDs))
	}
	for _, id := range q.ResultIDs {
		if err := store.ValidateID(id); err != nil {
			return nil, fmt.Errorf("%w: result id: %v", workers.ErrBadRequest, err)
		}
	}
	ins := make([]*store.Object, len(q.Args))
	inputs := []string{po.ID}
	for i, id := range q.Args {
		o, err := h.Lookup(r, id, store.GrantUse)
		if err != nil {
			return nil, fmt.Errorf("plan %q input %d: %w", p.Name, i, err)
		}
		if o.Kind != store.KindTensor {
			return nil, workers.BadRequestf("plan %q input %d: object %s is a %s; plans run where the tensors are (move them here first)", p.Name, i, o.ID, o.Kind)
		}
		ins[i] = o
		inputs = append(inputs, o.ID)
	}
	private, allowed := workers.PrivacyOf(ins...)
	owners, err := pr.gate(r, po, ins, q.Request)
	if err != nil {
		return nil, err
	}
	if owners != nil {
		// Restricted inputs, approved: the outputs are the data owners';
		// the requester reads them only when the approval names them.
		private, allowed = true, nil
		if slices.Contains(q.Request.Recipients, mpc.RecipientRequester) {
			allowed = []string{r.User().Name}
		}
	}
	tensors := make([]*tensor.Tensor, len(ins))
	for i, o := range ins {
		tensors[i] = o.Tensor
	}
	// Each operation is held to the worker's memory bound for ops.
	outs, err := p.RunChecked(func(op string, shapes [][]int) (func(), error) {
		return h.AdmitStep(ctx, op, shapes)
	}, tensors...)
	if errors.Is(err, workers.ErrTooLarge) || errors.Is(err, workers.ErrDeadline) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", workers.ErrBadRequest, err)
	}
	rep := &RunReply{}
	for i, t := range outs {
		if t.Size() > h.MaxResult() {
			return nil, fmt.Errorf("%w: plan output %d has %d elements, over the worker's limit of %d", workers.ErrTooLarge, i, t.Size(), h.MaxResult())
		}
	}
	for i, t := range outs {
		res := workers.OpResult(r, q.ResultIDs[i], "plan:"+p.Name, inputs)
		res.Kind, res.Tensor, res.Private, res.AllowedUsers = store.KindTensor, t, private, allowed
		res.DataOwners = owners
		r.Touch(res.ID)
		if err := h.Store().Put(res); err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, res.Info())
	}
	return rep, nil
}

// gate refuses, before the plan runs, a run on inputs r's user may not
// read unless it carries a request that is exactly this run (the plan's
// bytes, this worker as the one party, every input declared as a load of
// its object id) and this worker's owners approved it; a run is counted.
// It returns the owners of the restricted inputs (nil when there are
// none), whom the outputs are recorded as computed from.
func (pr *runner) gate(r *workers.Request, po *store.Object, ins []*store.Object, req *approvals.Request) ([]string, error) {
	h, u := r.Handler, r.User()
	var restricted []*store.Object
	for _, o := range ins {
		if workers.CanRead(u, o) != nil {
			restricted = append(restricted, o)
		}
	}
	if len(restricted) == 0 {
		return nil, nil
	}
	if req == nil {
		o := restricted[0]
		return nil, fmt.Errorf("%w: plan %s on worker %s: input tensor %s (owner %s) is private data user %s may not read, and the run carries no request: "+
			"submit one (syft's PlanPointer.Call and Submit do) and ask the worker's owner to approve it (gomplab worker requests approve ID)",
			workers.ErrPermission, po.ID, h.WorkerID(), o.ID, o.Owner, u.Name)
	}
	if pr.book == nil {
		return nil, fmt.Errorf("%w: worker %s keeps no book of requests", workers.ErrUnavailable, h.WorkerID())
	}
	if req.Kind != approvals.KindPlan || !bytes.Equal(req.Plan, po.Blob) {
		return nil, workers.BadRequestf("request %s is not for plan %s", req.ID(), po.ID)
	}
	if len(req.Parties) != 1 {
		return nil, workers.BadRequestf("request %s names %d parties; a plan run where its inputs are has one, this worker", req.ID(), len(req.Parties))
	}
	for _, o := range ins {
		if !slices.Contains(req.Loads, approvals.Load{Rank: 0, Object: o.ID, Kind: approvals.LoadTensor}) {
			return nil, workers.BadRequestf("request %s does not declare input %s", req.ID(), o.ID)
		}
	}
	v, err := pr.book.Check(approvals.Query{Request: req, User: u, Run: true})
	if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		h.AccessLog().Info("plan refused", "plan", po.ID, "user", u.Name, "request", v.ID, "status", string(v.Status))
		return nil, err
	}
	var owners []string
	for _, o := range restricted {
		for _, n := range approvals.DataOwners(h.WorkerID(), u.Name, o) {
			if !slices.Contains(owners, n) {
				owners = append(owners, n)
			}
		}
	}
	slices.Sort(owners)
	r.Note("request", v.ID, "data_owners", strings.Join(owners, ","))
	return owners, nil
}
