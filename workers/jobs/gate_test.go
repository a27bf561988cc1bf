package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// gateWorker is a worker "w" with a book, holding the owner's private
// tensor tagged "secret", a client of user "me" (no permissions) and one
// of the owner.
type gateWorker struct {
	*testWorker
	owner  *workers.Client
	secret *store.Object
	other  string // the fingerprint of the other party
}

func newGateWorker(t *testing.T) *gateWorker {
	t.Helper()
	users := workers.NewUsers()
	tok, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	ownerTok, err := users.Add(workers.OwnerUser, workers.PermAdmin)
	if err != nil {
		t.Fatal(err)
	}
	id := testIdentity(t)
	st := store.NewMemStore()
	h, err := workers.NewHandler(workers.Config{WorkerID: "w", Store: st, Users: users, Certificate: id})
	if err != nil {
		t.Fatal(err)
	}
	book, err := approvals.Register(h, approvals.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tbl := Register(h, book, Options{})
	t.Cleanup(tbl.Close)
	c, err := workers.NewClient(t.Context(), workers.NewSessionTransport(h, "me"), workers.Credentials{Token: tok}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := workers.NewClient(t.Context(), workers.NewSessionTransport(h, "owner"), workers.Credentials{Token: ownerTok}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret := &store.Object{ID: store.NewID(), Kind: store.KindTensor, Tags: []string{"secret"}, Owner: workers.OwnerUser,
		Private: true, Tensor: tensor.FromSlice([]float64{31337.25}), Created: time.Now().UnixNano(),
		Provenance: store.Provenance{Source: "load"}}
	if err := st.Put(secret); err != nil {
		t.Fatal(err)
	}
	return &gateWorker{testWorker: &testWorker{h: h, t: tbl, c: c, id: id}, owner: oc, secret: secret,
		other: comm.Fingerprint(testIdentity(t).Certificate[0])}
}

const gateSource = "package main\nimport \"github.com/gomplab/gomplab/mpc\"\nfunc f(k float64) (any, error) {\n\tx, err := mpc.Load(\"secret\", 1)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\treturn x.GetPlainText()\n}\n"

// gateJob is rank 1 of 2 (this worker) running gateSource with argument
// k, pinned to both workers.
func (w *gateWorker) gateJob(id string, k float64) sandbox.Job {
	args, _ := serde.Marshal([]any{k})
	return sandbox.Job{ID: id, Rank: 1, WorldSize: 2, MasterAddr: "127.0.0.1:1", TimeoutMS: 60000, SetupTimeoutMS: 30000,
		Program: sandbox.Program{Source: gateSource, Entry: "f"}, Args: args,
		Link: sandbox.Link{Identities: []string{w.other, w.fingerprint()}, Secret: secretLink.Secret}}
}

func (w *gateWorker) request(j sandbox.Job) *approvals.Request {
	return &approvals.Request{Kind: approvals.KindJob, Program: j.Program, ArgsHash: approvals.ArgsDigest(j.Args),
		Parties:  []approvals.Party{{Worker: "v", Fingerprint: w.other}, {Worker: "w", Fingerprint: w.fingerprint()}},
		Provider: DefaultProvider, Loads: approvals.InferLoads(j.Program.Source, 2),
		Recipients: []string{"all-parties"}}
}

func (w *gateWorker) start(t *testing.T, j sandbox.Job, req *approvals.Request) error {
	t.Helper()
	var rep StartReply
	err := w.c.Call(t.Context(), MsgStart, &StartRequest{Job: j, Request: req}, &rep)
	if err == nil && rep.Refused != nil {
		return rep.Refused
	}
	if err == nil {
		if err := w.c.Call(t.Context(), MsgCancel, &CancelRequest{JobID: j.ID}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return err
}

// TestStartGate: job.start on private data the requester may not read is
// refused before the party starts, without a request and under one no
// owner approved, naming the object, its owner and the request; a job
// that differs from its request in any bound field is refused; the
// approved request starts, within its runs.
func TestStartGate(t *testing.T) {
	w := newGateWorker(t)
	j := w.gateJob("g1", 2)
	req := w.request(j)
	id := req.ID()

	err := w.start(t, j, nil)
	if !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), w.secret.ID) ||
		!strings.Contains(err.Error(), "owner "+workers.OwnerUser) || !strings.Contains(err.Error(), "carries no request") {
		t.Fatalf("no request: %v", err)
	}
	err = w.start(t, j, req)
	if !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), w.secret.ID) ||
		!strings.Contains(err.Error(), "requests approve "+id) {
		t.Fatalf("not submitted: %v", err)
	}
	if strings.Contains(err.Error(), "31337") {
		t.Fatalf("a refusal carries the value: %v", err)
	}
	var sub approvals.SubmitReply
	if err := w.c.Call(t.Context(), approvals.MsgSubmit, &approvals.SubmitRequest{Request: *req, Args: j.Args}, &sub); err != nil {
		t.Fatal(err)
	}
	if sub.Verdict.Status != approvals.StatusPending {
		t.Fatalf("submitted: %+v", sub.Verdict)
	}
	if err := w.start(t, j, req); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("pending: %v", err)
	}
	var dec approvals.DecideReply
	if err := w.owner.Call(t.Context(), approvals.MsgApprove, &approvals.ApproveRequest{ID: id, Limits: approvals.Limits{Runs: 2}}, &dec); err != nil {
		t.Fatal(err)
	}

	// Every field the approval binds, changed, is refused.
	other := comm.Fingerprint(testIdentity(t).Certificate[0])
	mismatches := []struct {
		name string
		edit func(j *sandbox.Job)
		want string
	}{
		{"source", func(j *sandbox.Job) { j.Program.Source += "// x\n" }, "source or entry"},
		{"arguments", func(j *sandbox.Job) { j.Args, _ = serde.Marshal([]any{3.0}) }, "arguments differ"},
		{"world size", func(j *sandbox.Job) {
			j.WorldSize = 3
			j.Link.Identities = append(j.Link.Identities, other)
		}, "3"},
		{"rank", func(j *sandbox.Job) {
			j.Rank = 0
			j.Link.Identities = []string{w.fingerprint(), w.other}
		}, "identity"},
		{"provider", func(j *sandbox.Job) { j.Provider = "dealer-free" }, "provider"},
		{"identities", func(j *sandbox.Job) { j.Link.Identities[0] = other }, "pinned identity"},
	}
	for _, m := range mismatches {
		t.Run(m.name, func(t *testing.T) {
			jj := w.gateJob("g-"+strings.ReplaceAll(m.name, " ", "-"), 2)
			jj.Link.Identities = append([]string{}, jj.Link.Identities...)
			m.edit(&jj)
			err := w.start(t, jj, req)
			if err == nil || !strings.Contains(err.Error(), m.want) {
				t.Fatalf("%s changed: %v", m.name, err)
			}
		})
	}
	// A job secret instead of pinned identities does not run on private data.
	js := w.gateJob("g-secret", 2)
	js.Link = secretLink
	if err := w.start(t, js, req); err == nil || !strings.Contains(err.Error(), "not pinned") {
		t.Fatalf("secret link: %v", err)
	}

	for i := range 2 {
		if err := w.start(t, w.gateJob("g-run"+string(rune('a'+i)), 2), req); err != nil {
			t.Fatalf("approved run %d: %v", i, err)
		}
	}
	if err := w.start(t, w.gateJob("g-run-c", 2), req); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("third run of two: %v", err)
	}
}

