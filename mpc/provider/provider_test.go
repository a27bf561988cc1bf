package provider

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// tfpWorld returns the providers of n parties with consistent seeds.
func tfpWorld(t testing.TB, n int) []Provider {
	pair := make([]Seed, n)
	for i := range pair {
		pair[i] = NewSeed()
	}
	ps := make([]Provider, n)
	for r := 0; r < n; r++ {
		seeds := []Seed{pair[r]}
		if r == 0 {
			seeds = pair
		}
		p, err := NewTrustedFirstParty(r, n, seeds)
		if err != nil {
			t.Fatal(err)
		}
		ps[r] = p
	}
	return ps
}

// reconstruct returns the sum (or XOR) over parties of part i; a nil part
// (OmitZero) counts as zeros.
func reconstruct(all []*Shares, i int, binary bool) []uint64 {
	out := append([]uint64(nil), all[0].Parts[i]...)
	for _, s := range all[1:] {
		switch {
		case s.Parts[i] == nil:
		case binary:
			ring.XorTo(out, s.Parts[i])
		default:
			ring.AddTo(out, s.Parts[i])
		}
	}
	return out
}

func eq(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: element %d is %d, want %d", what, i, got[i], want[i])
		}
	}
}

func checkRequests(t *testing.T, ps []Provider) {
	conv := ConvSpec{N: 2, C: 2, H: 5, W: 4, Cout: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1}
	reqs := []Request{
		{Kind: Mul, N: 100}, {Kind: Square, N: 33}, {Kind: MatMul, Batch: 2, M: 3, K: 4, Cols: 5},
		{Kind: Conv, Conv: conv}, {Kind: And, N: 17}, {Kind: Trunc, N: 50, Div: 1 << 16}, {Kind: Trunc, N: 20, Div: 1000}, {Kind: DaBit, N: 130},
		{Kind: BitMul, N: 70}, {Kind: Mul, N: 5},
		{Kind: Mul, N: 3000, OmitZero: true}, {Kind: Square, N: 2100, OmitZero: true},
		{Kind: MatMul, Batch: 1, M: 40, K: 30, Cols: 50, OmitZero: true}, {Kind: Conv, Conv: conv, OmitZero: true},
		{Kind: Cmp, N: 130}, {Kind: Carry, N: 9}, {Kind: Cmp, N: 64, OmitZero: true}, {Kind: Carry, N: 3, OmitZero: true},
		{Kind: Fan, N: 3, K: 2}, {Kind: Fan, N: 2, K: 9}, {Kind: Fan, N: 1, K: 5, OmitZero: true},
	}
	for _, r := range reqs {
		all := make([]*Shares, len(ps))
		for p, pr := range ps {
			all[p] = pr.Get(r)
		}
		for _, s := range all {
			if err := s.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		name := fmt.Sprintf("%d parties %s", len(ps), r.Kind)
		switch r.Kind {
		case Mul:
			a, b, c := reconstruct(all, 0, false), reconstruct(all, 1, false), reconstruct(all, 2, false)
			want := make([]uint64, len(a))
			ring.Mul(want, a, b)
			eq(t, name, c, want)
		case Square:
			a, c := reconstruct(all, 0, false), reconstruct(all, 1, false)
			want := make([]uint64, len(a))
			ring.Mul(want, a, a)
			eq(t, name, c, want)
		case MatMul:
			a, b, c := reconstruct(all, 0, false), reconstruct(all, 1, false), reconstruct(all, 2, false)
			want := make([]uint64, len(c))
			ring.BatchMatMul(want, a, b, r.Batch, r.M, r.K, r.Cols)
			eq(t, name, c, want)
		case Conv:
			a, b, c := reconstruct(all, 0, false), reconstruct(all, 1, false), reconstruct(all, 2, false)
			want := make([]uint64, len(c))
			ring.Conv2d(want, a, b, r.Conv)
			eq(t, name, c, want)
		case And:
			a, b, c := reconstruct(all, 0, true), reconstruct(all, 1, true), reconstruct(all, 2, true)
			want := make([]uint64, len(a))
			ring.And(want, a, b)
			eq(t, name, c, want)
		case Trunc:
			r0, q := reconstruct(all, 0, false), reconstruct(all, 1, false)
			for j := range q {
				if x, v := int64(r0[j]), int64(q[j]); !(v*int64(r.Div) <= x && x-v*int64(r.Div) < int64(r.Div)) {
					t.Fatalf("%s: %d = %d·%d + remainder outside [0, %d)", name, x, v, r.Div, r.Div)
				}
			}
		case Cmp:
			checkCmp(t, name, r.N, reconstruct(all, 0, false), reconstruct(all, 1, true), reconstruct(all, 2, true))
		case Carry:
			checkCarry(t, name, reconstruct(all, 0, true), reconstruct(all, 1, true))
		case Fan:
			checkFan(t, name, r.K, reconstruct(all, 0, true), reconstruct(all, 1, true))
		case DaBit, BitMul:
			rb, ra := reconstruct(all, 0, true), reconstruct(all, len(all[0].Parts)-map[Kind]int{DaBit: 1, BitMul: 2}[r.Kind], false)
			for j := 0; j < r.N; j++ {
				if ra[j] != rb[j/64]>>(j%64)&1 {
					t.Fatalf("%s: bit %d: arithmetic %d, binary %d", name, j, ra[j], rb[j/64]>>(j%64)&1)
				}
			}
			if r.Kind == BitMul {
				a, c := reconstruct(all, 1, false), reconstruct(all, 3, false)
				want := make([]uint64, len(a))
				ring.Mul(want, a, ra)
				eq(t, name, c, want)
			}
		}
	}
}

// With OmitZero, the trusted first party's ranks other than 0 get no
// derived parts at all (they are zero), and rank 0 still gets its own.
func TestOmitZero(t *testing.T) {
	ps := tfpWorld(t, 3)
	defer func() {
		for _, p := range ps {
			p.Close()
		}
	}()
	for _, k := range []Kind{Mul, Square, And, Trunc, DaBit, BitMul, Cmp, Carry} {
		for r, pr := range ps {
			s := pr.Get(Request{Kind: k, N: 10, OmitZero: true, Div: 3})
			if err := s.Wait(); err != nil {
				t.Fatal(err)
			}
			rnd, der, _ := Request{Kind: k, N: 10, Div: 3}.layout()
			for i := range der {
				if got := s.Parts[len(rnd)+i]; (got == nil) != (r > 0) {
					t.Errorf("%s, rank %d: derived part %d is %v", k, r, i, got)
				}
			}
			s.Release()
		}
	}
}

func TestTrustedFirstParty(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		ps := tfpWorld(t, n)
		checkRequests(t, ps)
		for _, p := range ps {
			p.Close()
		}
	}
}

