package provider

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// The privacy acceptance test: an observer party's view (its fixed
// randomness, every message it receives, and the shares it ends with)
// must not determine the other party's shares. With the observer's seed
// fixed and the target's varied over many runs, the target's shares must
// differ from run to run, and no word of the observer's view may be
// correlated with any word of the target's shares (a bit-agreement test:
// whatever a view word's distribution, its bits agree with the bits of an
// independent uniform share word half of the time).

// privacyRequests exercises every kind the dealer-free provider serves.
var privacyRequests = []Request{
	{Kind: Mul, N: 64}, {Kind: Square, N: 64}, {Kind: Mul, N: heProductsMin}, {Kind: And, N: 2},
	{Kind: DaBit, N: 64}, {Kind: BitMul, N: 64}, {Kind: Cmp, N: 64}, {Kind: Carry, N: 2}, {Kind: Fan, N: 1, K: 5},
	{Kind: MatMul, Batch: 1, M: 2, K: 3, Cols: 2},
	{Kind: Conv, Conv: ConvSpec{N: 1, C: 1, H: 3, W: 3, Cout: 1, KH: 2, KW: 2, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1}},
}

// recorder records the bytes a party receives.
type recorder struct {
	comm.Comm
	got []byte
}

func (r *recorder) Recv(from int) ([]byte, error) {
	b, err := r.Comm.Recv(from)
	r.got = append(r.got, b...)
	return b, err
}

// newProvider builds the provider under test for one party.
type newProvider func(c comm.Comm, seed Seed) (Provider, error)

func dealerFreeUnderTest(c comm.Comm, seed Seed) (Provider, error) { return NewDealerFree(c, seed) }

// view runs the requests once and returns, as words, the observer's view
// (the messages it received, then its own shares) and the target's shares
// (random parts, then derived parts), and where each second half starts.
func view(t *testing.T, np newProvider, observer int, seeds [2]Seed) (obs []uint64, msgs int, target []uint64, rnds int) {
	var rec [2]*recorder
	out := runPairWith(t, seeds, func(rank int, c comm.Comm) comm.Comm {
		rec[rank] = &recorder{Comm: c}
		return rec[rank]
	}, np, privacyRequests)
	words := func(b []byte) []uint64 {
		w := make([]uint64, (len(b)+7)/8)
		for i := range w {
			var x [8]byte
			copy(x[:], b[8*i:])
			w[i] = binary.LittleEndian.Uint64(x[:])
		}
		return w
	}
	obs = words(rec[observer].got)
	msgs = len(obs)
	for _, s := range out[observer] {
		for _, p := range s.Parts {
			obs = append(obs, p...)
		}
	}
	var der []uint64
	for i, s := range out[1-observer] {
		rnd, _, _ := privacyRequests[i].layout()
		for j, p := range s.Parts {
			if j < len(rnd) {
				target = append(target, p...)
			} else {
				der = append(der, p...)
			}
		}
	}
	return obs, msgs, append(target, der...), len(target)
}

// runPairWith is runPair for any provider and a fixed request list.
func runPairWith(t *testing.T, seeds [2]Seed, wrap func(int, comm.Comm) comm.Comm, np newProvider, reqs []Request) [2][]*Shares {
	t.Helper()
	return runPair(t, seeds, wrap, nil, func(c comm.Comm, seed Seed) ([]*Shares, error) {
		p, err := np(c, seed)
		if err != nil {
			return nil, err
		}
		var ss []*Shares
		for _, r := range reqs {
			s := p.Get(r)
			if err := s.Wait(); err != nil {
				return nil, err
			}
			ss = append(ss, s)
		}
		return ss, nil
	})
}

// checkPrivacy runs the test for one direction and returns why it fails.
func checkPrivacy(t *testing.T, np newProvider, observer int, runs int) error {
	fixed := NewSeed()
	var views, targets [][]uint64
	var msgs, rnds int
	for k := 0; k < runs; k++ {
		var seeds [2]Seed
		seeds[observer], seeds[1-observer] = fixed, NewSeed()
		v, m, s, r := view(t, np, observer, seeds)
		views, targets, msgs, rnds = append(views, v), append(targets, s), m, r
	}
	for k := 1; k < runs; k++ {
		if len(views[k]) != len(views[0]) {
			return fmt.Errorf("the observer's view changed length (%d, %d words)", len(views[0]), len(views[k]))
		}
		if equalWords(targets[k], targets[0]) {
			return fmt.Errorf("party %d's shares are the same in runs 0 and %d: the observer's randomness determines them", 1-observer, k)
		}
	}
	// Bit agreement between every view word and up to 64 share words. The
	// target's derived parts are compared with the messages only: with the
	// observer's own derived shares they are tied by what the triple
	// computes (a daBit's arithmetic shares sum to a bit), as they would
	// be with any dealer.
	spos := spread(len(targets[0]), 64)
	n := float64(64 * runs)
	worst, where := 0.0, ""
	for i := range views[0] {
		for _, j := range spos {
			if j >= rnds && i >= msgs {
				continue
			}
			agree := 0
			for k := 0; k < runs; k++ {
				agree += 64 - bits.OnesCount64(views[k][i]^targets[k][j])
			}
			z := math.Abs(float64(agree)-n/2) / math.Sqrt(n/4)
			if z > worst {
				worst, where = z, fmt.Sprintf("view word %d, share word %d", i, j)
			}
		}
	}
	// Up to ~2·10^7 tests: under independence the largest |z| stays below
	// 7.5 except with probability about 10^-6; a leaked word scores √(64·runs).
	if worst > 7.5 {
		return fmt.Errorf("the observer's view is correlated with party %d's shares (|z| = %.1f at %s)", 1-observer, worst, where)
	}
	return nil
}

