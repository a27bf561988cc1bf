package comm

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Config says how one party joins a TCP mesh. Every party of a job passes
// the same Size, MasterAddr, TTP and JobID, and its own Rank.
type Config struct {
	// Rank is this party's rank: 0..Size-1, or Size for the trusted third
	// party. Rank 0 hosts the rendezvous.
	Rank int
	// Size is the number of computing parties (the TTP not included).
	Size int
	// MasterAddr is host:port of rank 0's rendezvous listener. Rank 0
	// listens there unless Rendezvous is set; the others retry dialing it
	// until it answers or the timeout passes, so start order does not matter.
	MasterAddr string
	// TTP says a trusted third party joins as rank Size.
	TTP bool
	// TLS, when set, makes every link (rendezvous included) TLS 1.3 with
	// mutual authentication: the config must hold this party's certificate,
	// and RootCAs to verify peers (also used for clients when ClientCAs is
	// nil). A dialed peer is verified against the host of its address (the
	// master's host, or the IP a party registered), so certificates need
	// those IP or DNS names, unless ServerName is set, which every party's
	// certificate must then carry. Certificates authenticate membership;
	// ranks come from the hello.
	TLS *tls.Config
	// JobID names the computation; the rendezvous and every link refuse a
	// party of another job.
	JobID string
	// Timeout bounds rendezvous and mesh setup (DefaultTimeout when zero).
	Timeout time.Duration
	// Rendezvous is rank 0's already-bound listener (from NewRendezvous),
	// for callers that must know the port before the parties dial. Dial
	// takes ownership and closes it once the mesh is up.
	Rendezvous *Rendezvous
	// MaxMessage bounds one received message in bytes (DefaultMaxMessage
	// when zero); a peer announcing a larger frame is an error.
	MaxMessage int64
	// RecvTimeout, when positive, fails a Recv that waits longer for its
	// message (a peer that is alive but stuck); zero waits until the peer
	// or the Comm closes.
	RecvTimeout time.Duration
}

// DefaultTimeout bounds mesh setup when Config.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Rendezvous is rank 0's listening socket, bound before any party dials so
// that port 0 can be used and the chosen address reported to the others.
type Rendezvous struct {
	ln   net.Listener
	once sync.Once
}

// NewRendezvous listens on addr (host:port; port 0 picks a free one).
func NewRendezvous(addr string) (*Rendezvous, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("comm: rendezvous listen on %s: %w", addr, err)
	}
	return &Rendezvous{ln: ln}, nil
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

// Addr is the bound host:port, to pass to the parties as MasterAddr.
func (r *Rendezvous) Addr() string { return r.ln.Addr().String() }

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

