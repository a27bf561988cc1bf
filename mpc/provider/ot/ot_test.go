package ot

import (
	"bytes"
	"crypto/rand"
	"math/bits"
	"testing"
)

// setup runs the base OTs in memory and returns a connected pair.
func setup(t testing.TB) (*Sender, *Receiver) {
	t.Helper()
	rs, first, err := StartReceiver(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, msg, err := NewSender(rand.Reader, first)
	if err != nil {
		t.Fatal(err)
	}
	r, tree, err := rs.Finish(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(tree); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestBaseOT(t *testing.T) {
	bs, first, err := NewBaseSender(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	choices := []bool{false, true, true, false, true}
	msg, keys, err := BaseReceive(rand.Reader, first, choices)
	if err != nil {
		t.Fatal(err)
	}
	k0, k1, err := bs.Keys(msg, len(choices))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range choices {
		want, other := k0[i], k1[i]
		if c {
			want, other = other, want
		}
		if keys[i] != want || keys[i] == other {
			t.Fatalf("OT %d (choice %v): receiver got the wrong key", i, c)
		}
	}
	if _, _, err := bs.Keys(msg[:len(msg)-1], len(choices)); err == nil {
		t.Fatal("a short message was accepted")
	}
}

func TestExtend(t *testing.T) {
	s, r := setup(t)
	for _, m := range []int{64, 128, 4096} {
		choices := make([]uint64, m/64)
		for i := range choices {
			choices[i] = uint64(i)*0x9e3779b97f4a7c15 ^ 0xdeadbeef
		}
		msg, pads, err := r.Extend(choices, m)
		if err != nil {
			t.Fatal(err)
		}
		p0, p1, err := s.Extend(msg, m)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < m; j++ {
			c := choices[j/64] >> (j % 64) & 1
			want, other := p0[j], p1[j]
			if c == 1 {
				want, other = other, want
			}
			if pads[j] != want || pads[j] == other {
				t.Fatalf("m=%d OT %d: receiver's pad is not the chosen one", m, j)
			}
		}
		// The pads look uniform: about half their bits are set.
		ones := 0
		for j := range p0 {
			ones += bits.OnesCount64(p0[j][0]) + bits.OnesCount64(p1[j][1])
		}
		if frac := float64(ones) / float64(128*m); frac < 0.45 || frac > 0.55 {
			t.Fatalf("m=%d: pads have %.3f of their bits set", m, frac)
		}
	}
	if _, _, err := r.Extend(nil, 100); err == nil {
		t.Fatal("an extension of 100 OTs was accepted")
	}
	if err := s.Finish(make([]byte, 5)); err == nil {
		t.Fatal("a short tree message was accepted")
	}
	if _, _, err := s.Extend(make([]uint64, 3), 64); err == nil {
		t.Fatal("a short extension message was accepted")
	}
}

func TestTranspose(t *testing.T) {
	var a, b [64]uint64
	for i := range a {
		a[i] = uint64(i+1) * 0x9e3779b97f4a7c15
	}
	b = a
	transpose64(&b)
	for i := 0; i < 64; i++ {
		for j := 0; j < 64; j++ {
			if a[i]>>j&1 != b[j]>>i&1 {
				t.Fatalf("bit (%d,%d) not transposed", i, j)
			}
		}
	}
}

func FuzzDecodePoints(f *testing.F) {
	_, first, _ := NewBaseSender(rand.Reader)
	f.Add(first, 1)
	f.Add(bytes.Repeat([]byte{0xff}, 64), 2)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 1<<10 {
			return
		}
		ps, err := decodePoints(b, n)
		if err == nil && len(ps) != n {
			t.Fatalf("decoded %d points, want %d", len(ps), n)
		}
	})
}

func BenchmarkExtend(b *testing.B) {
	s, r := setup(b)
	const m = 1 << 16
	choices := make([]uint64, m/64)
	b.SetBytes(m)
	for i := 0; i < b.N; i++ {
		msg, _, _ := r.Extend(choices, m)
		s.Extend(msg, m)
	}
}
