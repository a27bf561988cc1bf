package comm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gomplab/gomplab/internal/faultnet"
)

// tcpPair is a connected loopback TCP pair.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func heartbeatFrame() []byte {
	var h [frameHeaderLen]byte
	putFrameHeaderKind(h[:], 0, frameHeartbeat)
	return h[:]
}

// A peer that sends nothing is reported stuck after the peer timeout; one
// that only sends heartbeats is alive, however long the wait.
func TestSilentPeer(t *testing.T) {
	const timeout = 300 * time.Millisecond
	t.Run("silent", func(t *testing.T) {
		a, _ := tcpPair(t)
		c := newTCPComm(0, worldSpec{Size: 2}, []*peerConn{nil, newPeerConn(a)}, linkOptions{peerTO: timeout})
		defer c.Close()
		start := time.Now()
		_, err := c.Recv(1)
		t.Logf("after %v: %v", time.Since(start), err)
		var se *StuckError
		if !errors.As(err, &se) || se.Rank != 1 || se.Op != "recv" {
			t.Fatalf("got %v, want a StuckError for party 1", err)
		}
		wantErr(t, "recv", err, "party 1 sent nothing, not even a heartbeat", "frozen, partitioned or stopped")
		if d := time.Since(start); d < timeout/2 {
			t.Errorf("declared stuck after only %v", d)
		}
	})
	t.Run("heartbeats", func(t *testing.T) {
		a, b := tcpPair(t)
		c := newTCPComm(0, worldSpec{Size: 2}, []*peerConn{nil, newPeerConn(a)}, linkOptions{peerTO: timeout})
		defer c.Close()
		go func() {
			for range 20 {
				b.Write(heartbeatFrame())
				time.Sleep(timeout / 6)
			}
			b.Write(rawFrame([]byte("late but alive")))
		}()
		m, err := c.Recv(1)
		if err != nil || string(m) != "late but alive" {
			t.Fatalf("Recv = %q, %v", m, err)
		}
	})
}

// An idle link carries heartbeats; they never reach Recv.
func TestIdleLinkHeartbeats(t *testing.T) {
	a, b := tcpPair(t)
	c := newTCPComm(0, worldSpec{Size: 2}, []*peerConn{nil, newPeerConn(a)}, linkOptions{peerTO: 100 * time.Millisecond})
	defer c.Close()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [frameHeaderLen]byte
	for i := range 3 {
		if _, err := io.ReadFull(b, hdr[:]); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
		if n, kind, err := frameHeader(hdr[:], 0); err != nil || kind != frameHeartbeat || n != 0 {
			t.Fatalf("frame %d: kind %d, %d bytes, %v", i, kind, n, err)
		}
	}
	if s := c.Stats().Total(); s.Messages != 0 || s.BytesSent != 0 {
		t.Errorf("heartbeats counted as traffic: %+v", s)
	}
}

