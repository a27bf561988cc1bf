package syft_test

// Owner against owner (issue 11): alice's worker runs rank 0 of a job
// that multiplies her private tensor by bob's, and tries to rebuild bob's
// input from everything its party sent and received. It does so by
// impersonating bob: it runs bob's side of the (public, approved) program
// itself, on zeros instead of bob's data, against a replay of alice's own
// messages, and subtracts the opening its impersonation sends from the
// opening bob really sent. The difference is bob's input exactly when
// alice can reproduce bob's masks, which the trusted first party lets
// her do (rank 0 chose the seed bob's masks come from). With a dealer
// worker, bob's masks come from a seed only the dealer and bob know; with
// the dealer-free provider, from bob's private seed: the attack then
// does no better than guessing. docs/privacy.md describes it.

import (
	"bytes"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/jobs"
)

// jobOwnerMul multiplies alice's private tensor (rank 0) by bob's (rank
// 1) and returns the product encrypted: only the requester learns it, so
// whatever alice learns of bob's input comes from the protocol.
func jobOwnerMul() (any, error) {
	a, err := mpc.Load("owner_data", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("owner_data", 1)
	if err != nil {
		return nil, err
	}
	return a.Mul(b), nil
}

// partyLog is what one party sent and received, message by message, per
// peer.
type partyLog struct {
	mu         sync.Mutex
	sent, recv map[int][][]byte
}

func (l *partyLog) add(m map[int][][]byte, peer int, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m[peer] = append(m[peer], bytes.Clone(b))
}

// loggedComm records a party's traffic into a partyLog: the hook a
// worker's operator has (jobs.Options.Observe).
type loggedComm struct {
	comm.Comm
	log *partyLog
}

func (c *loggedComm) Send(to int, b []byte) error {
	c.log.add(c.log.sent, to, b)
	return c.Comm.Send(to, b)
}

func (c *loggedComm) Recv(from int) ([]byte, error) {
	b, err := c.Comm.Recv(from)
	if err == nil {
		c.log.add(c.log.recv, from, b)
	}
	return b, err
}

func (c *loggedComm) Flush(to int) error { return comm.Flush(c.Comm, to) }
func (c *loggedComm) HasTTP() bool       { return comm.Parties(c.Comm) > c.Comm.Size() }

// replayComm plays bob's end of the mesh for alice's impersonation of
// him: what "alice" says is what alice really sent bob; a dealer, if any,
// says a seed the attacker guesses; what the impersonation sends is kept.
type replayComm struct {
	rank, size int
	ttp        bool
	in         map[int][][]byte
	out        map[int][][]byte
	stats      *comm.Stats
}

func (c *replayComm) Rank() int          { return c.rank }
func (c *replayComm) Size() int          { return c.size }
func (c *replayComm) Stats() *comm.Stats { return c.stats }
func (c *replayComm) Close() error       { return nil }
func (c *replayComm) HasTTP() bool       { return c.ttp }
func (c *replayComm) Flush(int) error    { return nil }
func (c *replayComm) Send(to int, b []byte) error {
	c.out[to] = append(c.out[to], bytes.Clone(b))
	return nil
}

func (c *replayComm) Recv(from int) ([]byte, error) {
	q := c.in[from]
	if len(q) == 0 {
		return nil, &comm.PeerError{Op: "recv", Peer: from, Err: comm.ErrPeerClosed}
	}
	c.in[from] = q[1:]
	return q[0], nil
}

// zeros is the impersonation's store: zeros in place of bob's data.
type zeros struct{ n int }

func (z zeros) Load(string) (*tensor.Tensor, error) { return tensor.Zeros(z.n), nil }
func (z zeros) Save(string, *tensor.Tensor) error   { return errors.New("read-only") }

// impersonateBob runs bob's side of jobOwnerMul under the job's provider
// on zeros, fed with what alice sent bob, and returns what it sends
// alice.
func impersonateBob(prov string, fromAlice [][]byte, n int) [][]byte {
	rc := &replayComm{rank: 1, size: 2, ttp: prov == mpc.ProviderDealer, stats: comm.NewStats(),
		in: map[int][][]byte{0: fromAlice}, out: map[int][][]byte{}}
	if rc.ttp {
		guess := provider.NewSeed() // the dealer's seed for bob: alice never saw it
		rc.in[2] = [][]byte{guess[:]}
	}
	func() {
		defer func() { recover() }() // a replay that runs dry just stops
		opt, err := mpc.ProviderOption(prov)
		if err != nil {
			return
		}
		p, err := mpc.NewParty(rc, opt, mpc.WithStore(zeros{n}))
		if err != nil {
			return
		}
		a, err := p.Load("owner_data", 0)
		if err != nil {
			return
		}
		b, err := p.Load("owner_data", 1)
		if err != nil {
			return
		}
		a.Mul(b)
	}()
	return rc.out[0]
}

// rebuildBob is alice's attack: bob's opening of the product minus her
// impersonation's, decoded; estimates are clipped to the range alice
// knows bob's values lie in, so a failed attack is a guess in range.
func rebuildBob(prov string, log *partyLog, n int, lo, hi float64) []float64 {
	fromBob := log.recv[1]
	mine := impersonateBob(prov, log.sent[1], n)
	est := make([]float64, n)
	// The opening of a product is the last message bob sends alice whose
	// length is a multiple of n words; its last n words belong to bob's
	// input.
	k := -1
	for i := len(fromBob) - 1; i >= 0; i-- {
		if l := len(fromBob[i]); l >= 8*n && l%(8*n) == 0 {
			k = i
			break
		}
	}
	if k < 0 {
		return est
	}
	open := fromBob[k]
	var sub []byte
	if k < len(mine) && len(mine[k]) == len(open) {
		sub = mine[k]
	}
	for i := range n {
		off := len(open) - 8*n + 8*i
		w := leUint64(open[off:])
		if sub != nil {
			w -= leUint64(sub[off:])
		}
		v := float64(int64(w)) / 65536
		est[i] = math.Max(lo, math.Min(hi, v))
	}
	return est
}

func leUint64(b []byte) uint64 {
	var w uint64
	for i := 7; i >= 0; i-- {
		w = w<<8 | uint64(b[i])
	}
	return w
}

func meanAbsErr(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += math.Abs(a[i] - b[i])
	}
	return s / float64(len(a))
}

