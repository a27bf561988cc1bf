package workers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/store"
)

// testHandler is a handler over a memory store with an admin "owner" and
// a plain user "me"; it returns the tokens and the access log buffer.
func testHandler(t testing.TB) (*Handler, map[string]string, *bytes.Buffer) {
	t.Helper()
	users := NewUsers()
	owner, err := users.Add(OwnerUser, PermAdmin)
	if err != nil {
		t.Fatal(err)
	}
	me, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	var access bytes.Buffer
	h, err := NewHandler(Config{WorkerID: "bob", Store: store.NewMemStore(), Users: users,
		AccessLog: slog.New(slog.NewJSONHandler(&access, nil)),
		Limits:    serde.Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16}})
	if err != nil {
		t.Fatal(err)
	}
	return h, map[string]string{OwnerUser: owner, "me": me}, &access
}

func frame(t testing.TB, typ string, id uint64, body any) []byte {
	t.Helper()
	b, err := encodeBody(body)
	if err != nil {
		t.Fatal(err)
	}
	f, err := encodeEnvelope(&envelope{Type: typ, ID: id, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// replyCode returns the error code of a reply ("" for success).
func replyCode(t testing.TB, reply []byte) string {
	t.Helper()
	env, err := decodeEnvelope(reply, serde.Limits{})
	if err != nil {
		t.Fatalf("undecodable reply: %v", err)
	}
	if env.Type != MsgError {
		return ""
	}
	var we wireError
	if err := decodeBody(env.Body, &we, serde.Limits{}); err != nil {
		t.Fatal(err)
	}
	return we.Code
}

func TestSessionRefusals(t *testing.T) {
	h, tok, access := testHandler(t)
	ctx := context.Background()
	s := h.NewSession("test")
	put := &PutRequest{Object: &store.Object{ID: "x", Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1, 2})}}
	v2, _ := serde.EncodeEnvelope(serde.Envelope{Version: 2, Type: MsgPing, ID: 9, Body: []byte{0xc0}})
	steps := []struct {
		name      string
		frame     []byte
		wantCode  string
		wantClose bool
	}{
		// Before authentication, the third failure of any kind ends the
		// session; the next steps are a new session's.
		{"before auth", frame(t, MsgPut, 1, put), "unauthenticated", false},
		{"garbage", []byte("\x93\x01hello"), "bad_request", false},
		{"empty", nil, "bad_request", true},
		{"bad token", frame(t, MsgAuth, 1, &AuthRequest{Token: "nope"}), "unauthenticated", false},
		{"both credentials", frame(t, MsgAuth, 1, &AuthRequest{Token: tok["me"], Grant: "g"}), "unauthenticated", false},
		{"auth", frame(t, MsgAuth, 1, &AuthRequest{Token: tok["me"]}), "", false},
		{"put", frame(t, MsgPut, 2, put), "", false},
		{"replayed put", frame(t, MsgPut, 2, put), "replay", false},
		{"older id", frame(t, MsgPing, 1, struct{}{}), "replay", false},
		{"unknown type", frame(t, "exec", 3, struct{}{}), "bad_request", false},
		{"wrong body type", frame(t, MsgGet, 4, []int{1, 2}), "bad_request", false},
		{"unknown id", frame(t, MsgGet, 5, &GetRequest{ID: "missing"}), "not_found", false},
		{"bad id", frame(t, MsgGet, 6, &GetRequest{ID: "../etc"}), "bad_request", false},
		{"op not allowed", frame(t, MsgOp, 7, &OpRequest{Op: "system", Args: []Operand{{ID: "x"}}}), "bad_request", false},
		{"huge op result", frame(t, MsgOp, 8, &OpRequest{Op: "reshape", Args: []Operand{{ID: "x"}}, Params: OpParams{Shape: []int{1 << 40}}}), "bad_request", false},
		{"clear", frame(t, MsgClear, 9, struct{}{}), "", false},
		{"version", v2, "version", true},
	}
	for _, st := range steps {
		if st.name == "bad token" {
			s = h.NewSession("test")
		}
		reply, closed := s.Handle(ctx, st.frame)
		if got := replyCode(t, reply); got != st.wantCode || closed != st.wantClose {
			t.Errorf("%s: code %q close %v, want %q %v", st.name, got, closed, st.wantCode, st.wantClose)
		}
	}
	log := access.String()
	for _, want := range []string{`"why":"replay"`, `"why":"unauthenticated"`, `"why":"malformed"`, `"why":"auth failed"`, `"type":"put"`, `"user":"me"`} {
		if !strings.Contains(log, want) {
			t.Errorf("access log lacks %s:\n%s", want, log)
		}
	}
}

func TestSessionClosesAfterAuthFailures(t *testing.T) {
	h, _, _ := testHandler(t)
	s := h.NewSession("test")
	for i := 1; i <= 3; i++ {
		_, closed := s.Handle(context.Background(), frame(t, MsgAuth, uint64(i), &AuthRequest{Token: "guess"}))
		if closed != (i == 3) {
			t.Fatalf("attempt %d: closed=%v", i, closed)
		}
	}
}

func TestGrants(t *testing.T) {
	h, tok, _ := testHandler(t)
	ctx := context.Background()
	cl, err := NewClient(ctx, NewSessionTransport(h, "me"), Credentials{Token: tok["me"]}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var info InfoReply
	put := &PutRequest{Object: &store.Object{ID: "x", Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1, 2})}}
	if err := cl.Call(ctx, MsgPut, put, &info); err != nil {
		t.Fatal(err)
	}
	var g GrantReply
	if err := cl.Call(ctx, MsgGrant, &GrantRequest{Actions: []string{store.GrantUse}, Objects: []string{"x"}, Uses: 1, Audience: "alice"}, &g); err != nil {
		t.Fatal(err)
	}
	// Only the worker the grant was given to may present it: not the
	// user who holds the token, not another worker.
	for _, peer := range []Peer{{}, {Worker: "mallory"}, {Fingerprint: "sha256:" + strings.Repeat("ab", 32)}} {
		if _, err := NewClient(ctx, NewPeerSessionTransport(h, "peer", peer), Credentials{Grants: []string{g.Token}}, ClientOptions{}); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("grant for alice presented by %q: %v", peer, err)
		}
	}
	gc, err := NewClient(ctx, NewPeerSessionTransport(h, "peer", Peer{Worker: "alice"}), Credentials{Grants: []string{g.Token}, For: "alice/ds"}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The grant covers ops on x and the results, not taking values.
	if err := gc.Call(ctx, MsgOp, &OpRequest{Op: "neg", Args: []Operand{{ID: "x"}}, ResultID: "y"}, &info); err != nil {
		t.Fatal(err)
	}
	if err := gc.Call(ctx, MsgInfo, &IDRequest{ID: "y"}, &info); err != nil {
		t.Fatalf("info on an object the grant created: %v", err)
	}
	if err := gc.Call(ctx, MsgGet, &GetRequest{ID: "x", Keep: true}, nil); !errors.Is(err, ErrPermission) {
		t.Fatalf("get through a use-only grant: %v", err)
	}
	if err := gc.Call(ctx, MsgGrant, &GrantRequest{Actions: []string{store.GrantGet}, Objects: []string{"x"}, Audience: "alice"}, nil); !errors.Is(err, ErrPermission) {
		t.Fatalf("grant issued through a grant: %v", err)
	}
	if err := gc.Call(ctx, MsgClear, struct{}{}, nil); !errors.Is(err, ErrPermission) {
		t.Fatalf("clear through a grant: %v", err)
	}
	// Uses: 1 means a second session with the same token is refused.
	if _, err := NewClient(ctx, NewPeerSessionTransport(h, "peer", Peer{Worker: "alice"}), Credentials{Grants: []string{g.Token}}, ClientOptions{}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("reused one-time grant: %v", err)
	}
}