// busyWorld dials n parties with a short peer timeout.
func busyWorld(t *testing.T, n int, peerTO time.Duration, auth authFn) []Comm {
	job := newJob(t, n, false, 10*time.Second)
	job.PeerTimeout = peerTO
	cs, errs := dialAll(t, job, rangeN(n), func(c *Config) {
		if auth != nil {
			auth(t, c)
		}
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return cs
}

func rangeN(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

// A peer that is busy (computing, not reading, not sending) for several
// peer timeouts is not mistaken for a stuck one, on either side of a link.
func TestBusyPeerIsAlive(t *testing.T) {
	// Long enough that a loaded test machine does not starve the
	// heartbeats of a goroutine for that long.
	const peerTO = time.Second
	for _, mode := range []struct {
		name string
		auth authFn
	}{{"plain", nil}, {"secret", withSecret(testSecret)}} {
		t.Run(mode.name, func(t *testing.T) {
			cs := busyWorld(t, 2, peerTO, mode.auth)
			big := make([]uint64, 2<<20) // 16 MiB: more than an unread socket buffers
			runParties(t, cs, func(c Comm) error {
				if c.Rank() == 1 {
					time.Sleep(3 * peerTO) // busy: rank 0 waits on us
					if err := c.Send(0, []byte("done")); err != nil {
						return err
					}
					time.Sleep(3 * peerTO) // busy again: rank 0's big send waits on us
					return RecvUint64s(c, 0, make([]uint64, len(big)))
				}
				m, err := c.Recv(1)
				if err != nil || string(m) != "done" {
					return fmt.Errorf("recv %q: %w", m, err)
				}
				if err := SendUint64s(c, 1, big); err != nil {
					return err
				}
				return Flush(c, 1)
			})
		})
	}
}

// startStoppable starts a child party and arranges for it to be resumed
// and killed when the test ends, even if a test stopped it.
func sigstop(t *testing.T, k *child) {
	t.Helper()
	if err := k.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.cmd.Process.Signal(syscall.SIGCONT) })
}

// A frozen party (SIGSTOP: its sockets stay open, its kernel even keeps
// acknowledging) is detected within the peer timeout. The rank waiting on
// it names it, and so does the rank waiting on that one, told by an abort.
func TestFrozenPartyNamed(t *testing.T) {
	const peerTO = time.Second
	job := newJob(t, 3, false, 10*time.Second)
	job.PeerTimeout = peerTO
	job.Secret = testSecret
	kid := startChild(t, job, 2, "exchange-then-hang")
	errs := make([]error, 2)
	took := make([]time.Duration, 2)
	var stopped atomic.Int64
	var wg sync.WaitGroup
	for r := range 2 {
		cfg := job.Config(r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(context.Background(), cfg)
			if err != nil {
				errs[r] = err
				return
			}
			defer c.Close()
			if _, err := Exchange(c, []uint64{1}); err != nil {
				errs[r] = fmt.Errorf("first exchange: %w", err)
				return
			}
			// Rank 0 waits on the frozen rank 2, rank 1 on rank 0.
			_, errs[r] = c.Recv([]int{2, 0}[r])
			took[r] = time.Duration(time.Now().UnixNano() - stopped.Load())
		}()
	}
	if got := kid.line(t); got != "ready" {
		t.Fatalf("child said %q", got)
	}
	time.Sleep(200 * time.Millisecond)
	stopped.Store(time.Now().UnixNano())
	sigstop(t, kid)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * peerTO):
		t.Fatal("the survivors never noticed the frozen party")
	}
	for r, err := range errs {
		t.Logf("rank %d after %v: %v", r, took[r], err)
		if b, ok := Blame(err); !ok || b != 2 {
			t.Errorf("rank %d blames %d (%v): %v", r, b, ok, err)
		}
	}
	var se *StuckError
	var ae *AbortError
	if !errors.As(errs[0], &se) {
		t.Errorf("rank 0: %v, want a StuckError", errs[0])
	}
	if !errors.As(errs[1], &ae) || ae.From != 0 || !strings.Contains(errs[1].Error(), "party 2 sent nothing") {
		t.Errorf("rank 1: %v, want rank 0's abort naming party 2", errs[1])
	}
}

