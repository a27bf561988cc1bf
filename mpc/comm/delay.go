package comm

import (
	"fmt"
	"sync"
	"time"
)

// Delayed wraps c so that every message it sends reaches its peer d
// later, as over a wide-area link with a one-way delay of d, without
// slowing the sender: Send copies the message and a goroutine per peer
// hands it to c when it is due, in order. Bandwidth is c's. Traffic is
// counted by c when the message is handed over, so a message sent at the
// end of an operation may be counted in the next one. Benchmarks use it
// (gomplab bench --delay) to show what rounds cost across hosts.
func Delayed(c Comm, d time.Duration) Comm {
	if d <= 0 {
		return c
	}
	return &delayed{Comm: c, d: d, links: map[int]*delayLink{}}
}

type delayed struct {
	Comm
	d     time.Duration
	mu    sync.Mutex
	links map[int]*delayLink
	wg    sync.WaitGroup
}

type delayLink struct {
	mu     sync.Mutex
	cond   sync.Cond
	q      []delayedMsg
	err    error
	closed bool
}

type delayedMsg struct {
	due time.Time
	b   []byte
}

func (c *delayed) link(to int) *delayLink {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.links[to]
	if l == nil {
		l = &delayLink{}
		l.cond.L = &l.mu
		c.links[to] = l
		c.wg.Add(1)
		go c.deliver(to, l)
	}
	return l
}

// deliver hands the messages queued for peer to the transport when due.
func (c *delayed) deliver(to int, l *delayLink) {
	defer c.wg.Done()
	for {
		l.mu.Lock()
		for len(l.q) == 0 && !l.closed {
			l.cond.Wait()
		}
		if len(l.q) == 0 {
			l.mu.Unlock()
			return
		}
		m := l.q[0]
		l.q = l.q[1:]
		l.mu.Unlock()
		time.Sleep(time.Until(m.due))
		if err := c.Comm.Send(to, m.b); err != nil {
			l.mu.Lock()
			l.err, l.q = err, nil
			l.mu.Unlock()
			return
		}
	}
}

// Send queues a copy of b for delivery d from now.
func (c *delayed) Send(to int, b []byte) error {
	if err := checkPeer(c.Rank(), to, Parties(c.Comm)); err != nil {
		return err
	}
	l := c.link(to)
	m := delayedMsg{due: time.Now().Add(c.d), b: append([]byte(nil), b...)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if l.closed {
		return ErrClosed
	}
	l.q = append(l.q, m)
	l.cond.Signal()
	return nil
}

// Flush returns at once: Send copied the message.
func (c *delayed) Flush(int) error { return nil }

// RecvInto reads into dst through c's own RecvInto when it has one.
func (c *delayed) RecvInto(from int, dst []byte) error {
	if r, ok := c.Comm.(IntoReceiver); ok {
		return r.RecvInto(from, dst)
	}
	m, err := c.Comm.Recv(from)
	if err != nil {
		return err
	}
	if len(m) != len(dst) {
		return &PeerError{Op: "recv", Peer: from, Err: fmt.Errorf("message of %d bytes, expected %d", len(m), len(dst))}
	}
	copy(dst, m)
	return nil
}

// HasTTP reports whether c's world has a trusted third party.
func (c *delayed) HasTTP() bool { return Parties(c.Comm) > c.Size() }

// Close delivers what is queued, then closes c.
func (c *delayed) Close() error {
	c.mu.Lock()
	for _, l := range c.links {
		l.mu.Lock()
		l.closed = true
		l.cond.Signal()
		l.mu.Unlock()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return c.Comm.Close()
}
