package syft_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
)

// gateDaemon is a TLS daemon holding its owner's private canary tensor
// tagged "secret", with sessions of its owner, of "me" (no permissions),
// of "eve" (none either) and of "carol" (read-private).
type gateDaemon struct {
	dir                   string
	d                     *daemon.Daemon
	owner, me, eve, carol *syft.RemoteWorker
	secret                *syft.Pointer
}

// canaries are values that appear nowhere unless a private value leaked.
var canaries = [][]float64{{7777.125, -6666.375}, {5555.625, 4444.875}}

func startGateDaemon(t *testing.T, id string, data []float64) *gateDaemon {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	res, err := daemon.InitDataDir(dir, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	users, err := res.Dir.Users()
	if err != nil {
		t.Fatal(err)
	}
	tok := map[string]string{}
	for name, perms := range map[string][]string{"me": nil, "eve": nil, "carol": {workers.PermReadPrivate}} {
		if tok[name], err = users.Add(name, perms...); err != nil {
			t.Fatal(err)
		}
	}
	d, err := daemon.Start(daemon.Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	g := &gateDaemon{dir: dir, d: d}
	g.owner = connectB(t, d, res.OwnerToken)
	g.me, g.eve, g.carol = connectB(t, d, tok["me"]), connectB(t, d, tok["eve"]), connectB(t, d, tok["carol"])
	if g.secret, err = syft.Send(tensor.FromSlice(data), g.owner, syft.WithTags("secret"), syft.AsPrivate()); err != nil {
		t.Fatal(err)
	}
	g.secret.Keep()
	return g
}

func (g *gateDaemon) accessLog(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(g.dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const gateSum = `package main

import "github.com/gomplab/gomplab/mpc"

func sum(k float64) (any, error) {
	a, err := mpc.Load("secret", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("secret", 1)
	if err != nil {
		return nil, err
	}
	return a.Add(b).Mul(k).GetPlainText()
}

func saveSum() (any, error) {
	a, err := mpc.Load("secret", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("secret", 1)
	if err != nil {
		return nil, err
	}
	s, err := a.Add(b).GetPlainText()
	if err != nil {
		return nil, err
	}
	return nil, mpc.Save("saved_sum", s)
}

func alone() (any, error) {
	a, err := mpc.Load("secret", 0)
	if err != nil {
		return nil, err
	}
	return a.GetPlainText()
}
`

// noCanary fails when any canary's decimal text appears in s.
func noCanary(t *testing.T, where, s string) {
	t.Helper()
	for _, vs := range canaries {
		for _, v := range vs {
			for _, txt := range []string{strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(v, 'f', 1, 64)} {
				if strings.Contains(s, txt) {
					t.Errorf("%s holds the canary %v", where, v)
				}
			}
		}
	}
}

// TestApprovalsEndToEnd: two TLS daemons, each holding its owner's
// private canary; an ordinary user's job on both is refused before any
// party starts, naming the objects, their owners and the request, with no
// canary anywhere; each owner's approval, on its own worker, lets exactly
// that request run, within its runs and before its expiry; any change is
// a new request; a tag hijack neither breaks nor hijacks it; what it
// saves is private data of the owners.
func TestApprovalsEndToEnd(t *testing.T) {
	alice, bob := startGateDaemon(t, "alice", canaries[0]), startGateDaemon(t, "bob", canaries[1])
	me := []syft.Worker{alice.me, bob.me}
	job := func(entry string, args ...any) *syft.Job {
		return &syft.Job{Workers: me, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(gateSum, entry), Args: args, Timeout: time.Minute}
	}
	run := func(j *syft.Job) (*syft.Results, error) { return j.Run(t.Context()) }
	var errTexts []string

	// 1. No approval: refused before any party starts.
	_, err := run(job("sum", 2.0))
	var ae *syft.ApprovalError
	if !errors.As(err, &ae) || !errors.Is(err, syft.ErrNotApproved) {
		t.Fatalf("unapproved job: %v", err)
	}
	errTexts = append(errTexts, err.Error())
	for _, w := range []*gateDaemon{alice, bob} {
		for _, want := range []string{w.secret.ID(), "owned by owner", ae.ID, "requests approve " + ae.ID, "worker " + w.d.WorkerID()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal does not name %q: %v", want, err)
			}
		}
		if strings.Contains(w.accessLog(t), "job started") {
			t.Fatalf("%s started a party of an unapproved job", w.d.WorkerID())
		}
	}

	// 2. The owners review and approve, each on their own worker.
	st, err := syft.Submit(job("sum", 2.0))
	if err != nil || st.ID != ae.ID || st.OK() || st.Verdicts[0].Status != syft.StatusPending {
		t.Fatalf("submit: %v %v", st, err)
	}
	list, err := syft.ListRequests(alice.owner, syft.StatusPending)
	if err != nil || len(list) != 1 || list[0].ID != st.ID || list[0].Requester != "me" {
		t.Fatalf("owner's list: %+v %v", list, err)
	}
	if mine, err := syft.ListRequests(alice.eve); err != nil || len(mine) != 0 {
		t.Fatalf("eve sees others' requests: %+v %v", mine, err)
	}
	rv, err := syft.ShowRequest(alice.owner, st.ID)
	if err != nil || !strings.Contains(rv.Review, "a.Add(b).Mul(k).GetPlainText()") || !strings.Contains(rv.Review, alice.secret.ID()) {
		t.Fatalf("review: %v\n%v", err, rv)
	}
	if _, err := syft.Approve(alice.me, st.ID, "me"); err == nil {
		t.Fatal("a requester approved their own request")
	}
	if _, err := syft.Approve(alice.owner, st.ID, "me", syft.Limits{Runs: 2}); err != nil {
		t.Fatal(err)
	}
	_, err = run(job("sum", 2.0))
	if !errors.As(err, &ae) || strings.Contains(err.Error(), "worker alice:") || !strings.Contains(err.Error(), "worker bob:") {
		t.Fatalf("approved by alice only: %v", err)
	}
	errTexts = append(errTexts, err.Error())
	if _, err := syft.Approve(bob.owner, st.ID, "", syft.Limits{Runs: 2}); err != nil {
		t.Fatal(err)
	}
	want := tensor.FromSlice(canaries[0]).Add(tensor.FromSlice(canaries[1])).Mul(tensor.Scalar(2))
	res, err := run(job("sum", 2.0))
	if err != nil || !tensor.AllClose(res.Tensor(0), want, 0, 1e-2) {
		t.Fatalf("approved job: %v %v", res, err)
	}

	// 3. Any change is a new request, refused.
	if p, err := syft.Send(tensor.FromSlice([]float64{3}), bob.owner, syft.WithTags("other"), syft.AsPrivate()); err != nil {
		t.Fatal(err)
	} else {
		p.Keep()
	}
	changed := map[string]*syft.Job{
		"argument":  job("sum", 3.0),
		"entry":     job("alone"),
		"recipient": func() *syft.Job { j := job("sum", 2.0); j.Recipients = []string{"requester"}; return j }(),
		"note":      func() *syft.Job { j := job("sum", 2.0); j.Note = "please"; return j }(),
		"source":    {Workers: me, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(gateSum+"\n// changed\n", "sum"), Args: []any{2.0}},
		"tag":       func() *syft.Job { j := job("sum", 2.0); j.Loads = []syft.Load{{Rank: 1, Tag: "other"}}; return j }(),
	}
	for name, j := range changed {
		_, err := run(j)
		if !errors.As(err, &ae) || ae.ID == st.ID {
			t.Errorf("%s changed: %v", name, err)
		}
		if err != nil {
			errTexts = append(errTexts, err.Error())
		}
	}

	// 4. A tag hijack: eve stores her own object under "secret" on both
	// workers; the approved job still loads the owners' data.
	for _, w := range []*gateDaemon{alice, bob} {
		p, err := syft.Send(tensor.FromSlice([]float64{1, 1}), w.eve, syft.WithTags("secret"))
		if err != nil {
			t.Fatal(err)
		}
		p.Keep()
	}
	res, err = run(job("sum", 2.0))
	if err != nil || !tensor.AllClose(res.Tensor(1), want, 0, 1e-2) {
		t.Fatalf("after eve's hijack: %v %v", res, err)
	}
	// 5. Runs: the third run of two is refused.
	if _, err = run(job("sum", 2.0)); !errors.As(err, &ae) || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("third run of two: %v", err)
	}
	errTexts = append(errTexts, err.Error())

	// 6. Expiry.
	exp := job("sum", 2.0)
	exp.Note = "expiring"
	st2, err := syft.Submit(exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*gateDaemon{alice, bob} {
		if _, err := syft.Approve(w.owner, st2.ID, "me", syft.Limits{Expires: time.Now().Add(-time.Second).UnixNano()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err = run(exp); !errors.As(err, &ae) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired approval: %v", err)
	}
	errTexts = append(errTexts, err.Error())

	// 7. Saves of an approved job are private data of the owners.
	save := job("saveSum")
	st3, err := syft.Submit(save)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*gateDaemon{alice, bob} {
		if _, err := syft.Approve(w.owner, st3.ID, "me"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := run(save); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*gateDaemon{alice, bob} {
		ps, err := w.me.Search("saved_sum")
		if err != nil || len(ps) != 1 {
			t.Fatalf("%s: saved: %v %v", w.d.WorkerID(), ps, err)
		}
		in := ps[0].Info()
		other := "bob"
		if w == bob {
			other = "alice"
		}
		if !in.Private || !strings.Contains(strings.Join(in.DataOwners, ","), w.d.WorkerID()+"/owner") || !strings.Contains(strings.Join(in.DataOwners, ","), other) {
			t.Errorf("%s: saved object private %v, data owners %v", w.d.WorkerID(), in.Private, in.DataOwners)
		}
		if _, err := ps[0].GetCopy(); !errors.Is(err, workers.ErrPermission) {
			t.Errorf("%s: the requester read the saved sum: %v", w.d.WorkerID(), err)
		} else {
			errTexts = append(errTexts, err.Error())
		}
		if eps, _ := w.eve.Search("saved_sum"); len(eps) != 0 {
			t.Errorf("%s: eve finds the saved sum by tag", w.d.WorkerID())
		}
	}

	// 8. World size 1: refused on data the user may not read, allowed to
	// a user who may read it.
	one := &syft.Job{Workers: []syft.Worker{alice.me}, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(gateSum, "alone")}
	if _, err := one.Run(t.Context()); !errors.As(err, &ae) {
		t.Fatalf("world size 1 without approval: %v", err)
	} else {
		errTexts = append(errTexts, err.Error())
	}
	carol := &syft.Job{Workers: []syft.Worker{alice.carol}, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(gateSum, "alone")}
	if res, err := carol.Run(t.Context()); err != nil || !tensor.AllClose(res.Tensor(0), tensor.FromSlice(canaries[0]), 0, 1e-2) {
		t.Fatalf("a reader's job on one worker: %v %v", res, err)
	}

	// No canary in any refusal or in the access logs.
	for i, s := range errTexts {
		noCanary(t, "refusal "+string(rune('0'+i)), s)
	}
	for _, w := range []*gateDaemon{alice, bob} {
		noCanary(t, w.d.WorkerID()+"'s access log", w.accessLog(t))
	}
}

// TestPlanGate: plans on private data the caller may not read, as an MPC
// job (RunPlan) and where the data is (PlanPointer.Call), are refused
// before they run until the owners approve their exact request; approved,
// they run, and Call's outputs are private data of the owner that the
// caller (the approved recipient) may read and another user may not.
func TestPlanGate(t *testing.T) {
	alice, bob := startGateDaemon(t, "alice", canaries[0]), startGateDaemon(t, "bob", canaries[1])
	me := []syft.Worker{alice.me, bob.me}
	p, err := syft.Func2Plan("sum", func(b *syft.PlanBuilder, shift *syft.Placeholder) *syft.Placeholder {
		return b.Load("secret", 0, 2).Add(b.Load("secret", 1, 2)).Add(shift)
	}, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	shift := tensor.FromSlice([]float64{1, 1})
	job := &syft.Job{Workers: me, MasterAddr: "127.0.0.1", Plan: p, Args: []any{shift}}
	var ae *syft.ApprovalError
	_, err = job.Run(t.Context())
	if !errors.As(err, &ae) || !errors.Is(err, syft.ErrNotApproved) || !strings.Contains(err.Error(), alice.secret.ID()) {
		t.Fatalf("RunPlan without approval: %v", err)
	}
	noCanary(t, "RunPlan's refusal", err.Error())
	for _, w := range []*gateDaemon{alice, bob} {
		if _, err := syft.Approve(w.owner, ae.ID, "me"); err != nil {
			t.Fatal(err)
		}
	}
	res, err := syft.RunPlan(me, "127.0.0.1", p, shift)
	want := tensor.FromSlice(canaries[0]).Add(tensor.FromSlice(canaries[1])).Add(shift)
	if err != nil {
		t.Fatal(err)
	}
	if outs, _ := res.Value(0).([]any); len(outs) != 1 || !tensor.AllClose(outs[0].(*tensor.Tensor), want, 0, 1e-2) {
		t.Fatalf("approved RunPlan: %v", res.Value(0))
	}

	// Where the data is.
	double, err := syft.Func2Plan("double", func(b *syft.PlanBuilder, x *syft.Placeholder) *syft.Placeholder {
		return x.Add(x)
	}, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	pp, err := syft.SendPlan(double, alice.me)
	if err != nil {
		t.Fatal(err)
	}
	found, err := alice.me.Search("secret")
	if err != nil || len(found) != 1 {
		t.Fatalf("search: %v %v", found, err)
	}
	_, err = pp.Call(found[0])
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), alice.secret.ID()) || !strings.Contains(err.Error(), "requests approve "+ae.ID) {
		t.Fatalf("Call without approval: %v", err)
	}
	noCanary(t, "Call's refusal", err.Error())
	if _, err := syft.Approve(alice.owner, ae.ID, "me", syft.Limits{Runs: 1}); err != nil {
		t.Fatal(err)
	}
	outs, err := pp.Call(found[0])
	if err != nil || len(outs) != 1 {
		t.Fatalf("approved Call: %v %v", outs, err)
	}
	in := outs[0].Info()
	if !in.Private || strings.Join(in.DataOwners, ",") != "alice/owner" {
		t.Errorf("output private %v, data owners %v", in.Private, in.DataOwners)
	}
	got, err := outs[0].GetCopy()
	if err != nil || !tensor.AllClose(got, tensor.FromSlice(canaries[0]).Mul(tensor.Scalar(2)), 0, 1e-9) {
		t.Fatalf("the approved recipient's copy: %v %v", got, err)
	}
	if _, err := pp.Call(found[0]); !errors.As(err, &ae) || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("second Call of one approved run: %v", err)
	}
	noCanary(t, "alice's access log", alice.accessLog(t))
}

// gateDynamic loads a tag given as an argument: its load must be declared.
func gateDynamic(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	return x.Mul(2).GetPlainText()
}

// TestJobOptionsBindTheRequest: WithLoads, WithRecipients and WithNote
// among RunMultiWorkers' arguments make the same request as the Job's
// fields, so an approval of the submitted job lets the short form run;
// without the declared load, the tag computed at run time is refused at
// the load, naming the request and what to declare.
func TestJobOptionsBindTheRequest(t *testing.T) {
	alice := syft.NewVirtualWorker("alice")
	t.Cleanup(alice.Shutdown)
	p, err := syft.Send(tensor.FromSlice([]float64{canaries[0][0]}), alice.Owner(), syft.WithTags("dyn"), syft.AsPrivate())
	if err != nil {
		t.Fatal(err)
	}
	p.Keep()
	ws := []syft.Worker{alice}
	f, err := syft.FuncOf(gateDynamic)
	if err != nil {
		t.Fatal(err)
	}
	job := &syft.Job{Workers: ws, MasterAddr: "127.0.0.1", Func: f, Args: []any{"dyn"},
		Loads: []syft.Load{{Rank: 0, Tag: "dyn"}}, Recipients: []string{"all-parties", "requester"}, Note: "twice"}
	st, err := syft.Submit(job)
	if err != nil || st.Verdicts[0].Status != syft.StatusPending {
		t.Fatalf("submit: %v %v", st, err)
	}
	if _, err := syft.Approve(alice.Owner(), st.ID, syft.DefaultUser); err != nil {
		t.Fatal(err)
	}
	res, err := syft.RunMultiWorkers(ws, "127.0.0.1", gateDynamic, "dyn",
		syft.WithLoads(syft.Load{Rank: 0, Tag: "dyn"}), syft.WithRecipients("requester", "all-parties"), syft.WithNote("twice"))
	if err != nil || !tensor.AllClose(res.Tensor(0), tensor.FromSlice([]float64{2 * canaries[0][0]}), 0, 1e-2) {
		t.Fatalf("the short form of the approved job: %v %v", res, err)
	}
	_, err = syft.RunMultiWorkers(ws, "127.0.0.1", gateDynamic, "dyn")
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "does not declare loading it") {
		t.Fatalf("the undeclared load: %v", err)
	}
	noCanary(t, "the undeclared load's error", err.Error())
}
