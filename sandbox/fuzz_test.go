package sandbox

import (
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// FuzzChildMessage: the party protocol's decoder never panics or hangs,
// whatever the pipe carries, and what it accepts re-encodes.
func FuzzChildMessage(f *testing.F) {
	seeds := []*childMsg{
		{Type: msgJob, Job: &Job{ID: "j", Rank: 0, WorldSize: 2, TimeoutMS: 1000, Program: Program{Source: "package main\nfunc f() {}", Entry: "f"}}, Limits: &Limits{}},
		{Type: msgJob, Rendezvous: true, Job: &Job{ID: "j", Rank: 0, WorldSize: 2, TimeoutMS: 1000, Program: Program{Source: "package main\nfunc f() {}", Entry: "f"},
			Link: Link{Identities: []string{"sha256:00", "sha256:11"}, Key: []byte("-----BEGIN"), Credential: []byte("GMCR\x01"), Advertise: "alice", Ports: "7200-7299", PeerTimeoutMS: 10000}}},
		{Type: msgJob, Job: &Job{ID: "j", Rank: 1, WorldSize: 2, TimeoutMS: 1000, Plan: []byte{1}, Link: Link{Secret: make([]byte, 32)}}},
		{Type: msgLoad, Seq: 1, Tag: "x"},
		{Type: msgLoadModel, Seq: 2, Tag: "m"},
		{Type: msgSave, Seq: 3, Tag: "x", Tensor: tensor.FromSlice([]float64{1, 2})},
		{Type: msgReply, Seq: 3, Err: "nope"},
		{Type: msgReply, Seq: 2, Model: []byte("not a model blob")},
		{Type: msgCancel},
		{Type: msgJob, Job: &Job{ID: "j", Rank: 1, WorldSize: 2, TimeoutMS: 1000, Program: Program{Source: "package main\nfunc f() {}", Entry: "f"}}, Limits: &Limits{},
			Restriction: &Restriction{Policy: &mpc.RevealPolicy{Request: "r-1", Recipients: []string{"requester", "party:1"}}, SaveQuota: &mpc.SaveQuota{Count: 2, Bytes: 64}, Restricted: true}},
		{Type: msgReply, Seq: 4, Tensor: tensor.Ones(2), Restricted: true},
		{Type: msgSave, Seq: 5, Tag: "y", Tensor: tensor.Ones(1), Restricted: true},
		{Type: msgSave, Seq: 6, Tag: "share/z", Tensor: tensor.Ones(2), Restricted: true, Share: true},
		{Type: msgResult, Result: &Result{Rank: 1, Err: &Error{Kind: KindPanic, Msg: "x", Line: 3}}},
	}
	for _, m := range seeds {
		b, err := serde.EncodeBody(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(b))
	}
	f.Add([]byte{0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeChildMsg(b)
		if err != nil {
			return
		}
		if _, err := serde.EncodeBody(m); err != nil {
			t.Fatalf("accepted message does not re-encode: %v", err)
		}
	})
}

// FuzzCheck: parsing and checking shipped source never panics.
func FuzzCheck(f *testing.F) {
	f.Add("package main\nimport \"os\"\nfunc f() { os.Exit(1) }")
	f.Add("package main\nfunc f() { go f() }")
	f.Add("package main\n//line x/job.go:3\nfunc f() int { switch { case true: return 1 }; return 0 }")
	f.Fuzz(func(t *testing.T, src string) {
		Check(Program{Source: src, Entry: "f"})
		prepare(Program{Source: src, Entry: "f"})
	})
}
