package attack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/store"
)

const (
	srcShape = `package job

import "github.com/gomplab/gomplab/mpc"

func Reveal(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	return int64(x.Size()), nil
}
`
	srcScaled = `package job

import "github.com/gomplab/gomplab/mpc"

func Scaled(tag string, k float64) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	return x.Mul(k).GetPlainText()
}
`
	srcBoth = `package job

import "github.com/gomplab/gomplab/mpc"

func Both(a, b string) (any, error) {
	x, err := mpc.Load(a, 0)
	if err != nil {
		return nil, err
	}
	y, err := mpc.Load(b, 1)
	if err != nil {
		return nil, err
	}
	return x.Add(y.Mul(0)).GetPlainText()
}
`
)

// approvalWorld builds the jobs of the approval attacks: every one runs
// on alice and bob, loads alice's private tensor at rank 0 (declared),
// and carries a note naming its case, so that each case's requests are
// its own.
type approvalWorld struct {
	*dataWorld
}

func (w *approvalWorld) job(user, note string, recipients []string, src, entry string, args ...any) *syft.Job {
	return &syft.Job{Workers: []syft.Worker{w.c.Connect("alice", user), w.c.Connect("bob", user)}, MasterAddr: "127.0.0.1",
		Func: syft.SourceFunc(src, entry), Args: args, Timeout: 60 * time.Second,
		Loads:      []syft.Load{{Rank: 0, Tag: tagA, Kind: "tensor"}},
		Recipients: recipients, Note: "attack: " + note}
}

// approve submits j and has the owners of every worker where it is
// pending approve it for user within limits; it returns the request id.
func (w *approvalWorld) approve(t *testing.T, j *syft.Job, user string, limits syft.Limits) string {
	st, err := syft.Submit(j)
	if err != nil {
		t.Fatalf("submitting: %v", err)
	}
	for _, v := range st.Verdicts {
		if v.Status != syft.StatusPending {
			continue
		}
		if _, err := syft.Approve(w.c.Connect(v.Worker, workers.OwnerUser), st.ID, user, limits); err != nil {
			t.Fatalf("approving %s on %s: %v", st.ID, v.Worker, err)
		}
	}
	return st.ID
}

// undoScale records every derived value divided by k (a job revealing
// k·x).
func undoScale(e *Evidence, k float64) {
	e.mu.Lock()
	var vals []float64
	for _, vs := range e.derived {
		vals = append(vals, vs...)
	}
	e.mu.Unlock()
	for _, v := range vals {
		e.Derived("divided by the scale", v/k)
	}
}

// rawApproved: the owners approve the attacker's world-size-1 job on
// alice revealing alice's tensor (srcReveal, its load declared, pinned to
// alice); then a raw job.start carries that request with the program
// src (entry), below syft, which would build the matching request.
func rawApproved(w *approvalWorld, src, entry string) func(t *testing.T, e *Evidence) error {
	return func(t *testing.T, e *Evidence) error {
		c := w.c
		j := &syft.Job{Workers: []syft.Worker{c.Connect("alice", Attacker)}, MasterAddr: "127.0.0.1",
			Func: syft.SourceFunc(srcReveal, "Reveal"), Args: []any{tagA}, Timeout: 60 * time.Second,
			Loads: []syft.Load{{Rank: 0, Tag: tagA, Kind: "tensor"}}, Note: "attack: raw start " + entry}
		w.approve(t, j, Attacker, syft.Limits{Runs: 1})
		st, err := syft.Submit(j)
		if err != nil {
			t.Fatal(err)
		}
		rj := RawJob(src, entry, tagA)
		rj.Link.Identities = []string{c.Daemons["alice"].Fingerprint}
		rj.Provider = st.Request.Provider
		cl := c.Raw("alice", Attacker)
		var rep jobs.StartReply
		err = cl.Call(context.Background(), jobs.MsgStart, &jobs.StartRequest{Job: rj, MasterHost: "127.0.0.1", Request: st.Request}, &rep)
		e.AddText("job.start reply", rep)
		if err != nil {
			return err
		}
		if rep.Refused != nil {
			return rep.Refused
		}
		return WaitRaw(e, cl, rj.ID)
	}
}

