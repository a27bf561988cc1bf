// Package plans is the worker side of plans: it vets a plan object when
// it is stored (only the operations of the plan format's allow-list) and
// runs a stored plan on stored tensors where they are (plan.run), with
// the privacy of its inputs. The plan format is sandbox/plan; the client
// side, which builds plans from Go functions and ships them, is
// syft/plans.go.
package plans

import (
	"context"
	"fmt"

	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
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
}

// RunReply describes the stored outputs.
type RunReply struct {
	Results []store.Info `msgpack:"results"`
}

// Register adds the plan message types to h, and the check that
// refuses a malformed plan, or one with an operation outside the
// allow-list, when it is stored.
func Register(h *workers.Handler) {
	h.Handle(MsgRun, planRun)
	h.CheckKind(store.KindPlan, validatePlanBlob)
}

// validatePlanBlob refuses, on arrival, a plan object whose blob is not a
// valid plan: malformed, or holding an operation outside the allow-list.
func validatePlanBlob(b []byte, lim serde.Limits) error {
	if _, err := plan.Decode(b, lim); err != nil {
		return fmt.Errorf("%w: %v", workers.ErrBadRequest, err)
	}
	return nil
}

func planRun(_ context.Context, r *workers.Request) (any, error) {
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
	tensors := make([]*tensor.Tensor, len(ins))
	for i, o := range ins {
		tensors[i] = o.Tensor
	}
	outs, err := p.Run(tensors...)
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
		r.Touch(res.ID)
		if err := h.Store().Put(res); err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, res.Info())
	}
	return rep, nil
}
