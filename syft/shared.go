package syft

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// This file is shared tensors on pointers (PySyft 0.2's
// x.fix_precision().share(alice, bob, crypto_provider=carol)): a tensor
// additively secret-shared across workers, each worker holding its share
// between operations, and every operation an MPC job among those
// workers' parties (jobs.go): the same engine, links, gate and approvals
// as any job (docs/shared-pointers.md).

// sharePrecision is the fixed-point precision of shared pointers: the
// parties' default (mpc.Config.Precision).
const sharePrecision = 16

// SharedPointer is a tensor secret-shared across workers: each worker
// holds one additive share (over Z_2^64, in fixed point) under the
// pointer's tag, as a private object. No worker alone learns anything of
// the value. Operations (Add, Sub, Mul, MatMul) run as MPC jobs among the
// workers' parties and leave their result shared on the same workers; Get
// reconstructs the value where the user may read the shares. Not safe for
// concurrent use while an operation runs.
type SharedPointer struct {
	ws     []Worker
	shares []*Pointer // shares[i] on ws[i], owning
	tag    string
	shape  []int
	opts   []JobOption
}

// Share secret-shares t across ws (at least two distinct workers), PySyft's
// t.fix_precision().share(ws...): t is encoded in fixed point and split
// into random additive shares in this process, and each worker receives
// only its own share, stored private to this session's user, so no
// worker (and no other user) sees t. opts (WithDealer, WithProvider)
// choose who deals the randomness of the operations on it (the default is
// as for jobs: dealer-free for two workers; more need WithDealer).
func Share(t *tensor.Tensor, ws []Worker, opts ...JobOption) (*SharedPointer, error) {
	if t == nil {
		return nil, errors.New("syft: Share of a nil tensor")
	}
	if err := checkShareWorkers(ws); err != nil {
		return nil, err
	}
	words, err := mpc.SplitShares(t, sharePrecision, len(ws))
	if err != nil {
		return nil, fmt.Errorf("syft: Share: %w", err)
	}
	sp := &SharedPointer{ws: slices.Clone(ws), tag: "share/" + store.NewID(), shape: t.Shape(), opts: opts}
	for i, w := range ws {
		vals := make([]float64, len(words[i]))
		for j, u := range words[i] {
			vals[j] = math.Float64frombits(u)
		}
		st, err := tensor.New(vals, t.Shape()...)
		if err != nil {
			sp.Free()
			return nil, fmt.Errorf("syft: Share: %w", err)
		}
		p, err := Send(st, w, WithTags(sp.tag), AsPrivate(w.link().c.User()),
			WithDescription(fmt.Sprintf("share %d of %d of a shared tensor", i, len(ws))))
		if err != nil {
			sp.Free()
			return nil, fmt.Errorf("syft: Share: share %d: %w", i, err)
		}
		sp.shares = append(sp.shares, p)
	}
	return sp, nil
}

// SharedOf is the shared tensor whose shares a job stored under tag with
// mpc.SaveShare, one on each of ws (in the job's rank order), as a
// SharedPointer to compute on or Get. Its pointers do not own the shares
// (Free deletes them). opts choose the provider of its operations, as
// Share's.
func SharedOf(tag string, ws []Worker, opts ...JobOption) (*SharedPointer, error) {
	if err := checkShareWorkers(ws); err != nil {
		return nil, err
	}
	sp := &SharedPointer{ws: slices.Clone(ws), tag: tag, opts: opts}
	for i, w := range ws {
		found, err := w.Search(tag)
		if err != nil {
			return nil, fmt.Errorf("syft: SharedOf %q: %s: %w", tag, w.ID(), err)
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("syft: SharedOf %q: %d objects tagged so on %s that you may use, want exactly one share", tag, len(found), w.ID())
		}
		sh := found[0].Shape()
		if i == 0 {
			sp.shape = sh
		} else if !slices.Equal(sh, sp.shape) {
			return nil, fmt.Errorf("syft: SharedOf %q: the share on %s has shape %v, on %s %v: not shares of one tensor", tag, w.ID(), sh, ws[0].ID(), sp.shape)
		}
		sp.shares = append(sp.shares, found[0])
	}
	return sp, nil
}

