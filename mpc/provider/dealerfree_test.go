package provider

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/internal/ring"
	"github.com/gomplab/gomplab/mpc/provider/ot"
)

// dfRequests covers every kind the dealer-free provider serves, at
// several shapes (chunk boundaries, partial words, flipped products,
// strided, padded, dilated and grouped convolutions).
var dfRequests = []Request{
	{Kind: Mul, N: 1}, {Kind: Mul, N: 100}, {Kind: Mul, N: heProductsMin - 1},
	{Kind: Mul, N: heProductsMin}, {Kind: Mul, N: 2*8192 + 5},
	{Kind: Square, N: 1}, {Kind: Square, N: 777}, {Kind: Square, N: 3 * 8192},
	{Kind: And, N: 1}, {Kind: And, N: 70},
	{Kind: DaBit, N: 1}, {Kind: DaBit, N: 130},
	{Kind: BitMul, N: 1}, {Kind: BitMul, N: 200},
	{Kind: Cmp, N: 1}, {Kind: Cmp, N: 130}, {Kind: Carry, N: 1}, {Kind: Carry, N: 21},
	{Kind: Fan, N: 3, K: 2}, {Kind: Fan, N: 2, K: 5}, {Kind: Fan, N: 1, K: 9},
	{Kind: MatMul, Batch: 1, M: 1, K: 1, Cols: 1},
	{Kind: MatMul, Batch: 2, M: 3, K: 4, Cols: 5},
	{Kind: MatMul, Batch: 1, M: 40, K: 3, Cols: 7},
	{Kind: Conv, Conv: ConvSpec{N: 1, C: 1, H: 5, W: 5, Cout: 2, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1}},
	{Kind: Conv, Conv: ConvSpec{N: 2, C: 4, H: 7, W: 6, Cout: 6, KH: 3, KW: 2, StrideH: 2, StrideW: 1, PadH: 1, PadW: 2, DilationH: 2, DilationW: 1, Groups: 2}},
}

// runPair runs f on both parties of a dealer-free pair over the
// in-memory transport, with the given private seeds.
func runPair(t testing.TB, seeds [2]Seed, wrap func(rank int, c comm.Comm) comm.Comm, f func(d *DealerFree) ([]*Shares, error), g ...func(c comm.Comm, seed Seed) ([]*Shares, error)) [2][]*Shares {
	t.Helper()
	cs := comm.NewMemWorld(2, false)
	var out [2][]*Shares
	var errs [2]error
	var wg sync.WaitGroup
	for rank := 0; rank < 2; rank++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cs[rank]
			if wrap != nil {
				c = wrap(rank, c)
			}
			if f == nil {
				out[rank], errs[rank] = g[0](c, seeds[rank])
			} else {
				d, err := NewDealerFree(c, seeds[rank])
				if err != nil {
					errs[rank] = err
					return
				}
				out[rank], errs[rank] = f(d)
			}
			if errs[rank] != nil {
				cs[rank].Close()
			}
		}()
	}
	wg.Wait()
	for rank, err := range errs {
		if err != nil {
			t.Fatalf("party %d: %v", rank, err)
		}
	}
	return out
}

// checkTriple verifies that the shares of r reconstruct to a valid
// correlation: the derived parts equal what the random parts determine.
func checkTriple(t testing.TB, r Request, s0, s1 *Shares) {
	t.Helper()
	if err := s0.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Wait(); err != nil {
		t.Fatal(err)
	}
	rnd, der, _ := r.layout()
	if r.Kind == Cmp {
		// The bits of elements past N are unspecified.
		rec := func(i int, binary bool) []uint64 {
			return reconstruct([]*Shares{s0, s1}, i, binary)
		}
		checkCmp(t, r.Kind.String(), r.N, rec(0, false), rec(1, true), rec(2, true))
		return
	}
	cp := func(s *Shares) [][]uint64 {
		out := make([][]uint64, len(rnd))
		for i := range rnd {
			out[i] = append([]uint64(nil), s.Parts[i]...)
		}
		return out
	}
	want := derive(r, [][][]uint64{cp(s0), cp(s1)})
	for i, p := range der {
		got := append([]uint64(nil), s0.Parts[len(rnd)+i]...)
		if p.binary {
			ring.XorTo(got, s1.Parts[len(rnd)+i])
		} else {
			ring.AddTo(got, s1.Parts[len(rnd)+i])
		}
		for j := range got {
			if got[j] != want[i][j] {
				t.Fatalf("%s %+v: derived part %d element %d = %#x, want %#x", r.Kind, r, i, j, got[j], want[i][j])
			}
		}
	}
}

func TestDealerFreeTriples(t *testing.T) {
	out := runPair(t, [2]Seed{NewSeed(), NewSeed()}, nil, func(d *DealerFree) ([]*Shares, error) {
		var ss []*Shares
		for _, r := range dfRequests {
			s := d.Get(r)
			if err := s.Wait(); err != nil {
				return nil, err
			}
			ss = append(ss, s)
		}
		return ss, nil
	})
	for i, r := range dfRequests {
		t.Run(fmt.Sprintf("%s-%d", r.Kind, i), func(t *testing.T) { checkTriple(t, r, out[0][i], out[1][i]) })
	}
}

