package syft

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/plans"
	"github.com/gomplab/gomplab/workers/store"
)

// This file is the client side of plans. The plan format and its
// interpreter are package sandbox/plan; the worker side that stores and
// runs them (plan.run) is package workers/plans; RunPlan runs one as an
// MPC job (jobs.go, workers/jobs).

// Plan is a function traced into a list of allow-listed tensor operations
// with its state (parameters): the safer alternative to shipping source.
// It is data, checked against the allow-list on arrival and run by a fixed
// interpreter: on plaintext tensors where they are (SendPlan, then Call on
// pointers), or over CrypTensors at every party of an MPC job (RunPlan).
type Plan = plan.Plan

// PlanBuilder declares a traced plan's state (Builder.State) and, for MPC
// runs, its loads by tag (Builder.Load).
type PlanBuilder = plan.Builder

// Placeholder stands for a value while a plan is traced; its methods
// (Add, MatMul, Relu, Sum, Reshape...) record operations.
type Placeholder = plan.Placeholder

// Func2Plan traces fn into a plan, PySyft's func2plan: fn is called once
// with a *PlanBuilder and one placeholder per input shape, and returns
// its output placeholder (or a slice of them).
//
//	p, err := syft.Func2Plan("affine", func(b *syft.PlanBuilder, x *syft.Placeholder) *syft.Placeholder {
//		return x.MatMul(b.State("w", w)).Add(b.State("b", bias)).Relu()
//	}, []int{1, 4})
func Func2Plan(name string, fn any, inputShapes ...[]int) (*Plan, error) {
	return plan.Trace(name, fn, inputShapes...)
}

// PlanPointer refers to a plan stored on a worker.
type PlanPointer struct {
	p       *Pointer
	name    string
	outputs int
	enc     []byte // the plan as sent
	// Note is free text for the owners who review a Call's request.
	Note string
}

// blob is the plan's encoding, as its worker stores it.
func (pp *PlanPointer) blob() ([]byte, error) {
	if pp.enc == nil {
		return nil, fmt.Errorf("syft: plan %q: this pointer does not know the plan's bytes (send it with SendPlan)", pp.name)
	}
	return pp.enc, nil
}

// SendPlan stores a copy of p on w and returns an owning pointer to it.
// The worker validates the plan on arrival and refuses one holding an
// operation outside the allow-list.
func SendPlan(p *Plan, w Worker, opts ...SendOption) (*PlanPointer, error) {
	if w == nil {
		return nil, errNilWorker
	}
	if p == nil {
		return nil, errors.New("syft: SendPlan: nil plan")
	}
	blob, err := p.Encode()
	if err != nil {
		return nil, fmt.Errorf("syft: SendPlan: %w", err)
	}
	o := &store.Object{Kind: store.KindPlan, Blob: blob, Description: "plan " + p.Name}
	ptr, err := sendObject(o, w, opts, fmt.Sprintf("plan %q ", p.Name))
	if err != nil {
		return nil, err
	}
	return &PlanPointer{p: ptr, name: p.Name, outputs: len(p.Outputs), enc: blob}, nil
}

// Pointer is the underlying object pointer.
func (pp *PlanPointer) Pointer() *Pointer { return pp.p }

// String describes the pointer.
func (pp *PlanPointer) String() string { return fmt.Sprintf("Plan(%s)%s", pp.name, pp.p.String()) }

