package jobs

import (
	"testing"

	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers/approvals"
)

// FuzzJobMessages: the job messages' decoders (what a worker decodes from
// any authenticated client) never panic, and what they accept re-encodes.
func FuzzJobMessages(f *testing.F) {
	for _, v := range []any{
		&StartRequest{Job: sandbox.Job{ID: "j1", Rank: 1, WorldSize: 2, MasterAddr: "127.0.0.1:1234", TimeoutMS: 5000,
			Program: sandbox.Program{Source: "package main\nfunc f() {}", Entry: "f"}, Args: []byte{0x90}}, MasterHost: "127.0.0.1"},
		&StartRequest{Job: sandbox.Job{ID: "j2", Rank: 0, WorldSize: 3, TimeoutMS: 5000, SetupTimeoutMS: 1000,
			Program: sandbox.Program{Source: "package main\nfunc f() {}", Entry: "f"},
			Link:    sandbox.Link{Identities: []string{"sha256:aa", "sha256:bb", "sha256:cc"}}}},
		&StartRequest{Job: sandbox.Job{ID: "j3", Rank: 1, WorldSize: 2, MasterAddr: "[::1]:7200", TimeoutMS: 5000,
			Plan: []byte{0x80}, Link: sandbox.Link{Secret: make([]byte, 32)}}, MasterHost: "0.0.0.0"},
		&StartRequest{Job: sandbox.Job{ID: "j4", Rank: 0, WorldSize: 2, TimeoutMS: 5000,
			Program: sandbox.Program{Source: "package main\nfunc f() {}", Entry: "f"}},
			Request: &approvals.Request{Kind: approvals.KindJob, Program: sandbox.Program{Source: "package main\nfunc f() {}", Entry: "f"},
				ArgsHash: approvals.ArgsDigest(nil), Parties: []approvals.Party{{Worker: "a"}, {Worker: "b"}}, Provider: "tfp",
				Loads: []approvals.Load{{Rank: 1, Tag: "t", Kind: approvals.LoadTensor}}, Recipients: []string{"requester"}}},
		&WaitRequest{JobID: "j1", WaitMS: 100},
		&CancelRequest{JobID: "j1"},
		&WaitReply{Done: true, Result: &sandbox.Result{Rank: 1, Value: []byte{0xc0}, Err: &sandbox.Error{Kind: sandbox.KindPanic}}},
	} {
		b, err := serde.EncodeBody(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{&StartRequest{}, &WaitRequest{}, &CancelRequest{}, &WaitReply{}} {
			if err := serde.DecodeBody(b, v, serde.Limits{MaxBytes: 1 << 20}); err != nil {
				continue
			}
			if _, err := serde.EncodeBody(v); err != nil {
				t.Fatalf("%T accepted but does not re-encode: %v", v, err)
			}
		}
	})
}