// Dial joins the mesh described by cfg and returns this party's Comm once
// it has a checked link to every other party. Setup follows
// torch.distributed's env:// scheme: every party registers with rank 0 at
// MasterAddr, giving the address of its own listener (an ephemeral port on
// the interface that reaches the master); rank 0 sends everyone the table;
// then each party dials every higher rank and accepts the lower ones. The
// registration link to rank 0 stays up as the data link with rank 0. Every
// link opens with a hello naming job, world and ranks, and a party of
// another job, a bad rank or a malformed hello is refused with a reason
// sent back. Setup fails after cfg.Timeout (or when ctx ends) with an error
// listing the ranks that never showed up.
func Dial(ctx context.Context, cfg Config) (Comm, error) {
	w := worldSpec{Size: cfg.Size, TTP: cfg.TTP, Job: cfg.JobID}
	switch {
	case cfg.Size < 1 || w.parties() > maxParties:
		return nil, fmt.Errorf("comm: world size %d out of range [1,%d]", cfg.Size, maxParties-1)
	case cfg.Rank < 0 || cfg.Rank >= w.parties():
		return nil, fmt.Errorf("comm: rank %d out of range for %v", cfg.Rank, w)
	case len(cfg.JobID) > maxJobID:
		return nil, fmt.Errorf("comm: job id of %d bytes exceeds %d", len(cfg.JobID), maxJobID)
	case cfg.MasterAddr == "" && !(cfg.Rank == 0 && cfg.Rendezvous != nil):
		return nil, errors.New("comm: no master address")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := &setup{cfg: cfg, w: w, timeout: timeout, ctx: ctx}
	s.deadline, _ = ctx.Deadline()
	var err error
	if cfg.Rank == 0 {
		err = s.master()
	} else {
		err = s.join()
	}
	if err != nil {
		s.closeAll()
		return nil, err
	}
	for _, c := range s.conns {
		if c != nil {
			c.SetDeadline(time.Time{})
		}
	}
	return newTCPComm(cfg.Rank, w, s.conns, s.brs, cfg.MaxMessage, cfg.RecvTimeout), nil
}

// setup is one party's state while the mesh forms.
type setup struct {
	cfg      Config
	w        worldSpec
	timeout  time.Duration
	ctx      context.Context
	deadline time.Time
	conns    []net.Conn // by rank
	brs      []*bufio.Reader
	refused  []string // why links were refused, for the timeout error
}

// arrival is an accepted connection whose hello has been read.
type arrival struct {
	conn   net.Conn
	br     *bufio.Reader
	hello  ctrlMsg
	remote string
	err    error
}

func (s *setup) closeAll() {
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
}

func (s *setup) me() string {
	if s.cfg.Rank == s.cfg.Size {
		return fmt.Sprintf("comm: rank %d (TTP)", s.cfg.Rank)
	}
	return fmt.Sprintf("comm: rank %d", s.cfg.Rank)
}

func (s *setup) why() string {
	if errors.Is(s.ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %v", s.timeout)
	}
	return "was canceled (" + s.ctx.Err().Error() + ")"
}

func (s *setup) refusedNote() string {
	if len(s.refused) == 0 {
		return ""
	}
	return "; refused: " + strings.Join(s.refused, "; ")
}

// missing lists the ranks without a link, self excluded.
func (s *setup) missing() []int {
	var m []int
	for r, c := range s.conns {
		if c == nil && r != s.cfg.Rank {
			m = append(m, r)
		}
	}
	return m
}

func noDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}

// secure wraps a fresh connection in TLS when configured.
func (s *setup) secure(c net.Conn, server bool, addr string) (net.Conn, error) {
	if s.cfg.TLS == nil {
		return c, nil
	}
	tc := s.cfg.TLS.Clone()
	tc.MinVersion = tls.VersionTLS13
	var t *tls.Conn
	if server {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		if tc.ClientCAs == nil {
			tc.ClientCAs = tc.RootCAs
		}
		t = tls.Server(c, tc)
	} else {
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			tc.ServerName = host
		}
		t = tls.Client(c, tc)
	}
	if err := t.HandshakeContext(s.ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return t, nil
}

// acceptHellos accepts connections on ln until it is closed, reads each
// one's hello in its own goroutine (so a silent client delays nobody) and
// delivers it on out.
func (s *setup) acceptHellos(ln net.Listener, out chan<- arrival) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			a := arrival{remote: c.RemoteAddr().String()}
			noDelay(c)
			c.SetDeadline(s.deadline)
			a.conn, a.err = s.secure(c, true, "")
			if a.err == nil {
				a.br = bufio.NewReaderSize(a.conn, readBufSize)
				a.hello, a.err = readCtrl(a.br)
			}
			if a.err != nil {
				c.Close()
			}
			select {
			case out <- a:
			case <-s.ctx.Done():
				c.Close()
			}
		}()
	}
}

// reject tells a refused peer why, then hangs up.
func reject(c net.Conn, reason string) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	m := ctrlMsg{Kind: kindReject, Reason: reason}
	c.Write(m.encode())
	c.Close()
}

// admit checks an arrival for a link to this party from ranks [lo, hi);
// on success it records the link, otherwise it refuses the peer.
func (s *setup) admit(a arrival, lo, hi int) (ctrlMsg, bool) {
	if a.err != nil {
		s.refused = append(s.refused, fmt.Sprintf("%s: %v", a.remote, a.err))
		return a.hello, false
	}
	err := s.w.checkHello(a.hello, s.cfg.Rank, lo, hi)
	if err == nil && s.conns[a.hello.From] != nil {
		err = fmt.Errorf("rank %d is already connected", a.hello.From)
	}
	if err != nil {
		s.refused = append(s.refused, fmt.Sprintf("%s: %v", a.remote, err))
		reject(a.conn, fmt.Sprintf("rank %d refused the link: %v", s.cfg.Rank, err))
		return a.hello, false
	}
	s.conns[a.hello.From], s.brs[a.hello.From] = a.conn, a.br
	return a.hello, true
}