// TestJobStoreGate: at run time the party's store resolves tags in the
// requester's namespace (another user's object under the same tag is
// invisible), loads private data only as the permit allows, says it is
// restricted, and saves a restricted party's results as private data of
// the inputs' owners.
func TestJobStoreGate(t *testing.T) {
	w := newGateWorker(t)
	me := &workers.User{Name: "me"}
	// mallory's object under the same tag: invisible to me.
	if err := w.h.Store().Put(&store.Object{ID: store.NewID(), Kind: store.KindTensor, Tags: []string{"secret"}, Owner: "mallory",
		Tensor: tensor.FromSlice([]float64{1}), Created: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	j := w.gateJob("g1", 2)
	req := w.request(j)
	unapproved := &jobStore{h: w.h, job: "g1", rank: 1, user: "me", permit: &permit{user: me}}
	if _, err := unapproved.Load("secret"); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), w.secret.ID) {
		t.Fatalf("unapproved load: %v", err)
	}
	approved := &approvals.Verdict{ID: req.ID(), Worker: "w", Rank: 1, Status: approvals.StatusApproved, Restricted: true,
		Objects: []approvals.Object{{Rank: 1, Tag: "secret", ID: w.secret.ID, Kind: approvals.LoadTensor, Owner: "owner", Restricted: true}}}
	pm := &permit{user: me, req: req, verdict: approved}
	st := &jobStore{h: w.h, job: "g1", rank: 1, user: "me", permit: pm, parties: req.Parties}
	x, restricted, err := st.LoadTagged("secret")
	if err != nil || !restricted || x.Data()[0] != 31337.25 {
		t.Fatalf("approved load: %v %v %v", x, restricted, err)
	}
	// Not declared at this rank: refused.
	st0 := &jobStore{h: w.h, job: "g1", rank: 0, user: "me", permit: pm}
	if _, err := st0.Load("secret"); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "does not declare") {
		t.Fatalf("undeclared load: %v", err)
	}
	if err := st.SaveTagged("out", tensor.FromSlice([]float64{2}), true); err != nil {
		t.Fatal(err)
	}
	found, err := w.h.SearchNamespace(me, "out")
	if err != nil || len(found) != 1 {
		t.Fatalf("saved: %v %v", found, err)
	}
	o := found[0]
	if !o.Private || strings.Join(o.DataOwners, ",") != "v,w/owner" {
		t.Fatalf("saved object private %v, data owners %v; want private, owned by v and w/owner", o.Private, o.DataOwners)
	}
	obj, _ := w.h.Store().Get(o.ID)
	if workers.CanRead(me, obj) == nil {
		t.Fatal("the requester may read what a restricted party saved")
	}
	// A party restricted by another rank's data only.
	st2 := &jobStore{h: w.h, job: "g2", rank: 1, user: "me", permit: &permit{user: me, req: req}, parties: req.Parties}
	if err := st2.SaveTagged("out2", tensor.FromSlice([]float64{2}), true); err != nil {
		t.Fatal(err)
	}
	found, _ = w.h.SearchNamespace(me, "out2")
	if len(found) != 1 || !found[0].Private || strings.Join(found[0].DataOwners, ",") != "v" {
		t.Fatalf("saved by a party restricted elsewhere: %+v", found)
	}
}
