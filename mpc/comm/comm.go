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
//
// Transports: NewMemWorld connects parties inside one process (tests,
// goroutine launchers); Dial joins a TCP mesh after a rendezvous at rank 0,
// as torch.distributed's env:// does (EnvConfig, LocalJob and DialEnv
// carry the settings to party processes). On the mesh, small messages are
// written by Send itself with one non-blocking syscall and everything else
// by a writer goroutine per peer; Recv reads the socket directly, and
// RecvUint64s lands ring tensors in the caller's slice without a copy.
//
// Links are authenticated and encrypted unless a Config asks for plain TCP:
// TLS 1.3 with every rank bound to the worker a job pins for it (each
// worker signs a Credential for its party's ephemeral PartyKey), or to a
// per-job secret. Strangers at a listener are bounded in time, size and
// number before they prove anything. A watchdog per Comm keeps idle links
// alive with heartbeats and reports a peer that went silent (StuckError);
// a party that gives up tells the others which rank it blames
// (AbortError, Blame). docs/comm.md describes all of it.
//
// Buffer ownership: Send and SendUint64s may hand the caller's memory to
// the network without copying. Do not modify it until Flush(c, to)
// returns; every collective flushes before it returns, so buffers passed to
// a collective are free again when it does.
package comm

import (
	"errors"
	"fmt"
)

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

// ErrPeerClosed is wrapped by a PeerError when the peer closed its end or
// its process went away. Test with errors.Is(err, ErrPeerClosed).
var ErrPeerClosed = errors.New("peer closed the connection")

// PeerError reports a failure on the link to one peer, so that a protocol
// failing mid-computation can say which party went wrong.
type PeerError struct {
	Op   string // "send" or "recv" (or "dial", "accept" while connecting)
	Peer int    // the other party's rank
	Err  error
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("comm: %s %s party %d: %v", e.Op, opPrep(e.Op), e.Peer, e.Err)
}

// Unwrap returns the underlying cause.
func (e *PeerError) Unwrap() error { return e.Err }

func opPrep(op string) string {
	switch op {
	case "recv", "accept":
		return "from"
	default:
		return "to"
	}
}

// Flusher is implemented by transports whose Send keeps a reference to the
// message until a writer goroutine has handed it to the network (the TCP
// mesh). Use the package-level Flush rather than asserting it directly.
type Flusher interface {
	// Flush blocks until every message queued so far for peer `to` has been
	// written (or the link failed), so the caller may reuse its buffers.
	Flush(to int) error
}

// IntoReceiver is implemented by transports that can read a message
// straight into a caller's buffer, saving an allocation and a copy for
// large ring tensors. RecvUint64s uses it when available.
type IntoReceiver interface {
	// RecvInto reads the next message from `from` into dst. The message must
	// be exactly len(dst) bytes; otherwise it is consumed and discarded and
	// the error names both sizes.
	RecvInto(from int, dst []byte) error
}

// Flush waits until every message c has queued for peer `to` may no longer
// be referenced by the transport. Call it before modifying a buffer passed
// to Send or SendUint64s. It is free on transports that copy at Send.
func Flush(c Comm, to int) error {
	if f, ok := c.(Flusher); ok {
		return f.Flush(to)
	}
	return nil
}

// Parties returns the number of endpoints in c's world: Size(), plus one
// when a trusted third party is present (detected from c's own rank, or
// from the transport when it says so).
func Parties(c Comm) int {
	if t, ok := c.(interface{ HasTTP() bool }); ok && t.HasTTP() {
		return c.Size() + 1
	}
	if c.Rank() == c.Size() {
		return c.Size() + 1
	}
	return c.Size()
}

// checkPeer validates a peer rank for a world of n endpoints.
func checkPeer(self, peer, n int) error {
	if peer < 0 || peer >= n {
		return fmt.Errorf("comm: peer rank %d out of range [0,%d)", peer, n)
	}
	if peer == self {
		return fmt.Errorf("comm: party %d cannot message itself", peer)
	}
	return nil
}
