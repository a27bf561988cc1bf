package approvals

import (
	"testing"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
	"github.com/vmihailenco/msgpack/v5"
)

// FuzzSubmit decodes arbitrary request.submit bodies and checks them as a
// worker would: nothing may panic, and a request that validates has a
// valid id that its canonical form keeps.
func FuzzSubmit(f *testing.F) {
	seed, _ := msgpack.Marshal(&SubmitRequest{Request: *job(nil, at0("data"))})
	f.Add(seed)
	src, _ := msgpack.Marshal(&SubmitRequest{Request: Request{Kind: KindJob, Program: job(nil).Program}})
	f.Add(src)
	f.Add([]byte{0x80})
	users := workers.NewUsers()
	tok, _ := users.Add("ds")
	u, _ := users.Authenticate(tok)
	st := store.NewMemStore()
	h, err := workers.NewHandler(workers.Config{WorkerID: "alice", Store: st, Users: users})
	if err != nil {
		f.Fatal(err)
	}
	book, err := New(h, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var q SubmitRequest
		if err := msgpack.Unmarshal(b, &q); err != nil {
			return
		}
		InferLoads(q.Request.Program.Source, len(q.Request.Parties))
		PlanLoads(q.Request.Plan, len(q.Request.Parties))
		if q.Request.Validate() != nil {
			return
		}
		id := q.Request.ID()
		if ValidID(id) != nil || q.Request.Canonical().ID() != id {
			t.Fatalf("id %s of a valid request", id)
		}
		v, err := book.Submit(Query{Request: &q.Request, Args: q.Args, User: u})
		if err == nil && v.Status == StatusPending {
			rec, err := book.get(v.ID, "ds")
			if err != nil {
				t.Fatal(err)
			}
			book.Review(rec)
		}
	})
}