func equalWords(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// spread returns up to k positions spread evenly over [0, n).
func spread(n, k int) []int {
	if n <= k {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, k)
	for i := range out {
		out[i] = i * n / k
	}
	return out
}

func TestDealerFreePrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("many runs of the protocols")
	}
	const runs = 24
	for observer := 0; observer < 2; observer++ {
		if err := checkPrivacy(t, dealerFreeUnderTest, observer, runs); err != nil {
			t.Errorf("dealer-free, observer party %d: %v", observer, err)
		}
	}
	// Negative controls: the test must catch a provider in which the
	// observer secretly draws the whole triple, and one in which the
	// target leaks its shares.
	for observer := 0; observer < 2; observer++ {
		dealer := func(c comm.Comm, seed Seed) (Provider, error) {
			return &secretDealer{c: c, dealer: observer, g: NewPRG(seed)}, nil
		}
		if err := checkPrivacy(t, dealer, observer, 8); err == nil {
			t.Errorf("a provider where party %d draws the whole triple passed the privacy test", observer)
		} else {
			t.Logf("secret dealer caught (observer %d): %v", observer, err)
		}
		leaky := func(c comm.Comm, seed Seed) (Provider, error) {
			d, err := NewDealerFree(c, seed)
			return &leaker{DealerFree: d, target: 1 - observer}, err
		}
		if err := checkPrivacy(t, leaky, observer, runs); err == nil {
			t.Errorf("a provider where party %d leaks its shares passed the privacy test", 1-observer)
		} else {
			t.Logf("leak caught (observer %d): %v", observer, err)
		}
	}
}

// secretDealer is a bad provider: the dealer party draws both parties'
// shares from its own randomness and sends the other its shares.
type secretDealer struct {
	c      comm.Comm
	dealer int
	g      *PRG
}

func (s *secretDealer) Get(r Request) *Shares {
	rnd, der, _ := r.layout()
	peer := 1 - s.c.Rank()
	if s.c.Rank() != s.dealer {
		var parts [][]uint64
		for _, p := range append(rnd, der...) {
			v := make([]uint64, p.n)
			if err := comm.RecvUint64s(s.c, peer, v); err != nil {
				return &Shares{err: err, done: true}
			}
			parts = append(parts, v)
		}
		return &Shares{Parts: parts}
	}
	mine, theirs := draw(s.g, rnd), draw(s.g, rnd)
	cp := func(ps [][]uint64) [][]uint64 {
		out := make([][]uint64, len(ps))
		for i := range ps {
			out[i] = append([]uint64(nil), ps[i]...)
		}
		return out
	}
	full := derive(r, [][][]uint64{cp(mine), cp(theirs)})
	theirDer := draw(s.g, der)
	for i, p := range der {
		if p.binary {
			ring.XorTo(full[i], theirDer[i])
		} else {
			ring.SubFrom(full[i], theirDer[i])
		}
	}
	for _, v := range append(theirs, theirDer...) {
		comm.SendUint64s(s.c, peer, v)
	}
	return &Shares{Parts: append(mine, full...)}
}

func (s *secretDealer) Close() error { return nil }

// leaker is a bad provider: the target runs the dealer-free protocol and
// then sends the other party its shares.
type leaker struct {
	*DealerFree
	target int
}

func (l *leaker) Get(r Request) *Shares {
	s := l.DealerFree.Get(r)
	if err := s.Wait(); err != nil {
		return s
	}
	for _, p := range s.Parts {
		if l.rank == l.target {
			comm.SendUint64s(l.c, l.peer, p)
		} else {
			buf := make([]uint64, len(p))
			if err := comm.RecvUint64s(l.c, l.peer, buf); err != nil {
				return &Shares{err: err, done: true}
			}
		}
	}
	return s
}