// A put grant stores each of its objects once, whatever the session's
// uses, and nothing else.
func TestPutGrantOnce(t *testing.T) {
	h, tok, _ := testHandler(t)
	ctx := context.Background()
	cl, err := NewClient(ctx, NewSessionTransport(h, "me"), Credentials{Token: tok["me"]}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []GrantRequest{
		{Actions: []string{store.GrantPut}, Audience: "alice"},                                                       // no objects
		{Actions: []string{store.GrantPut, store.GrantGet}, Objects: []string{"a"}, Audience: "alice"},               // put and more
		{Actions: []string{store.GrantPut}, Objects: []string{"a"}},                                                  // no audience
		{Actions: []string{store.GrantPut}, Objects: []string{"a"}, Audience: "alice", AudienceFingerprint: "md5:1"}, // bad fingerprint
	} {
		if err := cl.Call(ctx, MsgGrant, &bad, nil); !errors.Is(err, ErrBadRequest) {
			t.Errorf("grant %+v: %v", bad, err)
		}
	}
	var g GrantReply
	if err := cl.Call(ctx, MsgGrant, &GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{"a", "b"}, Audience: "alice"}, &g); err != nil {
		t.Fatal(err)
	}
	gc, err := NewClient(ctx, NewPeerSessionTransport(h, "peer", Peer{Worker: "alice"}), Credentials{Grants: []string{g.Token}}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj := func(id string) *PutRequest {
		return &PutRequest{Object: &store.Object{ID: id, Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1})}}
	}
	if err := gc.Call(ctx, MsgPut, obj("a"), nil); err != nil {
		t.Fatal(err)
	}
	if err := gc.Call(ctx, MsgPut, obj("c"), nil); !errors.Is(err, ErrPermission) {
		t.Fatalf("put of an object the grant does not name: %v", err)
	}
	if err := cl.Call(ctx, MsgFree, &FreeRequest{IDs: []string{"a"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := gc.Call(ctx, MsgPut, obj("a"), nil); !errors.Is(err, ErrPermission) {
		t.Fatalf("second put of a through the grant: %v", err)
	}
	if err := gc.Call(ctx, MsgPut, obj("b"), nil); err != nil {
		t.Fatal(err)
	}
	// Every object stored: the grant is gone.
	if _, err := NewClient(ctx, NewPeerSessionTransport(h, "peer", Peer{Worker: "alice"}), Credentials{Grants: []string{g.Token}}, ClientOptions{}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("used-up put grant: %v", err)
	}
}

// FuzzSession drives the protocol core with arbitrary frames, before and
// after authentication: it must answer every frame without panicking, and
// keep serving a well-formed request afterwards.
func FuzzSession(f *testing.F) {
	h, tok, _ := testHandler(f)
	f.Add(frame(f, MsgPut, 2, &PutRequest{Object: &store.Object{ID: "x", Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1, 2})}}))
	f.Add(frame(f, MsgOp, 2, &OpRequest{Op: "add", Args: []Operand{{ID: "x"}, {ID: "x"}}}))
	f.Add(frame(f, MsgGet, 2, &GetRequest{ID: "x"}))
	f.Add(frame(f, MsgSearch, 2, &SearchRequest{Tags: []string{"#a"}}))
	f.Add(frame(f, MsgMove, 2, &MoveRequest{ID: "x", Dest: store.PointerTarget{Worker: "w", Addr: "a", Grants: []string{"t"}}}))
	f.Add(frame(f, MsgGrant, 2, &GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{"y"}, Audience: "alice"}))
	f.Add(frame(f, MsgAuth, 2, &AuthRequest{Grant: "a,b"}))
	f.Add([]byte{0x94, 0x01, 0xa3, 'p', 'u', 't', 0x02, 0xc7, 0xff, 0x01})
	f.Add([]byte("\xff\xff"))
	auth := frame(f, MsgAuth, 1, &AuthRequest{Token: tok["me"]})
	seed := &store.Object{ID: "x", Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1, 2})}
	ping := frame(f, MsgPing, 1<<62, struct{}{})
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx := context.Background()
		// Unauthenticated.
		s := h.NewSession("fuzz")
		if reply, _ := s.Handle(ctx, in); reply == nil {
			t.Fatal("no reply before auth")
		}
		// Authenticated, with an object to act on.
		h.cfg.Store.Delete("x")
		h.cfg.Store.Put(seed)
		s = h.NewSession("fuzz")
		if reply, _ := s.Handle(ctx, auth); replyCode(t, reply) != "" {
			t.Fatal("auth failed")
		}
		reply, closed := s.Handle(ctx, in)
		if reply == nil {
			t.Fatal("no reply")
		}
		if closed {
			return
		}
		// (A fuzzed request may have used an even larger id.)
		if reply, _ := s.Handle(ctx, ping); replyCode(t, reply) != "" && replyCode(t, reply) != "replay" {
			t.Fatalf("session stopped serving after %q", in)
		}
	})
}

func TestMoveToUnreachablePeerKeepsObject(t *testing.T) {
	h, tok, _ := testHandler(t)
	h.cfg.Dial = func(ctx context.Context, p store.PointerTarget, cred Credentials) (*Client, error) {
		return nil, errors.New("connection refused")
	}
	ctx := context.Background()
	cl, err := NewClient(ctx, NewSessionTransport(h, "me"), Credentials{Token: tok["me"]}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	put := &PutRequest{Object: &store.Object{ID: "x", Kind: store.KindTensor, Tensor: tensor.FromSlice([]float64{1})}}
	if err := cl.Call(ctx, MsgPut, put, nil); err != nil {
		t.Fatal(err)
	}
	mv := &MoveRequest{ID: "x", Dest: store.PointerTarget{Worker: "alice", Addr: "127.0.0.1:1", Grants: []string{"t"}}}
	if err := cl.Call(ctx, MsgMove, mv, nil); !errors.Is(err, ErrPeer) || !strings.Contains(err.Error(), "alice") {
		t.Fatalf("move to an unreachable worker: %v", err)
	}
	if _, err := h.Store().Get("x"); err != nil {
		t.Fatalf("failed move lost the object: %v", err)
	}
}
