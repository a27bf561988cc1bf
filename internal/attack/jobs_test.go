package attack

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/plans"
	"github.com/gomplab/gomplab/workers/store"
)

// Tags of the data world's planted objects.
const (
	tagA     = "att-alice"  // alice's owner's private tensor
	tagB     = "att-bob"    // bob's owner's private tensor
	tagVic   = "att-vic"    // vic's private tensor on alice (vic may read it, ds not)
	tagModel = "att-model"  // alice's owner's private model
	tagLoot  = "att-loot-1" // where attacks save
)

// dataWorld: the data owners' private tensors on alice and bob (each
// holding the canary), vic's private tensor on alice, and alice's private
// model whose weights are the canary.
type dataWorld struct {
	c      *Cluster
	canary Canary
}

var theDataWorld *dataWorld

func newDataWorld(t *testing.T) *dataWorld {
	c := Shared(t)
	c.Once("data world", func() { theDataWorld = plantDataWorld(t, c) })
	if theDataWorld == nil {
		t.Fatal("the data world could not be planted")
	}
	dw := *theDataWorld
	dw.c = c
	return &dw
}

func plantDataWorld(t *testing.T, c *Cluster) *dataWorld {
	dw := &dataWorld{c: c, canary: NewCanary(2, 6)}
	row := dw.canary.Tensor().Slice(1, 0, 4, 1) // (1, 4)
	c.Plant("alice", row, tagA)
	c.Plant("bob", row, tagB)
	vic := c.Connect("alice", "vic")
	p, err := syft.Send(row, vic, syft.WithTags(tagVic), syft.AsPrivate("vic"))
	if err != nil {
		t.Fatal(err)
	}
	p.Keep()
	c.MarkPlanted("alice", p.ID())
	lin := nn.NewLinear(2, 2, nil)
	m := nn.NewModel(lin)
	vals := dw.canary.Values
	if err := m.LoadStateDict(map[string]*tensor.Tensor{
		"weight": tensor.MustNew(vals[0:4], 2, 2), "bias": tensor.MustNew(vals[4:6], 2)}); err != nil {
		t.Fatal(err)
	}
	mp, err := syft.SendModel(m, c.Connect("alice", workers.OwnerUser), syft.WithTags(tagModel), syft.AsPrivate())
	if err != nil {
		t.Fatal(err)
	}
	mp.Pointer().Keep()
	c.MarkPlanted("alice", mp.ID())
	return dw
}

// attackers and owners: the parties of a job, as the attacker and as the
// data's owners.
func (dw *dataWorld) attackers() []syft.Worker { return dw.c.Attackers() }
func (dw *dataWorld) owners() []syft.Worker {
	var ws []syft.Worker
	for _, w := range dw.c.Owners() {
		ws = append(ws, w)
	}
	return ws
}

// Job sources. Each entry takes the tag to load (the attack and its
// control run the same source).
const (
	srcReveal = `package job

import "github.com/gomplab/gomplab/mpc"

func Reveal(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	return x.GetPlainText()
}
`
	srcRevealTo1 = `package job

import "github.com/gomplab/gomplab/mpc"

func RevealTo1(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	return x.GetPlainTextTo(1)
}
`
	srcEncrypted = `package job

import "github.com/gomplab/gomplab/mpc"

func Encrypted(tag string) (any, error) {
	return mpc.Load(tag, 0)
}
`
	srcAffine = `package job

import "github.com/gomplab/gomplab/mpc"

func Affine(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	return x.Mul(2).Add(1).GetPlainText()
}
`
	srcPanic = `package job

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

func Panic(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	t, err := x.GetPlainText()
	if err != nil {
		return nil, err
	}
	panic(fmt.Sprint(t.Data()))
}
`
	srcErrorText = `package job

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

func ErrorText(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	t, err := x.GetPlainText()
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("values %v", t.Data())
}
`
	srcPrint = `package job

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

func Print(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	t, err := x.GetPlainText()
	if err != nil {
		return nil, err
	}
	for _, v := range t.Data() {
		fmt.Println(v)
	}
	return nil, nil
}
`
	srcSave = `package job

import "github.com/gomplab/gomplab/mpc"

func SaveLoot(tag, loot string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	t, err := x.GetPlainTextTo(1)
	if err != nil {
		return nil, err
	}
	if mpc.Default().Rank() == 1 {
		return nil, mpc.Save(loot, t)
	}
	return nil, nil
}
`
	srcModel = `package job

import "github.com/gomplab/gomplab/mpc/nn"

func Model(tag string) (any, error) {
	m, err := nn.LoadModel(tag, 0)
	if err != nil {
		return nil, err
	}
	if err := m.Decrypt(); err != nil {
		return nil, err
	}
	return m, nil
}
`
	srcDump = `package job

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

func Dump(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	return fmt.Sprintf("%#v", *x), nil
}
`
	srcMethodValue = `package job

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

type revealer interface{ GetPlainText() (*tensor.Tensor, error) }

func MethodValue(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	var r revealer = x
	f := r.GetPlainText
	return f()
}
`
)

