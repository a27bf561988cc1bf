package comm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Config says how one party joins a TCP mesh. Every party of a job passes
// the same Size, MasterAddr, TTP, JobID and authentication mode, and its
// own Rank.
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
	// JobID names the computation; the rendezvous and every link refuse a
	// party of another job.
	JobID string

	// Identities pins every rank to a worker: Identities[r] is the
	// fingerprint ("sha256:" and 64 hex digits, see Fingerprint) of the
	// long-term certificate of the worker that runs rank r, the TTP's at
	// index Size. With it, every link is TLS 1.3 between party keys, and
	// a peer gets a rank's slot only with a Credential for that rank and
	// this job, signed by that worker, for the key it used in the
	// handshake. Key and Credential are then this party's own.
	Identities []string
	// Key is this party's ephemeral TLS key (NewPartyKey), used with
	// Identities.
	Key *PartyKey
	// Credential is this party's credential for Key (SignCredential, made
	// by its worker), used with Identities.
	Credential *Credential
	// Secret, used instead of Identities, authenticates every party by a
	// per-job secret (at least MinSecret random bytes) that the one
	// orchestrator of all parties handed each over an authenticated
	// channel: links are TLS 1.3 with keys made for this Dial, and each
	// end proves the secret bound to the TLS session. Without Identities
	// or Secret, links are plain TCP: only for parties on one host.
	Secret []byte

	// Advertise is the host the other parties reach this party's mesh
	// listener by (ranks 2 and up listen for lower ranks). When set, the
	// listener binds BindHost(Advertise) and the others dial Advertise;
	// when empty, it binds the address this party reaches rank 0 from,
	// and that is what the others dial.
	Advertise string
	// Ports is the range the mesh listener binds (any free port when
	// zero), for hosts whose firewall opens only those.
	Ports PortRange

	// Timeout bounds rendezvous and mesh setup (DefaultTimeout when zero).
	Timeout time.Duration
	// HelloTimeout bounds how long an incoming connection may take to
	// finish its TLS handshake and hello (DefaultHelloTimeout when zero).
	HelloTimeout time.Duration
	// ConnectTimeout bounds how long a party keeps trying to reach a peer
	// at the address the rendezvous gave (DefaultConnectTimeout when
	// zero); past it, setup fails naming the peer's rank and address.
	ConnectTimeout time.Duration
	// Rendezvous is rank 0's already-bound listener (from NewRendezvous),
	// for callers that must know the port before the parties dial. Dial
	// takes ownership and closes it once the mesh is up.
	Rendezvous *Rendezvous
	// MaxMessage bounds one received message in bytes (DefaultMaxMessage
	// when zero); a peer announcing a larger frame is an error.
	MaxMessage int64
	// RecvTimeout, when positive, fails a Recv that waits longer for its
	// message, even from a peer that is alive; zero waits as long as the
	// peer is alive (see PeerTimeout) or until the Comm closes.
	RecvTimeout time.Duration
	// PeerTimeout is how long a peer this party waits on may stay silent,
	// not even sending heartbeats, before it is reported stuck (frozen,
	// partitioned or stopped): DefaultPeerTimeout when zero, never when
	// negative.
	PeerTimeout time.Duration
}

// DefaultTimeout bounds mesh setup when Config.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// DefaultConnectTimeout is Config.ConnectTimeout's default.
const DefaultConnectTimeout = 5 * time.Second