// mixedRequests: the owners approve the attacker's two-party job
// revealing alice's tensor with recipients approved; then the attacker
// starts the job below syft, rank 0 on alice carrying the approved
// request, rank 1 on bob carrying the same request with recipients
// asked (bob loads nothing, so there it needs no approval), and collects
// rank 1's result.
func mixedRequests(w *approvalWorld, note string, approved, asked []string) func(t *testing.T, e *Evidence) error {
	return func(t *testing.T, e *Evidence) error {
		c := w.c
		j := w.job(Attacker, note, approved, srcReveal, "Reveal", tagA)
		w.approve(t, j, Attacker, syft.Limits{})
		st, err := syft.Submit(w.job(Attacker, note, approved, srcReveal, "Reveal", tagA))
		if err != nil {
			t.Fatal(err)
		}
		r0 := st.Request
		r1 := *r0
		r1.Recipients = asked
		rj := RawJob(srcReveal, "Reveal", tagA)
		rj.WorldSize = 2
		rj.Link.Identities = []string{c.Daemons["alice"].Fingerprint, c.Daemons["bob"].Fingerprint}
		rj.Provider = r0.Provider
		a, b := c.Raw("alice", Attacker), c.Raw("bob", Attacker)
		var rep jobs.StartReply
		if err := a.Call(context.Background(), jobs.MsgStart, &jobs.StartRequest{Job: rj, MasterHost: "127.0.0.1", Request: r0}, &rep); err != nil || rep.Refused != nil {
			t.Fatalf("rank 0 under the approved request: %v %v", err, rep.Refused)
		}
		defer func() {
			a.Call(context.Background(), jobs.MsgCancel, &jobs.CancelRequest{JobID: rj.ID}, &struct{}{})
			WaitRaw(NewEvidence(), a, rj.ID)
		}()
		rj.Rank, rj.MasterAddr = 1, rep.MasterAddr
		rep = jobs.StartReply{}
		err = b.Call(context.Background(), jobs.MsgStart, &jobs.StartRequest{Job: rj, MasterHost: "127.0.0.1", Request: &r1}, &rep)
		e.AddText("job.start reply", rep)
		if err != nil {
			return err
		}
		if rep.Refused != nil {
			return rep.Refused
		}
		return WaitRaw(e, b, rj.ID)
	}
}

