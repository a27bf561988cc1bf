// Package comm connects the parties of one MPC computation: N parties of
// ranks 0..N-1, plus optionally a trusted third party (rank N) that only
// deals correlated randomness.
//
// A Comm moves opaque byte messages between two parties, FIFO per ordered
// pair. Collectives (Broadcast, Gather, AllReduce of ring tensors, Exchange)
// are written once, over the Comm interface, so the in-memory transport used
// by tests and the TCP mesh used by real parties behave identically.
//
// Every Comm counts what it moves in a *Stats: bytes sent and received,
// messages, and communication rounds. A round is one collective step in which
// a party may send to and receive from several peers at once; protocols open
// rounds with Stats.Round so the count means "sequential network latencies",
// as CrypTen's does.
package comm

import "errors"

// Comm is one party's end of a connected world of parties.
//
// Send must not wait for the receiver to call Recv: implementations queue
// outgoing messages (a writer per peer), so that two parties may both Send
// large messages to each other before either calls Recv without deadlock.
// Send may keep a reference to b until the message is written; callers must
// not modify b after Send. Recv returns the next message from a peer in
// order, blocking until it arrives, the Comm is closed, or the peer is gone.
type Comm interface {
	// Rank is this party's rank in [0, Size()) (or Size() for the trusted third party).
	Rank() int
	// Size is the number of computing parties (the TTP is not counted).
	Size() int
	// Send queues b for delivery to party `to`.
	Send(to int, b []byte) error
	// Recv returns the next message from party `from`.
	Recv(from int) ([]byte, error)
	// Stats returns this party's traffic counters.
	Stats() *Stats
	// Close tears down connections; pending and later calls fail with ErrClosed.
	Close() error
}

// ErrClosed is returned by operations on a closed Comm.
var ErrClosed = errors.New("comm: closed")