// master runs rank 0's side of the rendezvous.
func (s *setup) master() error {
	p := s.w.parties()
	s.conns, s.brs = make([]net.Conn, p), make([]*bufio.Reader, p)
	rv := s.cfg.Rendezvous
	if rv == nil {
		var err error
		if rv, err = NewRendezvous(s.cfg.MasterAddr); err != nil {
			return err
		}
	}
	defer rv.Close()
	arrivals := make(chan arrival)
	go s.acceptHellos(rv.ln, arrivals)
	addrs := make([]string, p)
	for len(s.missing()) > 0 {
		select {
		case a := <-arrivals:
			if h, ok := s.admit(a, 1, p); ok {
				addrs[h.From] = h.Addr
			}
		case <-s.ctx.Done():
			what := fmt.Sprintf("ranks %s never showed up%s", rankList(s.missing(), s.cfg.Size), s.refusedNote())
			for _, c := range s.conns {
				if c != nil {
					reject(c, fmt.Sprintf("rank 0 %s: %s", s.why(), what))
				}
			}
			s.conns = nil
			return fmt.Errorf("%s: rendezvous at %s %s: %s", s.me(), rv.Addr(), s.why(), what)
		}
	}
	rv.Close()
	table := (&ctrlMsg{Kind: kindTable, Addrs: addrs}).encode()
	for r, c := range s.conns {
		if c == nil {
			continue
		}
		if _, err := c.Write(table); err != nil {
			return &PeerError{Op: "send", Peer: r, Err: fmt.Errorf("rendezvous table: %w", err)}
		}
	}
	return nil
}