// divide records what an attacker derives from a job's values by
// undoing y = 2x + 1.
func undoAffine(e *Evidence, vals []float64) {
	for _, v := range vals {
		e.Derived("undoing 2x+1", (v-1)/2)
	}
}

// TestJobAttacks: jobs by a user without permission, loading private
// data and trying every way out of the party with it; each control is the
// same job run by the data's owners.
func TestJobAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	job := func(src, entry string, ws func() []syft.Worker, args ...any) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error { return RunJob(e, ws(), src, entry, args...) }
	}
	// failing is a control whose job fails on purpose (its error text
	// carries the values): what counts is that the canary is found.
	failing := func(f func(t *testing.T, e *Evidence) error) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			if err := f(t, e); err != nil {
				t.Logf("the control's job failed as it should: %s", clipLine(err.Error(), 200))
			}
			return nil
		}
	}
	alone := func(id, user string) func() []syft.Worker {
		return func() []syft.Worker { return []syft.Worker{c.Connect(id, user)} }
	}
	affine := func(ws func() []syft.Worker) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			var got []float64
			rec := NewEvidence()
			j := &syft.Job{Workers: ws(), MasterAddr: "127.0.0.1", Func: syft.SourceFunc(srcAffine, "Affine"), Args: []any{tagA}}
			res, err := j.Run(context.Background())
			if res != nil {
				for _, r := range res.Ranks {
					rec.AddValue("value", r.Value)
					if x, ok := r.Value.(*tensor.Tensor); ok {
						got = append(got, x.Data()...)
					}
				}
			}
			undoAffine(e, got)
			e.AddErr("job", err)
			return err
		}
	}
	saveThenRead := func(ws func() []syft.Worker, reader string) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			loot := fmt.Sprintf("%s-%s", tagLoot, store.NewID()[:8])
			jobErr := RunJob(e, ws(), srcSave, "SaveLoot", tagA, loot)
			// Whatever the job said, try to read what it may have saved,
			// as the job's user and as another user.
			var readErr error
			for _, user := range []string{Attacker, reader} {
				ps, err := c.Connect("bob", user).Search(loot)
				e.AddErr("search", err)
				for _, p := range ps {
					v, err := p.GetCopy()
					e.AddTensor(user+" reads the saved result", v)
					if err != nil {
						readErr = err
						e.AddErr("get", err)
					}
				}
			}
			if jobErr != nil {
				return jobErr
			}
			return readErr
		}
	}
	cases := []Case{
		{
			Name: "load another owner's private tensor and decrypt it", Refusal: tagA,
			Attack:  job(srcReveal, "Reveal", dw.attackers, tagA),
			Control: job(srcReveal, "Reveal", dw.owners, tagA),
		},
		{
			Name: "decrypt alone in a job of world size 1", Refusal: tagA,
			Attack:  job(srcReveal, "Reveal", alone("alice", Attacker), tagA),
			Control: job(srcReveal, "Reveal", alone("alice", workers.OwnerUser), tagA),
		},
		{
			Name: "reveal to one rank only (GetPlainTextTo)", Refusal: tagA,
			Attack:  job(srcRevealTo1, "RevealTo1", dw.attackers, tagA),
			Control: job(srcRevealTo1, "RevealTo1", dw.owners, tagA),
		},
		{
			Name: "return the encrypted tensor for the requester to combine", Refusal: tagA,
			Attack:  job(srcEncrypted, "Encrypted", dw.attackers, tagA),
			Control: job(srcEncrypted, "Encrypted", dw.owners, tagA),
		},
		{
			Name: "decrypt a derived value (2x+1) and undo it", Refusal: tagA,
			Attack:  affine(dw.attackers),
			Control: affine(dw.owners),
		},
		{
			Name: "a panic carrying the decrypted values", Refusal: tagA,
			Attack:  job(srcPanic, "Panic", dw.attackers, tagA),
			Control: failing(job(srcPanic, "Panic", dw.owners, tagA)),
		},
		{
			Name: "an error text carrying the decrypted values", Refusal: tagA,
			Attack:  job(srcErrorText, "ErrorText", dw.attackers, tagA),
			Control: failing(job(srcErrorText, "ErrorText", dw.owners, tagA)),
		},
		{
			Name: "print the decrypted values (party output)", Refusal: tagA,
			Attack:  job(srcPrint, "Print", dw.attackers, tagA),
			Control: job(srcPrint, "Print", dw.owners, tagA),
		},
		{
			Name: "save the decrypted values at rank 1, then read them (GetCopy by the job's user and another)", Refusal: tagA,
			Attack:  saveThenRead(dw.attackers, "vic"),
			Control: saveThenRead(dw.owners, workers.OwnerUser),
		},
		{
			Name: "load another owner's private model and decrypt its weights", Refusal: tagModel,
			Attack:  job(srcModel, "Model", dw.attackers, tagModel),
			Control: job(srcModel, "Model", dw.owners, tagModel),
		},
		{
			Name: "load another user's private tensor by its tag", Refusal: tagVic,
			Attack: job(srcReveal, "Reveal", dw.attackers, tagVic),
			Control: job(srcReveal, "Reveal", func() []syft.Worker {
				return []syft.Worker{c.Connect("alice", "vic"), c.Connect("bob", "vic")}
			}, tagVic),
		},
		{
			Name: "print a CrypTensor's fields (its share) at world size 1", Refusal: tagA,
			Attack: func(t *testing.T, e *Evidence) error {
				err := runRaw(c, e, "alice", Attacker, RawJob(srcDump, "Dump", tagA))
				undoFixedIn(e)
				return err
			},
			// fmt prints a CrypTensor by its String method, shape only,
			// even for the owner: the control is the owner's decryption.
			Control: func(t *testing.T, e *Evidence) error {
				return runRaw(c, e, "alice", workers.OwnerUser, RawJob(srcReveal, "Reveal", tagA))
			},
		},
		{
			Name: "decrypt through a method value of an interface", Refusal: tagA,
			Attack:  job(srcMethodValue, "MethodValue", dw.attackers, tagA),
			Control: job(srcMethodValue, "MethodValue", dw.owners, tagA),
		},
	}
	c.Run(t, dw.canary, cases)
}

