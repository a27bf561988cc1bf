package comm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Liveness on the mesh.
//
// A party that is frozen (SIGSTOP), cut off by a partition, or wedged
// below the program stops sending anything, while a party that is merely
// busy computing keeps its links warm: a watchdog goroutine per Comm sends
// a heartbeat frame on every link on which nothing was queued for a second
// (or a fifth of a shorter peer timeout). The same watchdog looks at links on which a Recv is
// waiting (or the writer is pushing a frame): when no byte has moved for
// the peer timeout, it interrupts the wait, which fails with a StuckError
// naming the peer. Busy links never carry heartbeats, and the hot path pays
// a few atomic additions per message (no syscall, no timer), so the MPC
// engine's rounds and latency are unchanged.
//
// A party that fails on one link tells every other peer before it goes,
// with an abort frame naming the rank it blames; a peer reading that link
// fails with an AbortError, so every rank's error names the party that got
// stuck, not just the neighbour that gave up first.

// DefaultPeerTimeout is Config.PeerTimeout's default: a peer silent this
// long while this party waits on it is reported stuck.
const DefaultPeerTimeout = 10 * time.Second

// StuckError says a peer moved no bytes, not even heartbeats, for Silent
// while this party waited to receive from it (Op "recv") or to hand it a
// message (Op "send").
type StuckError struct {
	Rank   int
	Op     string
	Silent time.Duration
}

func (e *StuckError) Error() string {
	d := e.Silent.Round(100 * time.Millisecond)
	if e.Op == "send" {
		return fmt.Sprintf("party %d accepted nothing for %v (frozen, partitioned or stopped)", e.Rank, d)
	}
	return fmt.Sprintf("party %d sent nothing, not even a heartbeat, for %v (frozen, partitioned or stopped)", e.Rank, d)
}

// AbortError is a peer's last word: it gave up, blaming rank Blame (-1
// when it blames nobody in particular), for Reason.
type AbortError struct {
	From   int
	Blame  int
	Reason string
}

func (e *AbortError) Error() string { return fmt.Sprintf("party %d gave up: %s", e.From, e.Reason) }

// Blame returns the rank an error of this package holds responsible: the
// party that went silent, closed its end, sent garbage or could not be
// reached, also when another party reported it.
func Blame(err error) (int, bool) {
	var ae *AbortError
	if errors.As(err, &ae) && ae.Blame >= 0 {
		return ae.Blame, true
	}
	var se *StuckError
	if errors.As(err, &se) {
		return se.Rank, true
	}
	var pe *PeerError
	if errors.As(err, &pe) {
		return pe.Peer, true
	}
	return 0, false
}

// abortMsg is the payload of an abort frame.
type abortMsg struct {
	Blame  int // -1 for nobody
	Reason string
}

// maxAbortReason bounds the reason an abort carries.
const maxAbortReason = maxAbort - 8

// encode returns the abort payload: blame (uint32, noRank for nobody) and
// reason (uint16 length + bytes).
func (a abortMsg) encode() []byte {
	r := strings.ToValidUTF8(a.Reason, "?")
	if len(r) > maxAbortReason {
		r = r[:maxAbortReason]
	}
	blame := uint32(noRank)
	if a.Blame >= 0 && a.Blame < maxParties {
		blame = uint32(a.Blame)
	}
	b := binary.LittleEndian.AppendUint32(nil, blame)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r)))
	return append(b, r...)
}

// decodeAbort parses an abort payload.
func decodeAbort(p []byte) (abortMsg, error) {
	r := wireReader{b: p}
	var a abortMsg
	if v := r.bytes(4, "blamed rank"); v != nil {
		switch u := binary.LittleEndian.Uint32(v); {
		case u == noRank:
			a.Blame = -1
		case u < maxParties:
			a.Blame = int(u)
		default:
			r.fail("blamed rank %d out of range", u)
		}
	}
	a.Reason = r.str("abort reason", maxAbortReason)
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes after an abort", len(r.b))
	}
	return a, r.err
}

// watchState is what the watchdog remembers about one link between ticks.
type watchState struct {
	seq, rprog uint64    // recv wait sequence and read progress last seen
	rsince     time.Time // when either last changed
	wprog      uint64    // write progress last seen
	wbusy      bool      // the writer was writing at the last tick
	unread     int       // bytes waiting in the socket at the last tick
	wsince     time.Time
	queued     uint64    // messages queued at the last tick
	sent       time.Time // when something last went out (or a heartbeat)
}

// watch runs the Comm's watchdog until stop is closed: heartbeats on idle
// links, and interrupting waits on peers that went silent.
func (c *tcpComm) watch(stop <-chan struct{}) {
	defer c.wg.Done()
	tick := min(max(c.peerTO/10, 5*time.Millisecond), time.Second)
	silence := c.peerTO - tick // a wait is seen at most a tick late
	// Heartbeats do not depend on the peers' timeouts being ours: a beat
	// a second (or a fifth of a shorter timeout) keeps any timeout of a
	// few seconds or more satisfied.
	beat := min(c.peerTO/5, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	now := time.Now()
	st := make([]watchState, len(c.peers))
	for i := range st {
		st[i].rsince, st[i].wsince, st[i].sent = now, now, now
	}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := time.Now()
		for r, l := range c.peers {
			if l == nil {
				continue
			}
			s := &st[r]
			// Receiving: a wait (odd sequence) with no read progress.
			seq, rp := l.waitSeq.Load(), l.m.r.Load()
			if seq != s.seq || rp != s.rprog {
				s.seq, s.rprog, s.rsince = seq, rp, now
			} else if seq&1 == 1 && now.Sub(s.rsince) >= silence {
				l.interrupt("recv", now.Sub(s.rsince))
			}
			// Sending: the writer busy with no write progress, while
			// nothing arrives from the peer either (a peer busy computing
			// reads nothing but still sends heartbeats, which pile up
			// unread in our socket).
			busy, wp := l.writing.Load(), l.m.w.Load()
			in := unread(l.tcp)
			if busy != s.wbusy || wp != s.wprog || in != s.unread {
				s.wbusy, s.wprog, s.unread, s.wsince = busy, wp, in, now
			} else if busy && in >= 0 && now.Sub(s.wsince) >= silence {
				l.interrupt("send", now.Sub(s.wsince))
			}
			// Heartbeat on a link idle for a beat.
			l.mu.Lock()
			q, dead := l.queued, l.werr != nil || l.closing
			l.mu.Unlock()
			switch {
			case dead:
			case q != s.queued:
				s.queued, s.sent = q, now
			case now.Sub(s.sent) >= beat:
				l.queueCtrl(frameHeartbeat, nil)
				s.queued, s.sent = q+1, now
			}
		}
	}
}