// dialMaster connects to the rendezvous, retrying until rank 0 listens.
func (s *setup) dialMaster() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	var last error
	for {
		var d net.Dialer
		c, err := d.DialContext(s.ctx, "tcp", s.cfg.MasterAddr)
		if err == nil {
			return c, nil
		}
		last = err
		select {
		case <-s.ctx.Done():
			return nil, fmt.Errorf("%s: rendezvous at %s unreachable (%s): %v", s.me(), s.cfg.MasterAddr, s.why(), last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// join runs the side of a party other than rank 0: register, get the
// table, then link with every other party.
func (s *setup) join() error {
	me, p := s.cfg.Rank, s.w.parties()
	s.conns, s.brs = make([]net.Conn, p), make([]*bufio.Reader, p)
	raw, err := s.dialMaster()
	if err != nil {
		return err
	}
	noDelay(raw)
	raw.SetDeadline(s.deadline)
	conn, err := s.secure(raw, false, s.cfg.MasterAddr)
	if err != nil {
		raw.Close()
		return fmt.Errorf("%s: rendezvous at %s: %w", s.me(), s.cfg.MasterAddr, err)
	}
	// Ranks 1..me-1 will dial us: listen on the interface that reaches
	// the master, before registering, so the table only holds live
	// listeners.
	var ln net.Listener
	hello := ctrlMsg{Kind: kindHello, From: me, To: 0, Size: s.w.Size, TTP: s.w.TTP, Job: s.w.Job}
	if me >= 2 {
		host, _, _ := net.SplitHostPort(conn.LocalAddr().String())
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			conn.Close()
			return fmt.Errorf("%s: mesh listener: %w", s.me(), err)
		}
		defer ln.Close()
		hello.Addr = ln.Addr().String()
	}
	br := bufio.NewReaderSize(conn, readBufSize)
	if _, err := conn.Write(hello.encode()); err != nil {
		conn.Close()
		return fmt.Errorf("%s: register at %s: %w", s.me(), s.cfg.MasterAddr, err)
	}
	// Rank 0 times out at about the same moment and then says which ranks
	// never came: wait a little longer than our own deadline to hear it.
	conn.SetReadDeadline(s.deadline.Add(min(s.timeout/4, 2*time.Second)))
	table, err := readCtrl(br)
	switch {
	case err != nil && (s.ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)):
		err = fmt.Errorf("%s: rendezvous at %s did not complete (%s)", s.me(), s.cfg.MasterAddr, s.why())
	case err != nil:
		err = fmt.Errorf("%s: rendezvous at %s: %w", s.me(), s.cfg.MasterAddr, err)
	case table.Kind == kindReject:
		err = fmt.Errorf("%s: rendezvous at %s failed: %s", s.me(), s.cfg.MasterAddr, table.Reason)
	case table.Kind != kindTable || len(table.Addrs) != p:
		err = fmt.Errorf("%s: rendezvous at %s: expected a table of %d addresses, got %v of %d",
			s.me(), s.cfg.MasterAddr, p, table.Kind, len(table.Addrs))
	}
	if err != nil {
		conn.Close()
		return err
	}
	s.conns[0], s.brs[0] = conn, br
	if testHookTable != nil {
		testHookTable(me, table.Addrs)
	}

	arrivals := make(chan arrival)
	if ln != nil {
		go s.acceptHellos(ln, arrivals)
	}
	dialed := make(chan arrival, p)
	pending := 0 // dials not yet collected
	for q := me + 1; q < p; q++ {
		pending++
		go func() { dialed <- s.dialPeer(q, table.Addrs[q]) }()
	}
	defer func() {
		// On failure, links still being dialed are closed as they land
		// (ctx ends when Dial returns, so they land promptly).
		if pending > 0 && len(s.missing()) > 0 {
			go func(n int) {
				for range n {
					if a := <-dialed; a.conn != nil {
						a.conn.Close()
					}
				}
			}(pending)
		}
	}()
	for len(s.missing()) > 0 {
		select {
		case a := <-arrivals:
			if _, ok := s.admit(a, 1, me); ok {
				ok := ctrlMsg{Kind: kindOK}
				if _, err := a.conn.Write(ok.encode()); err != nil {
					return &PeerError{Op: "accept", Peer: a.hello.From, Err: err}
				}
			}
		case a := <-dialed:
			pending--
			if a.err != nil {
				return a.err
			}
			s.conns[a.hello.To], s.brs[a.hello.To] = a.conn, a.br
		case <-s.ctx.Done():
			return fmt.Errorf("%s: mesh %s: no link with ranks %s%s",
				s.me(), s.why(), rankList(s.missing(), s.cfg.Size), s.refusedNote())
		}
	}
	return nil
}

// testHookTable, when set by a test, sees each party's table before the
// mesh forms.
var testHookTable func(rank int, addrs []string)

// dialPeer opens the link from this party to the higher rank q.
func (s *setup) dialPeer(q int, addr string) arrival {
	me := s.cfg.Rank
	hello := ctrlMsg{Kind: kindHello, From: me, To: q, Size: s.w.Size, TTP: s.w.TTP, Job: s.w.Job}
	a := arrival{hello: hello, remote: addr}
	fail := func(err error) arrival {
		if a.conn != nil {
			a.conn.Close()
		}
		a.conn, a.err = nil, &PeerError{Op: "dial", Peer: q, Err: fmt.Errorf("%s: %w", addr, err)}
		return a
	}
	var d net.Dialer
	raw, err := d.DialContext(s.ctx, "tcp", addr)
	if err != nil {
		return fail(err)
	}
	noDelay(raw)
	raw.SetDeadline(s.deadline)
	if a.conn, err = s.secure(raw, false, addr); err != nil {
		raw.Close()
		return fail(err)
	}
	if _, err := a.conn.Write(hello.encode()); err != nil {
		return fail(err)
	}
	a.br = bufio.NewReaderSize(a.conn, readBufSize)
	resp, err := readCtrl(a.br)
	switch {
	case err != nil:
		return fail(err)
	case resp.Kind == kindReject:
		return fail(errors.New(resp.Reason))
	case resp.Kind != kindOK:
		return fail(fmt.Errorf("expected ok, got %v", resp.Kind))
	}
	return a
}
