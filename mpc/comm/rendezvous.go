package comm

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Rendezvous is rank 0's listening socket, bound before any party dials so
// that port 0 can be used and the chosen address reported to the others.
type Rendezvous struct {
	ln        net.Listener
	advertise string // host others dial; "" for the bound one
	once      sync.Once
}

// NewRendezvous listens on addr (host:port; port 0 picks a free one).
func NewRendezvous(addr string) (*Rendezvous, error) { return ListenRendezvous(addr, "") }

// ListenRendezvous listens on listen (host:port; an empty host or 0.0.0.0
// listens on every interface, port 0 picks a free port) and reports
// advertise with the bound port as its address: the host other parties
// reach this one by, which behind NAT or in a container differs from any
// local address. An empty advertise reports the bound address.
func ListenRendezvous(listen, advertise string) (*Rendezvous, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("comm: rendezvous listen on %s: %w", listen, err)
	}
	return &Rendezvous{ln: ln, advertise: advertise}, nil
}

// RendezvousOn makes a rendezvous of a listener already bound (by
// ListenRange, say), reporting advertise with its port as its address
// (the bound address when advertise is empty).
func RendezvousOn(ln net.Listener, advertise string) *Rendezvous {
	return &Rendezvous{ln: ln, advertise: advertise}
}

// LocalRendezvous listens on a free loopback port: the master address for
// tests, benchmarks and local multi-process runs.
func LocalRendezvous() (*Rendezvous, error) { return NewRendezvous("127.0.0.1:0") }

// RendezvousFromFile adopts a listening socket inherited from a parent
// process (see Rendezvous.File and LocalJob.Prepare).
func RendezvousFromFile(f *os.File) (*Rendezvous, error) {
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("comm: inherited rendezvous socket: %w", err)
	}
	f.Close()
	return &Rendezvous{ln: ln}, nil
}

// Addr is the address to pass to the parties as MasterAddr: the
// advertised host (or the bound one) and the bound port.
func (r *Rendezvous) Addr() string {
	a := r.ln.Addr().String()
	if r.advertise == "" {
		return a
	}
	_, port, _ := net.SplitHostPort(a)
	return net.JoinHostPort(r.advertise, port)
}

// File returns a duplicate of the listening socket, to hand to a child
// process that will run rank 0 (exec.Cmd.ExtraFiles).
func (r *Rendezvous) File() (*os.File, error) {
	tl, ok := r.ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("comm: rendezvous listener %T has no file", r.ln)
	}
	return tl.File()
}

// Close stops listening. Dial closes the rendezvous it was given.
func (r *Rendezvous) Close() error {
	var err error
	r.once.Do(func() { err = r.ln.Close() })
	return err
}

// Connections that have not yet proved they belong to the job.
//
// Every party accepts connections while the mesh forms: rank 0 at the
// rendezvous, higher ranks on their mesh listener. Until a connection has
// sent a valid hello it is a stranger, and strangers are bounded: each has
// DefaultHelloTimeout (Config.HelloTimeout) to finish the TLS handshake
// and say hello in one small frame (maxHello bytes), and at most
// MaxPending are held at once; past that, the oldest stranger of the
// address holding the most is dropped. Legitimate parties finish in
// milliseconds and retry if dropped, so a flood of idle or garbage
// connections delays a job by little and never ends it.

// MaxPending bounds the connections one party holds before they said a
// valid hello.
const MaxPending = 64

// DefaultHelloTimeout is Config.HelloTimeout's default.
const DefaultHelloTimeout = 3 * time.Second

// FilesNeeded is the number of file descriptors a party's mesh may hold at
// once in a world of the given number of endpoints (TTP included): a link
// per peer, its listeners, the strangers it may be holding and the dials
// in flight. A party process's descriptor limit must leave this much room
// beyond its other needs.
func FilesNeeded(parties int) int { return MaxPending + 2*parties + 4 }

// strangers tracks pending connections by remote host.
type strangers struct {
	mu     sync.Mutex
	max    int
	n      int
	byHost map[string][]*stranger
}

type stranger struct {
	conn    net.Conn
	host    string
	evicted bool
}

func newStrangers(max int) *strangers {
	return &strangers{max: max, byHost: map[string][]*stranger{}}
}

// add registers c, dropping the oldest stranger of the busiest host when
// full.
func (s *strangers) add(c net.Conn) *stranger {
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	st := &stranger{conn: c, host: host}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.n >= s.max {
		s.evictLocked()
	}
	s.byHost[host] = append(s.byHost[host], st)
	s.n++
	return st
}

// evict drops one stranger, if any (to free a descriptor).
func (s *strangers) evict() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 {
		s.evictLocked()
	}
}

func (s *strangers) evictLocked() {
	var busiest string
	for h, l := range s.byHost {
		if len(l) > len(s.byHost[busiest]) {
			busiest = h
		}
	}
	l := s.byHost[busiest]
	st := l[0]
	s.removeLocked(st)
	st.evicted = true
	st.conn.Close()
}

// done forgets st (its hello was read, or it failed); it reports whether
// st had been evicted.
func (s *strangers) done(st *stranger) (evicted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !st.evicted {
		s.removeLocked(st)
	}
	return st.evicted
}