// TestPlanAttacks: plans by a user without permission on private data,
// as an MPC job (RunPlan, loading by tag) and where the data is
// (PlanPointer.Call); each control is the data's owner's same plan.
func TestPlanAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	steal, err := syft.Func2Plan("steal", func(b *syft.PlanBuilder) *syft.Placeholder {
		return b.Load(tagA, 0, 1, 4).Add(b.State("zero", tensor.Zeros(1, 4)))
	})
	if err != nil {
		t.Fatal(err)
	}
	identity, err := syft.Func2Plan("identity", func(b *syft.PlanBuilder, x *syft.Placeholder) *syft.Placeholder {
		return x.Add(b.State("zero", tensor.Zeros(1, 4)))
	}, []int{1, 4})
	if err != nil {
		t.Fatal(err)
	}
	runPlan := func(ws func() []syft.Worker) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			res, err := syft.RunPlan(ws(), "127.0.0.1", steal)
			e.AddErr("plan", err)
			if res != nil {
				for _, r := range res.Ranks {
					e.AddValue(fmt.Sprintf("rank %d", r.Rank), r.Value)
					e.AddErr("rank", r.Err)
				}
			}
			return err
		}
	}
	callWhere := func(user string) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			w := c.Connect("alice", user)
			pp, err := syft.SendPlan(identity, w)
			if err != nil {
				return err
			}
			defer pp.Pointer().Free()
			ps, err := w.Search(tagA)
			if err != nil {
				return err
			}
			if len(ps) != 1 {
				return fmt.Errorf("%s finds %d objects tagged %s", user, len(ps), tagA)
			}
			outs, err := pp.Call(ps[0])
			if err != nil {
				return err
			}
			for _, o := range outs {
				v, err := o.Get()
				e.AddTensor("plan output", v)
				if err != nil {
					return err
				}
			}
			return nil
		}
	}
	c.Run(t, dw.canary, []Case{
		{
			Name: "RunPlan loading another owner's private tensor", Refusal: tagA,
			Attack:  runPlan(dw.attackers),
			Control: runPlan(dw.owners),
		},
		{
			Name: "PlanPointer.Call on another owner's private tensor, then get the output", Refusal: "private",
			Attack:  callWhere(Attacker),
			Control: callWhere(workers.OwnerUser),
		},
		{
			Name: "a plan loading the owner's tag, called where the data is", Refusal: "only in an MPC job",
			Attack: func(t *testing.T, e *Evidence) error {
				pp, err := syft.SendPlan(steal, c.Connect("alice", Attacker))
				if err != nil {
					return err
				}
				defer pp.Pointer().Free()
				outs, err := pp.Call()
				for _, o := range outs {
					v, gerr := o.GetCopy()
					e.AddTensor("plan output", v)
					e.AddErr("get", gerr)
					o.Free()
				}
				return err
			},
			Control: callWhere(workers.OwnerUser),
		},
		{
			Name: "a stored plan with an operation outside the allow-list", Refusal: "not allowed",
			Attack: func(t *testing.T, e *Evidence) error {
				bad := *identity
				bad.Actions = slices.Clone(identity.Actions)
				bad.Actions[len(bad.Actions)-1].Op = "get_plaintext"
				blob, err := bad.Encode()
				if err != nil {
					t.Fatal(err)
				}
				cl := c.Raw("alice", Attacker)
				var rep workers.InfoReply
				err = cl.Call(context.Background(), workers.MsgPut, &workers.PutRequest{Object: &store.Object{Kind: store.KindPlan, Blob: blob}}, &rep)
				if err != nil {
					return err
				}
				ps, _ := c.Connect("alice", Attacker).Search(tagA)
				var run plans.RunReply
				if len(ps) == 1 {
					err = cl.Call(context.Background(), plans.MsgRun, &plans.RunRequest{PlanID: rep.Info.ID, Args: []string{ps[0].ID()}}, &run)
				}
				for _, r := range run.Results {
					var got workers.GetReply
					e.AddErr("get", cl.Call(context.Background(), workers.MsgGet, &workers.GetRequest{ID: r.ID, Keep: true}, &got))
					if got.Object != nil {
						e.AddTensor("plan output", got.Object.Tensor)
					}
				}
				return err
			},
			Control: callWhere(workers.OwnerUser),
		},
	})
}

