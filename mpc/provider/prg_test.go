package provider

import (
	"math/bits"
	"testing"
)

func TestPRGDeterministicAndBalanced(t *testing.T) {
	s := Seed{1, 2, 3}
	a, b := NewPRG(s).Uint64s(1000), NewPRG(s).Uint64s(1000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different stream at %d", i)
		}
	}
	c := NewPRG(s.Derive("x")).Uint64s(1000)
	same := 0
	ones := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
		ones += bits.OnesCount64(c[i])
	}
	if same > 0 {
		t.Fatalf("derived stream repeats the parent %d times", same)
	}
	// 64000 fair bits: mean 32000, sd ~126; 6 sd is a generous bound.
	if ones < 32000-760 || ones > 32000+760 {
		t.Fatalf("derived stream has %d one bits of 64000", ones)
	}
	// Fill continues the stream rather than restarting it.
	g := NewPRG(s)
	first, second := g.Uint64s(500), g.Uint64s(500)
	if first[0] != a[0] || second[0] != a[500] {
		t.Fatal("stream does not continue across calls")
	}
}

// TestPRGPortable checks that the vector AES path and the portable one
// produce the same stream, across Fill calls of awkward lengths.
func TestPRGPortable(t *testing.T) {
	if !haveVAES {
		t.Skip("no vector AES on this CPU")
	}
	for _, s := range []Seed{{}, {1, 2, 3}, NewSeed(), NewSeed()} {
		vec, port := newPRG(s, true), newPRG(s, false)
		for _, n := range []int{1, 31, 32, 33, 100, 7, 1000, 5, 64, 0, 3} {
			a, b := vec.Uint64s(n), port.Uint64s(n)
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("seed %x: length %d word %d: vector %x, portable %x", s[:4], n, i, a[i], b[i])
				}
			}
		}
	}
}

func BenchmarkPRGPortable(b *testing.B) {
	g := newPRG(Seed{}, false)
	v := make([]uint64, 1<<20)
	b.SetBytes(8 << 20)
	for i := 0; i < b.N; i++ {
		g.Fill(v)
	}
}

func BenchmarkPRG(b *testing.B) {
	g := NewPRG(Seed{})
	v := make([]uint64, 1<<20)
	b.SetBytes(8 << 20)
	for i := 0; i < b.N; i++ {
		g.Fill(v)
	}
}

// A PRG positioned anywhere in a stream continues it exactly, on both the
// vector and the portable path.
func TestPRGAt(t *testing.T) {
	s := Seed{9, 8, 7}
	for _, vector := range []bool{false, true} {
		if vector && !haveVAES {
			continue
		}
		g := newPRG(s, vector)
		whole := g.Uint64s(5000)
		for _, pos := range []uint64{0, 1, 31, 32, 33, 64, 77, 1000, 4095, 4999} {
			h := g.at(pos)
			got := h.Uint64s(int(5000 - pos))
			for i, v := range got {
				if v != whole[int(pos)+i] {
					t.Fatalf("vector %v, at %d: value %d differs", vector, pos, i)
				}
			}
			if h.pos != 5000 {
				t.Fatalf("vector %v, at %d: position %d after reading to the end", vector, pos, h.pos)
			}
		}
		// Seeking the original continues from the new position.
		g.seek(123)
		if v := g.Uint64s(1)[0]; v != whole[123] {
			t.Fatalf("vector %v: seek(123) reads %x, want %x", vector, v, whole[123])
		}
	}
}