// materialize draws a lazy request's random parts from its streams.
func materialize(s *Shares, r Request) {
	rnd, _, _ := r.layout()
	for i, p := range rnd {
		if s.Parts[i] == nil {
			s.Parts[i] = make([]uint64, p.n)
			s.Stream(i).Fill(s.Parts[i])
		}
	}
}

// Lazy requests give the same triples as drawn ones, and the streams stay
// in step whether or not each party asks lazily.
func TestLazy(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		ps := tfpWorld(t, n)
		checkLazy(t, ps)
		// A drawn request after the lazy ones still matches.
		checkRequests(t, ps)
		for _, p := range ps {
			p.Close()
		}
	}
}

func checkLazy(t *testing.T, ps []Provider) {
	n := len(ps)
	for _, k := range []Kind{Mul, Square, Mul} {
		r := Request{Kind: k, N: 3000}
		all := make([]*Shares, n)
		for p, pr := range ps {
			rp := r
			rp.Lazy = p%2 == 0 // mixed on purpose
			all[p] = pr.Get(rp)
		}
		for p, s := range all {
			if err := s.Wait(); err != nil {
				t.Fatal(err)
			}
			materialize(s, Request{Kind: k, N: 3000, Lazy: p%2 == 0})
		}
		name := fmt.Sprintf("%d parties lazy %s", n, k)
		a := reconstruct(all, 0, false)
		want := make([]uint64, len(a))
		if k == Mul {
			ring.Mul(want, a, reconstruct(all, 1, false))
			eq(t, name, reconstruct(all, 2, false), want)
		} else {
			ring.Mul(want, a, a)
			eq(t, name, reconstruct(all, 1, false), want)
		}
		// Stream starts over at every call.
		v := make([]uint64, 5)
		all[0].Stream(0).Fill(v)
		eq(t, name+" restart", v, all[0].Parts[0][:5])
	}
}

