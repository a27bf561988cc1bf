package comm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// world builds n connected parties (plus a TTP at index n when ttp) over one
// transport; the suite below runs unchanged over each.
type world struct {
	name string
	make func(t testing.TB, n int, ttp bool) []Comm
}

var worlds = []world{
	{"mem", func(t testing.TB, n int, ttp bool) []Comm {
		cs := NewMemWorld(n, ttp)
		t.Cleanup(func() { closeAll(cs) })
		return cs
	}},
}

func closeAll(cs []Comm) {
	for _, c := range cs {
		c.Close()
	}
}

// runParties runs fn as every party concurrently and fails t on any error.
// A watchdog turns a hang into a failure naming the stuck parties.
func runParties(t testing.TB, cs []Comm, fn func(c Comm) error) {
	t.Helper()
	errs := make([]error, len(cs))
	done := make([]bool, len(cs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn(c)
			mu.Lock()
			errs[i], done[i] = err, true
			mu.Unlock()
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("parties hung; done = %v", done)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("party %d: %v", i, err)
		}
	}
}

func randVec(r *rand.Rand, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = r.Uint64()
	}
	return v
}

// fixture holds every party's input vector (deterministic, different per
// party) and the expected reductions, computed once.
type fixture struct {
	in       [][]uint64
	sum, xor []uint64
}

func newFixture(n, length int) *fixture {
	r := rand.New(rand.NewPCG(uint64(n), uint64(length)))
	f := &fixture{in: make([][]uint64, n)}
	for p := range f.in {
		f.in[p] = randVec(r, length)
	}
	f.sum, f.xor = sum(f.in, false), sum(f.in, true)
	return f
}

func byteInput(p, length int) []byte {
	b := make([]byte, length)
	for i := range b {
		b[i] = byte(p*31 + i)
	}
	return b
}

// collectiveCase is one collective, its check, and the exact traffic it
// must cost party p of n.
type collectiveCase struct {
	name string
	run  func(c Comm, f *fixture) error
	cost func(p, n, length int) Counts
}

func sameCost(n, length int) Counts {
	b := int64((n - 1) * 8 * length)
	return Counts{BytesSent: b, BytesReceived: b, Messages: int64(n - 1), Rounds: 1}
}

func sum(in [][]uint64, xor bool) []uint64 {
	out := make([]uint64, len(in[0]))
	for _, v := range in {
		for i, x := range v {
			if xor {
				out[i] ^= x
			} else {
				out[i] += x
			}
		}
	}
	return out
}

func eqVec(what string, got, want []uint64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("%s[%d] = %d, want %d", what, i, got[i], want[i])
		}
	}
	return nil
}

const root = 1 // non-zero root rank used by rooted collectives

// exchangeChunk is the chunk of ExchangeChunks in the shared suite.
const exchangeChunk = 333

