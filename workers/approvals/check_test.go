package approvals

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// world is a worker "alice" with an owner (admin), a data scientist ds,
// another user mallory, a read-private user auditor, and objects:
//
//	data      private, the owner's        (ds may not read it)
//	pub       not private, the owner's
//	shared    private, the owner's, allowing ds
//	model     a private model, the owner's
//	data      (a second one) mallory's, not private: outside ds's namespace
//	dup       two of the owner's, to make a lookup ambiguous
type world struct {
	h     *workers.Handler
	book  *Book
	users map[string]*workers.User
	toks  map[string]string
	clock *time.Time
}

func newWorld(t *testing.T, st store.Store) *world {
	t.Helper()
	users := workers.NewUsers()
	toks := map[string]string{}
	for _, u := range []struct {
		name  string
		perms []string
	}{{workers.OwnerUser, []string{workers.PermAdmin}}, {"ds", nil}, {"mallory", nil}, {"auditor", []string{workers.PermReadPrivate}}} {
		tok, err := users.Add(u.name, u.perms...)
		if err != nil {
			t.Fatal(err)
		}
		toks[u.name] = tok
	}
	h, err := workers.NewHandler(workers.Config{WorkerID: "alice", Store: st, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	w := &world{h: h, users: map[string]*workers.User{}, toks: toks, clock: &now}
	w.book, err = Register(h, Options{Now: func() time.Time { return *w.clock }})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range toks {
		u, err := users.Authenticate(tok)
		if err != nil {
			t.Fatal(err)
		}
		w.users[name] = u
	}
	put := func(id, owner string, private bool, allowed []string, tags ...string) {
		o := &store.Object{ID: id, Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1, 2, 3}), Tags: tags,
			Owner: owner, Private: private, AllowedUsers: allowed, Created: time.Now().UnixNano()}
		if err := st.Put(o); err != nil {
			t.Fatal(err)
		}
	}
	put("o-data", workers.OwnerUser, true, nil, "data")
	put("o-pub", workers.OwnerUser, false, nil, "pub")
	put("o-shared", workers.OwnerUser, true, []string{"ds"}, "shared")
	put("m-data", "mallory", false, nil, "data")
	put("o-dup1", workers.OwnerUser, true, nil, "dup")
	put("o-dup2", workers.OwnerUser, true, nil, "dup")
	if err := st.Put(&store.Object{ID: "o-model", Kind: store.KindModel, Blob: []byte{1}, Tags: []string{"model"},
		Owner: workers.OwnerUser, Private: true}); err != nil {
		t.Fatal(err)
	}
	return w
}

