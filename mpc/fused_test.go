package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// The fused loops must equal the step-by-step computation: sum the opened
// parts, form the product, then truncate as truncLocal does.
func TestFusedLoops(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	vec := func(n int) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			v[i] = r.Uint64()
		}
		return v
	}
	const n = 257
	for _, rank := range []int{0, 1} {
		for _, on := range []bool{false, true} {
			for _, withC := range []bool{false, true} {
				tr := trunc{on: on, sh: 16}
				if rank == 1 {
					tr.neg = ^uint64(0)
				}
				c, e0, e1, y, a, f0, f1 := vec(n), vec(n), vec(n), vec(n), vec(n), vec(n), vec(n)
				if !withC {
					c = nil
				}
				want := make([]uint64, n)
				for i := range want {
					var ci uint64
					if c != nil {
						ci = c[i]
					}
					want[i] = ci + (e0[i]+e1[i])*y[i] + a[i]*(f0[i]+f1[i])
				}
				if on {
					truncLocal(want, 1<<16, rank == 0)
				}
				got := make([]uint64, n)
				beaverZ(got, c, e0, e1, y, a, f0, f1, tr)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("beaverZ rank %d trunc %v c %v: element %d is %d, want %d", rank, on, withC, i, got[i], want[i])
					}
				}
				// squareZ, with r2 standing in c's place.
				first := rank == 0
				for i := range want {
					var r2 uint64
					if c != nil {
						r2 = c[i]
					}
					e := e0[i] + e1[i]
					want[i] = r2 + 2*e*a[i]
					if first {
						want[i] += e * e
					}
				}
				if on {
					truncLocal(want, 1<<16, rank == 0)
				}
				squareZ(got, c, e0, e1, a, first, tr)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("squareZ rank %d trunc %v r2 %v: element %d is %d, want %d", rank, on, withC, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// lin's one-pass form gives the very shares of its step-by-step form.
func TestLinFused(t *testing.T) {
	x := []float64{-3.25, 0, 1e-4, 7.5, -0.001, 123.456}
	y := []float64{2, -5.5, 0.25, 1e3, -7, 0.5}
	_, err := RunLocal(2, func(p *Party) (any, error) {
		a := p.Encrypt(tensor.FromSlice(x), 0).share
		b := p.Encrypt(tensor.FromSlice(y), 1).share
		for _, c := range []struct {
			c0    float64
			terms []term
		}{
			{0, []term{{0.75, a}}},
			{-1.5, []term{{-2.25, a}}},
			{0.125, []term{{3, a}, {-0.0625, b}}},
		} {
			got := p.lin(c.c0, c.terms...)
			want := p.linPasses(make([]uint64, len(a)), c.c0, c.terms)
			for i := range got {
				if got[i] != want[i] {
					return nil, fmt.Errorf("rank %d, %v: share %d is %d, want %d", p.Rank(), c, i, got[i], want[i])
				}
			}
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
