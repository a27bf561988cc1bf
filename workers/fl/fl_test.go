package fl

import (
	"context"
	"errors"
	"math"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

func TestFixedPointRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		f    int
		err  string
	}{
		{"small", []float64{0, 1, -1, 0.5, -0.25, 3.14159}, 24, ""},
		{"negative rounding", []float64{-1e-9, -0.7, -123.456}, 16, ""},
		{"large", []float64{1 << 37, -(1 << 37)}, 24, ""},
		{"too large", []float64{1, 1 << 38}, 24, "element 1"},
		{"nan", []float64{math.NaN()}, 24, "element 0"},
		{"inf", []float64{math.Inf(-1)}, 24, "element 0"},
		{"bad precision", []float64{1}, 63, "fractional bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := EncodeFixed(tc.xs, tc.f)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "2.7487") || strings.Contains(err.Error(), "274877906944") {
					t.Fatalf("the error carries the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := RingBytes(enc)
			back, err := RingFromBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			dec := DecodeFixed(back, tc.f)
			for i, x := range tc.xs {
				if d := math.Abs(dec[i] - x); d > math.Ldexp(1, -tc.f-1) {
					t.Errorf("%g decodes to %g", x, dec[i])
				}
			}
		})
	}
	if _, err := RingFromBytes(make([]byte, 7)); err == nil {
		t.Error("7 bytes decoded as a ring vector")
	}
}

// Shares of a vector add up to it, whatever the masks.
func TestSharesAddUp(t *testing.T) {
	xs := []float64{1.5, -2.25, 1e6, -1e-6}
	enc, _ := EncodeFixed(xs, 24)
	masks := [][]uint64{{1 << 63, 5, ^uint64(0), 17}, {3, 1 << 40, 9, ^uint64(0) - 4}}
	own := append([]uint64(nil), enc...)
	for _, m := range masks {
		for k := range own {
			own[k] -= m[k]
		}
	}
	sum := append([]uint64(nil), own...)
	for _, m := range masks {
		for k := range sum {
			sum[k] += m[k]
		}
	}
	dec := DecodeFixed(sum, 24)
	for i := range xs {
		if math.Abs(dec[i]-xs[i]) > math.Ldexp(1, -25) {
			t.Fatalf("%g came back as %g", xs[i], dec[i])
		}
	}
}

func FuzzDecodeSpec(f *testing.F) {
	good, _ := EncodeSpec(&TrainSpec{Version: 1, Architecture: "ab", Spec: []byte("{}"), Loss: "mse", BatchSize: 2, LocalSteps: 1, Rounds: 3, Weighting: WeightEqual})
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSpec(b)
		if err != nil {
			return
		}
		if s.Version != 1 {
			t.Fatalf("accepted version %d", s.Version)
		}
		if _, err := DescribeTrain(b); err != nil {
			t.Fatalf("decoded but cannot describe: %v", err)
		}
	})
}

// flHarness is in-process workers, each with its code requests, and a
// session of the requester "me" and of the owner with each.
type flHarness struct {
	h     []*workers.Handler
	c     []*workers.Client
	own   []*workers.Client
	fl    []*Service
	users []*workers.Users
}