var collectiveCases = []collectiveCase{
	{"Exchange", func(c Comm, f *fixture) error {
		in := f.in
		mine := append([]uint64(nil), in[c.Rank()]...)
		out, err := Exchange(c, mine)
		if err != nil {
			return err
		}
		for p := range in {
			if err := eqVec(fmt.Sprintf("from %d", p), out[p], in[p]); err != nil {
				return err
			}
		}
		return nil
	}, func(p, n, l int) Counts { return sameCost(n, l) }},
	{"ExchangeChunks", func(c Comm, f *fixture) error {
		in := f.in
		n := len(in[0])
		data := make([]uint64, n)
		out := make([][]uint64, c.Size())
		for p := range out {
			if p != c.Rank() {
				out[p] = make([]uint64, n)
			}
		}
		filled, used := 0, 0
		err := ExchangeChunks(c, data, out, exchangeChunk, func(lo, hi int) {
			if lo != filled {
				panic(fmt.Sprintf("fill [%d,%d) after %d", lo, hi, filled))
			}
			copy(data[lo:hi], in[c.Rank()][lo:hi])
			filled = hi
		}, func(lo, hi int) {
			if lo != used || hi > filled {
				panic(fmt.Sprintf("use [%d,%d) after %d, filled %d", lo, hi, used, filled))
			}
			for p := range in {
				if err := eqVec(fmt.Sprintf("chunk from %d", p), out[p][lo:hi], in[p][lo:hi]); err != nil {
					panic(err)
				}
			}
			used = hi
		})
		if err != nil {
			return err
		}
		if used != n {
			return fmt.Errorf("used %d of %d elements", used, n)
		}
		return nil
	}, func(p, n, l int) Counts {
		c := sameCost(n, l)
		c.Messages *= int64(max(1, (l+exchangeChunk-1)/exchangeChunk))
		return c
	}},
	{"AllReduce", func(c Comm, f *fixture) error {
		in := f.in
		v := append([]uint64(nil), in[c.Rank()]...)
		if err := AllReduce(c, v); err != nil {
			return err
		}
		return eqVec("sum", v, f.sum)
	}, func(p, n, l int) Counts { return sameCost(n, l) }},
	{"AllReduceXor", func(c Comm, f *fixture) error {
		in := f.in
		v := append([]uint64(nil), in[c.Rank()]...)
		if err := AllReduceXor(c, v); err != nil {
			return err
		}
		return eqVec("xor", v, f.xor)
	}, func(p, n, l int) Counts { return sameCost(n, l) }},
	{"Reduce", func(c Comm, f *fixture) error {
		in := f.in
		v := append([]uint64(nil), in[c.Rank()]...)
		if err := Reduce(c, root, v); err != nil {
			return err
		}
		if c.Rank() == root {
			return eqVec("sum", v, f.sum)
		}
		return eqVec("unchanged", v, in[c.Rank()])
	}, func(p, n, l int) Counts {
		if p == root {
			return Counts{BytesReceived: int64((n - 1) * 8 * l), Rounds: 1}
		}
		return Counts{BytesSent: int64(8 * l), Messages: 1, Rounds: 1}
	}},
	{"BroadcastUint64s", func(c Comm, f *fixture) error {
		in := f.in
		v := append([]uint64(nil), in[c.Rank()]...)
		if err := BroadcastUint64s(c, root, v); err != nil {
			return err
		}
		return eqVec("broadcast", v, in[root])
	}, func(p, n, l int) Counts {
		if p == root {
			return Counts{BytesSent: int64((n - 1) * 8 * l), Messages: int64(n - 1), Rounds: 1}
		}
		return Counts{BytesReceived: int64(8 * l), Rounds: 1}
	}},
	{"Broadcast", func(c Comm, f *fixture) error {
		in := f.in
		mine := byteInput(c.Rank(), len(in[0]))
		got, err := Broadcast(c, root, mine)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, byteInput(root, len(in[0]))) {
			return fmt.Errorf("broadcast got %x", got)
		}
		return nil
	}, func(p, n, l int) Counts {
		if p == root {
			return Counts{BytesSent: int64((n - 1) * l), Messages: int64(n - 1), Rounds: 1}
		}
		return Counts{BytesReceived: int64(l), Rounds: 1}
	}},
	{"Gather", func(c Comm, f *fixture) error {
		in := f.in
		// Party p contributes p+len bytes: lengths may differ.
		got, err := Gather(c, root, byteInput(c.Rank(), c.Rank()+len(in[0])))
		if err != nil {
			return err
		}
		if c.Rank() != root {
			if got != nil {
				return fmt.Errorf("non-root got %d messages", len(got))
			}
			return nil
		}
		for p := range in {
			if !bytes.Equal(got[p], byteInput(p, p+len(in[0]))) {
				return fmt.Errorf("gathered from %d: %x", p, got[p])
			}
		}
		return nil
	}, func(p, n, l int) Counts {
		if p == root {
			var r int64
			for q := 0; q < n; q++ {
				if q != root {
					r += int64(q + l)
				}
			}
			return Counts{BytesReceived: r, Rounds: 1}
		}
		return Counts{BytesSent: int64(p + l), Messages: 1, Rounds: 1}
	}},
	{"AllGather", func(c Comm, f *fixture) error {
		in := f.in
		got, err := AllGather(c, byteInput(c.Rank(), c.Rank()+len(in[0])))
		if err != nil {
			return err
		}
		for p := range in {
			if !bytes.Equal(got[p], byteInput(p, p+len(in[0]))) {
				return fmt.Errorf("gathered from %d: %x", p, got[p])
			}
		}
		return nil
	}, func(p, n, l int) Counts {
		var r int64
		for q := 0; q < n; q++ {
			if q != p {
				r += int64(q + l)
			}
		}
		return Counts{BytesSent: int64((n - 1) * (p + l)), BytesReceived: r, Messages: int64(n - 1), Rounds: 1}
	}},
	{"Barrier", func(c Comm, f *fixture) error { return Barrier(c) },
		func(p, n, l int) Counts { return Counts{Messages: int64(n - 1), Rounds: 1} }},
}