// TestApprovalAttacks: what an approval binds. Each attack runs a job
// that differs from the one the owners approved (its source, arguments,
// recipients, requester, runs, expiry, the workers that approved), and
// must be refused; each control has the owners approve exactly the job
// that runs, which then obtains the canary.
func TestApprovalAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	w := &approvalWorld{dataWorld: newDataWorld(t)}
	c := w.c
	everyone := []string{mpc.RecipientAllParties, mpc.RecipientRequester}
	approvedRun := func(note string, recipients []string, src, entry string, args ...any) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			j := w.job(Attacker, note, recipients, src, entry, args...)
			w.approve(t, j, Attacker, syft.Limits{Runs: 1})
			return RunSyftJob(e, w.job(Attacker, note, recipients, src, entry, args...))
		}
	}

	// A one-run approval used before the attack.
	usedNote := "used up " + store.NewID()
	w.approve(t, w.job(Attacker, usedNote, everyone, srcReveal, "Reveal", tagA), Attacker, syft.Limits{Runs: 1})
	if err := RunSyftJob(NewEvidence(), w.job(Attacker, usedNote, everyone, srcReveal, "Reveal", tagA)); err != nil {
		t.Fatalf("the approved run: %v", err)
	}
	// An approval that expires before the attack.
	expiredNote := "expired " + store.NewID()
	w.approve(t, w.job(Attacker, expiredNote, everyone, srcReveal, "Reveal", tagA), Attacker,
		syft.Limits{Expires: time.Now().Add(time.Second).UnixNano()})
	time.Sleep(1200 * time.Millisecond)

	cases := []Case{
		{Name: "run another source than the approved one", Refusal: "not approved",
			Attack: func(t *testing.T, e *Evidence) error {
				w.approve(t, w.job(Attacker, "other source", everyone, srcShape, "Reveal", tagA), Attacker, syft.Limits{})
				return RunSyftJob(e, w.job(Attacker, "other source", everyone, srcReveal, "Reveal", tagA))
			},
			Control: approvedRun("other source", everyone, srcReveal, "Reveal", tagA)},
		{Name: "run with other arguments than the approved ones", Refusal: "not approved",
			Attack: func(t *testing.T, e *Evidence) error {
				w.approve(t, w.job(Attacker, "other args", everyone, srcScaled, "Scaled", tagA, 0.0), Attacker, syft.Limits{})
				return RunSyftJob(e, w.job(Attacker, "other args", everyone, srcScaled, "Scaled", tagA, 1.0))
			},
			Control: approvedRun("other args", everyone, srcScaled, "Scaled", tagA, 1.0)},
		{Name: "return the values when the approval opens them to the parties only", Refusal: "not approved",
			Attack:  approvedRun("parties only", []string{mpc.RecipientAllParties}, srcReveal, "Reveal", tagA),
			Control: approvedRun("parties and requester", everyone, srcReveal, "Reveal", tagA)},
		{Name: "return the encrypted tensor (for the requester to combine) when the approval opens values to the parties only", Refusal: "not approved",
			Attack:  approvedRun("encrypted, parties only", []string{mpc.RecipientAllParties}, srcEncrypted, "Encrypted", tagA),
			Control: approvedRun("encrypted, requester", everyone, srcEncrypted, "Encrypted", tagA)},
		{Name: "rank 1 carries the approved request with the requester added to its recipients", Refusal: "does not match",
			Attack:  mixedRequests(w, "mixed", []string{mpc.RecipientAllParties}, everyone),
			Control: mixedRequests(w, "mixed control", everyone, everyone)},
		{Name: "reveal to party 1 when the approval names party 0", Refusal: "not approved",
			Attack:  approvedRun("party 0", []string{mpc.RecipientPartyPrefix + "0", mpc.RecipientRequester}, srcRevealTo1, "RevealTo1", tagA),
			Control: approvedRun("party 1", []string{mpc.RecipientPartyPrefix + "1", mpc.RecipientRequester}, srcRevealTo1, "RevealTo1", tagA)},
		{Name: "run again an approval of one run, used up", Refusal: "exhausted",
			Attack: func(t *testing.T, e *Evidence) error {
				return RunSyftJob(e, w.job(Attacker, usedNote, everyone, srcReveal, "Reveal", tagA))
			},
			Control: approvedRun("used up, approved again", everyone, srcReveal, "Reveal", tagA)},
		{Name: "run an expired approval", Refusal: "expired",
			Attack: func(t *testing.T, e *Evidence) error {
				return RunSyftJob(e, w.job(Attacker, expiredNote, everyone, srcReveal, "Reveal", tagA))
			},
			Control: approvedRun("not expired", everyone, srcReveal, "Reveal", tagA)},
		{Name: "run another requester's approved request", Refusal: "not approved",
			Attack: func(t *testing.T, e *Evidence) error {
				w.approve(t, w.job("vic", "vic's", everyone, srcReveal, "Reveal", tagA), "vic", syft.Limits{})
				return RunSyftJob(e, w.job(Attacker, "vic's", everyone, srcReveal, "Reveal", tagA))
			},
			Control: func(t *testing.T, e *Evidence) error {
				return RunSyftJob(e, w.job("vic", "vic's", everyone, srcReveal, "Reveal", tagA))
			}},
		{Name: "run a denied request", Refusal: "denied",
			Attack: func(t *testing.T, e *Evidence) error {
				j := w.job(Attacker, "denied", everyone, srcReveal, "Reveal", tagA)
				st, err := syft.Submit(j)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := syft.Deny(c.Connect("alice", workers.OwnerUser), st.ID, Attacker, "no"); err != nil {
					t.Fatal(err)
				}
				return RunSyftJob(e, w.job(Attacker, "denied", everyone, srcReveal, "Reveal", tagA))
			},
			Control: approvedRun("not denied", everyone, srcReveal, "Reveal", tagA)},
		{Name: "load a second owner's data with only the first owner's approval", Refusal: tagB,
			Attack: func(t *testing.T, e *Evidence) error {
				j := w.job(Attacker, "two owners", everyone, srcBoth, "Both", tagA, tagB)
				j.Loads = append(j.Loads, syft.Load{Rank: 1, Tag: tagB, Kind: "tensor"})
				st, err := syft.Submit(j)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := syft.Approve(c.Connect("alice", workers.OwnerUser), st.ID, Attacker); err != nil {
					t.Fatal(err)
				}
				j = w.job(Attacker, "two owners", everyone, srcBoth, "Both", tagA, tagB)
				j.Loads = append(j.Loads, syft.Load{Rank: 1, Tag: tagB, Kind: "tensor"})
				return RunSyftJob(e, j)
			},
			Control: func(t *testing.T, e *Evidence) error {
				mk := func() *syft.Job {
					j := w.job(Attacker, "two owners approved", everyone, srcBoth, "Both", tagA, tagB)
					j.Loads = append(j.Loads, syft.Load{Rank: 1, Tag: tagB, Kind: "tensor"})
					return j
				}
				w.approve(t, mk(), Attacker, syft.Limits{Runs: 1})
				return RunSyftJob(e, mk())
			}},
		{Name: "run with an argument outside the approved range", Refusal: "not approved",
			Attack: func(t *testing.T, e *Evidence) error {
				w.approve(t, w.job(Attacker, "range", everyone, srcScaled, "Scaled", tagA, 1.0), Attacker,
					syft.Limits{ArgRanges: []syft.ArgRange{{Index: 1, Lo: 0.5, Hi: 1}}})
				err := RunSyftJob(e, w.job(Attacker, "range", everyone, srcScaled, "Scaled", tagA, 2.0))
				undoScale(e, 2)
				return err
			},
			Control: func(t *testing.T, e *Evidence) error {
				err := RunSyftJob(e, w.job(Attacker, "range", everyone, srcScaled, "Scaled", tagA, 0.75))
				undoScale(e, 0.75)
				return err
			}},
		{Name: "job.start carrying an approved request with another program", Refusal: "does not match request",
			Attack:  rawApproved(w, srcAffine, "Affine"),
			Control: rawApproved(w, srcReveal, "Reveal")},
		{Name: "move or copy an approved job's saved result to read it", Refusal: "is computed from private data",
			Attack: func(t *testing.T, e *Evidence) error {
				loot := tagLoot + "-" + store.NewID()[:8]
				if err := approvedRun("save "+loot, everyone, srcSave, "SaveLoot", tagA, loot)(t, e); err != nil {
					return err
				}
				ps, err := c.Connect("bob", Attacker).Search(loot)
				if err != nil || len(ps) != 1 {
					return fmt.Errorf("the attacker finds %d objects tagged %s: %v", len(ps), loot, err)
				}
				var errs []error
				if cp, err := ps[0].Copy(); err != nil {
					errs = append(errs, err)
				} else {
					v, err := cp.GetCopy()
					e.AddTensor("copy", v)
					errs = append(errs, err)
					cp.Free()
				}
				if mv, err := ps[0].Move(c.Connect("alice", Attacker)); err != nil {
					errs = append(errs, err)
				} else {
					v, err := mv.GetCopy()
					e.AddTensor("moved", v)
					errs = append(errs, err)
				}
				for _, err := range errs {
					if err == nil {
						return nil
					}
				}
				return errors.Join(errs...)
			},
			Control: func(t *testing.T, e *Evidence) error {
				return approvedRun("save control", everyone, srcReveal, "Reveal", tagA)(t, e)
			}},
		{Name: "an approved job saves the decrypted values, the requester reads them", Refusal: "private",
			Attack: func(t *testing.T, e *Evidence) error {
				loot := tagLoot + "-" + store.NewID()[:8]
				if err := approvedRun("save "+loot, everyone, srcSave, "SaveLoot", tagA, loot)(t, e); err != nil {
					return err
				}
				ps, err := c.Connect("bob", Attacker).Search(loot)
				if err != nil {
					return err
				}
				if len(ps) != 1 {
					return fmt.Errorf("the attacker finds %d objects tagged %s", len(ps), loot)
				}
				v, err := ps[0].GetCopy()
				e.AddTensor("saved", v)
				return err
			},
			// The control: bob's owner, who custodies what is stored on
			// bob, reads what the job saved there (found by listing: a
			// tag resolves only in its user's namespace).
			Control: func(t *testing.T, e *Evidence) error {
				loot := tagLoot + "-" + store.NewID()[:8]
				if err := approvedRun("save "+loot, everyone, srcSave, "SaveLoot", tagA, loot)(t, e); err != nil {
					return err
				}
				owner := c.Raw("bob", workers.OwnerUser)
				var all workers.SearchReply
				if err := owner.Call(context.Background(), workers.MsgSearch, &workers.SearchRequest{}, &all); err != nil {
					return err
				}
				n := 0
				for _, in := range all.Objects {
					if !slices.Contains(in.Tags, loot) {
						continue
					}
					n++
					var got workers.GetReply
					if err := owner.Call(context.Background(), workers.MsgGet, &workers.GetRequest{ID: in.ID, Keep: true}, &got); err != nil {
						return err
					}
					e.AddTensor("saved", got.Object.Tensor)
				}
				if n == 0 {
					return fmt.Errorf("nothing tagged %s on bob", loot)
				}
				return nil
			}},
	}
	c.Run(t, w.canary, cases)
}
