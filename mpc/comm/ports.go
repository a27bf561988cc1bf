package comm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// PortRange is an inclusive range of TCP ports a party's listeners may
// bind, for hosts whose firewall opens only those; the zero value means
// any free port.
type PortRange struct{ Lo, Hi int }

// ParsePortRange reads "LO-HI" or a single port; "" is the zero range.
func ParsePortRange(s string) (PortRange, error) {
	if s == "" {
		return PortRange{}, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	var r PortRange
	var err1, err2 error
	r.Lo, err1 = strconv.Atoi(strings.TrimSpace(lo))
	r.Hi, err2 = strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil {
		return PortRange{}, fmt.Errorf("port range %q: want LO-HI or a port", s)
	}
	if err := r.check(); err != nil {
		return PortRange{}, err
	}
	return r, nil
}

func (r PortRange) check() error {
	if r == (PortRange{}) {
		return nil
	}
	if r.Lo < 1 || r.Hi > 65535 || r.Lo > r.Hi {
		return fmt.Errorf("port range %d-%d: want 1 <= LO <= HI <= 65535", r.Lo, r.Hi)
	}
	return nil
}

func (r PortRange) String() string {
	if r == (PortRange{}) {
		return "any"
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// ListenRange listens on host (empty for every interface) at a free port
// of r, trying them from a random start so that parties of concurrent
// jobs rarely collide; the zero range takes any free port.
func ListenRange(host string, r PortRange) (net.Listener, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if r == (PortRange{}) {
		return net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	n := r.Hi - r.Lo + 1
	start := rand.IntN(n)
	var last error
	for i := range n {
		port := r.Lo + (start+i)%n
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		last = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("comm: no free port in %v on %q: %w", r, host, last)
}

// BindHost is the host a listener advertised as advertise binds: that
// loopback address itself when advertise is one (nothing beyond the host
// needs to reach it), and every interface otherwise (behind NAT, in a
// container or under a DNS name, the advertised address is not one the
// host can bind).
func BindHost(advertise string) string {
	if ip := net.ParseIP(advertise); ip != nil && ip.IsLoopback() {
		return advertise
	}
	return ""
}