// Share secret-shares the tensor p points to across ws, which must
// include p's worker (PySyft's ptr.share(alice, bob)): one MPC job in
// which p's worker loads it by its tag (its first; a pointer without a
// tag cannot be shared this way: send it WithTags) and secret-shares it,
// each party keeping its share. The tensor never leaves its worker except
// as shares. On data the user may not read the job needs its owners'
// approval, like any job, and the shares are theirs (docs/privacy.md).
func (p *Pointer) Share(ws []Worker, opts ...JobOption) (*SharedPointer, error) {
	l, in, err := p.snapshot("Share")
	if err != nil {
		return nil, err
	}
	if err := checkShareWorkers(ws); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, fmt.Errorf("syft: Share of %s:%s: the object has no tag; jobs load by tag, so send it WithTags", l.id, in.ID)
	}
	src := slices.IndexFunc(ws, func(w Worker) bool { return w.ID() == l.id })
	if src < 0 {
		return nil, fmt.Errorf("syft: Share of %s:%s: its worker %s is not among the workers to share across", l.id, in.ID, l.id)
	}
	out := "share/" + store.NewID()
	j := &Job{Workers: ws, Func: SourceFunc(sharedOpSrc, "sharedFrom"), Args: []any{in.Tags[0], src, out},
		Loads: []approvals.Load{{Rank: src, Tag: in.Tags[0], Kind: approvals.LoadTensor}},
		Note:  fmt.Sprintf("share %s:%s (tagged %q) across the parties into %s", l.id, in.ID, in.Tags[0], out)}
	for _, o := range opts {
		o(j)
	}
	j.Args = []any{in.Tags[0], src, out}
	res, err := j.Run(context.Background())
	runtime.KeepAlive(p)
	if err != nil {
		return nil, fmt.Errorf("syft: Share of %s:%s: %w", l.id, in.ID, err)
	}
	r, err := resultShares(res, ws, out, opts)
	if err != nil {
		return nil, fmt.Errorf("syft: Share of %s:%s: %w", l.id, in.ID, err)
	}
	return r, nil
}

// resultShares collects the shares a sharing job saved under tag, with
// the shape its rank 0 returned.
func resultShares(res *Results, ws []Worker, tag string, opts []JobOption) (*SharedPointer, error) {
	shape, err := intShape(res.Value(0))
	if err != nil {
		return nil, err
	}
	return collectShares(ws, tag, shape, opts)
}

// collectShares finds the shares a job saved under tag, one per worker,
// as an owning SharedPointer.
func collectShares(ws []Worker, tag string, shape []int, opts []JobOption) (*SharedPointer, error) {
	r := &SharedPointer{ws: slices.Clone(ws), tag: tag, shape: shape, opts: opts}
	for _, w := range ws {
		found, err := w.link().search([]string{tag})
		if err != nil || len(found) != 1 {
			r.Free()
			return nil, fmt.Errorf("the share under %s on %s: found %d (%v)", tag, w.ID(), len(found), err)
		}
		r.shares = append(r.shares, newPointer(w.link(), found[0].Info(), true))
	}
	return r, nil
}

func checkShareWorkers(ws []Worker) error {
	if len(ws) < 2 {
		return fmt.Errorf("syft: Share needs at least two workers, got %d (one worker would hold the whole value)", len(ws))
	}
	seen := map[string]bool{}
	for i, w := range ws {
		if w == nil {
			return fmt.Errorf("syft: Share: worker %d is nil", i)
		}
		if seen[w.ID()] {
			return fmt.Errorf("syft: Share: worker %s given twice: each share needs its own worker", w.ID())
		}
		seen[w.ID()] = true
	}
	return nil
}

// Shape is the shared tensor's shape.
func (sp *SharedPointer) Shape() []int { return slices.Clone(sp.shape) }

// Workers are the workers holding the shares, in rank order.
func (sp *SharedPointer) Workers() []Worker { return slices.Clone(sp.ws) }

// Tag is the tag the shares are stored under on every worker.
func (sp *SharedPointer) Tag() string { return sp.tag }

// Shares are the pointers to the shares, shares[i] on Workers()[i].
func (sp *SharedPointer) Shares() []*Pointer { return slices.Clone(sp.shares) }

