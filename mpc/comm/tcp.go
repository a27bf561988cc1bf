package comm

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Buffer sizes of a mesh link. Small messages coalesce in the write buffer
// and go out in one syscall per batch; large ones pass straight through
// (bufio writes and reads big slices directly), so a ring tensor is copied
// only by the kernel.
const (
	writeBufSize = 256 << 10
	// readBufSize is small: a large message is read straight into its
	// destination, but whatever of it the buffer caught with the header
	// before is copied out of the buffer.
	readBufSize = 16 << 10
	// directWrite is the size from which a message is written with its
	// header in one writev rather than through the write buffer.
	directWrite = 64 << 10
	// closeLinger bounds how long Close waits for queued messages to be
	// written before cutting the links.
	closeLinger = 5 * time.Second
)

// tcpComm is one party's end of the TCP mesh.
type tcpComm struct {
	rank    int
	world   worldSpec
	stats   *Stats
	peers   []*link // by rank; nil for self
	maxMsg  int64
	recvTO  time.Duration
	peerTO  time.Duration // liveness; 0 when off
	closed  atomic.Bool
	once    sync.Once
	abort   sync.Once      // the abort frames go out at most once
	aborted atomic.Bool    // they did
	stop    chan struct{}  // ends the watchdog
	wg      sync.WaitGroup // writer goroutines and the watchdog
}

// linkOptions are a mesh's per-link settings, from the Config.
type linkOptions struct {
	maxMsg int64         // largest data frame received (DefaultMaxMessage when 0)
	recvTO time.Duration // Config.RecvTimeout
	peerTO time.Duration // liveness timeout; 0 turns heartbeats and the watchdog off
}

// peerConn is an established link's connection as setup leaves it.
type peerConn struct {
	conn net.Conn      // reads, writes, deadlines, close: TLS over m, or m itself
	m    *meter        // the raw socket, counting progress
	tcp  *net.TCPConn  // the socket, when it is TCP
	br   *bufio.Reader // reader used during setup, or nil
}

// newPeerConn wraps a connection for use as a plain link.
func newPeerConn(c net.Conn) *peerConn {
	m := &meter{Conn: c}
	tc, _ := c.(*net.TCPConn)
	return &peerConn{conn: m, m: m, tcp: tc}
}

// meter is a connection that counts completed reads and writes, so the
// watchdog can tell a slow link from a dead one. Writes go out in chunks
// so that a large one shows progress too.
type meter struct {
	net.Conn
	r, w atomic.Uint64
}

// meterChunk is the largest write the meter hands the socket at once.
const meterChunk = 512 << 10

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.Conn.Read(p)
	if n > 0 {
		m.r.Add(1)
	}
	return n, err
}

