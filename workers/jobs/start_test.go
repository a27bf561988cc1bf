package jobs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

func testIdentity(t testing.TB) *tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "w"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// partyCertDER is the certificate of a PEM party key.
func partyCertDER(t *testing.T, keyPEM []byte) []byte {
	t.Helper()
	c, err := tls.X509KeyPair(keyPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.Certificate[0]
}

// testWorker is a handler with the jobs capability and a client of user "me".
type testWorker struct {
	h  *workers.Handler
	t  *Table
	c  *workers.Client
	id *tls.Certificate
}

func newTestWorker(t *testing.T, o Options) *testWorker {
	t.Helper()
	users := workers.NewUsers()
	tok, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	id := testIdentity(t)
	h, err := workers.NewHandler(workers.Config{WorkerID: "w", Store: store.NewMemStore(), Users: users, Certificate: id})
	if err != nil {
		t.Fatal(err)
	}
	tbl := Register(h, nil, o)
	t.Cleanup(tbl.Close)
	c, err := workers.NewClient(t.Context(), workers.NewSessionTransport(h, "me"), workers.Credentials{Token: tok}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &testWorker{h: h, t: tbl, c: c, id: id}
}

func (w *testWorker) fingerprint() string { return comm.Fingerprint(w.id.Certificate[0]) }

// waitJob is a party that blocks at the rendezvous: rank 1 of 2 whose
// rank 0 never comes, until its setup timeout.
func waitJob(id string, link sandbox.Link) sandbox.Job {
	return sandbox.Job{ID: id, Rank: 1, WorldSize: 2, MasterAddr: "127.0.0.1:1", TimeoutMS: 60000, SetupTimeoutMS: 30000,
		Program: sandbox.Program{Source: "package main\nfunc f() {}", Entry: "f"}, Link: link}
}

var secretLink = sandbox.Link{Secret: []byte("0123456789abcdef0123456789abcdef")}

// Job parameters and authentication settings are checked before anything
// runs; each refusal says what is wrong.
func TestStartValidates(t *testing.T) {
	w := newTestWorker(t, Options{})
	other := comm.Fingerprint(testIdentity(t).Certificate[0])
	job := func(edit func(j *sandbox.Job)) sandbox.Job {
		j := waitJob("j", secretLink)
		edit(&j)
		return j
	}
	cases := []struct {
		name string
		job  sandbox.Job
		want string
	}{
		{"negative rank", job(func(j *sandbox.Job) { j.Rank = -5 }), "rank -5 out of range"},
		{"huge world", job(func(j *sandbox.Job) { j.WorldSize = 1_000_000_000 }), "world size 1000000000 out of range"},
		{"rank past world", job(func(j *sandbox.Job) { j.Rank = 2 }), "rank 2 out of range for 2 parties"},
		{"no timeout", job(func(j *sandbox.Job) { j.TimeoutMS = 0 }), "no timeout"},
		{"negative setup", job(func(j *sandbox.Job) { j.SetupTimeoutMS = -1 }), "negative setup timeout"},
		{"bad id", job(func(j *sandbox.Job) { j.ID = "../x" }), "job id"},
		{"plain links", job(func(j *sandbox.Job) { j.Link = sandbox.Link{} }), "party links must be authenticated"},
		{"short secret", job(func(j *sandbox.Job) { j.Link = sandbox.Link{Secret: []byte("short")} }), "a job secret of 5 bytes"},
		{"identities count", job(func(j *sandbox.Job) { j.Link = sandbox.Link{Identities: []string{w.fingerprint()}} }), "names 1 identities for 2 parties"},
		{"bad identity", job(func(j *sandbox.Job) { j.Link = sandbox.Link{Identities: []string{"x", w.fingerprint()}} }), "identity of rank 0"},
		{"another worker named", job(func(j *sandbox.Job) { j.Link = sandbox.Link{Identities: []string{w.fingerprint(), other}} }), "lists worker " + other + " for rank 1"},
		{"identities without a secret", job(func(j *sandbox.Job) { j.Link = sandbox.Link{Identities: []string{other, w.fingerprint()}} }), "no job secret"},
		{"master address", job(func(j *sandbox.Job) { j.Rank = 0; j.MasterAddr = "no-port" }), "master address"},
		{"unknown provider", job(func(j *sandbox.Job) { j.Provider = "rank0" }), `unknown provider "rank0"`},
		{"dealer-free for 3", job(func(j *sandbox.Job) { j.Provider = "dealer-free"; j.WorldSize = 3 }), "exactly 2 parties, not 3"},
		{"dealer rank without a dealer", job(func(j *sandbox.Job) { j.Rank = 2 }), "rank 2 is the dealer, under provider \"dealer\" only"},
		{"dealer without its identity", job(func(j *sandbox.Job) {
			j.Provider = "dealer"
			j.Link = sandbox.Link{Identities: []string{other, w.fingerprint()}, Secret: secretLink.Secret}
		}), "names 2 identities for 2 parties (want 3: one per rank, the dealer's last)"},
		{"another dealer named", job(func(j *sandbox.Job) {
			j.Provider, j.Rank = "dealer", 2
			j.Link = sandbox.Link{Identities: []string{w.fingerprint(), other, other}, Secret: secretLink.Secret}
		}), "lists worker " + other + " for rank 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rep StartReply
			err := w.c.Call(t.Context(), MsgStart, &StartRequest{Job: tc.job}, &rep)
			if err == nil || !errors.Is(err, workers.ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a bad request with %q", err, tc.want)
			}
			if r, q := w.t.slots.counts(); r != 0 || q != 0 {
				t.Errorf("a refused job holds a slot: %d running, %d waiting", r, q)
			}
		})
	}
}

// With pinned identities, the worker fills in the party's own key and a
// credential it signed for the job and rank; an orchestrator cannot
// supply them.
func TestStartSignsCredential(t *testing.T) {
	w := newTestWorker(t, Options{Advertise: "10.1.2.3", Ports: comm.PortRange{Lo: 7200, Hi: 7209}, PeerTimeout: 3 * time.Second})
	peer := comm.Fingerprint(testIdentity(t).Certificate[0])
	forged, _ := comm.NewPartyKey()
	forgedPEM, _ := forged.MarshalPEM()
	secret := []byte("the orchestrator's job secret")
	j := waitJob("jc", sandbox.Link{Identities: []string{peer, w.fingerprint()}, Key: forgedPEM, Credential: []byte("forged"), Secret: secret})
	if err := w.t.secure(&j, w.t.opts, nil); err != nil {
		t.Fatal(err)
	}
	l := j.Link
	key, err := comm.ParsePartyKey(l.Key)
	if err != nil {
		t.Fatal(err)
	}
	if key.Fingerprint() == forged.Fingerprint() {
		t.Fatal("the orchestrator's key was kept")
	}
	cred, err := comm.ParseCredential(l.Credential)
	if err != nil {
		t.Fatal(err)
	}
	// The credential names the job bound to its secret: a rank started
	// by someone without the secret names another job.
	bound := comm.BindJob("jc", secret)
	if err := cred.Verify(bound, 1, w.fingerprint(), partyCertDER(t, l.Key)); err != nil {
		t.Errorf("the credential does not verify for the party's key: %v", err)
	}
	if err := cred.Verify("jc", 1, w.fingerprint(), partyCertDER(t, l.Key)); err == nil {
		t.Error("the credential verifies for the unbound job id")
	}
	if string(l.Secret) != string(secret) {
		t.Error("the job secret was not passed on to the party")
	}
	if cred.Job != bound || cred.Rank != 1 || comm.Fingerprint(cred.Worker) != w.fingerprint() {
		t.Errorf("credential for job %q rank %d by %s", cred.Job, cred.Rank, comm.Fingerprint(cred.Worker))
	}
	if l.Advertise != "10.1.2.3" || l.Ports != "7200-7209" || l.PeerTimeoutMS != 3000 {
		t.Errorf("link settings %+v", l)
	}
}

// start starts waiting parties of user "me" and returns the errors.
func (w *testWorker) start(t *testing.T, ids ...string) []error {
	errs := make([]error, len(ids))
	for i, id := range ids {
		var rep StartReply
		errs[i] = w.c.Call(t.Context(), MsgStart, &StartRequest{Job: waitJob(id, secretLink)}, &rep)
	}
	return errs
}

// Parties beyond MaxJobs wait in a bounded queue instead of being
// refused; past the queue, job.start is refused at once with a reason.
func TestStartQueues(t *testing.T) {
	w := newTestWorker(t, Options{MaxJobs: 2, Queue: 3})
	errs := w.start(t, "a1", "a2", "a3", "a4", "a5", "a6")
	for i, err := range errs[:5] {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if err := errs[5]; err == nil || !errors.Is(err, workers.ErrUnavailable) || !strings.Contains(err.Error(), "3 more wait") {
		t.Fatalf("job beyond the queue: %v", err)
	}
	if r, q := w.t.slots.counts(); r != 2 || q != 3 {
		t.Fatalf("%d running, %d waiting; want 2 and 3", r, q)
	}
	// Cancelling a running party lets the first waiting one run.
	if err := w.c.Call(t.Context(), MsgCancel, &CancelRequest{JobID: "a1"}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, q := w.t.slots.counts(); r == 2 && q == 2 {
			break
		}
		if time.Now().After(deadline) {
			r, q := w.t.slots.counts()
			t.Fatalf("after a cancellation: %d running, %d waiting", r, q)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A cancelled waiting party leaves the queue with a clear result.
	if err := w.c.Call(t.Context(), MsgCancel, &CancelRequest{JobID: "a5"}, nil); err != nil {
		t.Fatal(err)
	}
	var rep WaitReply
	if err := w.c.Call(t.Context(), MsgWait, &WaitRequest{JobID: "a5", WaitMS: 5000}, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Done || rep.Result.Err == nil || rep.Result.Err.Kind != sandbox.KindCanceled || !strings.Contains(rep.Result.Err.Msg, "cancelled while queued") {
		t.Fatalf("queued party cancelled: %+v", rep.Result)
	}
}

// A party that waits longer than its job's setup timeout gives up with an
// error saying it waited for a slot.
func TestQueuedPartyGivesUp(t *testing.T) {
	w := newTestWorker(t, Options{MaxJobs: 1})
	first := waitJob("b1", secretLink)
	var rep StartReply
	if err := w.c.Call(t.Context(), MsgStart, &StartRequest{Job: first}, &rep); err != nil {
		t.Fatal(err)
	}
	second := waitJob("b2", secretLink)
	second.SetupTimeoutMS = 300
	if err := w.c.Call(t.Context(), MsgStart, &StartRequest{Job: second}, &rep); err != nil {
		t.Fatal(err)
	}
	var wrep WaitReply
	if err := w.c.Call(t.Context(), MsgWait, &WaitRequest{JobID: "b2", WaitMS: 5000}, &wrep); err != nil {
		t.Fatal(err)
	}
	e := wrep.Result.Err
	if !wrep.Done || e == nil || e.Kind != sandbox.KindUnavailable || !strings.Contains(e.Msg, "party slots") {
		t.Fatalf("result %+v", wrep.Result)
	}
}

// The slots keep one user's parties from taking every slot, and grant
// waiting parties in order as slots free up.
func TestSlots(t *testing.T) {
	o := Options{MaxJobs: 3, MaxPerUser: 2, Queue: 10}.withDefaults()
	s := newSlots()
	enter := func(user string) *waiter {
		w, err := s.enter(user, o, "w")
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	granted := func(w *waiter) bool {
		select {
		case <-w.ready:
			return true
		default:
			return false
		}
	}
	a1, a2, a3 := enter("a"), enter("a"), enter("a")
	b1 := enter("b")
	if !granted(a1) || !granted(a2) || granted(a3) {
		t.Fatal("user a got more than its share")
	}
	if granted(b1) {
		t.Fatal("b jumped the queue while a waits")
	}
	s.leave(a1, o) // a3 fits again (a has 1), and b1 (3 running)
	if !granted(a3) || !granted(b1) {
		t.Fatalf("after a slot freed: a3 %v b1 %v", granted(a3), granted(b1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	c1 := enter("c")
	if _, err := s.wait(ctx, c1); err == nil {
		t.Fatal("c1 got a slot with all three taken")
	}
	if r, q := s.counts(); r != 3 || q != 0 {
		t.Fatalf("%d running, %d waiting", r, q)
	}
	var wg sync.WaitGroup
	for _, w := range []*waiter{a2, a3, b1} {
		wg.Add(1)
		go func() { defer wg.Done(); s.leave(w, o) }()
	}
	wg.Wait()
	if r, q := s.counts(); r != 0 || q != 0 {
		t.Fatalf("%d running, %d waiting after all left", r, q)
	}
}

// The dealer's part of a job (rank WorldSize under provider "dealer")
// runs no code: the worker checks it is the dealer the job names, signs
// its credential, takes a party slot and runs it in process even when
// parties run as child processes; it is reported as the dealer's.
func TestStartDealer(t *testing.T) {
	w := newTestWorker(t, Options{MaxJobs: 1, Child: &sandbox.ChildOptions{Command: []string{"/nonexistent"}}})
	peer := comm.Fingerprint(testIdentity(t).Certificate[0])
	j := sandbox.Job{ID: "jd", Rank: 2, WorldSize: 2, Provider: "dealer", MasterAddr: "127.0.0.1:1", TimeoutMS: 60000, SetupTimeoutMS: 300,
		Link: sandbox.Link{Identities: []string{peer, peer, w.fingerprint()}, Secret: secretLink.Secret}}
	var rep StartReply
	if err := w.c.Call(t.Context(), MsgStart, &StartRequest{Job: j}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Refused != nil || rep.MasterAddr != "127.0.0.1:1" {
		t.Fatalf("reply %+v", rep)
	}
	var wrep WaitReply
	if err := w.c.Call(t.Context(), MsgWait, &WaitRequest{JobID: "jd", WaitMS: 5000}, &wrep); err != nil {
		t.Fatal(err)
	}
	// Nobody is at the rendezvous: the dealer fails joining the mesh, as
	// the dealer, not as a party process that could not start.
	e := wrep.Result.Err
	if !wrep.Done || e == nil || !e.Dealer || e.Rank != 2 || e.Phase != sandbox.PhaseStart || !strings.HasPrefix(e.Error(), "dealer (w): ") {
		t.Fatalf("result %+v (%v)", wrep.Result, e)
	}
	if r, q := w.t.slots.counts(); r != 0 || q != 0 {
		t.Errorf("the dealer kept its slot: %d running, %d waiting", r, q)
	}
}

// The secret a party's links use binds the request its job.start
// carried: ranks sent different requests (or one none) name different
// jobs and never meet.
func TestRequestSecret(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := &approvals.Request{Kind: approvals.KindJob, Recipients: []string{"all-parties"}}
	b := &approvals.Request{Kind: approvals.KindJob, Recipients: []string{"all-parties", "requester"}}
	sa, sb, none := requestSecret(secret, a), requestSecret(secret, b), requestSecret(secret, nil)
	if string(none) != string(secret) {
		t.Error("a job without a request changed its secret")
	}
	if string(sa) == string(sb) || string(sa) == string(secret) || len(sa) < comm.MinSecret {
		t.Errorf("request secrets %x, %x from %x", sa, sb, secret)
	}
	if string(requestSecret(secret, a)) != string(sa) {
		t.Error("the request secret is not a function of the secret and the request")
	}
}