func newFLHarness(t *testing.T, ids ...string) *flHarness {
	t.Helper()
	fh := &flHarness{}
	byAddr := map[string]*workers.Handler{}
	dialFrom := func(from string) func(ctx context.Context, p store.PointerTarget, cred workers.Credentials) (*workers.Client, error) {
		return func(ctx context.Context, p store.PointerTarget, cred workers.Credentials) (*workers.Client, error) {
			h := byAddr[p.Addr]
			if h == nil {
				return nil, errors.New("no such worker")
			}
			return workers.NewClient(ctx, workers.NewPeerSessionTransport(h, "peer", workers.Peer{Worker: from}), cred, workers.ClientOptions{})
		}
	}
	for _, id := range ids {
		dial := dialFrom(id)
		users := workers.NewUsers()
		tok, _ := users.Add("me")
		users.Add("eve")
		ownTok, _ := users.Add(workers.OwnerUser, workers.PermAdmin)
		h, err := workers.NewHandler(workers.Config{WorkerID: id, Store: store.NewMemStore(), Users: users, Dial: dial})
		if err != nil {
			t.Fatal(err)
		}
		book, err := approvals.Register(h, approvals.Options{Describe: map[approvals.Kind]func([]byte) (string, error){approvals.KindTrain: DescribeTrain}})
		if err != nil {
			t.Fatal(err)
		}
		fh.fl = append(fh.fl, Register(h, book))
		byAddr["mem:"+id] = h
		c, err := workers.NewClient(t.Context(), workers.NewSessionTransport(h, "me"), workers.Credentials{Token: tok}, workers.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		oc, err := workers.NewClient(t.Context(), workers.NewSessionTransport(h, "owner"), workers.Credentials{Token: ownTok}, workers.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fh.own = append(fh.own, oc)
		fh.h = append(fh.h, h)
		fh.users = append(fh.users, users)
		fh.c = append(fh.c, c)
	}
	return fh
}

func (fh *flHarness) putModel(t *testing.T, i int, seed uint64) string {
	t.Helper()
	b, err := modelcodec.Encode(nn.NewModel(nn.NewLinear(2, 2, tensor.NewRNG(seed))))
	if err != nil {
		t.Fatal(err)
	}
	var rep workers.InfoReply
	if err := fh.c[i].Call(t.Context(), workers.MsgPut, &workers.PutRequest{Object: &store.Object{Kind: store.KindModel, Blob: b}}, &rep); err != nil {
		t.Fatal(err)
	}
	return rep.Info.ID
}

// participants returns, for each sender i, the participant list it gets:
// for every receiver j, a one-use grant j gave i to store its share.
func (fh *flHarness) participants(t *testing.T, round string, n int) [][]Participant {
	t.Helper()
	out := make([][]Participant, n)
	for i := range out {
		out[i] = make([]Participant, n)
		for j := 0; j < n; j++ {
			id := fh.h[j].WorkerID()
			out[i][j] = Participant{Worker: id, Target: store.PointerTarget{Worker: id, Addr: "mem:" + id}}
			if i == j {
				continue
			}
			var g workers.GrantReply
			q := &workers.GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{ShareID(round, i, j)}, Uses: 1, Audience: fh.h[i].WorkerID()}
			if err := fh.c[j].Call(t.Context(), workers.MsgGrant, q, &g); err != nil {
				t.Fatal(err)
			}
			out[i][j].Target.Grants = []string{g.Token}
		}
	}
	return out
}

// The participant side never returns a lone share or a partial sum, and
// refuses malformed rounds.
func TestSecureAggregationParticipantRefusals(t *testing.T) {
	fh := newFLHarness(t, "bob", "alice")
	m0, m1 := fh.putModel(t, 0, 1), fh.putModel(t, 1, 2)
	ctx := t.Context()
	share := func(i int, q ShareRequest) error {
		var rep ShareReply
		return fh.c[i].Call(ctx, MsgShare, &q, &rep)
	}
	ps := fh.participants(t, "r1", 2)[0]
	for _, tc := range []struct {
		name string
		q    ShareRequest
		want string
	}{
		{"alone", ShareRequest{Round: "r0", Model: m0, Participants: ps[:1]}, "2 to"},
		{"not me", ShareRequest{Round: "r0", Model: m0, Index: 1, Participants: ps}, "not this worker"},
		{"twice", ShareRequest{Round: "r0", Model: m0, Participants: []Participant{ps[0], ps[0]}}, "listed twice"},
		{"same certificate", ShareRequest{Round: "r0", Model: m0, Participants: []Participant{
			{Worker: "bob", Target: store.PointerTarget{Worker: "bob", Addr: "mem:bob", Fingerprint: "sha256:" + strings.Repeat("ab", 32)}},
			{Worker: "bob2", Target: store.PointerTarget{Worker: "bob2", Addr: "mem:bob2", Fingerprint: "sha256:" + strings.Repeat("ab", 32)}}}}, "same certificate"},
		{"client weights", ShareRequest{Round: "r0", Model: m0, Participants: ps, Weights: []float64{1, 1e-9}}, "weights chosen by the client"},
		{"unknown weighting", ShareRequest{Round: "r0", Model: m0, Participants: ps, Weighting: "mine"}, "unknown weighting"},
		{"samples of an untrained model", ShareRequest{Round: "r0", Model: m0, Participants: ps, Weighting: WeightSamples}, "no sample count"},
		{"loss of an untrained model", ShareRequest{Round: "r0", Model: m0, Participants: ps, Loss: true}, "no loss"},
		{"round id", ShareRequest{Round: "r-0", Model: m0, Participants: ps}, "round id"},
		{"precision", ShareRequest{Round: "r0", Model: m0, Participants: ps, FracBits: 50}, "fractional bits"},
		{"not a model", ShareRequest{Round: "r0", Model: "nope", Participants: ps}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := share(0, tc.q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// bob shares; alice has not: bob's sum lacks alice's share.
	if err := share(0, ShareRequest{Round: "r1", Model: m0, Participants: ps}); err != nil {
		t.Fatal(err)
	}
	if err := share(0, ShareRequest{Round: "r1", Model: m0, Participants: ps}); err == nil || !strings.Contains(err.Error(), "already shared") {
		t.Fatalf("round shared twice: %v", err)
	}
	var sum SumReply
	if err := fh.c[1].Call(ctx, MsgSum, &SumRequest{Round: "r1"}, &sum); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("alice summed a round she never shared in: %v", err)
	}
	if err := fh.c[0].Call(ctx, MsgSum, &SumRequest{Round: "r1"}, &sum); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "participant 1") {
		t.Fatalf("bob summed without alice's share: %v", err)
	}
	// Shares and masks are kept in memory, never as stored objects.
	var list workers.SearchReply
	for i := range fh.own {
		if err := fh.own[i].Call(ctx, workers.MsgSearch, &workers.SearchRequest{}, &list); err != nil {
			t.Fatal(err)
		}
		for _, in := range list.Objects {
			if in.Kind == store.KindBlob {
				t.Errorf("%s stores %s", fh.h[i].WorkerID(), in.ID)
			}
		}
	}
	// A proper round, then the sum cannot be asked twice or by another user.
	pl := fh.participants(t, "r2", 2)
	if err := share(0, ShareRequest{Round: "r2", Model: m0, Participants: pl[0]}); err != nil {
		t.Fatal(err)
	}
	if err := share(1, ShareRequest{Round: "r2", Model: m1, Index: 1, Participants: pl[1]}); err != nil {
		t.Fatal(err)
	}
	eveTok, _ := fh.users[0].Add("eve2")
	eve, err := workers.NewClient(ctx, workers.NewSessionTransport(fh.h[0], "eve"), workers.Credentials{Token: eveTok}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eve.Call(ctx, MsgSum, &SumRequest{Round: "r2"}, &sum); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user summed the round: %v", err)
	}
	if err := fh.c[0].Call(ctx, MsgSum, &SumRequest{Round: "r2"}, &sum); err != nil {
		t.Fatal(err)
	}
	if err := fh.c[0].Call(ctx, MsgSum, &SumRequest{Round: "r2"}, &sum); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("summed twice: %v", err)
	}
	// Abort discards what is left.
	var ab AbortReply
	if err := fh.c[1].Call(ctx, MsgAbort, &AbortRequest{Round: "r2"}, &ab); err != nil || ab.Discarded != 2 {
		t.Fatalf("abort: %v, discarded %d, want alice's round and bob's mask", err, ab.Discarded)
	}
}

// fl.* requests are refused to grant sessions.
func TestFederatedRefusesGrantSessions(t *testing.T) {
	fh := newFLHarness(t, "bob")
	m := fh.putModel(t, 0, 1)
	var g workers.GrantReply
	if err := fh.c[0].Call(t.Context(), workers.MsgGrant, &workers.GrantRequest{Actions: []string{store.GrantUse, store.GrantGet}, Objects: []string{m}, Audience: "alice"}, &g); err != nil {
		t.Fatal(err)
	}
	c, err := workers.NewClient(t.Context(), workers.NewPeerSessionTransport(fh.h[0], "peer", workers.Peer{Worker: "alice"}), workers.Credentials{Grants: []string{g.Token}}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{MsgBatch, MsgTrain, MsgAverage, MsgShare, MsgSum, MsgAbort} {
		if err := c.Call(t.Context(), typ, struct{}{}, nil); !errors.Is(err, workers.ErrPermission) {
			t.Errorf("%s through a grant: %v", typ, err)
		}
	}
	// fl.mask is for workers under a grant for exactly that mask.
	if err := fh.c[0].Call(t.Context(), MsgMask, &MaskRequest{Round: "r", From: 1, To: 0, Digest: make([]byte, 32)}, nil); !errors.Is(err, workers.ErrPermission) {
		t.Errorf("a user sent a mask: %v", err)
	}
	for _, typ := range []string{MsgMask} {
		if err := c.Call(t.Context(), typ, &MaskRequest{Round: "r", From: 1, To: 0, Digest: make([]byte, 32)}, nil); !errors.Is(err, workers.ErrPermission) {
			t.Errorf("%s through a grant for something else: %v", typ, err)
		}
	}
}

// Drawn batches are distinct samples, and every sample is drawn about
// equally often.
func TestDrawIndices(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	const n, size, draws = 10, 4, 20000
	count := make([]int, n)
	for range draws {
		idx := drawIndices(rng, n, size)
		seen := map[int]bool{}
		for _, i := range idx {
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("draw %v: not %d distinct indices below %d", idx, size, n)
			}
			seen[i] = true
			count[i]++
		}
	}
	want := float64(draws*size) / n
	for i, c := range count {
		if math.Abs(float64(c)-want) > 0.05*want {
			t.Errorf("sample %d drawn %d times, want about %.0f", i, c, want)
		}
	}
	if got := drawIndices(rng, 3, 3); len(got) != 3 {
		t.Errorf("all of 3: %v", got)
	}
}
