package comm

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// inlineConn returns the raw socket of a plain TCP link, on which Send may
// attempt non-blocking writes itself.
func inlineConn(c net.Conn) syscall.RawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// tryWrite writes as much of p as the kernel takes without blocking
// (MSG_NOSIGNAL: a vanished peer is an error, not a signal).
func tryWrite(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.SendmsgN(int(fd), p[n:], nil, nil, syscall.MSG_NOSIGNAL)
			if m > 0 {
				n += m
			}
			switch err {
			case nil:
				if m == 0 {
					return true
				}
			case syscall.EINTR:
			case syscall.EAGAIN:
				return true
			default:
				werr = err
				return true
			}
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}

// unread returns how many received bytes wait in c's socket, or -1 when
// that cannot be known (the watchdog then never declares a send stuck).
func unread(c *net.TCPConn) int {
	if c == nil {
		return -1
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			n = v
		}
	})
	return n
}