// TestCollectives checks every collective's result and its exact traffic on
// every party, for 2, 3 and 4 parties, empty to large vectors, on every
// transport.
func TestCollectives(t *testing.T) {
	for _, w := range worlds {
		for _, n := range []int{2, 3, 4} {
			// 140k elements (1.1 MB) take the large-message paths: direct
			// socket writes and reads, concurrent receives from 3+ peers.
			for _, length := range []int{0, 1, 1000, 140_000} {
				if length > 1000 && testing.Short() {
					continue
				}
				cs := w.make(t, n, false)
				f := newFixture(n, length)
				for _, cc := range collectiveCases {
					t.Run(fmt.Sprintf("%s/n=%d/len=%d/%s", w.name, n, length, cc.name), func(t *testing.T) {
						for _, c := range cs {
							c.Stats().Reset()
						}
						runParties(t, cs, func(c Comm) error { return cc.run(c, f) })
						for p, c := range cs {
							if got, want := c.Stats().Total(), cc.cost(p, n, length); got != want {
								t.Errorf("party %d counts %+v, want %+v", p, got, want)
							}
						}
					})
				}
			}
		}
	}
}

// TestRepeatedCollectives interleaves many small collectives to check that
// FIFO order per link keeps successive rounds apart.
func TestRepeatedCollectives(t *testing.T) {
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			const n, rounds = 3, 200
			cs := w.make(t, n, false)
			runParties(t, cs, func(c Comm) error {
				for i := 0; i < rounds; i++ {
					v := []uint64{uint64(i), uint64(c.Rank())}
					if err := AllReduce(c, v); err != nil {
						return err
					}
					if v[0] != uint64(n*i) || v[1] != n*(n-1)/2 {
						return fmt.Errorf("round %d: got %v", i, v)
					}
				}
				return nil
			})
			if got := cs[0].Stats().Total().Rounds; got != rounds {
				t.Errorf("rounds = %d, want %d", got, rounds)
			}
		})
	}
}

// TestTTPPointToPoint checks the trusted third party reaches every party
// and is refused by collectives.
func TestTTPPointToPoint(t *testing.T) {
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			const n = 3
			cs := w.make(t, n, true)
			if len(cs) != n+1 || cs[n].Rank() != n || cs[n].Size() != n || Parties(cs[0]) != n+1 {
				t.Fatalf("world of %d comms, TTP rank %d size %d", len(cs), cs[n].Rank(), cs[n].Size())
			}
			runParties(t, cs, func(c Comm) error {
				if c.Rank() == n {
					for p := 0; p < n; p++ {
						if err := SendUint64s(c, p, []uint64{uint64(100 + p)}); err != nil {
							return err
						}
					}
					if err := Barrier(c); err == nil {
						return errors.New("TTP joined a barrier")
					}
					return Flush(c, 0)
				}
				got := make([]uint64, 1)
				if err := RecvUint64s(c, n, got); err != nil {
					return err
				}
				if got[0] != uint64(100+c.Rank()) {
					return fmt.Errorf("got %d from TTP", got[0])
				}
				return nil
			})
		})
	}
}