// checkCmp checks a comparison mask: the bit planes are r's bits and the
// digit products the products of those bits, element by element.
func checkCmp(t testing.TB, name string, n int, r, rb, rd []uint64) {
	t.Helper()
	if len(r) != n || len(rb) != 64*words(n) || len(rd) != DigitProducts*16*words(n) {
		t.Fatalf("%s: parts of %d, %d, %d words", name, len(r), len(rb), len(rd))
	}
	for e := 0; e < n; e++ {
		w, i := e/64, e%64
		v := r[e]
		for j := 0; j < 64; j++ {
			if got := rb[64*w+j] >> i & 1; got != v>>j&1 {
				t.Fatalf("%s: element %d bit %d: plane holds %d", name, e, j, got)
			}
		}
		for d := 0; d < 16; d++ {
			for k := 0; k < DigitProducts; k++ {
				s := DigitSubset(k)
				want := uint64(1)
				for m := 0; m < 4; m++ {
					if s>>m&1 == 1 {
						want &= v >> (4*d + m) & 1
					}
				}
				if got := rd[DigitProducts*(16*w+d)+k] >> i & 1; got != want {
					t.Fatalf("%s: element %d digit %d product %04b: %d, want %d", name, e, d, s, got, want)
				}
				if DigitIndex(s) != k {
					t.Fatalf("DigitIndex(%04b) = %d, want %d", s, DigitIndex(s), k)
				}
			}
		}
	}
}

// checkCarry checks that a carry unit's products are those of its masks.
func checkCarry(t testing.TB, name string, m, q []uint64) {
	t.Helper()
	if len(q)/CarryProducts != len(m)/CarryVars {
		t.Fatalf("%s: %d masks and %d products", name, len(m), len(q))
	}
	for u := 0; u < len(m)/CarryVars; u++ {
		for k := 0; k < CarryProducts; k++ {
			s := CarrySubset(k)
			want := ^uint64(0)
			for v := 0; v < CarryVars; v++ {
				if s>>v&1 == 1 {
					want &= m[CarryVars*u+v]
				}
			}
			if got := q[CarryProducts*u+k]; got != want {
				t.Fatalf("%s: unit %d product %08b: %x, want %x", name, u, s, got, want)
			}
			if CarryIndex(s) != k {
				t.Fatalf("CarryIndex(%08b) = %d, want %d", s, CarryIndex(s), k)
			}
		}
	}
}

// checkFan checks that a fan unit's products are those of its masks.
func checkFan(t testing.TB, name string, k int, m, q []uint64) {
	t.Helper()
	np := FanProducts(k)
	if len(q)/np != len(m)/k {
		t.Fatalf("%s: %d masks and %d products", name, len(m), len(q))
	}
	for u := 0; u < len(m)/k; u++ {
		i := 0
		for s := 3; s < 1<<k; s++ {
			if s&(s-1) == 0 {
				continue
			}
			want := ^uint64(0)
			for v := 0; v < k; v++ {
				if s>>v&1 == 1 {
					want &= m[k*u+v]
				}
			}
			if FanIndex(uint16(s)) != i {
				t.Fatalf("FanIndex(%b) = %d, want %d", s, FanIndex(uint16(s)), i)
			}
			if got := q[np*u+i]; got != want {
				t.Fatalf("%s: unit %d product %b: %x, want %x", name, u, s, got, want)
			}
			i++
		}
	}
}
