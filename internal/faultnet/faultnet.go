// Package faultnet forwards TCP connections the way a poor or broken
// network would: each byte arrives a set delay after it was sent, and a
// partition stops bytes in both directions without closing anything, as a
// cut cable does (senders' buffers fill, nobody is told). Multi-host tests
// put it between workers, where tc netem is not available.
package faultnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Forwarder accepts connections on one or more listeners and forwards
// each to its target.
type Forwarder struct {
	mu     sync.Mutex
	delay  time.Duration
	cut    bool
	healed chan struct{} // closed when a partition ends
	lns    []net.Listener
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

// chunkSize is the most one read forwards at once; maxInFlight bounds the
// chunks a direction holds while they wait out the delay (32 MiB).
const (
	chunkSize   = 32 << 10
	maxInFlight = 1024
)

// New makes a forwarder with no listeners yet.
func New() *Forwarder {
	h := make(chan struct{})
	close(h)
	return &Forwarder{healed: h, conns: map[net.Conn]bool{}}
}

// Forward listens on listen (host:port) and forwards every connection to
// target (host:port). It returns the bound address.
func (f *Forwarder) Forward(listen, target string) (string, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("faultnet: listen on %s: %w", listen, err)
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		ln.Close()
		return "", errors.New("faultnet: forwarder closed")
	}
	f.lns = append(f.lns, ln)
	f.wg.Add(1)
	f.mu.Unlock()
	go f.accept(ln, target)
	return ln.Addr().String(), nil
}

// ForwardPorts forwards every port lo..hi of listenHost to the same port
// of targetHost: a worker's range of party ports, seen through this
// forwarder.
func (f *Forwarder) ForwardPorts(listenHost string, lo, hi int, targetHost string) error {
	for p := lo; p <= hi; p++ {
		port := strconv.Itoa(p)
		if _, err := f.Forward(net.JoinHostPort(listenHost, port), net.JoinHostPort(targetHost, port)); err != nil {
			return err
		}
	}
	return nil
}

// SetDelay sets the one-way delay of every byte forwarded from now on.
func (f *Forwarder) SetDelay(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

// Partition stops (true) or resumes (false) the flow of bytes on every
// connection, existing and new, in both directions. Nothing is closed or
// lost: bytes wait, as on a cable that is pulled and plugged back.
func (f *Forwarder) Partition(cut bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cut == f.cut {
		return
	}
	f.cut = cut
	if cut {
		f.healed = make(chan struct{})
	} else {
		close(f.healed)
	}
}

// gate returns the current delay, waiting while partitioned.
func (f *Forwarder) gate() (time.Duration, bool) {
	for {
		f.mu.Lock()
		d, h, closed := f.delay, f.healed, f.closed
		f.mu.Unlock()
		if closed {
			return 0, false
		}
		select {
		case <-h:
			return d, true
		case <-time.After(50 * time.Millisecond): // notice Close
		}
	}
}

// Close stops listening and cuts every forwarded connection.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	for _, ln := range f.lns {
		ln.Close()
	}
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

func (f *Forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return false
	}
	f.conns[c] = true
	return true
}

func (f *Forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *Forwarder) accept(ln net.Listener, target string) {
	defer f.wg.Done()
	for {
		in, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !f.track(in) {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(in)
			if _, ok := f.gate(); !ok {
				return
			}
			out, err := net.DialTimeout("tcp", target, 10*time.Second)
			if err != nil {
				return
			}
			if !f.track(out) {
				return
			}
			defer f.untrack(out)
			// A direction that ends in an error ends the connection;
			// one that ends cleanly (EOF) lets the other go on.
			ends := make(chan bool, 2)
			go func() { ends <- f.pipe(out, in) }()
			go func() { ends <- f.pipe(in, out) }()
			for range 2 {
				if clean := <-ends; !clean {
					in.Close()
					out.Close()
				}
			}
		}()
	}
}

// chunk is bytes read at a time, due for writing at due.
type chunk struct {
	b   []byte
	due time.Time
}

// pipe forwards src to dst: a reader stamps each chunk with its due
// time, a writer sends it then. It reports whether src ended cleanly
// (EOF, passed on as a half close) rather than by an error.
func (f *Forwarder) pipe(dst, src net.Conn) (clean bool) {
	q := make(chan chunk, maxInFlight)
	done := make(chan struct{})
	wok := true
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			// A partition also holds what was already read.
			if _, ok := f.gate(); !ok {
				wok = false
				return
			}
			if _, err := dst.Write(c.b); err != nil {
				wok = false
				return
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	defer func() {
		close(q)
		<-done
		clean = clean && wok
	}()
	for {
		if _, ok := f.gate(); !ok {
			return false
		}
		b := make([]byte, chunkSize)
		n, err := src.Read(b)
		if n > 0 {
			f.mu.Lock()
			due := time.Now().Add(f.delay)
			f.mu.Unlock()
			select {
			case q <- chunk{b: b[:n], due: due}:
			case <-done:
				return false
			}
		}
		if err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}