// Call runs the plan on its worker with the tensors args point to (which
// must be on the same worker) and returns owning pointers to its outputs.
// Outputs computed from private inputs are private. On inputs the caller
// may not read, the run needs the worker's owners' approval: Call
// submits its request (CallRequest) first and, until an owner approves
// it, returns an *ApprovalError naming the inputs, their owners and the
// request id; approved, the outputs are private data of the inputs'
// owners that the caller may read (the request's recipient).
func (pp *PlanPointer) Call(args ...*Pointer) ([]*Pointer, error) {
	c, err := pp.prepare(args)
	if err != nil {
		return nil, err
	}
	st, err := c.submit()
	if err != nil {
		return nil, err
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	var rep plans.RunReply
	if err := c.l.call(plans.MsgRun, &plans.RunRequest{PlanID: c.plan, Args: c.ids, Request: c.req}, &rep); err != nil {
		return nil, fmt.Errorf("run plan %q on %s: %w", pp.name, c.l.id, err)
	}
	out := make([]*Pointer, len(rep.Results))
	for i, r := range rep.Results {
		out[i] = newPointer(c.l, r, true)
	}
	return out, nil
}

// SubmitCall submits the request of Call(args...) to the plan's worker
// without running it, for its owners to review and approve.
func (pp *PlanPointer) SubmitCall(args ...*Pointer) (*RequestStatus, error) {
	c, err := pp.prepare(args)
	if err != nil {
		return nil, err
	}
	return c.submit()
}

// planCall is one Call between its steps.
type planCall struct {
	name string
	l    *link
	plan string
	ids  []string
	req  *approvals.Request
}

// prepare checks Call's arguments and builds its request: the plan's
// bytes, the plan's worker as the one party, each input as a load of its
// object id, the requester as the recipient.
func (pp *PlanPointer) prepare(args []*Pointer) (*planCall, error) {
	l, in, err := pp.p.snapshot("Call")
	if err != nil {
		return nil, err
	}
	c := &planCall{name: pp.name, l: l, plan: in.ID, ids: make([]string, len(args))}
	for i, a := range args {
		al, ain, err := a.snapshot("Call")
		if err != nil {
			return nil, fmt.Errorf("plan %q argument %d: %w", pp.name, i, err)
		}
		if al.id != l.id {
			return nil, fmt.Errorf("plan %q argument %d is on worker %s, the plan on %s: send the plan there, or move the tensor", pp.name, i, al.id, l.id)
		}
		c.ids[i] = ain.ID
	}
	blob, err := pp.blob()
	if err != nil {
		return nil, err
	}
	fp, err := l.fingerprint()
	if err != nil {
		return nil, fmt.Errorf("syft: %w", err)
	}
	r := &approvals.Request{Kind: approvals.KindPlan, Plan: blob, ArgsHash: approvals.ArgsDigest(nil),
		Parties: []approvals.Party{{Worker: l.id, Fingerprint: fp}}, Provider: jobs.DefaultProvider,
		Recipients: []string{mpc.RecipientRequester}, Note: pp.Note}
	for _, id := range c.ids {
		r.Loads = append(r.Loads, approvals.Load{Rank: 0, Object: id, Kind: approvals.LoadTensor})
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("syft: plan %q: the call's request: %w", pp.name, err)
	}
	c.req = r.Canonical()
	return c, nil
}

// submit asks the plan's worker about the call's request.
func (c *planCall) submit() (*RequestStatus, error) {
	var rep approvals.SubmitReply
	if err := c.l.call(approvals.MsgSubmit, &approvals.SubmitRequest{Request: *c.req}, &rep); err != nil {
		return nil, fmt.Errorf("syft: plan %q: submitting its request to %s: %w", c.name, c.l.id, err)
	}
	return &RequestStatus{ID: c.req.ID(), Request: c.req, Verdicts: []Verdict{rep.Verdict}}, nil
}

// RunPlan runs p as an MPC job, one party per worker as RunMultiWorkers
// does: every party runs the plan's operations over CrypTensors, loading
// tagged tensors from its own worker (Builder.Load), and each rank's value
// is the list of the plan's outputs, decrypted. args are the plan's
// inputs, public tensors every party receives; JobOptions among them
// (WithDealer, WithProvider) choose the provider. Workers refuse a plan
// with an operation outside the allow-list before anything runs.
func RunPlan(ws []Worker, masterAddr string, p *Plan, args ...any) (*Results, error) {
	if p == nil {
		return nil, errors.New("syft: RunPlan: nil plan")
	}
	j := &Job{Workers: ws, MasterAddr: masterAddr, Plan: p}
	j.Args = j.apply(args)
	return j.Run(context.Background())
}