// A send to a frozen party (the writer blocked on a full socket) fails
// within the peer timeout too, naming the party.
func TestStuckSendNamed(t *testing.T) {
	const peerTO = time.Second
	job := newJob(t, 2, false, 10*time.Second)
	job.PeerTimeout = peerTO
	kid := startChild(t, job, 1, "exchange-then-hang")
	c, err := Dial(context.Background(), job.Config(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := Exchange(c, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	if got := kid.line(t); got != "ready" {
		t.Fatalf("child said %q", got)
	}
	sigstop(t, kid)
	start := time.Now()
	if err := SendUint64s(c, 1, make([]uint64, 8<<20)); err != nil {
		t.Fatal(err)
	}
	err = Flush(c, 1)
	t.Logf("after %v: %v", time.Since(start), err)
	var se *StuckError
	if !errors.As(err, &se) || se.Rank != 1 || se.Op != "send" {
		t.Fatalf("Flush: %v, want a stuck send to party 1", err)
	}
}

// A party cut off by a partition (its connections open, nothing passing)
// is detected by the ranks waiting on it, within the peer timeout.
func TestPartitionedPartyNamed(t *testing.T) {
	const peerTO = 500 * time.Millisecond
	job := newJob(t, 2, false, 10*time.Second)
	job.PeerTimeout = peerTO
	fw := faultnet.New()
	defer fw.Close()
	via, err := fw.Forward("127.0.0.1:0", job.MasterAddr())
	if err != nil {
		t.Fatal(err)
	}
	cs, errs := dialAll(t, job, []int{0, 1}, func(c *Config) {
		c.Secret = testSecret
		if c.Rank == 1 {
			c.MasterAddr = via // rank 1's link to 0 passes the forwarder
		}
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	runParties(t, cs, func(c Comm) error { return Barrier(c) })
	fw.Partition(true)
	got := make([]error, 2)
	var wg sync.WaitGroup
	for r, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); _, got[r] = c.Recv(1 - r) }()
	}
	wg.Wait()
	for r, err := range got {
		t.Logf("rank %d: %v", r, err)
		var se *StuckError
		if !errors.As(err, &se) || se.Rank != 1-r {
			t.Errorf("rank %d: %v, want party %d stuck", r, err, 1-r)
		}
	}
}

func TestAbortFrame(t *testing.T) {
	for _, a := range []abortMsg{{Blame: 2, Reason: "party 2 froze"}, {Blame: -1}, {Blame: 0, Reason: strings.Repeat("x", 5000)}} {
		got, err := decodeAbort(a.encode())
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Reason) > maxAbortReason {
			a.Reason = a.Reason[:maxAbortReason]
		}
		if got != a {
			t.Errorf("round trip %+v -> %+v", a, got)
		}
	}
	for _, tc := range []struct {
		p    []byte
		want string
	}{
		{nil, "truncated blamed rank"},
		{[]byte{1, 0, 0, 0}, "truncated abort reason"},
		{[]byte{0, 0, 0, 0x7f, 0, 0}, "out of range"},
		{[]byte{1, 0, 0, 0, 0, 0, 9}, "1 trailing bytes"},
	} {
		if _, err := decodeAbort(tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%x: %v, want %q", tc.p, err, tc.want)
		}
	}
	// On the wire, an abort ends the link with an AbortError.
	a, b := tcpPair(t)
	c := newTCPComm(0, worldSpec{Size: 3}, []*peerConn{nil, newPeerConn(a), nil}, linkOptions{})
	defer c.Close()
	p := abortMsg{Blame: 2, Reason: "party 2 froze"}.encode()
	var hdr [frameHeaderLen]byte
	putFrameHeaderKind(hdr[:], len(p), frameAbort)
	b.Write(append(append(hdr[:], p...), zeroPad[:framePad(int64(len(p)))]...))
	_, err := c.Recv(1)
	wantErr(t, "recv", err, "recv from party 1: party 1 gave up: party 2 froze")
	if r, _ := Blame(err); r != 2 {
		t.Errorf("blame %d, want 2", r)
	}
}

func TestBlame(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
		ok   bool
	}{
		{errors.New("x"), 0, false},
		{&PeerError{Op: "recv", Peer: 3, Err: ErrPeerClosed}, 3, true},
		{&PeerError{Op: "recv", Peer: 1, Err: &StuckError{Rank: 1}}, 1, true},
		{&PeerError{Op: "recv", Peer: 1, Err: &AbortError{From: 1, Blame: 4}}, 4, true},
		{&PeerError{Op: "recv", Peer: 1, Err: &AbortError{From: 1, Blame: -1}}, 1, true},
		{fmt.Errorf("mpc: Mul: %w", &PeerError{Op: "dial", Peer: 2}), 2, true},
	} {
		got, ok := Blame(tc.err)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Blame(%v) = %d, %v; want %d, %v", tc.err, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzDecodeAbort: an abort's payload comes from a peer; it never panics
// the decoder, and what it accepts re-encodes to itself.
func FuzzDecodeAbort(f *testing.F) {
	f.Add(abortMsg{Blame: 1, Reason: "r"}.encode())
	f.Add(abortMsg{Blame: -1}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		a, err := decodeAbort(p)
		if err != nil {
			return
		}
		if utf8.ValidString(a.Reason) { // encode replaces invalid bytes
			again, err := decodeAbort(a.encode())
			if err != nil || again != a {
				t.Fatalf("re-decode %+v: %+v, %v", a, again, err)
			}
		}
	})
}
