package comm

import (
	"fmt"
	"sync"

	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// Collectives run among the computing parties 0..Size()-1; the trusted
// third party, if any, only talks point to point. Each collective opens
// exactly one round (Stats.Round) on every participating party: all of its
// messages are sent before any is awaited, so the whole step costs one
// network latency. Bytes are counted by the transport as payload bytes
// (framing headers excluded, as CrypTen counts tensor bytes).
//
// AllReduce is all-to-all (every party sends its vector to every other and
// sums locally): one round, (N-1)·8·len bytes sent per party. The
// alternative, reduce to rank 0 then broadcast, costs two rounds for the
// same total traffic and loads rank 0 with 2(N-1)·8·len; for the handful of
// parties an MPC job has, one round wins.
//
// When a collective returns, the transport no longer references the
// caller's buffers, so they may be reused or modified at once.

func collectiveRank(c Comm, name string) (me, n int, err error) {
	me, n = c.Rank(), c.Size()
	if me < 0 || me >= n {
		return 0, 0, fmt.Errorf("comm: %s runs among the %d computing parties; rank %d (the trusted third party) cannot join", name, n, me)
	}
	return me, n, nil
}

func checkRoot(name string, root, n int) error {
	if root < 0 || root >= n {
		return fmt.Errorf("comm: %s root rank %d out of range [0,%d)", name, root, n)
	}
	return nil
}

// flushPeers waits until the transport no longer holds references to the
// messages c has sent to the computing parties.
func flushPeers(c Comm, me, n int) error {
	if _, ok := c.(Flusher); !ok {
		return nil
	}
	for p := 0; p < n; p++ {
		if p != me {
			if err := Flush(c, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendAll queues b for every computing party but me.
func sendAll(c Comm, me, n int, b []byte) error {
	for p := 0; p < n; p++ {
		if p != me {
			if err := c.Send(p, b); err != nil {
				return err
			}
		}
	}
	return nil
}

func sendAllUint64s(c Comm, me, n int, v []uint64) error {
	for p := 0; p < n; p++ {
		if p != me {
			if err := SendUint64s(c, p, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// parallelRecvBytes is the message size above which receives from several
// peers run concurrently, so each link streams at its own pace; below it a
// goroutine costs more than it saves.
const parallelRecvBytes = 1 << 20

// recvUint64sFrom fills out[p] from every computing party p but me.
func recvUint64sFrom(c Comm, me, n int, out [][]uint64) error {
	if n <= 2 || 8*len(out[(me+1)%n]) < parallelRecvBytes {
		for p := 0; p < n; p++ {
			if p != me {
				if err := RecvUint64s(c, p, out[p]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for p := 0; p < n; p++ {
		if p != me {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				errs[p] = RecvUint64s(c, p, out[p])
			}(p)
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Exchange sends data to every other computing party and returns what each
// sent, indexed by rank (out[Rank()] is data itself). Every party must pass
// the same length. One round; the core of opening Beaver-masked values.
func Exchange(c Comm, data []uint64) ([][]uint64, error) {
	out := make([][]uint64, c.Size())
	for p := range out {
		if p != c.Rank() {
			out[p] = make([]uint64, len(data))
		}
	}
	if err := ExchangeInto(c, data, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ExchangeInto is Exchange receiving into caller-owned buffers, for
// protocols that open values of the same size again and again: out must
// have Size() entries, out[p] of len(data) for every other party p
// (out[Rank()] is set to data).
func ExchangeInto(c Comm, data []uint64, out [][]uint64) error {
	me, n, err := collectiveRank(c, "Exchange")
	if err != nil {
		return err
	}
	if len(out) != n {
		return fmt.Errorf("comm: Exchange into %d buffers, want %d", len(out), n)
	}
	for p := range out {
		if p != me && len(out[p]) != len(data) {
			return fmt.Errorf("comm: Exchange buffer for party %d holds %d elements, want %d", p, len(out[p]), len(data))
		}
	}
	c.Stats().Round()
	if err := sendAllUint64s(c, me, n, data); err != nil {
		return err
	}
	out[me] = data
	if err := recvUint64sFrom(c, me, n, out); err != nil {
		return err
	}
	return flushPeers(c, me, n)
}

// ExchangeChunks is ExchangeInto as a pipeline: the message is cut into
// chunks of the given length, each sent as soon as fill(lo, hi) has set
// data[lo:hi] and each handed to use(lo, hi) as soon as out[p][lo:hi] holds
// every other party's chunk, so that producing the data, moving it and
// using it overlap instead of following one another. Either function may
// be nil. One round and the same bytes as ExchangeInto (in more messages);
// every party must pass the same length and chunk.
func ExchangeChunks(c Comm, data []uint64, out [][]uint64, chunk int, fill, use func(lo, hi int)) error {
	me, n, err := collectiveRank(c, "ExchangeChunks")
	if err != nil {
		return err
	}
	if len(out) != n {
		return fmt.Errorf("comm: ExchangeChunks into %d buffers, want %d", len(out), n)
	}
	for p := range out {
		if p != me && len(out[p]) != len(data) {
			return fmt.Errorf("comm: ExchangeChunks buffer for party %d holds %d elements, want %d", p, len(out[p]), len(data))
		}
	}
	if chunk <= 0 {
		return fmt.Errorf("comm: ExchangeChunks with chunks of %d elements", chunk)
	}
	c.Stats().Round()
	for lo := 0; lo < len(data) || lo == 0; lo += chunk {
		hi := min(lo+chunk, len(data))
		if fill != nil {
			fill(lo, hi)
		}
		if err := sendAllUint64s(c, me, n, data[lo:hi]); err != nil {
			return err
		}
		if hi == len(data) {
			break
		}
	}
	out[me] = data
	for lo := 0; lo < len(data) || lo == 0; lo += chunk {
		hi := min(lo+chunk, len(data))
		for p := 0; p < n; p++ {
			if p != me {
				if err := RecvUint64s(c, p, out[p][lo:hi]); err != nil {
					return err
				}
			}
		}
		if use != nil {
			use(lo, hi)
		}
		if hi == len(data) {
			break
		}
	}
	return flushPeers(c, me, n)
}

// The receive buffers of reductions come from the ring package's free
// lists, which for large ring tensors spares a fresh allocation (and its
// page faults) per call.

// AllReduce replaces data, on every computing party, by the sum mod 2^64 of
// all parties' data (all the same length). One round, all-to-all.
func AllReduce(c Comm, data []uint64) error {
	return allReduce(c, "AllReduce", data, func(acc, x []uint64) {
		for i := range acc {
			acc[i] += x[i]
		}
	})
}

// AllReduceXor replaces data, on every computing party, by the XOR of all
// parties' data: the opening of binary (XOR) shares. One round.
func AllReduceXor(c Comm, data []uint64) error {
	return allReduce(c, "AllReduceXor", data, func(acc, x []uint64) {
		for i := range acc {
			acc[i] ^= x[i]
		}
	})
}

func allReduce(c Comm, name string, data []uint64, op func(acc, x []uint64)) error {
	me, n, err := collectiveRank(c, name)
	if err != nil {
		return err
	}
	c.Stats().Round()
	if n == 1 {
		return nil
	}
	if err := sendAllUint64s(c, me, n, data); err != nil {
		return err
	}
	bufs := make([][]uint64, n)
	defer func() {
		for p, b := range bufs {
			if p != me {
				ring.Put(b)
			}
		}
	}()
	for p := range bufs {
		if p != me {
			bufs[p] = ring.Get(len(data))
		}
	}
	if err := recvUint64sFrom(c, me, n, bufs); err != nil {
		return err
	}
	// data may still be on its way out; the sum goes into it only once the
	// transport is done with it.
	if err := flushPeers(c, me, n); err != nil {
		return err
	}
	for p, b := range bufs {
		if p != me {
			op(data, b)
		}
	}
	return nil
}

// Reduce sums (mod 2^64) every computing party's data into data on party
// dst; the others' data is left unchanged. One round: opening a secret to
// a single party.
func Reduce(c Comm, dst int, data []uint64) error {
	me, n, err := collectiveRank(c, "Reduce")
	if err != nil {
		return err
	}
	if err := checkRoot("Reduce", dst, n); err != nil {
		return err
	}
	c.Stats().Round()
	if me != dst {
		if err := SendUint64s(c, dst, data); err != nil {
			return err
		}
		return Flush(c, dst)
	}
	s := ring.Get(len(data))
	defer ring.Put(s)
	for p := 0; p < n; p++ {
		if p == me {
			continue
		}
		if err := RecvUint64s(c, p, s); err != nil {
			return err
		}
		ring.AddTo(data, s)
	}
	return nil
}

// BroadcastUint64s copies party src's data into data on every other
// computing party (all pass the same length). One round.
func BroadcastUint64s(c Comm, src int, data []uint64) error {
	me, n, err := collectiveRank(c, "BroadcastUint64s")
	if err != nil {
		return err
	}
	if err := checkRoot("BroadcastUint64s", src, n); err != nil {
		return err
	}
	c.Stats().Round()
	if me == src {
		if err := sendAllUint64s(c, me, n, data); err != nil {
			return err
		}
		return flushPeers(c, me, n)
	}
	return RecvUint64s(c, src, data)
}

// Broadcast sends data from party src to every other computing party and
// returns it on all of them (on src, data itself). One round.
func Broadcast(c Comm, src int, data []byte) ([]byte, error) {
	me, n, err := collectiveRank(c, "Broadcast")
	if err != nil {
		return nil, err
	}
	if err := checkRoot("Broadcast", src, n); err != nil {
		return nil, err
	}
	c.Stats().Round()
	if me == src {
		if err := sendAll(c, me, n, data); err != nil {
			return nil, err
		}
		return data, flushPeers(c, me, n)
	}
	return c.Recv(src)
}

// Gather collects every computing party's data on party dst, indexed by
// rank (out[dst] is dst's own data); the other parties get nil. One round.
func Gather(c Comm, dst int, data []byte) ([][]byte, error) {
	me, n, err := collectiveRank(c, "Gather")
	if err != nil {
		return nil, err
	}
	if err := checkRoot("Gather", dst, n); err != nil {
		return nil, err
	}
	c.Stats().Round()
	if me != dst {
		if err := c.Send(dst, data); err != nil {
			return nil, err
		}
		return nil, Flush(c, dst)
	}
	out := make([][]byte, n)
	out[me] = data
	for p := 0; p < n; p++ {
		if p != me {
			if out[p], err = c.Recv(p); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// AllGather gives every computing party every party's data, indexed by
// rank (out[Rank()] is data itself). Lengths may differ. One round.
func AllGather(c Comm, data []byte) ([][]byte, error) {
	me, n, err := collectiveRank(c, "AllGather")
	if err != nil {
		return nil, err
	}
	c.Stats().Round()
	if err := sendAll(c, me, n, data); err != nil {
		return nil, err
	}
	out := make([][]byte, n)
	out[me] = data
	for p := 0; p < n; p++ {
		if p != me {
			if out[p], err = c.Recv(p); err != nil {
				return nil, err
			}
		}
	}
	return out, flushPeers(c, me, n)
}

// Barrier returns once every computing party has entered it. One round of
// empty messages.
func Barrier(c Comm) error {
	me, n, err := collectiveRank(c, "Barrier")
	if err != nil {
		return err
	}
	c.Stats().Round()
	if err := sendAll(c, me, n, nil); err != nil {
		return err
	}
	for p := 0; p < n; p++ {
		if p != me {
			if _, err := c.Recv(p); err != nil {
				return err
			}
		}
	}
	return nil
}