// String describes the pointer the way PySyft printed a shared tensor.
func (sp *SharedPointer) String() string {
	ids := make([]string, len(sp.ws))
	for i, w := range sp.ws {
		ids[i] = w.ID()
	}
	return fmt.Sprintf("(SharedPointer %s shape %v on %v)", sp.tag, sp.shape, ids)
}

// Get reconstructs the value from every worker's share and frees the
// shares. Shares sent with Share, or computed from them alone, are the
// user's: Get fetches and adds them. Shares computed from private data
// belong to that data's owners: Get then runs a job revealing the value
// to the requester alone, which needs every owner's approval (until then
// it returns the *ApprovalError naming the request; the shares stay).
func (sp *SharedPointer) Get() (*tensor.Tensor, error) {
	t, err := sp.GetCopy()
	if err != nil {
		return nil, err
	}
	return t, sp.Free()
}

// GetCopy is Get that leaves the shares on the workers.
func (sp *SharedPointer) GetCopy() (*tensor.Tensor, error) {
	words := make([][]uint64, len(sp.shares))
	for i, p := range sp.shares {
		st, err := p.GetCopy()
		if errors.Is(err, workers.ErrPermission) {
			return sp.reveal(err)
		}
		if err != nil {
			return nil, fmt.Errorf("syft: get shared %s: share %d on %s: %w", sp.tag, i, sp.ws[i].ID(), err)
		}
		words[i] = make([]uint64, st.Size())
		for j, v := range st.Data() {
			words[i][j] = math.Float64bits(v)
		}
	}
	t, err := mpc.CombineShares(sharePrecision, sp.shape, words...)
	if err != nil {
		return nil, fmt.Errorf("syft: get shared %s: %w", sp.tag, err)
	}
	return t, nil
}

// reveal reconstructs shares the user may not read, as a job whose
// parties load them and return the CrypTensor to the requester alone:
// it runs only once every owner of the data approved exactly that
// (recipient: the requester); until then its *ApprovalError, joined with
// denied (why the shares could not be read), says whom to ask.
func (sp *SharedPointer) reveal(denied error) (*tensor.Tensor, error) {
	j := &Job{Workers: sp.ws, Func: SourceFunc(sharedOpSrc, "sharedReveal"), Args: []any{sp.tag},
		Recipients: []string{mpc.RecipientRequester}, Note: "reveal shared " + sp.tag + " to the requester"}
	for _, o := range sp.opts {
		o(j)
	}
	j.Args = []any{sp.tag}
	for r := range sp.ws {
		j.Loads = append(j.Loads, approvals.Load{Rank: r, Tag: sp.tag, Kind: approvals.LoadTensor})
	}
	res, err := j.Run(context.Background())
	runtime.KeepAlive(sp)
	if err != nil {
		return nil, fmt.Errorf("syft: get shared %s: the shares derive from data you may not read (%v), so its owners must approve revealing it to you: %w", sp.tag, denied, err)
	}
	t := res.Tensor(0)
	if t == nil {
		_, err := res.Tensors(0)
		return nil, fmt.Errorf("syft: get shared %s: %w", sp.tag, err)
	}
	return t, nil
}