// TestRecvErrors covers the failure paths every transport must share.
func TestRecvErrors(t *testing.T) {
	for _, w := range worlds {
		t.Run(w.name+"/wrong-length", func(t *testing.T) {
			cs := w.make(t, 2, false)
			runParties(t, cs, func(c Comm) error {
				if c.Rank() == 0 {
					if err := SendUint64s(c, 1, []uint64{1, 2, 3}); err != nil {
						return err
					}
					return SendUint64s(c, 1, []uint64{4})
				}
				err := RecvUint64s(c, 0, make([]uint64, 2))
				if err == nil || !containsAll(err.Error(), "party 0", "24", "16") {
					return fmt.Errorf("wrong-length error = %v", err)
				}
				// The bad message was consumed: the next one is intact.
				v := make([]uint64, 1)
				if err := RecvUint64s(c, 0, v); err != nil || v[0] != 4 {
					return fmt.Errorf("after bad message: %v %v", v, err)
				}
				return nil
			})
		})
		t.Run(w.name+"/bad-peer", func(t *testing.T) {
			cs := w.make(t, 2, false)
			for _, p := range []int{-1, 0, 2} {
				if err := cs[0].Send(p, nil); err == nil {
					t.Errorf("Send to %d succeeded", p)
				}
				if _, err := cs[0].Recv(p); err == nil {
					t.Errorf("Recv from %d succeeded", p)
				}
			}
			if _, err := Broadcast(cs[0], 5, nil); err == nil {
				t.Error("Broadcast from rank 5 of 2 succeeded")
			}
		})
		t.Run(w.name+"/close-unblocks", func(t *testing.T) {
			cs := w.make(t, 2, false)
			errc := make(chan error, 1)
			go func() { _, err := cs[0].Recv(1); errc <- err }()
			time.Sleep(20 * time.Millisecond)
			cs[0].Close()
			select {
			case err := <-errc:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Recv after Close: %v, want ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not unblock Recv")
			}
			if err := cs[0].Send(1, []byte{1}); !errors.Is(err, ErrClosed) {
				t.Errorf("Send after Close: %v", err)
			}
		})
		t.Run(w.name+"/peer-closed", func(t *testing.T) {
			cs := w.make(t, 3, false)
			// Party 2 sends one last message then leaves: it is delivered,
			// then Recv names party 2.
			if err := cs[2].Send(0, []byte("bye")); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				m, err := cs[0].Recv(2)
				if err != nil || string(m) != "bye" {
					errc <- fmt.Errorf("last message: %q %v", m, err)
					return
				}
				_, err = cs[0].Recv(2)
				errc <- err
			}()
			time.Sleep(20 * time.Millisecond)
			cs[2].Close()
			select {
			case err := <-errc:
				var pe *PeerError
				if !errors.As(err, &pe) || pe.Peer != 2 || !errors.Is(err, ErrPeerClosed) {
					t.Errorf("Recv from closed peer: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("peer Close did not unblock Recv")
			}
			// A collective involving the dead party fails, naming it.
			errc2 := make(chan error, 2)
			for _, c := range cs[:2] {
				go func() { _, err := Exchange(c, []uint64{1}); errc2 <- err }()
			}
			for range 2 {
				select {
				case err := <-errc2:
					if err == nil || !containsAll(err.Error(), "party 2") {
						t.Errorf("Exchange with dead party: %v", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("Exchange with a dead party hung")
				}
			}
		})
	}
}

// TestStatsOp checks per-operation attribution through collectives.
func TestStatsOp(t *testing.T) {
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			cs := w.make(t, 2, false)
			runParties(t, cs, func(c Comm) error {
				s := c.Stats()
				end := s.Op("mul")
				if _, err := Exchange(c, make([]uint64, 10)); err != nil {
					return err
				}
				inner := s.Op("inner") // nested: still counted as mul
				if err := AllReduce(c, make([]uint64, 5)); err != nil {
					return err
				}
				inner()
				end()
				defer s.Op("open")()
				return AllReduce(c, make([]uint64, 3))
			})
			for p, c := range cs {
				by := c.Stats().ByOp()
				if got, want := by["mul"], (Counts{120, 120, 2, 2}); got != want {
					t.Errorf("party %d mul: %+v, want %+v", p, got, want)
				}
				if got, want := by["open"], (Counts{24, 24, 1, 1}); got != want {
					t.Errorf("party %d open: %+v, want %+v", p, got, want)
				}
				if _, ok := by["inner"]; ok {
					t.Errorf("party %d: nested op counted separately", p)
				}
				if got, want := c.Stats().Total(), (Counts{144, 144, 3, 3}); got != want {
					t.Errorf("party %d total %+v, want %+v", p, got, want)
				}
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !bytes.Contains([]byte(s), []byte(sub)) {
			return false
		}
	}
	return true
}

// TestSingleParty: a world of one party is legal (a degenerate job, or a
// TTP-less local run); collectives are identities costing one round and
// no traffic.
func TestSingleParty(t *testing.T) {
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			c := w.make(t, 1, false)[0]
			v := []uint64{7, 8}
			if err := AllReduce(c, v); err != nil || v[0] != 7 || v[1] != 8 {
				t.Fatalf("AllReduce: %v %v", v, err)
			}
			out, err := Exchange(c, v)
			if err != nil || len(out) != 1 || &out[0][0] != &v[0] {
				t.Fatalf("Exchange: %v %v", out, err)
			}
			if err := Barrier(c); err != nil {
				t.Fatal(err)
			}
			if got, want := c.Stats().Total(), (Counts{Rounds: 3}); got != want {
				t.Errorf("counts %+v, want %+v", got, want)
			}
		})
	}
}