// Many draws of small triples: a·b = c every time.
func TestDealerFreeManyDraws(t *testing.T) {
	reqs := []Request{{Kind: Mul, N: 3}, {Kind: Square, N: 2}, {Kind: And, N: 1}, {Kind: DaBit, N: 5}, {Kind: BitMul, N: 3}}
	const draws = 40
	out := runPair(t, [2]Seed{NewSeed(), NewSeed()}, nil, func(d *DealerFree) ([]*Shares, error) {
		var ss []*Shares
		for k := 0; k < draws; k++ {
			for _, r := range reqs {
				ss = append(ss, d.Get(r))
			}
		}
		return ss, nil
	})
	for i := range out[0] {
		checkTriple(t, reqs[i%len(reqs)], out[0][i], out[1][i])
	}
}

// Preprocessed material is served from the pool, to requests of other
// sizes than were preprocessed, and a pool that runs short falls back to
// generating on the spot.
func TestDealerFreePreprocess(t *testing.T) {
	mm := Request{Kind: MatMul, Batch: 1, M: 4, K: 5, Cols: 6}
	gets := []Request{{Kind: Mul, N: 300}, {Kind: Mul, N: 700}, {Kind: Mul, N: 50}, {Kind: BitMul, N: 10}, {Kind: BitMul, N: 100}, mm, mm, {Kind: And, N: 3},
		{Kind: Cmp, N: 70}, {Kind: Carry, N: 5}, {Kind: Cmp, N: 100}, {Kind: Carry, N: 9},
		{Kind: Fan, N: 2, K: 6}, {Kind: Fan, N: 1, K: 7}, {Kind: Fan, N: 2, K: 6}}
	var pooled [2][3]int
	out := runPair(t, [2]Seed{NewSeed(), NewSeed()}, nil, func(d *DealerFree) ([]*Shares, error) {
		if err := d.Preprocess(Request{Kind: Mul, N: 1000}, Request{Kind: BitMul, N: 100}, mm, Request{Kind: Cmp, N: 128}, Request{Kind: Carry, N: 10}, Request{Kind: Fan, N: 3, K: 6}); err != nil {
			return nil, err
		}
		pooled[d.rank] = [3]int{d.Pooled(Mul), d.Pooled(BitMul), d.Pooled(MatMul)}
		before := d.c.Stats().Total().BytesSent
		var ss []*Shares
		for i, r := range gets {
			ss = append(ss, d.Get(r))
			sent := d.c.Stats().Total().BytesSent - before
			// The first 1000 mul elements, 128 bitmul elements and one
			// matmul come from the pool: nothing is sent for them.
			if i < 2 && sent != 0 {
				return nil, fmt.Errorf("get %d sent %d bytes although preprocessed", i, sent)
			}
		}
		return ss, nil
	})
	if pooled[0] != [3]int{1000, 128, 1} {
		t.Fatalf("pool after preprocessing: %v", pooled[0])
	}
	for i, r := range gets {
		checkTriple(t, r, out[0][i], out[1][i])
	}
}

func TestDealerFreeRefusesOtherSizes(t *testing.T) {
	cs := comm.NewMemWorld(3, false)
	if _, err := NewDealerFree(cs[0], NewSeed()); err == nil {
		t.Fatal("a dealer-free provider among three parties was accepted")
	}
}

func TestBitPacking(t *testing.T) {
	var w bitWriter
	var vals []uint64
	for e := 0; e < 3; e++ {
		for k := 0; k < 64; k++ {
			v := (uint64(e*64+k) * 0x9e3779b97f4a7c15) & mask(uint(64-k))
			vals = append(vals, v)
			w.put(v, uint(64-k))
		}
	}
	words := w.flush()
	if len(words) != gilboaWords(3) {
		t.Fatalf("%d words, want %d", len(words), gilboaWords(3))
	}
	r := bitReader{in: words}
	for i, v := range vals {
		if got := r.get(uint(64 - i%64)); got != v {
			t.Fatalf("value %d: %#x, want %#x", i, got, v)
		}
	}
}

// FuzzGilboaReceive feeds arbitrary sender messages to the receiver's
// side of the products: a wrong length is an error, anything else a value.
func FuzzGilboaReceive(f *testing.F) {
	f.Add([]byte{1, 2, 3}, uint8(1))
	f.Add(make([]byte, 8*gilboaWords(2)), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		y := make([]uint64, int(n%8))
		msg := make([]uint64, len(b)/8)
		for i := range msg {
			msg[i] = uint64(b[8*i]) | uint64(b[8*i+7])<<56
		}
		pads := make([]ot.Block, 64*len(y))
		c := make([]uint64, len(y))
		if err := gilboaReceive(y, pads, msg, c); err == nil && len(msg) != gilboaWords(len(y)) {
			t.Fatalf("a message of %d words was accepted for %d products", len(msg), len(y))
		}
	})
}