func (s *strangers) removeLocked(st *stranger) {
	l := s.byHost[st.host]
	for i, x := range l {
		if x == st {
			l = append(l[:i], l[i+1:]...)
			s.n--
			break
		}
	}
	if len(l) == 0 {
		delete(s.byHost, st.host)
	} else {
		s.byHost[st.host] = l
	}
}

// arrival is an accepted connection whose hello was read and checked.
type arrival struct {
	pc     *peerConn
	hello  ctrlMsg
	remote string
	err    error
}

// accept accepts connections on ln until it is closed or setup ends, and
// delivers on out each one whose hello proves it is rank lo..hi-1 of this
// job, addressed to this party (and, as refusals, the others). One error
// never stops it: out of descriptors, it drops a stranger and goes on.
func (s *setup) accept(ln net.Listener, lo, hi int, out chan<- arrival) {
	pend := newStrangers(MaxPending)
	backoff := time.Duration(0)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			pend.evict()
			backoff = min(max(2*backoff, 5*time.Millisecond), 500*time.Millisecond)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		st := pend.add(c)
		go func() {
			a := s.greet(c, lo, hi)
			if pend.done(st) {
				// Dropped to make room: nothing to report.
				if a.pc != nil {
					a.pc.conn.Close()
				}
				return
			}
			select {
			case out <- a:
			case <-s.ctx.Done():
				if a.pc != nil {
					a.pc.conn.Close()
				}
			}
		}()
	}
}

// greet runs the incoming side of a link: TLS handshake, hello, checks.
func (s *setup) greet(c net.Conn, lo, hi int) arrival {
	a := arrival{remote: c.RemoteAddr().String()}
	noDelay(c)
	c.SetDeadline(earliest(time.Now().Add(s.helloTO), s.deadline))
	pc := newPeerConn(c)
	conn, err := s.auth.secure(s.ctx, pc.m, true)
	if err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil {
			// A plain peer: tell it in its own terms.
			err = fmt.Errorf("not a TLS client: this job's links are authenticated (%v)", s.auth.mode)
			reject(rh.Conn, fmt.Sprintf("rank %d refused the link: %v", s.cfg.Rank, err))
		}
		c.Close()
		a.err = err
		return a
	}
	pc.conn = conn
	pc.br = bufio.NewReaderSize(conn, readBufSize)
	if s.auth.mode == authPlain {
		if b, _ := pc.br.Peek(3); len(b) == 3 && b[0] == 0x16 && b[1] == 0x03 {
			// The client cannot read our answer, but it fails at once
			// instead of retrying.
			a.err = errors.New("a TLS client reached a job of plain links (configure every party alike)")
			reject(conn, a.err.Error())
			return a
		}
	}
	if a.hello, err = readCtrlLimit(pc.br, maxHello); err != nil {
		if errors.Is(err, errBadFrame) {
			reject(conn, fmt.Sprintf("rank %d refused the link: %v", s.cfg.Rank, err))
		} else {
			conn.Close()
		}
		a.err = err
		return a
	}
	err = s.w.checkHello(a.hello, s.cfg.Rank, lo, hi)
	if err == nil {
		err = s.auth.verify(conn, roleDialer, a.hello.From, s.cfg.Rank, a.hello.Proof)
	}
	if err == nil && a.hello.Addr != "" {
		if _, _, e := net.SplitHostPort(a.hello.Addr); e != nil {
			err = fmt.Errorf("rank %d registered a bad address %q: %v", a.hello.From, a.hello.Addr, e)
		}
	}
	if err != nil {
		reject(conn, fmt.Sprintf("rank %d refused the link: %v", s.cfg.Rank, err))
		a.err = err
		return a
	}
	a.pc = pc
	return a
}

func earliest(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

// reject tells a refused peer why, then hangs up.
func reject(c net.Conn, reason string) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	m := ctrlMsg{Kind: kindReject, Reason: reason}
	c.Write(m.encode())
	c.Close()
}

// refusals keeps the first few reasons links were refused, for the error
// that ends a failed setup: each distinct reason once, with the first
// address that gave it and how many more did.
type refusals struct {
	notes []refusal
	more  int // refusals for reasons beyond the first few
}

type refusal struct {
	remote, reason string
	times          int
}

const maxRefusalNotes = 6

func (r *refusals) add(remote string, err error) {
	reason := err.Error()
	for i := range r.notes {
		if r.notes[i].reason == reason {
			r.notes[i].times++
			return
		}
	}
	if len(r.notes) < maxRefusalNotes {
		r.notes = append(r.notes, refusal{remote, reason, 1})
	} else {
		r.more++
	}
}

func (r *refusals) String() string {
	if len(r.notes) == 0 {
		return ""
	}
	s := make([]string, len(r.notes))
	for i, n := range r.notes {
		s[i] = n.remote + ": " + n.reason
		if n.times > 1 {
			s[i] += fmt.Sprintf(" (%d times)", n.times)
		}
	}
	out := "; refused: " + strings.Join(s, "; ")
	if r.more > 0 {
		out += fmt.Sprintf("; and %d more", r.more)
	}
	return out
}