func (m *meter) Write(p []byte) (int, error) {
	var done int
	for done < len(p) {
		n, err := m.Conn.Write(p[done:min(len(p), done+meterChunk)])
		done += n
		if n > 0 {
			m.w.Add(1)
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// link is the connection to one peer. Sending: a small message sent while
// the link is idle is written by Send itself with one non-blocking syscall
// (no goroutine hand-off: this is what keeps a round close to the wire's
// latency); anything else, or whatever part the kernel would not take at
// once, goes to the link's writer goroutine, so Send never waits for the
// peer to read. Receiving: Recv reads frames from the socket in the
// caller's goroutine, so a message reaches its reader with no hand-off and
// a ring tensor lands directly in the caller's slice.
type link struct {
	c     *tcpComm
	peer  int
	conn  net.Conn
	m     *meter
	tcp   *net.TCPConn    // the socket when it is TCP (the watchdog probes it)
	plain bool            // tcp carries frames as they are (no TLS): vectored writes
	raw   syscall.RawConn // for non-blocking inline writes; nil when unavailable (TLS)

	// Watched by the watchdog without locks.
	waitSeq atomic.Uint64 // odd while a Recv waits on this link
	writing atomic.Bool   // the writer is writing
	stuck   atomic.Int64  // silence (ns) that made the watchdog interrupt a recv
	wstuck  atomic.Int64  // likewise for a write

	mu      sync.Mutex
	work    sync.Cond // writer: something to write, link idle, or closing
	done    sync.Cond // Flush: progress
	queue   []outFrame
	spare   []outFrame
	busy    bool   // an inline Send or the writer is using the socket
	rest    []byte // unwritten tail of an inline frame, for the writer
	queued  uint64 // messages queued so far
	written uint64 // messages handed to the kernel so far
	werr    error  // sticky write failure
	closing bool
	inline  []byte // frame buffer of inline sends; owned by the busy holder

	rmu  sync.Mutex
	br   *bufio.Reader
	rerr error // sticky read failure: the stream is out of step
	hdr  [frameHeaderLen]byte
}

// outFrame is a queued frame: a message, or a heartbeat or abort.
type outFrame struct {
	b    []byte
	kind byte
}

// inlineMax is the largest message Send writes itself: copying it next to
// its header costs less than a goroutine switch, and the kernel buffer
// nearly always takes it whole.
const inlineMax = 16 << 10

// newTCPComm wraps established, hello-checked connections (conns[r] to
// rank r, nil for self).
func newTCPComm(rank int, w worldSpec, conns []*peerConn, o linkOptions) *tcpComm {
	if o.maxMsg <= 0 {
		o.maxMsg = DefaultMaxMessage
	}
	c := &tcpComm{rank: rank, world: w, stats: NewStats(), peers: make([]*link, len(conns)),
		maxMsg: o.maxMsg, recvTO: o.recvTO, peerTO: max(o.peerTO, 0), stop: make(chan struct{})}
	for r, pc := range conns {
		if pc == nil {
			continue
		}
		if pc.tcp != nil {
			pc.tcp.SetNoDelay(true)
		}
		l := &link{c: c, peer: r, conn: pc.conn, m: pc.m, tcp: pc.tcp}
		if pc.tcp != nil && pc.conn == net.Conn(pc.m) {
			l.plain = true
			l.raw = inlineConn(pc.tcp)
		}
		l.work.L, l.done.L = &l.mu, &l.mu
		if pc.br != nil {
			l.br = pc.br
		} else {
			l.br = bufio.NewReaderSize(pc.conn, readBufSize)
		}
		c.peers[r] = l
		c.wg.Add(1)
		go l.writeLoop()
	}
	if c.peerTO > 0 {
		c.wg.Add(1)
		go c.watch(c.stop)
	}
	return c
}

func (c *tcpComm) Rank() int     { return c.rank }
func (c *tcpComm) Size() int     { return c.world.Size }
func (c *tcpComm) HasTTP() bool  { return c.world.TTP }
func (c *tcpComm) Stats() *Stats { return c.stats }

func (c *tcpComm) link(peer int) (*link, error) {
	if err := checkPeer(c.rank, peer, len(c.peers)); err != nil {
		return nil, err
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	return c.peers[peer], nil
}

// Send hands b to the link and returns without waiting for the peer.
func (c *tcpComm) Send(to int, b []byte) error {
	l, err := c.link(to)
	if err != nil {
		return err
	}
	if int64(len(b)) > c.maxMsg {
		return fmt.Errorf("comm: message of %d bytes to party %d exceeds the limit of %d", len(b), to, c.maxMsg)
	}
	l.mu.Lock()
	if l.werr != nil {
		err := l.werr
		l.mu.Unlock()
		return err
	}
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	l.queued++
	if l.raw != nil && !noInline && len(b) <= inlineMax && !l.busy && len(l.queue) == 0 && l.rest == nil {
		l.busy = true
		l.mu.Unlock()
		l.sendInline(b)
	} else {
		l.queue = append(l.queue, outFrame{b: b})
		l.mu.Unlock()
		l.work.Signal()
	}
	c.stats.Sent(len(b))
	return nil
}

// queueCtrl queues a heartbeat or abort frame for the writer; it is
// dropped when the link is failed or closing.
func (l *link) queueCtrl(kind byte, payload []byte) {
	l.mu.Lock()
	if l.werr != nil || l.closing {
		l.mu.Unlock()
		return
	}
	l.queued++
	l.queue = append(l.queue, outFrame{b: payload, kind: kind})
	l.mu.Unlock()
	l.work.Signal()
}

// sendInline writes b's frame with one non-blocking syscall; what the
// kernel does not take goes to the writer. The caller holds busy.
func (l *link) sendInline(b []byte) {
	if cap(l.inline) < frameHeaderLen+inlineMax+frameAlign {
		l.inline = make([]byte, frameHeaderLen+inlineMax+frameAlign)
	}
	pad := int(framePad(int64(len(b))))
	frame := l.inline[:frameHeaderLen+len(b)+pad]
	putFrameHeader(frame, len(b))
	copy(frame[frameHeaderLen:], b)
	clear(frame[frameHeaderLen+len(b):])
	n, err := tryWrite(l.raw, frame)
	if n > 0 {
		l.m.w.Add(1)
	}
	if err != nil {
		err = l.explain(l.linkError("send", err))
	}
	l.mu.Lock()
	switch {
	case err != nil:
		l.werr = err
		l.written, l.queue = l.queued, nil
	case n == len(frame):
		l.written++
	default:
		l.rest = frame[n:] // l.inline stays untouched until the writer is done
	}
	l.busy = false
	// Wake the writer only if there is something for it: a needless
	// wake-up is a goroutine switch, the very cost inline sends avoid.
	wake := l.rest != nil || len(l.queue) > 0 || l.closing
	l.mu.Unlock()
	if wake {
		l.work.Signal()
	}
	l.done.Broadcast()
}

// Flush implements Flusher.
func (c *tcpComm) Flush(to int) error {
	l, err := c.link(to)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	target := l.queued
	for l.written < target && l.werr == nil {
		l.done.Wait()
	}
	return l.werr
}

func (l *link) writeLoop() {
	defer l.c.wg.Done()
	bw := bufio.NewWriterSize(l.conn, writeBufSize)
	var hdr [frameHeaderLen]byte
	for {
		l.mu.Lock()
		for l.busy || (len(l.queue) == 0 && l.rest == nil && !l.closing) {
			l.work.Wait()
		}
		if len(l.queue) == 0 && l.rest == nil {
			l.mu.Unlock()
			return
		}
		l.busy = true
		batch, rest := l.queue, l.rest
		l.queue, l.rest = l.spare[:0], nil
		l.mu.Unlock()

		l.writing.Store(true)
		if rest != nil {
			bw.Write(rest) // errors are sticky in bw and surface at Flush
		}
		var err error
		for i, f := range batch {
			m := f.b
			putFrameHeaderKind(hdr[:], len(m), f.kind)
			pad := zeroPad[:framePad(int64(len(m)))]
			if len(m) >= directWrite && l.plain && err == nil {
				// A large message goes out with its header in vectored
				// writes straight from the caller's memory: through bw,
				// the part that fits after the header would be copied
				// first.
				if err = bw.Flush(); err == nil {
					err = l.writeDirect(hdr[:], m, pad)
				}
			} else {
				bw.Write(hdr[:])
				bw.Write(m)
				bw.Write(pad)
			}
			batch[i] = outFrame{}
		}
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		l.writing.Store(false)

		l.mu.Lock()
		l.busy = false
		l.spare = batch[:0]
		l.written += uint64(len(batch))
		if rest != nil {
			l.written++
		}
		if err != nil {
			err = l.explain(l.linkError("send", err))
			l.werr = err
			l.written = l.queued // nothing more will be written
			l.queue = nil
		}
		l.done.Broadcast()
		l.mu.Unlock()
		if err != nil {
			// A peer that took nothing for the peer timeout is stuck;
			// one that hung up may just have finished (if we needed
			// something from it, the Recv says so).
			var se *StuckError
			if errors.As(err, &se) {
				l.c.giveUp(l.peer, err)
			}
			return
		}
	}
}

// writeDirect writes a frame (header, payload, padding) with vectored
// writes from the caller's memory, a chunk at a time so that the watchdog
// sees progress.
func (l *link) writeDirect(hdr, m, pad []byte) error {
	for off := 0; off < len(m); {
		end := min(len(m), off+meterChunk)
		var bufs net.Buffers
		if off == 0 {
			bufs = append(bufs, hdr)
		}
		bufs = append(bufs, m[off:end])
		if end == len(m) {
			bufs = append(bufs, pad)
		}
		if _, err := bufs.WriteTo(l.tcp); err != nil {
			return err
		}
		l.m.w.Add(1)
		off = end
	}
	return nil
}

// explainWait bounds how long a failed send looks for the peer's last
// word.
const explainWait = 200 * time.Millisecond

// explain improves the error of a send to a peer that hung up: a peer
// that gave up sent an abort frame, naming the party it blames, before it
// went, and that frame may be waiting unread in this link. explain looks
// for it among the bytes already buffered or arriving within explainWait,
// without consuming anything, and returns the peer's reason when it finds
// it. When a receive is under way on the link, that receive reads the
// abort itself.
func (l *link) explain(err error) error {
	if !errors.Is(err, ErrPeerClosed) || !l.rmu.TryLock() {
		return err
	}
	defer l.rmu.Unlock()
	if l.rerr != nil {
		return l.rerr
	}
	l.conn.SetReadDeadline(time.Now().Add(explainWait))
	b, _ := l.br.Peek(l.br.Size())
	l.conn.SetReadDeadline(time.Time{})
	for len(b) >= frameHeaderLen {
		n, kind, ferr := frameHeader(b, l.c.maxMsg)
		if ferr != nil {
			break
		}
		end := frameHeaderLen + n + framePad(n)
		if int64(len(b)) < end {
			break
		}
		if kind == frameAbort {
			if a, aerr := decodeAbort(b[frameHeaderLen : frameHeaderLen+n]); aerr == nil {
				why := &PeerError{Op: "send", Peer: l.peer, Err: &AbortError{From: l.peer, Blame: a.Blame, Reason: a.Reason}}
				l.rerr = &PeerError{Op: "recv", Peer: l.peer, Err: why.Err}
				return why
			}
			break
		}
		b = b[end:]
	}
	// Nothing more will be read from this peer.
	l.rerr = &PeerError{Op: "recv", Peer: l.peer, Err: errors.Unwrap(err)}
	return err
}

// interrupt ends a wait on a silent peer: the blocked read or write fails
// at once, and the error says for how long the peer was silent.
func (l *link) interrupt(op string, silent time.Duration) {
	if op == "recv" {
		l.stuck.Store(int64(silent))
		l.conn.SetReadDeadline(time.Unix(1, 0))
	} else {
		l.wstuck.Store(int64(silent))
		l.conn.SetWriteDeadline(time.Unix(1, 0))
	}
}

// linkError turns a socket error on this link into the error callers see.
func (l *link) linkError(op string, err error) error {
	c := l.c
	if c.closed.Load() {
		return ErrClosed
	}
	var pe *PeerError
	if errors.As(err, &pe) {
		return err
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		stuck := l.stuck.Load()
		if op == "send" {
			stuck = l.wstuck.Load()
		}
		if stuck > 0 {
			err = &StuckError{Rank: l.peer, Op: op, Silent: time.Duration(stuck)}
		} else {
			err = fmt.Errorf("no message within %v", c.recvTO)
		}
	case errors.Is(err, errBadFrame):
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), isConnReset(err):
		err = fmt.Errorf("%w (%v)", ErrPeerClosed, err)
	}
	return &PeerError{Op: op, Peer: l.peer, Err: err}
}

// giveUp tells every other peer, once, that this party stops because of
// err on its link with peer, so their errors name the rank to blame.
func (c *tcpComm) giveUp(peer int, err error) {
	if c.closed.Load() || errors.Is(err, ErrClosed) {
		return
	}
	c.abort.Do(func() {
		blame, ok := Blame(err)
		if !ok {
			blame = peer
		}
		reason := strings.TrimPrefix(err.Error(), "comm: ")
		payload := abortMsg{Blame: blame, Reason: reason}.encode()
		c.aborted.Store(true)
		for r, l := range c.peers {
			if l != nil && r != peer {
				l.queueCtrl(frameAbort, payload)
			}
		}
	})
}

// readHeader reads the next data frame header, passing over heartbeats;
// the caller holds l.rmu.
func (l *link) readHeader() (int64, error) {
	if l.rerr != nil {
		return 0, l.rerr
	}
	if l.c.recvTO > 0 {
		l.conn.SetReadDeadline(time.Now().Add(l.c.recvTO))
	}
	for {
		if _, err := io.ReadFull(l.br, l.hdr[:]); err != nil {
			return 0, l.fail(err)
		}
		n, kind, err := frameHeader(l.hdr[:], l.c.maxMsg)
		switch {
		case err != nil:
			return 0, l.fail(err)
		case kind == frameData:
			return n, nil
		case kind == frameAbort:
			p := make([]byte, n+framePad(n))
			if _, err := io.ReadFull(l.br, p); err != nil {
				return 0, l.fail(err)
			}
			a, err := decodeAbort(p[:n])
			if err != nil {
				return 0, l.fail(err)
			}
			return 0, l.fail(&AbortError{From: l.peer, Blame: a.Blame, Reason: a.Reason})
		}
		// A heartbeat: the peer is alive; read on.
	}
}

// fail records a read failure; the stream cannot be trusted afterwards.
// The other peers hear of it.
func (l *link) fail(err error) error {
	l.rerr = l.linkError("recv", err)
	l.c.giveUp(l.peer, l.rerr)
	return l.rerr
}

func (c *tcpComm) Recv(from int) ([]byte, error) {
	l, err := c.link(from)
	if err != nil {
		return nil, err
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.waitSeq.Add(1)
	defer l.waitSeq.Add(1)
	n, err := l.readHeader()
	if err != nil {
		return nil, err
	}
	m := make([]byte, n)
	if _, err := io.ReadFull(l.br, m); err != nil {
		return nil, l.fail(err)
	}
	if err := l.skipPad(n); err != nil {
		return nil, err
	}
	c.stats.Received(int(n))
	return m, nil
}

// RecvInto implements IntoReceiver.
func (c *tcpComm) RecvInto(from int, dst []byte) error {
	l, err := c.link(from)
	if err != nil {
		return err
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.waitSeq.Add(1)
	defer l.waitSeq.Add(1)
	n, err := l.readHeader()
	if err != nil {
		return err
	}
	if n != int64(len(dst)) {
		if _, err := io.CopyN(io.Discard, l.br, n+framePad(n)); err != nil {
			return l.fail(err)
		}
		c.stats.Received(int(n))
		return &PeerError{Op: "recv", Peer: from,
			Err: fmt.Errorf("message of %d bytes, expected %d", n, len(dst))}
	}
	if _, err := io.ReadFull(l.br, dst); err != nil {
		return l.fail(err)
	}
	if err := l.skipPad(n); err != nil {
		return err
	}
	c.stats.Received(int(n))
	return nil
}

// skipPad consumes the padding after a payload of n bytes; the caller
// holds l.rmu.
func (l *link) skipPad(n int64) error {
	if pad := int(framePad(n)); pad > 0 {
		if _, err := l.br.Discard(pad); err != nil {
			return l.fail(err)
		}
	}
	return nil
}

// Close stops accepting work, unblocks pending receives at once, gives the
// writers a moment to deliver what was already queued (so a party's last
// message reaches its peer), and then closes every connection.
func (c *tcpComm) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.stop)
		for _, l := range c.peers {
			if l == nil {
				continue
			}
			l.conn.SetReadDeadline(time.Unix(1, 0))
			l.mu.Lock()
			l.closing = true
			l.mu.Unlock()
			l.work.Broadcast()
		}
		drained := make(chan struct{})
		go func() { c.wg.Wait(); close(drained) }()
		select {
		case <-drained:
			if c.aborted.Load() {
				c.drainPeers()
			}
		case <-time.After(closeLinger):
		}
		for _, l := range c.peers {
			if l != nil {
				l.conn.Close()
			}
		}
		<-drained
		for _, l := range c.peers {
			if l != nil {
				l.mu.Lock()
				if l.werr == nil {
					l.werr = ErrClosed
				}
				l.done.Broadcast()
				l.mu.Unlock()
			}
		}
	})
	return nil
}

// abortDrain bounds how long a Comm that gave up keeps reading what its
// peers still send after its abort went out.
const abortDrain = time.Second

// drainPeers ends the links of a Comm that gave up without resetting
// them: it sends its end of each stream (after the abort frames), then
// reads and discards what the peers still send until they close or
// abortDrain passes. Closing a socket with unread data would send a
// reset, and a peer busy sending would then fail on that reset, losing
// the abort that says who was to blame.
func (c *tcpComm) drainPeers() {
	var wg sync.WaitGroup
	for _, l := range c.peers {
		if l == nil {
			continue
		}
		if t, ok := l.conn.(*tls.Conn); ok {
			t.CloseWrite()
		}
		if l.tcp != nil {
			l.tcp.CloseWrite()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.conn.SetReadDeadline(time.Now().Add(abortDrain))
			io.Copy(io.Discard, l.m)
		}()
	}
	wg.Wait()
}

// noInline disables inline sends; tests and benchmarks set it to compare.
var noInline bool