// Free deletes every share from its worker; the pointer is dead after.
func (sp *SharedPointer) Free() error {
	var errs []error
	for _, p := range sp.shares {
		if err := p.Free(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Keep leaves the shares on their workers when the pointer is collected.
func (sp *SharedPointer) Keep() *SharedPointer {
	for _, p := range sp.shares {
		p.Keep()
	}
	return sp
}

// Add returns the shared sum (local on every party: no round).
func (sp *SharedPointer) Add(b *SharedPointer) (*SharedPointer, error) { return sp.binary("add", b) }

// Sub returns the shared difference (local on every party).
func (sp *SharedPointer) Sub(b *SharedPointer) (*SharedPointer, error) { return sp.binary("sub", b) }

// Mul returns the shared elementwise product (Beaver multiplication, with
// randomness from the pointer's provider).
func (sp *SharedPointer) Mul(b *SharedPointer) (*SharedPointer, error) { return sp.binary("mul", b) }

// MatMul returns the shared matrix product.
func (sp *SharedPointer) MatMul(b *SharedPointer) (*SharedPointer, error) {
	return sp.binary("matmul", b)
}

// Lt returns the shared 0/1 result of sp < b, elementwise (the
// comparison protocols of package mpc; nothing is opened).
func (sp *SharedPointer) Lt(b *SharedPointer) (*SharedPointer, error) { return sp.binary("lt", b) }

// Le returns the shared 0/1 result of sp <= b.
func (sp *SharedPointer) Le(b *SharedPointer) (*SharedPointer, error) { return sp.binary("le", b) }

// Gt returns the shared 0/1 result of sp > b.
func (sp *SharedPointer) Gt(b *SharedPointer) (*SharedPointer, error) { return sp.binary("gt", b) }

// Ge returns the shared 0/1 result of sp >= b.
func (sp *SharedPointer) Ge(b *SharedPointer) (*SharedPointer, error) { return sp.binary("ge", b) }

// Eq returns the shared 0/1 result of sp == b (equal fixed-point
// encodings).
func (sp *SharedPointer) Eq(b *SharedPointer) (*SharedPointer, error) { return sp.binary("eq", b) }

// AddPublic returns sp + k for a public tensor k (broadcast as tensors
// do; a scalar is tensor.Scalar), which every party receives in the clear.
func (sp *SharedPointer) AddPublic(k *tensor.Tensor) (*SharedPointer, error) {
	return sp.public("add", k)
}

// SubPublic returns sp - k for a public tensor k.
func (sp *SharedPointer) SubPublic(k *tensor.Tensor) (*SharedPointer, error) {
	return sp.public("sub", k)
}

// MulPublic returns sp * k, elementwise, for a public tensor k (a
// learning rate, a mask).
func (sp *SharedPointer) MulPublic(k *tensor.Tensor) (*SharedPointer, error) {
	return sp.public("mul", k)
}

// MatMulPublic returns sp @ k for a public matrix k (public weights).
func (sp *SharedPointer) MatMulPublic(k *tensor.Tensor) (*SharedPointer, error) {
	return sp.public("matmul", k)
}

// public runs op on sp and the public tensor k as one MPC job.
func (sp *SharedPointer) public(op string, k *tensor.Tensor) (*SharedPointer, error) {
	if k == nil {
		return nil, fmt.Errorf("syft: shared %s: nil public tensor", op)
	}
	out := "share/" + store.NewID()
	j := &Job{Workers: sp.ws, Func: SourceFunc(sharedOpSrc, "sharedPublic"),
		Note: fmt.Sprintf("shared %s of %s and a public tensor into %s", op, sp.tag, out)}
	for _, o := range sp.opts {
		o(j)
	}
	j.Args = []any{op, sp.tag, k, out}
	for r := range sp.ws {
		j.Loads = append(j.Loads, approvals.Load{Rank: r, Tag: sp.tag, Kind: approvals.LoadTensor})
	}
	res, err := j.Run(context.Background())
	runtime.KeepAlive(sp)
	if err != nil {
		return nil, fmt.Errorf("syft: shared %s: %w", op, err)
	}
	r, err := resultShares(res, sp.ws, out, sp.opts)
	if err != nil {
		return nil, fmt.Errorf("syft: shared %s: %w", op, err)
	}
	return r, nil
}

// Relu returns the shared max(sp, 0).
func (sp *SharedPointer) Relu() (*SharedPointer, error) { return sp.unary("relu") }

// Sigmoid returns the shared logistic function of sp (mpc's
// approximation).
func (sp *SharedPointer) Sigmoid() (*SharedPointer, error) { return sp.unary("sigmoid") }

// sharedOpSrc is the job every operation runs: each party loads its own
// shares, computes over CrypTensors, and stores its share of the result
// (mpc.SaveShare: private; the user's, or the data owners' if a share
// came from private data). It returns nothing: no value is opened.
const sharedOpSrc = `package main

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

func sharedFrom(tag string, src int, out string) (any, error) {
	x, err := mpc.Load(tag, src)
	if err != nil {
		return nil, err
	}
	return x.Shape(), mpc.SaveShare(out, x)
}

func sharedPublic(op, a string, k *tensor.Tensor, out string) (any, error) {
	x, err := mpc.LoadShare(a)
	if err != nil {
		return nil, err
	}
	var z *mpc.CrypTensor
	switch op {
	case "add":
		z = x.Add(k)
	case "sub":
		z = x.Sub(k)
	case "mul":
		z = x.Mul(k)
	case "matmul":
		z = x.MatMul(k)
	default:
		return nil, fmt.Errorf("unknown shared operation %q with a public tensor", op)
	}
	return z.Shape(), mpc.SaveShare(out, z)
}

func sharedReveal(a string) (any, error) {
	return mpc.LoadShare(a)
}

func sharedOp(op, a, b, out string) (any, error) {
	x, err := mpc.LoadShare(a)
	if err != nil {
		return nil, err
	}
	var z *mpc.CrypTensor
	switch op {
	case "relu":
		z = x.Relu()
	case "sigmoid":
		z = x.Sigmoid()
	}
	if z != nil {
		return z.Shape(), mpc.SaveShare(out, z)
	}
	y, err := mpc.LoadShare(b)
	if err != nil {
		return nil, err
	}
	switch op {
	case "add":
		z = x.Add(y)
	case "sub":
		z = x.Sub(y)
	case "mul":
		z = x.Mul(y)
	case "matmul":
		z = x.MatMul(y)
	case "lt":
		z = x.Lt(y)
	case "le":
		z = x.Le(y)
	case "gt":
		z = x.Gt(y)
	case "ge":
		z = x.Ge(y)
	case "eq":
		z = x.Eq(y)
	default:
		return nil, fmt.Errorf("unknown shared operation %q", op)
	}
	return z.Shape(), mpc.SaveShare(out, z)
}
`

// unary runs op on sp as one MPC job among sp's workers.
func (sp *SharedPointer) unary(op string) (*SharedPointer, error) { return sp.run(op, nil) }

// binary runs op on sp and b as one MPC job among sp's workers.
func (sp *SharedPointer) binary(op string, b *SharedPointer) (*SharedPointer, error) {
	if b == nil {
		return nil, fmt.Errorf("syft: shared %s: nil operand", op)
	}
	return sp.run(op, b)
}

// run runs op on sp (and b, for a binary op) as one MPC job among sp's
// workers and returns the shared result.
func (sp *SharedPointer) run(op string, b *SharedPointer) (*SharedPointer, error) {
	if b == nil {
		b = &SharedPointer{ws: sp.ws, tag: ""}
	}
	if len(b.ws) != len(sp.ws) {
		return nil, fmt.Errorf("syft: shared %s: operands shared across %d and %d workers: share both across the same workers", op, len(sp.ws), len(b.ws))
	}
	for i := range sp.ws {
		if sp.ws[i].ID() != b.ws[i].ID() {
			return nil, fmt.Errorf("syft: shared %s: share %d is on %s and %s: share both across the same workers, in the same order", op, i, sp.ws[i].ID(), b.ws[i].ID())
		}
	}
	out := "share/" + store.NewID()
	operands := sp.tag
	if b.tag != "" {
		operands += " and " + b.tag
	}
	j := &Job{Workers: sp.ws, Func: SourceFunc(sharedOpSrc, "sharedOp"),
		Note: fmt.Sprintf("shared %s of %s into %s", op, operands, out)}
	for _, o := range sp.opts {
		o(j)
	}
	j.Args = []any{op, sp.tag, b.tag, out}
	for r := range sp.ws {
		j.Loads = append(j.Loads, approvals.Load{Rank: r, Tag: sp.tag, Kind: approvals.LoadTensor})
		if b.tag != "" {
			j.Loads = append(j.Loads, approvals.Load{Rank: r, Tag: b.tag, Kind: approvals.LoadTensor})
		}
	}
	res, err := j.Run(context.Background())
	// The operands' shares must outlive the job: their owning pointers
	// free them when collected.
	runtime.KeepAlive(sp)
	runtime.KeepAlive(b)
	if err != nil {
		return nil, fmt.Errorf("syft: shared %s: %w", op, err)
	}
	r, err := resultShares(res, sp.ws, out, sp.opts)
	if err != nil {
		return nil, fmt.Errorf("syft: shared %s: %w", op, err)
	}
	return r, nil
}

// intShape reads the shape a party returned ([]any of int64).
func intShape(v any) ([]int, error) {
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the parties returned %s, not the result's shape", describeValue(v))
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("the parties returned a shape holding %s", describeValue(x))
		}
		out[i] = int(n)
	}
	return out, nil
}
