// Package connlimit bounds the connections a server holds, per client
// address and in total, before anything is read from them: a client that
// opens connection after connection and never speaks cannot take the
// server's descriptors or memory from the others.
package connlimit

import (
	"net"
	"sync"
)

// Listener wraps a net.Listener. Accept returns only connections within
// the limits; the others are closed at once and reported to Refused.
type Listener struct {
	net.Listener
	perHost, total int
	// Refused, if set, is called (from Accept) with the remote address
	// of each connection closed for being over a limit.
	Refused func(remote string, perHost bool)

	mu     sync.Mutex
	byHost map[string]int
	n      int
}

// New limits ln to perHost connections per client IP and total in all
// (a limit of 0 or less is no limit).
func New(ln net.Listener, perHost, total int) *Listener {
	return &Listener{Listener: ln, perHost: perHost, total: total, byHost: map[string]int{}}
}

// Accept waits for a connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostOf(c.RemoteAddr())
		l.mu.Lock()
		overHost := l.perHost > 0 && l.byHost[host] >= l.perHost
		overTotal := l.total > 0 && l.n >= l.total
		if !overHost && !overTotal {
			l.byHost[host]++
			l.n++
			l.mu.Unlock()
			return &conn{Conn: c, l: l, host: host}, nil
		}
		l.mu.Unlock()
		c.Close()
		if l.Refused != nil {
			l.Refused(c.RemoteAddr().String(), overHost)
		}
	}
}

// Open returns the connections held, in all and from host.
func (l *Listener) Open(host string) (total, fromHost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.byHost[host]
}

func (l *Listener) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.byHost[host]--; l.byHost[host] <= 0 {
		delete(l.byHost, host)
	}
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// conn gives its slot back when closed (once).
type conn struct {
	net.Conn
	l    *Listener
	host string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}
