package attack

import (
	"context"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/store"
)

// revealRequest is the approvals.Request of the decrypting job on alice
// and bob loading alice's tensor tagged tag, with note.
func revealRequest(t *testing.T, c *Cluster, tag, note string) (*approvals.Request, []byte) {
	args, err := serde.Marshal([]any{tag})
	if err != nil {
		t.Fatal(err)
	}
	var parties []approvals.Party
	for _, id := range c.IDs() {
		parties = append(parties, approvals.Party{Worker: id, Fingerprint: c.Daemons[id].Fingerprint})
	}
	return &approvals.Request{Kind: approvals.KindJob, Program: sandbox.Program{Source: srcReveal, Entry: "Reveal"},
		ArgsHash: approvals.ArgsDigest(args), Parties: parties, Provider: mpc.ProviderTFP,
		Loads:      []approvals.Load{{Rank: 0, Tag: tag, Kind: approvals.LoadTensor}},
		Recipients: []string{mpc.RecipientRequester}, Note: note}, args
}

// joinAs: vic starts rank 0 of a job on alice decrypting vic's tensor
// (vic may read it), with the parties pinned to alice and bob; user then
// starts rank 1 on bob with the same job id, rendezvous and identities
// (as if the id had been seen), and collects rank 1's result. For vic
// (the control) that is vic's own job.
func joinAs(c *Cluster, user string) func(t *testing.T, e *Evidence) error {
	return func(t *testing.T, e *Evidence) error {
		j := RawJob(srcReveal, "Reveal", tagVic)
		j.WorldSize = 2
		j.Link.Identities = []string{c.Daemons["alice"].Fingerprint, c.Daemons["bob"].Fingerprint}
		vic := c.Raw("alice", "vic")
		addr, err := StartRawAt(NewEvidence(), vic, j)
		if err != nil {
			t.Fatalf("vic's rank 0: %v", err)
		}
		defer func() {
			// vic's rank 0 is done, or waits for a rank 1 that is not
			// coming: stop it.
			vic.Call(context.Background(), jobs.MsgCancel, &jobs.CancelRequest{JobID: j.ID}, &struct{}{})
			WaitRaw(NewEvidence(), vic, j.ID)
		}()
		j.Rank, j.MasterAddr = 1, addr
		if user != "vic" {
			// The job's id and rendezvous may be seen; its secret,
			// which only vic's orchestrator holds, is not.
			j.Link.Secret = RawJob("", "x").Link.Secret
		}
		cl := c.Raw("bob", user)
		if err := StartRaw(e, cl, j); err != nil {
			return err
		}
		return WaitRaw(e, cl, j.ID)
	}
}

