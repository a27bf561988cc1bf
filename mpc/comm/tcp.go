package comm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
	rank   int
	world  worldSpec
	stats  *Stats
	peers  []*link // by rank; nil for self
	maxMsg int64
	recvTO time.Duration
	closed atomic.Bool
	once   sync.Once
	wg     sync.WaitGroup // writer goroutines
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
	c    *tcpComm
	peer int
	conn net.Conn
	raw  syscall.RawConn // for non-blocking inline writes; nil when unavailable (TLS)

	mu      sync.Mutex
	work    sync.Cond // writer: something to write, link idle, or closing
	done    sync.Cond // Flush: progress
	queue   [][]byte
	spare   [][]byte
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

// inlineMax is the largest message Send writes itself: copying it next to
// its header costs less than a goroutine switch, and the kernel buffer
// nearly always takes it whole.
const inlineMax = 16 << 10

// newTCPComm wraps established, hello-checked connections (conns[r] to rank
// r; br[r] the reader already used during setup, or nil).
func newTCPComm(rank int, w worldSpec, conns []net.Conn, brs []*bufio.Reader, maxMsg int64, recvTO time.Duration) *tcpComm {
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessage
	}
	c := &tcpComm{rank: rank, world: w, stats: NewStats(), peers: make([]*link, len(conns)), maxMsg: maxMsg, recvTO: recvTO}
	for r, conn := range conns {
		if conn == nil {
			continue
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		l := &link{c: c, peer: r, conn: conn, raw: inlineConn(conn)}
		l.work.L, l.done.L = &l.mu, &l.mu
		if brs != nil && brs[r] != nil {
			l.br = brs[r]
		} else {
			l.br = bufio.NewReaderSize(conn, readBufSize)
		}
		c.peers[r] = l
		c.wg.Add(1)
		go l.writeLoop()
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
		l.queue = append(l.queue, b)
		l.mu.Unlock()
		l.work.Signal()
	}
	c.stats.Sent(len(b))
	return nil
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
	l.mu.Lock()
	switch {
	case err != nil:
		l.werr = l.c.linkError("send", l.peer, err)
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

		if rest != nil {
			bw.Write(rest) // errors are sticky in bw and surface at Flush
		}
		var err error
		for i, m := range batch {
			putFrameHeader(hdr[:], len(m))
			pad := zeroPad[:framePad(int64(len(m)))]
			if len(m) >= directWrite && l.raw != nil && err == nil {
				// A large message goes out with its header in one writev
				// straight from the caller's memory: through bw, the part
				// that fits after the header would be copied first.
				if err = bw.Flush(); err == nil {
					bufs := net.Buffers{hdr[:], m, pad}
					_, err = bufs.WriteTo(l.conn)
				}
			} else {
				bw.Write(hdr[:])
				bw.Write(m)
				bw.Write(pad)
			}
			batch[i] = nil
		}
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}

		l.mu.Lock()
		l.busy = false
		l.spare = batch[:0]
		l.written += uint64(len(batch))
		if rest != nil {
			l.written++
		}
		if err != nil {
			l.werr = l.c.linkError("send", l.peer, err)
			l.written = l.queued // nothing more will be written
			l.queue = nil
		}
		l.done.Broadcast()
		l.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// linkError turns a socket error into the error callers see.
func (c *tcpComm) linkError(op string, peer int, err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	var pe *PeerError
	if errors.As(err, &pe) {
		return err
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("no message within %v", c.recvTO)
	case errors.Is(err, errBadFrame):
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), isConnReset(err):
		err = fmt.Errorf("%w (%v)", ErrPeerClosed, err)
	}
	return &PeerError{Op: op, Peer: peer, Err: err}
}

// readHeader reads the next frame header; the caller holds l.rmu.
func (l *link) readHeader() (int64, error) {
	if l.rerr != nil {
		return 0, l.rerr
	}
	if l.c.recvTO > 0 {
		l.conn.SetReadDeadline(time.Now().Add(l.c.recvTO))
	}
	if _, err := io.ReadFull(l.br, l.hdr[:]); err != nil {
		return 0, l.fail(err)
	}
	n, err := frameLen(l.hdr[:], l.c.maxMsg)
	if err != nil {
		return 0, l.fail(err)
	}
	return n, nil
}

// fail records a read failure; the stream cannot be trusted afterwards.
func (l *link) fail(err error) error {
	l.rerr = l.c.linkError("recv", l.peer, err)
	return l.rerr
}

func (c *tcpComm) Recv(from int) ([]byte, error) {
	l, err := c.link(from)
	if err != nil {
		return nil, err
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
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

// noInline disables inline sends; tests and benchmarks set it to compare.
var noInline bool