func args(t testing.TB, xs ...any) []byte {
	t.Helper()
	if len(xs) == 0 {
		return nil
	}
	b, err := serde.Marshal(xs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// job is a two-party job request loading tags at alice (rank 0), under the
// dealer carol.
func job(a []byte, loads ...Load) *Request {
	return &Request{Kind: KindJob, Program: sandbox.Program{Source: "package main\nfunc f() {}\n", Entry: "f"},
		ArgsHash: ArgsDigest(a), Parties: []Party{{Worker: "alice"}, {Worker: "bob"}},
		Provider: mpc.ProviderDealer, Dealer: &Party{Worker: "carol"}, Loads: loads,
		Recipients: []string{mpc.RecipientRequester}}
}

func at0(tag string) Load { return Load{Rank: 0, Tag: tag, Kind: LoadTensor} }

func (w *world) approve(t *testing.T, id, requester string, l Limits) {
	t.Helper()
	var rep DecideReply
	if err := w.call(workers.OwnerUser, MsgApprove, &ApproveRequest{ID: id, Requester: requester, Limits: l}, &rep); err != nil {
		t.Fatal(err)
	}
}

func (w *world) deny(t *testing.T, id, reason string) {
	t.Helper()
	var rep DecideReply
	if err := w.call(workers.OwnerUser, MsgDeny, &DenyRequest{ID: id, Reason: reason}, &rep); err != nil {
		t.Fatal(err)
	}
}

// call sends one request as user through a real session.
func (w *world) call(user, typ string, req, rep any) error {
	ctx := context.Background()
	c, err := workers.NewClient(ctx, workers.NewSessionTransport(w.h, "test"), workers.Credentials{Token: w.toks[user]}, workers.ClientOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(ctx, typ, req, rep)
}

func (w *world) submit(t *testing.T, user string, r *Request, a []byte) *Verdict {
	t.Helper()
	var rep SubmitReply
	if err := w.call(user, MsgSubmit, &SubmitRequest{Request: *r, Args: a}, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep.Verdict
}

func TestCheck(t *testing.T) {
	a5, a7, a11, aStr := args(t, 5.0), args(t, 7.0), args(t, 11.0), args(t, "x")
	cases := []struct {
		name string
		user string
		req  *Request
		args []byte
		// setup runs before the check: submit and decide.
		setup func(t *testing.T, w *world)
		run   bool
		// then runs the check again afterwards (a second run).
		again      bool
		want       Status
		restricted bool
		wantErr    string   // a bad request
		mention    []string // in the refusal's text
	}{
		{name: "nothing loaded", user: "ds", req: job(nil), want: StatusAllowed},
		// A declared tag that names nothing loads nothing: the job's load
		// fails where it is written.
		{name: "missing tag", user: "ds", req: job(nil, at0("nothing")), want: StatusAllowed},
		{name: "public data", user: "ds", req: job(nil, at0("pub")), want: StatusAllowed},
		{name: "private data allowing the requester", user: "ds", req: job(nil, at0("shared")), want: StatusAllowed},
		{name: "read-private user", user: "auditor", req: job(nil, at0("data")), want: StatusAllowed},
		{name: "owner's own data", user: workers.OwnerUser, req: job(nil, at0("data")), want: StatusAllowed},
		{name: "private data, never submitted", user: "ds", req: job(nil, at0("data")), want: StatusPending, restricted: true,
			mention: []string{"o-data", `"data"`, "owned by owner", "gomplab worker requests approve r-", "syft.Approve"}},
		{name: "stranger's object under the same tag is invisible", user: "ds", req: job(nil, at0("data")), want: StatusPending, restricted: true,
			mention: []string{"o-data"}},
		{name: "approved", user: "ds", req: job(nil, at0("data")), want: StatusApproved, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{})
			}},
		{name: "approved for another requester", user: "ds", req: job(nil, at0("data")), want: StatusPending, restricted: true,
			setup: func(t *testing.T, w *world) {
				if err := w.h.Store().Delete("m-data"); err != nil {
					t.Fatal(err)
				}
				v := w.submit(t, "mallory", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "mallory", Limits{})
			}},
		{name: "denied", user: "ds", req: job(nil, at0("data")), want: StatusDenied, restricted: true, mention: []string{"not today"},
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.deny(t, v.ID, "not today")
			}},
		{name: "one run, used", user: "ds", req: job(nil, at0("data")), run: true, again: true, want: StatusExhausted, restricted: true,
			mention: []string{"runs are used up"},
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{Runs: 1})
			}},
		{name: "two runs, one used", user: "ds", req: job(nil, at0("data")), run: true, again: true, want: StatusApproved, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{Runs: 2})
			}},
		{name: "looking does not use a run", user: "ds", req: job(nil, at0("data")), again: true, want: StatusApproved, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{Runs: 1})
			}},
		{name: "expired", user: "ds", req: job(nil, at0("data")), want: StatusExpired, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{Expires: w.clock.Add(time.Hour).UnixNano()})
				*w.clock = w.clock.Add(2 * time.Hour)
			}},
		{name: "other arguments need a new approval", user: "ds", req: job(a7, at0("data")), args: a7, want: StatusPending, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(a5, at0("data")), a5)
				w.approve(t, v.ID, "", Limits{})
			}},
		{name: "other recipients need a new approval", user: "ds", want: StatusPending, restricted: true,
			req: func() *Request {
				r := job(nil, at0("data"))
				r.Recipients = []string{mpc.RecipientAllParties}
				return r
			}(),
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{})
			}},
		{name: "other provider needs a new approval", user: "ds", want: StatusPending, restricted: true,
			req: func() *Request { r := job(nil, at0("data")); r.Provider, r.Dealer = mpc.ProviderTFP, nil; return r }(),
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{})
			}},
		{name: "other source needs a new approval", user: "ds", want: StatusPending, restricted: true,
			req: func() *Request { r := job(nil, at0("data")); r.Program.Source += "// changed\n"; return r }(),
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{})
			}},
		{name: "other parties need a new approval", user: "ds", want: StatusPending, restricted: true,
			req: func() *Request { r := job(nil, at0("data")); r.Parties[1].Worker = "eve"; return r }(),
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(nil, at0("data")), nil)
				w.approve(t, v.ID, "", Limits{})
			}},
		{name: "argument within an approved range", user: "ds", req: job(a7, at0("data")), args: a7, run: true, want: StatusApproved, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(a5, at0("data")), a5)
				w.approve(t, v.ID, "", Limits{ArgRanges: []ArgRange{{Index: 0, Lo: 0, Hi: 10}}})
			}},
		{name: "argument outside an approved range", user: "ds", req: job(a11, at0("data")), args: a11, want: StatusPending, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(a5, at0("data")), a5)
				w.approve(t, v.ID, "", Limits{ArgRanges: []ArgRange{{Index: 0, Lo: 0, Hi: 10}}})
			}},
		{name: "a string cannot stand in a numeric range", user: "ds", req: job(aStr, at0("data")), args: aStr, want: StatusPending, restricted: true,
			setup: func(t *testing.T, w *world) {
				v := w.submit(t, "ds", job(a5, at0("data")), a5)
				w.approve(t, v.ID, "", Limits{ArgRanges: []ArgRange{{Index: 0, Lo: 0, Hi: 10}}})
			}},
		{name: "world size 1, readable", user: "ds", want: StatusAllowed,
			req: func() *Request {
				r := job(nil, at0("pub"))
				r.Parties, r.Provider, r.Dealer = r.Parties[:1], mpc.ProviderTFP, nil
				return r
			}()},
		{name: "world size 1, private", user: "ds", want: StatusPending, restricted: true,
			req: func() *Request {
				r := job(nil, at0("data"))
				r.Parties, r.Provider, r.Dealer = r.Parties[:1], mpc.ProviderTFP, nil
				return r
			}()},
		{name: "model", user: "ds", req: job(nil, Load{Rank: 0, Tag: "model", Kind: LoadModel}), want: StatusPending, restricted: true},
		{name: "dealer", user: "ds", want: StatusAllowed,
			req: func() *Request {
				r := job(nil, at0("data"))
				r.Parties[0].Worker, r.Dealer.Worker = "dave", "alice"
				return r
			}()},
		{name: "not a party", user: "ds", wantErr: "does not name worker alice",
			req: func() *Request { r := job(nil); r.Parties[0].Worker = "dave"; return r }()},
		{name: "fingerprint of another worker", user: "ds", wantErr: "fingerprint",
			req: func() *Request {
				r := job(nil)
				r.Parties[0].Fingerprint = "sha256:" + strings.Repeat("ab", 32)
				return r
			}()},
		{name: "arguments not the request's", user: "ds", req: job(a5), args: a7, wantErr: "binds arguments"},
		{name: "ambiguous inside the namespace", user: "ds", req: job(nil, at0("dup")), wantErr: "o-dup1 (owner owner)"},
		{name: "tensor load of a model", user: "ds", req: job(nil, at0("model")), wantErr: "is a model"},
		{name: "mallory's own object", user: "mallory", req: job(nil, at0("data")), wantErr: "2 objects"},
		{name: "dealer among the parties", user: "ds", wantErr: "both party",
			req: func() *Request { r := job(nil); r.Dealer.Worker = "bob"; return r }()},
		{name: "unknown recipient", user: "ds", wantErr: "unknown recipient",
			req: func() *Request { r := job(nil); r.Recipients = []string{"everyone"}; return r }()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, store.NewMemStore())
			if c.setup != nil {
				c.setup(t, w)
			}
			q := Query{Request: c.req, Args: c.args, User: w.users[c.user], Run: c.run}
			v, err := w.book.Check(q)
			if c.again && err == nil {
				v, err = w.book.Check(q)
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != c.want || v.Restricted != c.restricted {
				t.Fatalf("status %s restricted %v, want %s %v (%s %s)", v.Status, v.Restricted, c.want, c.restricted, v.Reason, v.Action)
			}
			if v.ID != c.req.ID() {
				t.Errorf("verdict for %s, want %s", v.ID, c.req.ID())
			}
			rerr := v.Err()
			if v.OK() != (rerr == nil) {
				t.Fatalf("OK %v but Err %v", v.OK(), rerr)
			}
			if rerr != nil {
				if !errors.Is(rerr, workers.ErrPermission) {
					t.Errorf("refusal %v does not wrap ErrPermission", rerr)
				}
				for _, m := range append(c.mention, v.ID, "worker alice") {
					if !strings.Contains(rerr.Error(), m) {
						t.Errorf("refusal %q does not mention %q", rerr, m)
					}
				}
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	r := job(nil, at0("b"), at0("a"))
	r.Recipients = []string{"requester", "all-parties"}
	same := job(nil, at0("a"), at0("b"), at0("a"))
	same.Recipients = []string{"all-parties", "requester", "requester"}
	if r.ID() != same.ID() {
		t.Errorf("equivalent requests have ids %s and %s", r.ID(), same.ID())
	}
	if err := ValidID(r.ID()); err != nil {
		t.Error(err)
	}
	changes := map[string]func(*Request){
		"note":      func(r *Request) { r.Note = "x" },
		"entry":     func(r *Request) { r.Program.Entry = "g" },
		"file":      func(r *Request) { r.Program.File = "x.go" },
		"args":      func(r *Request) { r.ArgsHash = ArgsDigest([]byte{1}) },
		"party fp":  func(r *Request) { r.Parties[1].Fingerprint = "sha256:" + strings.Repeat("00", 32) },
		"dealer":    func(r *Request) { r.Dealer.Worker = "dan" },
		"load rank": func(r *Request) { r.Loads[0].Rank = 1 },
		"load kind": func(r *Request) { r.Loads[0].Kind = LoadModel },
		"recipient": func(r *Request) { r.Recipients = r.Recipients[:1] },
	}
	for name, change := range changes {
		c := same.Canonical()
		c.Parties = append([]Party(nil), c.Parties...)
		d := *c.Dealer
		c.Dealer = &d
		change(c)
		if c.ID() == r.ID() {
			t.Errorf("changing the %s keeps the id", name)
		}
	}
	for _, bad := range []string{"", "r-", "r-0123456789ABCDEF", "x-0123456789abcdef", "r-0123456789abcdeg", "r-0123456789abcdef0"} {
		if ValidID(bad) == nil {
			t.Errorf("ValidID(%q) accepted it", bad)
		}
	}
}

func TestInferLoads(t *testing.T) {
	src := `package main

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
)

const tag = "images"
const owner = 1

func f(k int) (any, error) {
	a, _ := mpc.Load("crypten_data", 0)
	b, _ := mpc.Load(tag, owner)
	m, _ := nn.LoadModel("crypten_model", 0)
	c, _ := mpc.Load("everywhere", k)
	d, _ := mpc.Default().Load("method", 1)
	e, _ := nn.LoadEncryptedModel(mpc.Default(), "enc", 1)
	_, _ = mpc.Load(computed(), 0)
	_, _ = mpc.Load("out of range", 5)
	_ = load("helper", 1)
	_ = loadModel("helper_model", 0)
	_ = loader("not a load", 0)
	s, _ := mpc.LoadShare("share/x")
	return nil, nil
}
`
	got := InferLoads(src, 2)
	want := []Load{
		{0, "crypten_data", "", LoadTensor}, {0, "crypten_model", "", LoadModel}, {0, "everywhere", "", LoadTensor}, {0, "helper_model", "", LoadModel}, {0, "share/x", "", LoadTensor},
		{1, "enc", "", LoadModel}, {1, "everywhere", "", LoadTensor}, {1, "helper", "", LoadTensor}, {1, "images", "", LoadTensor}, {1, "method", "", LoadTensor}, {1, "share/x", "", LoadTensor},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if InferLoads("not go", 2) != nil {
		t.Error("unparsable source declared loads")
	}
}

// A train request runs no MPC job: it names no provider, and only it may.
func TestTrainRequestProvider(t *testing.T) {
	train := func(provider string, dealer *Party) *Request {
		return &Request{Kind: KindTrain, Train: []byte{1}, ArgsHash: ArgsDigest(nil),
			Parties: []Party{{Worker: "alice"}, {Worker: "bob"}}, Provider: provider, Dealer: dealer,
			Loads: []Load{at0("data")}, Recipients: []string{mpc.RecipientRequester}}
	}
	if err := train("", nil).Validate(); err != nil {
		t.Errorf("train request without a provider: %v", err)
	}
	for name, r := range map[string]*Request{
		"train with tfp":                  train(mpc.ProviderTFP, nil),
		"train with dealer":               train(mpc.ProviderDealer, &Party{Worker: "carol"}),
		"train, no provider but a dealer": train("", &Party{Worker: "carol"}),
		"job without provider":            func() *Request { r := job(nil, at0("data")); r.Provider, r.Dealer = "", nil; return r }(),
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	w := newWorld(t, store.NewMemStore())
	v := w.submit(t, "ds", train("", nil), nil)
	if v.Status != StatusPending {
		t.Fatalf("train request on private data: %s", v.Status)
	}
	var rep ShowReply
	if err := w.call(workers.OwnerUser, MsgShow, &ShowRequest{ID: v.ID}, &rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"provider: none", "never one participant's model", "stay on this worker, private", "one share of a secure aggregate"} {
		if !strings.Contains(rep.Review, want) {
			t.Errorf("review lacks %q:\n%s", want, rep.Review)
		}
	}
	if strings.Contains(rep.Review, "WARNING") {
		t.Errorf("review of a train request warns about a provider:\n%s", rep.Review)
	}
}

// TestReviewLine: a review shows source as written, tabs as spaces, and
// escapes what could hide or reorder text.
func TestReviewLine(t *testing.T) {
	for in, want := range map[string]string{
		"\treturn a.Mul(b) // \"x\"":         `    return a.Mul(b) // "x"`,
		"x := 1 // \u202egnp.exe":            `x := 1 // \u202egnp.exe`,
		"s := \"caf\xc3\xa9\" + \"\xff\"":    `s := "café" + "\xff"`,
		"a\rb\x00c\u2066":                    `a\u000db\u0000c\u2066`,
		"zero\u200bwidth \ufeffbom, ünïcode": `zero\u200bwidth \ufeffbom, ünïcode`,
	} {
		if got := reviewLine(in); got != want {
			t.Errorf("reviewLine(%q) = %q, want %q", in, got, want)
		}
	}
}
