package plans

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// planWorld is worker "w" with its book and the plans capability, the
// owner's private tensor "o-secret", a plan "o-plan" of ds's doubling its
// input, and sessions of the owner and of ds (no permissions).
type planWorld struct {
	h    *workers.Handler
	toks map[string]string
	blob []byte
}

func newPlanWorld(t *testing.T) *planWorld {
	t.Helper()
	users := workers.NewUsers()
	toks := map[string]string{}
	for name, perms := range map[string][]string{workers.OwnerUser: {workers.PermAdmin}, "ds": nil} {
		tok, err := users.Add(name, perms...)
		if err != nil {
			t.Fatal(err)
		}
		toks[name] = tok
	}
	st := store.NewMemStore()
	h, err := workers.NewHandler(workers.Config{WorkerID: "w", Store: st, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	book, err := approvals.Register(h, approvals.Options{})
	if err != nil {
		t.Fatal(err)
	}
	Register(h, book)
	p, err := plan.Trace("double", func(b *plan.Builder, x *plan.Placeholder) *plan.Placeholder { return x.Add(x) }, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	for _, o := range []*store.Object{
		{ID: "o-secret", Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{21, 4}), Owner: workers.OwnerUser, Private: true, Created: now},
		{ID: "o-mine", Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1, 2}), Owner: "ds", Created: now},
		{ID: "o-plan", Kind: store.KindPlan, Blob: blob, Owner: "ds", Created: now},
	} {
		if err := st.Put(o); err != nil {
			t.Fatal(err)
		}
	}
	return &planWorld{h: h, toks: toks, blob: blob}
}

func (w *planWorld) call(t *testing.T, user, typ string, req, rep any) error {
	t.Helper()
	c, err := workers.NewClient(context.Background(), workers.NewSessionTransport(w.h, user), workers.Credentials{Token: w.toks[user]}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Call(context.Background(), typ, req, rep)
}

func (w *planWorld) request(input string, recipients ...string) *approvals.Request {
	return &approvals.Request{Kind: approvals.KindPlan, Plan: w.blob, ArgsHash: approvals.ArgsDigest(nil),
		Parties: []approvals.Party{{Worker: "w"}}, Provider: mpc.ProviderTFP, Recipients: recipients,
		Loads: []approvals.Load{{Rank: 0, Object: input, Kind: approvals.LoadTensor}}}
}

// TestPlanRunGate: plan.run on the caller's own data runs; on data the
// caller may not read it is refused before the plan runs (no request, a
// request for another plan or not declaring the input, one no owner
// approved), naming the input and its owner; approved, its outputs are
// the owner's private data, readable by the caller only when the
// approval names the requester.
func TestPlanRunGate(t *testing.T) {
	w := newPlanWorld(t)
	var rep RunReply
	if err := w.call(t, "ds", MsgRun, &RunRequest{PlanID: "o-plan", Args: []string{"o-mine"}}, &rep); err != nil || len(rep.Results) != 1 || rep.Results[0].Private {
		t.Fatalf("own data: %+v %v", rep, err)
	}
	other := w.request("o-secret", mpc.RecipientRequester)
	other.Plan = append([]byte{}, w.blob...)
	other.Plan[len(other.Plan)-1] ^= 1
	undeclared := w.request("o-mine", mpc.RecipientRequester)
	for name, c := range map[string]struct {
		req  *approvals.Request
		want string
	}{
		"no request":       {nil, "carries no request"},
		"another plan":     {other, "is not for plan"},
		"undeclared input": {undeclared, "does not declare input o-secret"},
		"not approved":     {w.request("o-secret", mpc.RecipientRequester), "requests approve"},
		"two parties": {func() *approvals.Request {
			r := w.request("o-secret")
			r.Parties = append(r.Parties, approvals.Party{Worker: "v"})
			return r
		}(), "names 2 parties"},
	} {
		err := w.call(t, "ds", MsgRun, &RunRequest{PlanID: "o-plan", Args: []string{"o-secret"}, Request: c.req}, &rep)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if c.want == "carries no request" && (!errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "o-secret (owner owner)")) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, recipients := range [][]string{{mpc.RecipientRequester}, {mpc.RecipientAllParties}} {
		req := w.request("o-secret", recipients...)
		var sub approvals.SubmitReply
		if err := w.call(t, "ds", approvals.MsgSubmit, &approvals.SubmitRequest{Request: *req}, &sub); err != nil || sub.Verdict.Status != approvals.StatusPending {
			t.Fatalf("submit: %+v %v", sub, err)
		}
		if err := w.call(t, workers.OwnerUser, approvals.MsgApprove, &approvals.ApproveRequest{ID: sub.Verdict.ID, Limits: approvals.Limits{Runs: 1}}, &approvals.DecideReply{}); err != nil {
			t.Fatal(err)
		}
		if err := w.call(t, "ds", MsgRun, &RunRequest{PlanID: "o-plan", Args: []string{"o-secret"}, Request: req}, &rep); err != nil {
			t.Fatalf("approved for %v: %v", recipients, err)
		}
		out := rep.Results[0]
		o, err := w.h.Store().Get(out.ID)
		if err != nil {
			t.Fatal(err)
		}
		readable := workers.CanRead(&workers.User{Name: "ds"}, o) == nil
		if !o.Private || strings.Join(o.DataOwners, ",") != "w/owner" || readable != (recipients[0] == mpc.RecipientRequester) {
			t.Errorf("recipients %v: output private %v, data owners %v, readable by ds %v", recipients, o.Private, o.DataOwners, readable)
		}
		if err := w.call(t, "ds", MsgRun, &RunRequest{PlanID: "o-plan", Args: []string{"o-secret"}, Request: req}, &rep); err == nil || !strings.Contains(err.Error(), "exhausted") {
			t.Errorf("a second run of one: %v", err)
		}
	}
}

// FuzzRunRequest: plan.run's decoder never panics, and what it accepts
// re-encodes.
func FuzzRunRequest(f *testing.F) {
	w := &planWorld{blob: []byte{0x80}}
	for _, v := range []any{
		&RunRequest{PlanID: "o-plan", Args: []string{"a", "b"}},
		&RunRequest{PlanID: "p", Args: []string{"x"}, ResultIDs: []string{"r"}, Request: w.request("x", mpc.RecipientRequester)},
	} {
		b, err := serde.EncodeBody(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var q RunRequest
		if err := serde.DecodeBody(b, &q, serde.Limits{MaxBytes: 1 << 20}); err != nil {
			return
		}
		if _, err := serde.EncodeBody(&q); err != nil {
			t.Fatalf("accepted but does not re-encode: %v", err)
		}
		if q.Request != nil {
			_ = q.Request.Validate()
		}
	})
}
