//go:build !linux

package comm

import (
	"net"
	"syscall"
)

// inlineConn: inline writes are a Linux fast path; elsewhere every message
// goes through the writer goroutine.
func inlineConn(net.Conn) syscall.RawConn { return nil }

func tryWrite(syscall.RawConn, []byte) (int, error) { return 0, nil }

// unread is Linux-only; elsewhere a stuck send is left to the job's
// deadline (receives are still watched).
func unread(*net.TCPConn) int { return -1 }
