package comm

import (
	"fmt"
	"math/bits"
	"sync"
)

// NewMemWorld connects n parties (ranks 0..n-1) inside one process, plus a
// trusted third party at index n when withTTP is set. It is the transport
// of tests and of goroutine launchers: every link is an unbounded FIFO
// queue, so Send never blocks, and Send copies the message, so the caller
// may reuse its buffer at once (a stricter program also runs on TCP, where
// it must call Flush first).
func NewMemWorld(n int, withTTP bool) []Comm {
	if n < 1 {
		panic(fmt.Sprintf("comm: NewMemWorld with %d parties", n))
	}
	p := n
	if withTTP {
		p++
	}
	w := &memWorld{n: n, ttp: withTTP, q: make([][]*memQueue, p)}
	for to := range w.q {
		w.q[to] = make([]*memQueue, p)
		for from := range w.q[to] {
			if from != to {
				q := &memQueue{}
				q.cond.L = &q.mu
				w.q[to][from] = q
			}
		}
	}
	comms := make([]Comm, p)
	for r := range comms {
		comms[r] = &memComm{w: w, rank: r, stats: NewStats()}
	}
	return comms
}

type memWorld struct {
	n   int
	ttp bool
	q   [][]*memQueue // q[to][from]
}

func (w *memWorld) parties() int { return len(w.q) }

// memQueue holds the messages from one party to another.
type memQueue struct {
	mu   sync.Mutex
	cond sync.Cond
	msgs [][]byte
	head int
	// senderClosed: the sending party closed; queued messages are still
	// delivered, then Recv reports the peer gone. receiverClosed: the
	// receiving party closed; its Recv fails with ErrClosed.
	senderClosed, receiverClosed bool
}

type memComm struct {
	w      *memWorld
	rank   int
	stats  *Stats
	mu     sync.Mutex
	closed bool
}

func (c *memComm) Rank() int     { return c.rank }
func (c *memComm) Size() int     { return c.w.n }
func (c *memComm) HasTTP() bool  { return c.w.ttp }
func (c *memComm) Stats() *Stats { return c.stats }

func (c *memComm) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *memComm) Send(to int, b []byte) error {
	if err := checkPeer(c.rank, to, c.w.parties()); err != nil {
		return err
	}
	if c.isClosed() {
		return ErrClosed
	}
	m := getBuf(len(b))
	copy(m, b)
	q := c.w.q[to][c.rank]
	q.mu.Lock()
	if q.receiverClosed {
		q.mu.Unlock()
		return &PeerError{Op: "send", Peer: to, Err: ErrPeerClosed}
	}
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	q.cond.Signal()
	c.stats.Sent(len(b))
	return nil
}

func (c *memComm) Recv(from int) ([]byte, error) {
	if err := checkPeer(c.rank, from, c.w.parties()); err != nil {
		return nil, err
	}
	q := c.w.q[c.rank][from]
	q.mu.Lock()
	for {
		if q.receiverClosed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		if q.head < len(q.msgs) {
			break
		}
		if q.senderClosed {
			q.mu.Unlock()
			return nil, &PeerError{Op: "recv", Peer: from, Err: ErrPeerClosed}
		}
		q.cond.Wait()
	}
	m := q.msgs[q.head]
	q.msgs[q.head] = nil
	q.head++
	if q.head == len(q.msgs) {
		q.msgs, q.head = q.msgs[:0], 0
	}
	q.mu.Unlock()
	c.stats.Received(len(m))
	return m, nil
}

// RecvInto implements IntoReceiver.
func (c *memComm) RecvInto(from int, dst []byte) error {
	m, err := c.Recv(from)
	if err != nil {
		return err
	}
	if len(m) != len(dst) {
		return &PeerError{Op: "recv", Peer: from,
			Err: fmt.Errorf("message of %d bytes, expected %d", len(m), len(dst))}
	}
	copy(dst, m)
	putBuf(m)
	return nil
}

// Large message buffers are recycled when a message is consumed by
// RecvInto (Recv hands its buffer to the caller): without it, every large
// Send copies into freshly faulted-in pages, several times slower than the
// copy itself. Pools are per power-of-two capacity.
const poolMin = 64 << 10

var bufPools [64]sync.Pool

func getBuf(n int) []byte {
	if n < poolMin {
		return make([]byte, n)
	}
	c := bits.Len(uint(n - 1)) // capacity class: 2^c >= n
	if p, _ := bufPools[c].Get().(*[]byte); p != nil {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

func putBuf(b []byte) {
	n := cap(b)
	if n < poolMin || n&(n-1) != 0 {
		return
	}
	b = b[:0]
	bufPools[bits.Len(uint(n-1))].Put(&b)
}

// Close marks this party gone: its own pending and later calls fail with
// ErrClosed, and peers' Recv from it fail once they drain what it sent.
func (c *memComm) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	for other := 0; other < c.w.parties(); other++ {
		if other == c.rank {
			continue
		}
		in := c.w.q[c.rank][other]
		in.mu.Lock()
		in.receiverClosed = true
		in.msgs, in.head = nil, 0
		in.mu.Unlock()
		in.cond.Broadcast()
		out := c.w.q[other][c.rank]
		out.mu.Lock()
		out.senderClosed = true
		out.mu.Unlock()
		out.cond.Broadcast()
	}
	return nil
}