// Dial joins the mesh described by cfg and returns this party's Comm once
// it has a checked link to every other party. Setup follows
// torch.distributed's env:// scheme: every party registers with rank 0 at
// MasterAddr, giving the address of its own listener; rank 0 sends
// everyone the table; then each party dials every higher rank and accepts
// the lower ones. The registration link to rank 0 stays up as the data
// link with rank 0. Every link opens (after the TLS handshake, unless
// plain) with a hello naming job, world and ranks and carrying the
// sender's proof of membership, answered by the acceptor's proof; a party
// of another job, a bad rank, a bad proof or a malformed hello is refused
// with a reason sent back, before it takes any rank's place. Setup fails
// after cfg.Timeout (or when ctx ends) with an error listing the ranks
// that never showed up, or as soon as a peer proves unreachable (naming
// its rank and address); the links already made then carry an abort that
// says so to the peers at the other end.
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
	auth, err := newLinkAuth(cfg, w.parties())
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := &setup{cfg: cfg, w: w, auth: auth, timeout: timeout, ctx: ctx,
		helloTO:   orDefault(cfg.HelloTimeout, DefaultHelloTimeout),
		connectTO: orDefault(cfg.ConnectTimeout, DefaultConnectTimeout),
		links:     make([]*peerConn, w.parties())}
	s.deadline, _ = ctx.Deadline()
	if cfg.Rank == 0 {
		err = s.master()
	} else {
		err = s.join()
	}
	if err != nil {
		s.abandon(err)
		return nil, err
	}
	for _, pc := range s.links {
		if pc != nil {
			pc.conn.SetDeadline(time.Time{})
		}
	}
	peerTO := cfg.PeerTimeout
	if peerTO == 0 {
		peerTO = DefaultPeerTimeout
	}
	return newTCPComm(cfg.Rank, w, s.links, linkOptions{maxMsg: cfg.MaxMessage, recvTO: cfg.RecvTimeout, peerTO: peerTO}), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// setup is one party's state while the mesh forms.
type setup struct {
	cfg       Config
	w         worldSpec
	auth      *linkAuth
	timeout   time.Duration
	helloTO   time.Duration
	connectTO time.Duration
	ctx       context.Context
	deadline  time.Time
	links     []*peerConn // by rank, once checked both ways
	refused   refusals    // why links were refused, for the timeout error
}

// abandon ends a failed setup. The parties at the other end of its links
// are still setting up too: rank 0 tells every party (they wait for the
// table or the go-ahead), another rank tells rank 0 (which waits for its
// ready), in a fail message naming err's culprit; then the links close.
func (s *setup) abandon(err error) {
	blame, ok := Blame(err)
	if !ok {
		blame = -1
	}
	fail := (&ctrlMsg{Kind: kindFail, Blame: blame, Reason: strings.TrimPrefix(err.Error(), "comm: ")}).encode()
	for r, pc := range s.links {
		if pc == nil {
			continue
		}
		if s.cfg.Rank == 0 || r == 0 {
			pc.conn.SetWriteDeadline(time.Now().Add(time.Second))
			pc.conn.Write(fail)
		}
		pc.conn.Close()
	}
}