// TestRawMessageAttacks: hand-made protocol messages below syft: job.start
// with a forged rank, world size, identity or no link authentication, or
// on a grant session; job.wait and job.cancel of another user's job;
// request.approve by a non-owner; request.show of another user's request.
func TestRawMessageAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	ctx := context.Background()
	// The control of the job.start attacks: the owner's well-formed
	// job.start of the same program.
	ownerRaw := func(j sandbox.Job) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error { return runRaw(c, e, "alice", workers.OwnerUser, j) }
	}
	reveal := func() sandbox.Job { return RawJob(srcReveal, "Reveal", tagA) }
	forged := func(edit func(j *sandbox.Job)) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			j := reveal()
			edit(&j)
			return runRaw(c, e, "alice", Attacker, j)
		}
	}
	pinned := reveal()
	pinned.Link.Identities = []string{c.Daemons["alice"].Fingerprint}

	// vic's job of world size 1 on alice, decrypting vic's own tensor:
	// started in the attack, collected by vic in the control.
	var vicJob string
	startVic := func(t *testing.T) {
		j := RawJob(srcReveal, "Reveal", tagVic)
		if err := StartRaw(NewEvidence(), c.Raw("alice", "vic"), j); err != nil {
			t.Fatalf("vic's job: %v", err)
		}
		vicJob = j.ID
	}
	vicCollects := func(t *testing.T, e *Evidence) error { return WaitRaw(e, c.Raw("alice", "vic"), vicJob) }

	// vic's request (pending: it loads alice's owner's tensor), whose
	// public arguments are vic's secret.
	var vicRequest string
	secretArgs := func(t *testing.T) *approvals.SubmitRequest {
		req, _ := revealRequest(t, c, tagA, "vic's request")
		args, err := serde.Marshal([]any{tagA, dw.canary.Tensor()})
		if err != nil {
			t.Fatal(err)
		}
		req.ArgsHash = approvals.ArgsDigest(args)
		return &approvals.SubmitRequest{Request: *req, Args: args}
	}
	// The attacker's own request to decrypt alice's tensor, limited to
	// one run so that an approval given in the control is used up there.
	// revealJob is the attacker's job revealing tag, declaring its load
	// (the tag is an argument, which a request's inference cannot see).
	revealJob := func(tag string) *syft.Job {
		return &syft.Job{Workers: dw.attackers(), MasterAddr: "127.0.0.1", Func: syft.SourceFunc(srcReveal, "Reveal"),
			Args: []any{tag}, Loads: []syft.Load{{Rank: 0, Tag: tag}}, Timeout: 60 * time.Second}
	}
	attackerRequest := func(t *testing.T) string {
		st, err := syft.Submit(revealJob(tagA))
		if err != nil {
			t.Fatalf("submitting: %v", err)
		}
		return st.ID
	}

	cases := []Case{
		{Name: "job.start with rank -5", Refusal: "rank -5 out of range",
			Attack: forged(func(j *sandbox.Job) { j.Rank, j.WorldSize = -5, 2 }), Control: ownerRaw(reveal())},
		{Name: "job.start with world size 1e9", Refusal: "world size 1000000000 out of range",
			Attack: forged(func(j *sandbox.Job) { j.WorldSize = 1e9 }), Control: ownerRaw(reveal())},
		{Name: "job.start naming another worker's identity for this rank", Refusal: "lists worker",
			Attack:  forged(func(j *sandbox.Job) { j.Link.Identities = []string{c.Daemons["bob"].Fingerprint} }),
			Control: ownerRaw(pinned)},
		{Name: "job.start with unauthenticated party links", Refusal: "party links must be authenticated",
			Attack: forged(func(j *sandbox.Job) { j.Link = sandbox.Link{} }), Control: ownerRaw(reveal())},
		{Name: "job.start with a short job secret", Refusal: "a job secret of 4 bytes",
			Attack: forged(func(j *sandbox.Job) { j.Link = sandbox.Link{Secret: []byte("1234")} }), Control: ownerRaw(reveal())},
		{Name: "job.start on a grant session", Refusal: "grant sessions may not run MPC jobs",
			Attack: func(t *testing.T, e *Evidence) error {
				// vic's grant to bob to use vic's tensor on alice: a valid
				// grant session, which may use that object and nothing more.
				vic := c.Raw("alice", "vic")
				var found workers.SearchReply
				if err := vic.Call(ctx, workers.MsgSearch, &workers.SearchRequest{Tags: []string{tagVic}}, &found); err != nil || len(found.Objects) != 1 {
					t.Fatalf("vic's tensor: %v", err)
				}
				var g workers.GrantReply
				if err := vic.Call(ctx, workers.MsgGrant, &workers.GrantRequest{Actions: []string{store.GrantUse, store.GrantGet},
					Objects: []string{found.Objects[0].ID}, Audience: "bob", AudienceFingerprint: c.Daemons["bob"].Fingerprint}, &g); err != nil {
					t.Fatalf("vic's grant: %v", err)
				}
				cl, err := c.RawAs("alice", "bob", g.Token)
				if err != nil {
					return err
				}
				j := reveal()
				if err := StartRaw(e, cl, j); err != nil {
					return err
				}
				return WaitRaw(e, cl, j.ID)
			},
			Control: ownerRaw(reveal())},
		{Name: "job.wait of another user's job", Refusal: "not found",
			Attack: func(t *testing.T, e *Evidence) error {
				startVic(t)
				return WaitRaw(e, c.Raw("alice", Attacker), vicJob)
			},
			Control: vicCollects},
		{Name: "job.cancel of another user's job", Refusal: "not found",
			Attack: func(t *testing.T, e *Evidence) error {
				startVic(t)
				return c.Raw("alice", Attacker).Call(ctx, jobs.MsgCancel, &jobs.CancelRequest{JobID: vicJob}, &struct{}{})
			},
			Control: vicCollects},
		{Name: "join another user's job as its rank 1", Refusal: "does not match this job",
			Attack:  joinAs(c, Attacker),
			Control: joinAs(c, "vic")},
		{Name: "request.show of another user's request (its secret arguments)", Refusal: "not found",
			Attack: func(t *testing.T, e *Evidence) error {
				var rep approvals.SubmitReply
				if err := c.Raw("alice", "vic").Call(ctx, approvals.MsgSubmit, secretArgs(t), &rep); err != nil {
					t.Fatalf("vic's request: %v", err)
				}
				vicRequest = rep.Verdict.ID
				var show approvals.ShowReply
				err := c.Raw("alice", Attacker).Call(ctx, approvals.MsgShow, &approvals.ShowRequest{ID: vicRequest, Requester: "vic"}, &show)
				e.AddText("show", show)
				e.Add("show args", show.Record.Args)
				var list approvals.ListReply
				e.AddErr("list", c.Raw("alice", Attacker).Call(ctx, approvals.MsgList, &approvals.ListRequest{}, &list))
				e.AddText("list", list)
				return err
			},
			Control: func(t *testing.T, e *Evidence) error {
				var show approvals.ShowReply
				err := c.Raw("alice", "vic").Call(ctx, approvals.MsgShow, &approvals.ShowRequest{ID: vicRequest}, &show)
				if v, derr := serde.Unmarshal(show.Record.Args, serde.Limits{}); derr == nil {
					e.AddValue("vic's arguments", v)
				}
				return err
			}},
		{Name: "request.approve of one's own request by a non-owner", Refusal: "permission denied",
			Attack: func(t *testing.T, e *Evidence) error {
				id := attackerRequest(t)
				var rep approvals.DecideReply
				err := c.Raw("alice", Attacker).Call(ctx, approvals.MsgApprove, &approvals.ApproveRequest{ID: id, Limits: approvals.Limits{Runs: 1}}, &rep)
				e.AddText("approve", rep)
				if err != nil {
					return err
				}
				return RunJob(e, dw.attackers(), srcReveal, "Reveal", tagA)
			},
			// alice's owner approves it (one run), and the attacker's job
			// then decrypts.
			Control: func(t *testing.T, e *Evidence) error {
				id := attackerRequest(t)
				var rep approvals.DecideReply
				if err := c.Raw("alice", workers.OwnerUser).Call(ctx, approvals.MsgApprove, &approvals.ApproveRequest{ID: id, Requester: Attacker, Limits: approvals.Limits{Runs: 1}}, &rep); err != nil {
					return err
				}
				return RunSyftJob(e, revealJob(tagA))
			}},
	}
	c.Run(t, dw.canary, cases)
}

// TestTagHijack: the attacker stores a decoy under the owner's tag. Its
// own job loading that tag is refused (ambiguous in its namespace), and
// the owner's job still loads the owner's data (the control), not a
// decoy, and is not made to fail.
func TestTagHijack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	var decoy *syft.Pointer
	c.Run(t, dw.canary, []Case{{
		Name: "a decoy under the owner's tag", Refusal: "ambiguous",
		Attack: func(t *testing.T, e *Evidence) error {
			p, err := syft.Send(tensor.Zeros(1, 4), c.Connect("alice", Attacker), syft.WithTags(tagA))
			if err != nil {
				t.Fatalf("the decoy: %v", err)
			}
			decoy = p
			return RunJob(e, dw.attackers(), srcReveal, "Reveal", tagA)
		},
		Control: func(t *testing.T, e *Evidence) error {
			defer decoy.Free()
			return RunJob(e, dw.owners(), srcReveal, "Reveal", tagA)
		},
	}})
}
