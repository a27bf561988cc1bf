package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// signInputs returns ring values covering the edges of the sign-bit
// protocol: zero, ±1, the extremes of the ring, values next to every power
// of two (every borrow chain length), and random values.
func signInputs(n int, seed uint64) []uint64 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := []uint64{0, 1, ^uint64(0), 1 << 63, 1<<63 - 1, 1<<63 + 1}
	for j := 0; j < 64; j++ {
		b := uint64(1) << j
		v = append(v, b, b-1, b+1, -b, -b-1, -b+1)
	}
	for len(v) < n {
		v = append(v, r.Uint64())
	}
	return v[:n]
}

// TestSignBit checks the sign-bit protocol against the plaintext sign of
// every input, from 1 to 4 parties, with each provider, on sizes that end
// inside a word and on whole words.
func TestSignBit(t *testing.T) {
	type setting struct {
		name string
		opts []Option
		ns   []int
	}
	settings := []setting{
		{"tfp", nil, []int{1, 2, 3, 4}},
		{"dealer", []Option{TrustedThirdParty()}, []int{1, 2, 3, 4}},
		{"dealer-free", []Option{DealerFree()}, []int{2}},
	}
	for _, st := range settings {
		for _, n := range st.ns {
			for _, size := range []int{1, 63, 64, 445, 1024} {
				x := signInputs(size, uint64(size*n))
				res, err := RunLocal(n, func(p *Party) (any, error) {
					// Rank 0 holds x, the others random shares of zero.
					share := p.zeroShares(size)
					if p.Rank() == 0 {
						for i := range share {
							share[i] += x[i]
						}
					}
					bits := p.msb(share)
					open := append([]uint64(nil), bits...)
					p.openXor("test", open)
					return open, p.Err()
				}, st.opts...)
				if err != nil {
					t.Fatalf("%s, %d parties, %d elements: %v", st.name, n, size, err)
				}
				got := res[0].Value.([]uint64)
				for i, v := range x {
					if g := got[i/64] >> (i % 64) & 1; g != v>>63 {
						t.Fatalf("%s, %d parties, %d elements: sign of %#x is %d, want %d", st.name, n, size, v, g, v>>63)
					}
				}
				if tail := size % 64; tail != 0 && got[len(got)-1]>>tail != 0 {
					t.Errorf("%s, %d parties: bits past element %d are set", st.name, n, size)
				}
			}
		}
	}
}

// TestSignBitCost pins the protocol's rounds and bytes: three rounds and
// 64 + 31 + 7 bits per element to every other party (plus a word's
// rounding).
func TestSignBitCost(t *testing.T) {
	for _, n := range []int{2, 3, 4} {
		const size = 64 * 100
		res, err := RunLocal(n, func(p *Party) (any, error) {
			x := p.zeroShares(size)
			before := p.Stats().Total()
			p.msb(x)
			d := p.Stats().Total().Sub(before)
			return []int64{d.Rounds, d.BytesSent}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := res[0].Value.([]int64)
		want := []int64{3, int64(n-1) * (64 + 31 + 7) * size / 8}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%d parties: rounds and bytes %v, want %v", n, got, want)
		}
	}
}

// TestAndAll checks the AND of k shared bit vectors, in one round (up to
// four inputs, or more within the Fan budget) or in rounds of four, from
// 1 to 4 parties and with each provider.
func TestAndAll(t *testing.T) {
	type setting struct {
		name string
		opts []Option
		ns   []int
	}
	settings := []setting{
		{"tfp", nil, []int{1, 2, 3, 4}},
		{"dealer", []Option{TrustedThirdParty()}, []int{2, 3, 4}},
		{"dealer-free", []Option{DealerFree()}, []int{2}},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, st := range settings {
		for _, n := range st.ns {
			for _, c := range []struct{ k, words, rounds int }{
				{2, 3, 1}, {3, 5, 1}, {4, 1, 1}, {5, 2, 1}, {9, 4, 1}, {12, 2, 1},
				{13, 2, 2}, {9, fanBudget>>9 + 1, 2}, {17, 1, 3},
			} {
				xs := make([][]uint64, c.k)
				want := make([]uint64, c.words)
				for i := range want {
					want[i] = ^uint64(0)
				}
				for v := range xs {
					xs[v] = make([]uint64, c.words)
					for w := range xs[v] {
						// Mostly ones, so that the AND is not all zero.
						xs[v][w] = r.Uint64() | r.Uint64() | r.Uint64()
						want[w] &= xs[v][w]
					}
				}
				res, err := RunLocal(n, func(p *Party) (any, error) {
					sh := make([][]uint64, c.k)
					for v := range sh {
						// x on rank 0, zeros elsewhere: a valid XOR sharing.
						sh[v] = make([]uint64, c.words)
						if p.Rank() == 0 {
							copy(sh[v], xs[v])
						}
					}
					before := p.Stats().Total().Rounds
					got := p.andAll(sh)
					rounds := p.Stats().Total().Rounds - before
					p.openXor("test", got)
					return append(got, uint64(rounds)), p.Err()
				}, st.opts...)
				if err != nil {
					t.Fatalf("%s, %d parties, AND of %d: %v", st.name, n, c.k, err)
				}
				got := res[0].Value.([]uint64)
				for w := range want {
					if got[w] != want[w] {
						t.Fatalf("%s, %d parties, AND of %d: word %d is %x, want %x", st.name, n, c.k, w, got[w], want[w])
					}
				}
				if rounds := int(got[len(got)-1]); n > 1 && st.name == "tfp" && rounds != c.rounds {
					t.Errorf("%s, %d parties, AND of %d over %d words: %d rounds, want %d", st.name, n, c.k, c.words, rounds, c.rounds)
				}
			}
		}
	}
}
