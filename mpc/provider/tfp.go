package provider

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// TrustedFirstParty is the provider in which rank 0 deals (see the package
// documentation for what rank 0 learns). It sends no message. Derived
// parts (c of a triple, the quotient of a truncation mask, the arithmetic bit of a daBit) are
// held whole by rank 0; the other ranks' shares of them are zero.
type TrustedFirstParty struct {
	rank, size int
	own        *PRG   // this party's stream (on rank 0, its private one)
	peers      []*PRG // rank 0 only: replicas of every other party's stream
	jobs       chan func()
	quit       chan struct{}
}

// NewTrustedFirstParty returns the provider of party rank among size
// parties. seeds[i] is the seed this party shares with party i: on rank 0
// one per party (seeds[0] seeds rank 0's own stream and must be private to
// it); on other ranks only seeds[0], shared with rank 0, is used.
func NewTrustedFirstParty(rank, size int, seeds []Seed) (*TrustedFirstParty, error) {
	if size < 1 || rank < 0 || rank >= size || len(seeds) < size && rank == 0 || len(seeds) < 1 {
		return nil, fmt.Errorf("provider: trusted first party for rank %d of %d needs a seed per party, got %d", rank, size, len(seeds))
	}
	t := &TrustedFirstParty{rank: rank, size: size, own: NewPRG(seeds[0].Derive("tfp"))}
	if rank == 0 {
		t.peers = make([]*PRG, size)
		for i := 1; i < size; i++ {
			t.peers[i] = NewPRG(seeds[i].Derive("tfp"))
		}
		// One dealer goroutine runs the derivations in request order, so
		// the replicated streams are consumed in the order the parties
		// consume them, while rank 0's protocol code goes on.
		jobs, quit := make(chan func(), 64), make(chan struct{})
		t.jobs, t.quit = jobs, quit
		go func() {
			for {
				select {
				case job := <-jobs:
					job()
				case <-quit:
					return
				}
			}
		}()
	}
	return t, nil
}

// Get implements Provider.
func (t *TrustedFirstParty) Get(r Request) *Shares {
	rnd, der, err := r.layout()
	if err != nil {
		panic(err)
	}
	s := &Shares{}
	var mine [][]uint64
	if r.lazy() {
		mine = s.skipLazy(t.own, rnd)
	} else {
		mine = draw(t.own, rnd)
	}
	if t.rank != 0 {
		// Derived parts are all rank 0's: it knows every mask anyway, so
		// giving the others zero shares of c (rather than random ones it
		// would have to replay) costs no secrecy and a third of the PRG
		// work of a triple.
		if r.OmitZero {
			s.Parts = append(mine, make([][]uint64, len(der))...)
		} else {
			s.Parts = append(mine, zeros(der)...)
		}
		return s
	}
	// Parts is sized up front: the dealer goroutine fills the derived
	// entries while the caller reads the random ones.
	s.Parts = append(mine, make([][]uint64, len(der))...)
	mine = s.Parts[:len(rnd)]
	done := make(chan struct{})
	if r.Kind == Mul || r.Kind == Square {
		var own []*PRG
		if r.lazy() {
			for i := range rnd {
				own = append(own, s.Stream(i))
			}
		}
		t.jobs <- func() {
			defer close(done)
			c := getBuf(r.N)
			t.streamProduct(r, mine, own, c)
			s.Parts[len(rnd)] = c
		}
		s.wait = func() error { <-done; return nil }
		return s
	}
	t.jobs <- func() {
		defer close(done)
		all := make([][][]uint64, t.size)
		all[0] = mine
		for i := 1; i < t.size; i++ {
			all[i] = draw(t.peers[i], rnd)
		}
		copy(s.Parts[len(rnd):], derive(r, all))
		release(all[1:])
	}
	s.wait = func() error { <-done; return nil }
	return s
}

// streamBlock is the block of a streamed product: small enough that the
// other parties' parts, generated for it, stay in the first-level cache.
const streamBlock = 1024

// streamProduct sets c = (Σ_i a_i)∘(Σ_i b_i) (b = a for Square), with a_0,
// b_0 rank 0's own parts (mine, or generated from own when the request is
// lazy) and the others' parts generated block by block from their streams
// (never stored whole: for a large request that spares writing and reading
// them back, which costs more than generating them). The streams end where
// drawing the parts whole would have left them.
func (t *TrustedFirstParty) streamProduct(r Request, mine [][]uint64, own []*PRG, c []uint64) {
	n := uint64(r.N)
	parts := uint64(1)
	if r.Kind == Mul {
		parts = 2
	}
	type peer struct{ a, b *PRG }
	peers := make([]peer, 0, t.size-1)
	for i := 1; i < t.size; i++ {
		g := t.peers[i]
		pr := peer{a: g.at(g.pos)}
		if parts == 2 {
			pr.b = g.at(g.pos + n)
		}
		g.seek(g.pos + parts*n)
		peers = append(peers, pr)
	}
	var sa, sb, ta, tb, oa, ob [streamBlock]uint64
	for off := 0; off < r.N; off += streamBlock {
		m := min(streamBlock, r.N-off)
		var a0, b0 []uint64
		if own != nil {
			a0 = oa[:m]
			own[0].Fill(a0)
			b0 = a0
			if parts == 2 {
				b0 = ob[:m]
				own[1].Fill(b0)
			}
		} else {
			a0 = mine[0][off : off+m]
			b0 = a0
			if parts == 2 {
				b0 = mine[1][off : off+m]
			}
		}
		if len(peers) == 1 {
			// Two parties: one pass.
			pr := peers[0]
			pr.a.Fill(ta[:m])
			if parts == 2 {
				pr.b.Fill(tb[:m])
				mulSums(c[off:off+m], a0, ta[:m], b0, tb[:m])
			} else {
				mulSums(c[off:off+m], a0, ta[:m], a0, ta[:m])
			}
			continue
		}
		copy(sa[:m], a0)
		copy(sb[:m], b0)
		for _, pr := range peers {
			pr.a.Fill(ta[:m])
			ring.AddTo(sa[:m], ta[:m])
			if parts == 2 {
				pr.b.Fill(tb[:m])
				ring.AddTo(sb[:m], tb[:m])
			}
		}
		if parts == 2 {
			ring.Mul(c[off:off+m], sa[:m], sb[:m])
		} else {
			ring.Mul(c[off:off+m], sa[:m], sa[:m])
		}
	}
}

// Close stops rank 0's dealer goroutine.
func (t *TrustedFirstParty) Close() error {
	if t.quit != nil {
		close(t.quit)
		t.quit = nil
	}
	return nil
}
