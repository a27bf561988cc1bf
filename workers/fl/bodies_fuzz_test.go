package fl

import (
	"context"
	"testing"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// FuzzMessageBodies sends every federated-learning message type with an
// arbitrary body to a worker, as an authenticated user: each is answered
// (never with an internal error, which is what a panic in a handler
// becomes), and the session keeps serving.
func FuzzMessageBodies(f *testing.F) {
	users := workers.NewUsers()
	tok, err := users.Add("me")
	if err != nil {
		f.Fatal(err)
	}
	h, err := workers.NewHandler(workers.Config{WorkerID: "alice", Store: store.NewMemStore(), Users: users})
	if err != nil {
		f.Fatal(err)
	}
	book, err := approvals.Register(h, approvals.Options{Describe: map[approvals.Kind]func([]byte) (string, error){approvals.KindTrain: DescribeTrain}})
	if err != nil {
		f.Fatal(err)
	}
	Register(h, book)
	types := []string{MsgBatch, MsgTrain, MsgAverage, MsgShare, MsgMask, MsgSum, MsgAbort}
	frame := func(typ string, id uint64, body []byte) []byte {
		b, err := serde.EncodeEnvelope(serde.Envelope{Type: typ, ID: id, Body: body})
		if err != nil {
			return nil
		}
		return b
	}
	enc := func(v any) []byte {
		b, err := serde.EncodeBody(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	auth := frame(workers.MsgAuth, 1, enc(&workers.AuthRequest{Token: tok}))
	ping := frame(workers.MsgPing, 1<<62, enc(struct{}{}))
	f.Add(uint8(0), enc(&BatchRequest{}))
	f.Add(uint8(1), enc(&TrainRequest{Model: "m", Loss: "mse", Batches: []BatchRef{{}}}))
	f.Add(uint8(2), enc(&AverageRequest{}))
	f.Add(uint8(3), enc(&ShareRequest{}))
	f.Add(uint8(4), enc(&MaskRequest{}))
	f.Add(uint8(5), enc(&SumRequest{}))
	f.Add(uint8(6), enc(&AbortRequest{}))
	f.Add(uint8(1), []byte{0x81, 0xa4, 'p', 'l', 'a', 'n', 0x80})
	code := func(t *testing.T, reply []byte) string {
		env, err := serde.DecodeEnvelope(reply, serde.Limits{})
		if err != nil {
			t.Fatalf("undecodable reply: %v", err)
		}
		if env.Type != workers.MsgError {
			return ""
		}
		var we struct {
			Code string `msgpack:"code"`
			Msg  string `msgpack:"msg"`
		}
		if err := serde.DecodeBody(env.Body, &we, serde.Limits{}); err != nil {
			t.Fatal(err)
		}
		if we.Code == "internal" {
			t.Fatalf("internal error: %s", we.Msg)
		}
		return we.Code
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		in := frame(types[int(which)%len(types)], 2, body)
		if in == nil {
			return // not a body serde would send
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		defer cancel()
		s := h.NewSession("fuzz")
		if reply, _ := s.Handle(ctx, auth); code(t, reply) != "" {
			t.Fatal("auth failed")
		}
		reply, closed := s.Handle(ctx, in)
		if reply == nil {
			t.Fatal("no reply")
		}
		code(t, reply)
		if closed {
			return
		}
		if reply, _ := s.Handle(ctx, ping); code(t, reply) != "" {
			t.Fatal("the session stopped serving")
		}
	})
}