// TestPointerDataAttacks: the plain pointer paths to another owner's
// private tensor: get, compute then get, copy then get, move it to
// another worker. (Sending a copy to another worker is refused even to
// the owner: a private value never leaves its worker as a copy.)
func TestPointerDataAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	find := func(t *testing.T, user string) *syft.Pointer {
		ps, err := c.Connect("alice", user).Search(tagA)
		if err != nil || len(ps) != 1 {
			t.Fatalf("%s searching %s: %d pointers, %v", user, tagA, len(ps), err)
		}
		return ps[0]
	}
	read := func(e *Evidence, where string, p *syft.Pointer, err error) error {
		if err != nil {
			return err
		}
		v, err := p.GetCopy()
		e.AddTensor(where, v)
		return err
	}
	type path func(t *testing.T, e *Evidence, user string) error
	both := func(f path) (func(t *testing.T, e *Evidence) error, func(t *testing.T, e *Evidence) error) {
		return func(t *testing.T, e *Evidence) error { return f(t, e, Attacker) },
			func(t *testing.T, e *Evidence) error { return f(t, e, workers.OwnerUser) }
	}
	var cases []Case
	add := func(name, refusal string, f path) {
		a, ctl := both(f)
		cases = append(cases, Case{Name: name, Refusal: refusal, Attack: a, Control: ctl})
	}
	add("get another owner's private tensor", "private", func(t *testing.T, e *Evidence, user string) error {
		return read(e, "get", find(t, user), nil)
	})
	add("compute on another owner's private tensor, then get the result", "private", func(t *testing.T, e *Evidence, user string) error {
		r, err := find(t, user).Mul(1)
		if r != nil {
			defer r.Free()
		}
		return read(e, "result", r, err)
	})
	add("copy another owner's private tensor, then get the copy", "private", func(t *testing.T, e *Evidence, user string) error {
		r, err := find(t, user).Copy()
		if r != nil {
			defer r.Free()
		}
		return read(e, "copy", r, err)
	})
	add("compute on another owner's private tensor, then move the result to another worker", "private", func(t *testing.T, e *Evidence, user string) error {
		r, err := find(t, user).Mul(1)
		if err != nil {
			return err
		}
		m, err := r.Move(c.Connect("bob", user))
		if m != nil {
			defer m.Free()
		}
		if err != nil {
			r.Free()
		}
		return read(e, "moved result", m, err)
	})
	add("compute on another owner's private tensor, then copy the result", "private", func(t *testing.T, e *Evidence, user string) error {
		r, err := find(t, user).Mul(1)
		if err != nil {
			return err
		}
		defer r.Free()
		cp, err := r.Copy()
		if cp != nil {
			defer cp.Free()
		}
		return read(e, "copied result", cp, err)
	})
	add("move another owner's private tensor", "may not remove it", func(t *testing.T, e *Evidence, user string) error {
		if user == workers.OwnerUser {
			// The owner moves a copy of its own (the planted one stays).
			cp, err := find(t, user).Copy()
			if err != nil {
				return err
			}
			r, err := cp.Move(c.Connect("bob", user))
			if r != nil {
				defer r.Free()
			}
			return read(e, "moved", r, err)
		}
		r, err := find(t, user).Move(c.Connect("bob", user))
		if r != nil {
			defer r.Free()
		}
		return read(e, "moved", r, err)
	})
	ctx := context.Background()
	ownerReads := func(t *testing.T, e *Evidence) error { return read(e, "owner's get", find(t, workers.OwnerUser), nil) }
	privateID := func(t *testing.T) string { return find(t, workers.OwnerUser).ID() }
	cases = append(cases,
		Case{Name: "a user token claiming to act on behalf of the owner", Refusal: "private",
			Attack: func(t *testing.T, e *Evidence) error {
				d := c.Daemons["alice"]
				cl, err := c.dial("alice", nil, workers.Credentials{Token: d.Tokens[Attacker], For: workers.OwnerUser})
				if err != nil {
					return err
				}
				var rep workers.GetReply
				err = cl.Call(ctx, workers.MsgGet, &workers.GetRequest{ID: privateID(t), Keep: true}, &rep)
				if rep.Object != nil {
					e.AddTensor("get", rep.Object.Tensor)
				}
				return err
			},
			Control: ownerReads},
		Case{Name: "grant another worker get on another owner's private tensor, and use it", Refusal: "is private",
			Attack: func(t *testing.T, e *Evidence) error {
				var g workers.GrantReply
				err := c.Raw("alice", Attacker).Call(ctx, workers.MsgGrant, &workers.GrantRequest{Actions: []string{store.GrantUse, store.GrantGet},
					Objects: []string{privateID(t)}, Audience: "bob", AudienceFingerprint: c.Daemons["bob"].Fingerprint}, &g)
				if err != nil {
					return err
				}
				cl, err := c.RawAs("alice", "bob", g.Token)
				if err != nil {
					return err
				}
				var rep workers.GetReply
				err = cl.Call(ctx, workers.MsgGet, &workers.GetRequest{ID: privateID(t), Keep: true}, &rep)
				if rep.Object != nil {
					e.AddTensor("get", rep.Object.Tensor)
				}
				return err
			},
			Control: ownerReads},
	)
	c.Run(t, dw.canary, cases)
	// The planted tensor is still there, private, and unchanged.
	v, err := find(t, workers.OwnerUser).GetCopy()
	e := NewEvidence()
	e.AddTensor("planted", v)
	if err != nil || len(e.Find(dw.canary)) == 0 {
		t.Fatalf("alice's planted tensor after the attacks: %v", err)
	}
}