// TestOwnerAgainstOwner: alice's worker (rank 0) rebuilds bob's private
// input from its party's traffic under the trusted first party (the
// control: the attack works), and cannot under a dealer worker or the
// dealer-free provider, where its estimate is no better than a random
// guess. Three TLS daemons (alice, bob, the dealer); alice's records
// through the operator's hook on its parties' links.
func TestOwnerAgainstOwner(t *testing.T) {
	const n, lo, hi = 64, -10.0, 10.0
	rng := tensor.NewRNG(7)
	x := rng.Uniform(lo, hi, n)
	y := rng.Uniform(lo, hi, n) // bob's secret
	yv := y.Data()
	guess := rng.Uniform(lo, hi, n).Data()
	guessErr := meanAbsErr(guess, yv) // what a random guess in range achieves

	var mu sync.Mutex
	var log *partyLog
	var ws []syft.Worker
	for i, id := range []string{"alice", "bob"} {
		d, tok := startDaemon(t, id)
		if i == 0 {
			d.Jobs().Configure(jobs.Options{Observe: func(_ string, rank int, c comm.Comm) comm.Comm {
				mu.Lock()
				defer mu.Unlock()
				log = &partyLog{sent: map[int][][]byte{}, recv: map[int][][]byte{}}
				return &loggedComm{Comm: c, log: log}
			}})
		}
		owner := connectB(t, d, tok[workers.OwnerUser])
		stageTensor(t, owner, "owner_data", []*tensor.Tensor{x, y}[i])
		ws = append(ws, connectB(t, d, tok["me"]))
	}
	dd, dtok := startDaemon(t, "dealer")
	dealer := connectB(t, dd, dtok["me"])

	for _, c := range []struct {
		prov      string
		dealer    syft.Worker
		recovered bool
	}{
		{mpc.ProviderTFP, nil, true},
		{mpc.ProviderDealer, dealer, false},
		{mpc.ProviderDealerFree, nil, false},
	} {
		t.Run(c.prov, func(t *testing.T) {
			job := &syft.Job{Workers: ws, MasterAddr: "127.0.0.1", Func: mustFunc(t, jobOwnerMul), Provider: c.prov, Dealer: c.dealer}
			res, err := job.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			// The requester gets the product: the job did run.
			want := x.Mul(y)
			if got := res.Tensor(0); got == nil || !tensor.AllClose(got, want, 1e-3, 1e-2) {
				t.Fatalf("product %v, want %v", res.Value(0), want)
			}
			if res.Provider != c.prov {
				t.Fatalf("ran with %q", res.Provider)
			}
			mu.Lock()
			l := log
			mu.Unlock()
			if l == nil || len(l.recv[1]) == 0 || len(l.sent[1]) == 0 {
				t.Fatal("alice's worker recorded nothing")
			}
			est := rebuildBob(c.prov, l, n, lo, hi)
			e := meanAbsErr(est, yv)
			t.Logf("%s: alice rebuilds bob's input with mean error %.3g (a random guess: %.3g; received %d messages from bob)",
				c.prov, e, guessErr, len(l.recv[1]))
			if c.recovered {
				if e > 1e-3 {
					t.Errorf("the control failed: under the trusted first party alice's worker should rebuild bob's input, error %.3g", e)
				}
				return
			}
			if e < 0.75*guessErr {
				t.Errorf("alice's worker rebuilt bob's input with error %.3g, better than a random guess (%.3g)", e, guessErr)
			}
		})
	}
}
