package approvals

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

func TestMessages(t *testing.T) {
	w := newWorld(t, store.NewMemStore())
	r := job(args(t, 2.5, "x"), at0("data"), Load{Rank: 1, Tag: "theirs", Kind: LoadTensor})
	r.Provider, r.Dealer = mpc.ProviderTFP, nil
	r.Parties[0], r.Parties[1] = r.Parties[1], r.Parties[0] // bob is rank 0: tfp warning
	r.Loads = []Load{{Rank: 1, Tag: "data", Kind: LoadTensor}, {Rank: 0, Tag: "theirs", Kind: LoadTensor}}
	r.Recipients = []string{mpc.RecipientAllParties, mpc.RecipientRequester}
	r.Note = "please"
	v := w.submit(t, "ds", r, args(t, 2.5, "x"))
	if v.Status != StatusPending || v.Rank != 1 {
		t.Fatalf("verdict %+v", v)
	}
	// Submitting again keeps one record.
	w.submit(t, "ds", r, args(t, 2.5, "x"))
	// mallory submits something too.
	if err := w.h.Store().Delete("m-data"); err != nil {
		t.Fatal(err)
	}
	w.submit(t, "mallory", job(nil, at0("data")), nil)

	var all, own ListReply
	if err := w.call(workers.OwnerUser, MsgList, &ListRequest{}, &all); err != nil {
		t.Fatal(err)
	}
	if err := w.call("ds", MsgList, &ListRequest{}, &own); err != nil {
		t.Fatal(err)
	}
	if len(all.Requests) != 2 || len(own.Requests) != 1 || own.Requests[0].ID != v.ID || own.Requests[0].Status != StatusPending {
		t.Fatalf("owner lists %+v, ds lists %+v", all.Requests, own.Requests)
	}
	if got := own.Requests[0].Restricted; len(got) != 1 || got[0] != "data" {
		t.Errorf("summary's restricted data %v", got)
	}

	// Only owners decide; a requester sees only their own requests.
	err := w.call("ds", MsgApprove, &ApproveRequest{ID: v.ID}, &DecideReply{})
	if !errors.Is(err, workers.ErrPermission) {
		t.Errorf("ds approving: %v", err)
	}
	if err := w.call("mallory", MsgShow, &ShowRequest{ID: v.ID}, &ShowReply{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("mallory showing ds's request: %v", err)
	}
	var show ShowReply
	if err := w.call(workers.OwnerUser, MsgShow, &ShowRequest{ID: v.ID}, &show); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"a job from user ds", "status: pending", "note from the requester: please",
		"    1  package main", "    2  func f() {}", "[0] float64 2.5", `[1] "x"`,
		`tag "data": object o-data, a tensor of shape [3], owner owner: private, and user ds may not read it`,
		`rank 0 (bob): tag "theirs", a tensor`,
		"WARNING: rank 0 (bob) will see every value this job opens, including your inputs",
		"opened to every party: the owners of bob and alice", "returned to the requester: user ds",
		"gomplab worker requests approve " + v.ID,
	} {
		if !strings.Contains(show.Review, want) {
			t.Errorf("review lacks %q:\n%s", want, show.Review)
		}
	}
	// Limits are checked against the request.
	for _, bad := range []Limits{{Runs: -1}, {ArgRanges: []ArgRange{{Index: 1, Lo: 0, Hi: 1}}}, {ArgRanges: []ArgRange{{Index: 0, Lo: 2, Hi: 1}}}, {ArgRanges: []ArgRange{{Index: 5}}}} {
		if err := w.call(workers.OwnerUser, MsgApprove, &ApproveRequest{ID: v.ID, Limits: bad}, &DecideReply{}); !errors.Is(err, workers.ErrBadRequest) {
			t.Errorf("approve with %+v: %v", bad, err)
		}
	}
	w.approve(t, v.ID, "", Limits{Runs: 3, ArgRanges: []ArgRange{{Index: 0, Lo: 0, Hi: 5}}})
	if err := w.call("ds", MsgShow, &ShowRequest{ID: v.ID}, &show); err != nil {
		t.Fatal(err)
	}
	if show.Status != StatusApproved || !strings.Contains(show.Review, "limits: runs 3 (0 used), expires never, argument 0 in [0, 5]") {
		t.Errorf("after approval: %s\n%s", show.Status, show.Review)
	}
}

// TestPersistence: requests and decisions survive closing and reopening
// the store file, as a daemon's restart does.
func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	bs, err := store.OpenBoltStore(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, bs)
	r := job(nil, at0("data"))
	v := w.submit(t, "ds", r, nil)
	w.approve(t, v.ID, "", Limits{Runs: 2})
	if v, err := w.book.Check(Query{Request: r, User: w.users["ds"], Run: true}); err != nil || v.Status != StatusApproved {
		t.Fatalf("%v %v", v, err)
	}
	bs.Close()

	bs, err = store.OpenBoltStore(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	h, err := workers.NewHandler(workers.Config{WorkerID: "alice", Store: bs, Users: w.h.Users()})
	if err != nil {
		t.Fatal(err)
	}
	book, err := New(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err = book.Check(Query{Request: r, User: w.users["ds"], Run: true})
	if err != nil || v.Status != StatusApproved || v.RunsLeft != 0 {
		t.Fatalf("after reopening: %+v %v", v, err)
	}
	v, err = book.Check(Query{Request: r, User: w.users["ds"], Run: true})
	if err != nil || v.Status != StatusExhausted {
		t.Fatalf("third run: %+v %v", v, err)
	}
}
