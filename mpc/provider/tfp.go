package provider

import "fmt"

// TrustedFirstParty is the provider in which rank 0 deals (see the package
// documentation for what rank 0 learns). It sends no message. Derived
// parts (c of a triple, θ of a wrap, the arithmetic bit of a daBit) are
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
	if t.rank != 0 {
		// Derived parts are all rank 0's: it knows every mask anyway, so
		// giving the others zero shares of c (rather than random ones it
		// would have to replay) costs no secrecy and a third of the PRG
		// work of a triple.
		if r.OmitZero {
			return &Shares{Parts: append(draw(t.own, rnd), make([][]uint64, len(der))...)}
		}
		return &Shares{Parts: append(draw(t.own, rnd), zeros(der)...)}
	}
	mine := draw(t.own, rnd)
	// Parts is sized up front: the dealer goroutine fills the derived
	// entries while the caller reads the random ones.
	s := &Shares{Parts: append(mine, make([][]uint64, len(der))...)}
	mine = s.Parts[:len(rnd)]
	done := make(chan struct{})
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

// Close stops rank 0's dealer goroutine.
func (t *TrustedFirstParty) Close() error {
	if t.quit != nil {
		close(t.quit)
		t.quit = nil
	}
	return nil
}