// setupFailed is the error of a party whose setup rank 0 called off.
func (s *setup) setupFailed(m ctrlMsg) error {
	return fmt.Errorf("%s: setup failed: %w", s.me(), &AbortError{From: 0, Blame: m.Blame, Reason: m.Reason})
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

// missing lists the ranks without a link, self excluded.
func (s *setup) missing() []int {
	var m []int
	for r, c := range s.links {
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

// place records an authenticated arrival in its rank's slot. A second
// claimant of a taken slot is refused on plain links (anyone may claim a
// rank there); when links are authenticated it can only be the rank's own
// party reconnecting after its first attempt failed, and it replaces the
// old link.
func (s *setup) place(a arrival) bool {
	r := a.hello.From
	if old := s.links[r]; old != nil {
		if s.auth.mode == authPlain {
			err := fmt.Errorf("rank %d is already connected", r)
			s.refused.add(a.remote, err)
			reject(a.pc.conn, fmt.Sprintf("rank %d refused the link: %v", s.cfg.Rank, err))
			return false
		}
		old.conn.Close()
	}
	a.pc.conn.SetDeadline(s.deadline)
	s.links[r] = a.pc
	return true
}

// master runs rank 0's side of the rendezvous.
func (s *setup) master() error {
	p := s.w.parties()
	rv := s.cfg.Rendezvous
	if rv == nil {
		var err error
		if rv, err = NewRendezvous(s.cfg.MasterAddr); err != nil {
			return err
		}
	}
	defer rv.Close()
	arrivals := make(chan arrival)
	go s.accept(rv.ln, 1, p, arrivals)
	addrs := make([]string, p)
	for len(s.missing()) > 0 {
		select {
		case a := <-arrivals:
			if a.err != nil {
				s.refused.add(a.remote, a.err)
				continue
			}
			if s.place(a) {
				addrs[a.hello.From] = a.hello.Addr
			}
		case <-s.ctx.Done():
			what := fmt.Sprintf("ranks %s never showed up%s", rankList(s.missing(), s.cfg.Size), s.refused.String())
			for _, pc := range s.links {
				if pc != nil {
					reject(pc.conn, fmt.Sprintf("rank 0 %s: %s", s.why(), what))
				}
			}
			s.links = nil
			return fmt.Errorf("%s: rendezvous at %s %s: %s", s.me(), rv.Addr(), s.why(), what)
		}
	}
	rv.Close()
	for r, pc := range s.links {
		if pc == nil {
			continue
		}
		proof, err := s.auth.proof(pc.conn, roleAcceptor, 0, r)
		if err == nil {
			table := &ctrlMsg{Kind: kindTable, Addrs: addrs, Proof: proof}
			_, err = pc.conn.Write(table.encode())
		}
		if err != nil {
			return &PeerError{Op: "send", Peer: r, Err: fmt.Errorf("rendezvous table: %w", err)}
		}
	}
	return s.barrier()
}

// barrier is rank 0's last step of setup: every other party reports its
// links up (ready) or why it could not make them (fail); when all are
// ready, rank 0 tells them to go, so every party's Dial returns with the
// whole mesh up. A failure anywhere reaches every party at once, naming
// the rank to blame, instead of leaving some waiting for the timeout.
func (s *setup) barrier() error {
	type note struct {
		rank int
		m    ctrlMsg
		err  error
	}
	notes := make(chan note, len(s.links))
	waiting := map[int]bool{}
	for r, pc := range s.links {
		if pc == nil {
			continue
		}
		waiting[r] = true
		go func() {
			m, err := readCtrl(pc.br)
			notes <- note{r, m, err}
		}()
	}
	for len(waiting) > 0 {
		select {
		case n := <-notes:
			delete(waiting, n.rank)
			switch {
			case n.err != nil:
				return &PeerError{Op: "recv", Peer: n.rank, Err: fmt.Errorf("while the mesh formed: %w", n.err)}
			case n.m.Kind == kindFail:
				blame := n.m.Blame
				if blame < 0 {
					blame = n.rank
				}
				return fmt.Errorf("%s: %w", s.me(), &AbortError{From: n.rank, Blame: blame, Reason: n.m.Reason})
			case n.m.Kind != kindReady:
				return &PeerError{Op: "recv", Peer: n.rank, Err: fmt.Errorf("expected ready, got %v", n.m.Kind)}
			}
		case <-s.ctx.Done():
			var late []int
			for r := range waiting {
				late = append(late, r)
			}
			slices.Sort(late)
			return fmt.Errorf("%s: mesh %s: ranks %s did not get their links up", s.me(), s.why(), rankList(late, s.cfg.Size))
		}
	}
	goMsg := (&ctrlMsg{Kind: kindGo}).encode()
	for r, pc := range s.links {
		if pc == nil {
			continue
		}
		if _, err := pc.conn.Write(goMsg); err != nil {
			return &PeerError{Op: "send", Peer: r, Err: fmt.Errorf("go-ahead: %w", err)}
		}
	}
	return nil
}

// retryable says a link attempt failed in a way that a new attempt may
// cure: the other end hung up without a word (it dropped a stranger to
// make room, or was not listening yet).
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err) ||
		errors.Is(err, net.ErrClosed)
}

// sleep waits d or until setup ends; it reports whether setup goes on.
func (s *setup) sleep(d time.Duration) bool {
	select {
	case <-s.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
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
		if !s.sleep(backoff) {
			return nil, fmt.Errorf("%s: rank 0's rendezvous at %s unreachable (%s): %v", s.me(), s.cfg.MasterAddr, s.why(), last)
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// greeting runs the dialing side of a link on a fresh connection: TLS
// handshake, hello, and the peer's answer with its proof. The answer must
// be of kind want (a table from rank 0, ok from the others).
func (s *setup) greeting(raw net.Conn, to int, hello ctrlMsg, want ctrlKind) (*peerConn, ctrlMsg, error) {
	noDelay(raw)
	pc := newPeerConn(raw)
	conn, err := s.auth.secure(s.ctx, pc.m, false)
	if err != nil {
		raw.Close()
		return nil, ctrlMsg{}, err
	}
	pc.conn = conn
	fail := func(err error) (*peerConn, ctrlMsg, error) {
		conn.Close()
		return nil, ctrlMsg{}, err
	}
	if hello.Proof, err = s.auth.proof(conn, roleDialer, hello.From, to); err != nil {
		return fail(err)
	}
	if _, err := conn.Write(hello.encode()); err != nil {
		return fail(err)
	}
	pc.br = bufio.NewReaderSize(conn, readBufSize)
	limit := int64(maxHello)
	if want == kindTable {
		limit = maxControl
	}
	resp, err := readCtrlLimit(pc.br, limit)
	switch {
	case err != nil:
		return fail(err)
	case resp.Kind == kindReject:
		return fail(&refusedError{resp.Reason})
	case resp.Kind != want:
		return fail(fmt.Errorf("expected %v, got %v", want, resp.Kind))
	}
	if err := s.auth.verify(conn, roleAcceptor, to, hello.From, resp.Proof); err != nil {
		return fail(fmt.Errorf("rank %d failed to prove it belongs to the job: %v", to, err))
	}
	return pc, resp, nil
}

// refusedError is a peer's stated reason for refusing a link.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return e.reason }

// listen opens the mesh listener of a rank that lower ranks will dial,
// and returns the address to register.
func (s *setup) listen(master net.Conn) (net.Listener, string, error) {
	if s.cfg.Advertise != "" {
		ln, err := ListenRange(BindHost(s.cfg.Advertise), s.cfg.Ports)
		if err != nil {
			return nil, "", err
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		return ln, net.JoinHostPort(s.cfg.Advertise, port), nil
	}
	// The interface that reaches the master reaches the others too.
	host, _, _ := net.SplitHostPort(master.LocalAddr().String())
	ln, err := ListenRange(host, s.cfg.Ports)
	if err != nil {
		return nil, "", err
	}
	return ln, ln.Addr().String(), nil
}

// register joins the rendezvous: it says hello to rank 0 (with the mesh
// listener's address when this rank has one) and waits for the table,
// retrying while rank 0 hangs up without a word. It returns the table.
func (s *setup) register() (net.Listener, ctrlMsg, error) {
	me, p := s.cfg.Rank, s.w.parties()
	var ln net.Listener
	hello := ctrlMsg{Kind: kindHello, From: me, To: 0, Size: s.w.Size, TTP: s.w.TTP, Job: s.w.Job}
	backoff := 10 * time.Millisecond
	for {
		raw, err := s.dialMaster()
		if err != nil {
			return ln, ctrlMsg{}, err
		}
		// Rank 0 times out at about the same moment and then says which
		// ranks never came: wait a little longer than our own deadline to
		// hear it.
		raw.SetDeadline(s.deadline.Add(min(s.timeout/4, 2*time.Second)))
		if ln == nil && me >= 2 {
			// Ranks 1..me-1 will dial us: listen before registering, so
			// the table only holds live listeners.
			if ln, hello.Addr, err = s.listen(raw); err != nil {
				raw.Close()
				return nil, ctrlMsg{}, fmt.Errorf("%s: mesh listener: %w", s.me(), err)
			}
		}
		pc, table, err := s.greeting(raw, 0, hello, kindTable)
		if err == nil {
			if len(table.Addrs) != p {
				pc.conn.Close()
				return ln, table, fmt.Errorf("%s: rendezvous at %s: expected a table of %d addresses, got %d",
					s.me(), s.cfg.MasterAddr, p, len(table.Addrs))
			}
			s.links[0] = pc
			return ln, table, nil
		}
		var refused *refusedError
		switch {
		case errors.As(err, &refused):
			return ln, table, fmt.Errorf("%s: rendezvous at %s failed: %s", s.me(), s.cfg.MasterAddr, refused.reason)
		case s.ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
			return ln, table, fmt.Errorf("%s: rendezvous at %s did not complete (%s)", s.me(), s.cfg.MasterAddr, s.why())
		case !retryable(err):
			return ln, table, fmt.Errorf("%s: rendezvous at %s: %w", s.me(), s.cfg.MasterAddr, err)
		}
		if !s.sleep(backoff) {
			return ln, table, fmt.Errorf("%s: rendezvous at %s did not complete (%s): %v", s.me(), s.cfg.MasterAddr, s.why(), err)
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// join runs the side of a party other than rank 0: register, get the
// table, then link with every other party.
func (s *setup) join() error {
	me, p := s.cfg.Rank, s.w.parties()
	ln, table, err := s.register()
	if ln != nil {
		defer ln.Close()
	}
	if err != nil {
		return err
	}
	if testHookTable != nil {
		testHookTable(me, table.Addrs)
	}
	// Rank 0 speaks next when every party is ready, or to call the setup
	// off (a party failed): listen for that while the mesh forms.
	fromMaster := make(chan ctrlMsg, 1)
	go func() {
		m, err := readCtrl(s.links[0].br)
		if err != nil {
			m = ctrlMsg{Kind: kindFail, Blame: 0, Reason: fmt.Sprintf("rank 0 went away while the mesh formed: %v", err)}
		}
		fromMaster <- m
	}()

	arrivals := make(chan arrival)
	if ln != nil {
		go s.accept(ln, 1, me, arrivals)
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
					if a := <-dialed; a.pc != nil {
						a.pc.conn.Close()
					}
				}
			}(pending)
		}
	}()
	for len(s.missing()) > 0 {
		select {
		case a := <-arrivals:
			if a.err != nil {
				s.refused.add(a.remote, a.err)
				continue
			}
			if !s.place(a) {
				continue
			}
			proof, err := s.auth.proof(a.pc.conn, roleAcceptor, me, a.hello.From)
			if err == nil {
				ok := ctrlMsg{Kind: kindOK, Proof: proof}
				_, err = a.pc.conn.Write(ok.encode())
			}
			if err != nil {
				s.links[a.hello.From] = nil
				a.pc.conn.Close()
				return &PeerError{Op: "accept", Peer: a.hello.From, Err: err}
			}
		case a := <-dialed:
			pending--
			if a.err != nil {
				return a.err
			}
			s.links[a.hello.To] = a.pc
		case m := <-fromMaster:
			if m.Kind == kindFail {
				return s.setupFailed(m)
			}
			return &PeerError{Op: "recv", Peer: 0, Err: fmt.Errorf("%v before this party was ready", m.Kind)}
		case <-s.ctx.Done():
			return fmt.Errorf("%s: mesh %s: no link with ranks %s%s",
				s.me(), s.why(), rankList(s.missing(), s.cfg.Size), s.refused.String())
		}
	}
	if _, err := s.links[0].conn.Write((&ctrlMsg{Kind: kindReady}).encode()); err != nil {
		return &PeerError{Op: "send", Peer: 0, Err: fmt.Errorf("ready: %w", err)}
	}
	select {
	case m := <-fromMaster:
		switch m.Kind {
		case kindGo:
			return nil
		case kindFail:
			return s.setupFailed(m)
		}
		return &PeerError{Op: "recv", Peer: 0, Err: fmt.Errorf("expected go, got %v", m.Kind)}
	case <-s.ctx.Done():
		return fmt.Errorf("%s: rank 0 gave no go-ahead (%s)", s.me(), s.why())
	}
}

// testHookTable, when set by a test, sees each party's table before the
// mesh forms.
var testHookTable func(rank int, addrs []string)

// dialPeer opens the link from this party to the higher rank q at addr,
// retrying for up to the connect timeout while the peer is unreachable or
// hangs up without a word.
func (s *setup) dialPeer(q int, addr string) arrival {
	me := s.cfg.Rank
	hello := ctrlMsg{Kind: kindHello, From: me, To: q, Size: s.w.Size, TTP: s.w.TTP, Job: s.w.Job}
	a := arrival{hello: hello, remote: addr}
	start := time.Now()
	giveUp := earliest(start.Add(s.connectTO), s.deadline)
	fail := func(err error) arrival {
		a.pc, a.err = nil, &PeerError{Op: "dial", Peer: q, Err: fmt.Errorf("%s: %w", addr, err)}
		return a
	}
	backoff := 10 * time.Millisecond
	for {
		ctx, cancel := context.WithDeadline(s.ctx, giveUp)
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			raw.SetDeadline(earliest(time.Now().Add(s.connectTO), s.deadline))
			var pc *peerConn
			if pc, _, err = s.greeting(raw, q, hello, kindOK); err == nil {
				a.pc = pc
				return a
			}
			var refused *refusedError
			if errors.As(err, &refused) || !retryable(err) {
				return fail(err)
			}
		}
		if time.Now().Add(backoff).After(giveUp) || !s.sleep(backoff) {
			return fail(fmt.Errorf("unreachable for %v: %w", time.Since(start).Round(time.Millisecond), err))
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}
