package syft

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/sandbox/plan"
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
	return &PlanPointer{p: ptr, name: p.Name, outputs: len(p.Outputs)}, nil
}

// Pointer is the underlying object pointer.
func (pp *PlanPointer) Pointer() *Pointer { return pp.p }

// String describes the pointer.
func (pp *PlanPointer) String() string { return fmt.Sprintf("Plan(%s)%s", pp.name, pp.p.String()) }

// Call runs the plan on its worker with the tensors args point to (which
// must be on the same worker) and returns owning pointers to its outputs.
// Outputs computed from private inputs are private.
func (pp *PlanPointer) Call(args ...*Pointer) ([]*Pointer, error) {
	l, in, err := pp.p.snapshot("Call")
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(args))
	for i, a := range args {
		al, ain, err := a.snapshot("Call")
		if err != nil {
			return nil, fmt.Errorf("plan %q argument %d: %w", pp.name, i, err)
		}
		if al.id != l.id {
			return nil, fmt.Errorf("plan %q argument %d is on worker %s, the plan on %s: send the plan there, or move the tensor", pp.name, i, al.id, l.id)
		}
		ids[i] = ain.ID
	}
	var rep plans.RunReply
	if err := l.call(plans.MsgRun, &plans.RunRequest{PlanID: in.ID, Args: ids}, &rep); err != nil {
		return nil, fmt.Errorf("run plan %q on %s: %w", pp.name, l.id, err)
	}
	out := make([]*Pointer, len(rep.Results))
	for i, r := range rep.Results {
		out[i] = newPointer(l, r, true)
	}
	return out, nil
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
