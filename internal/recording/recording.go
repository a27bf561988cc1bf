// Package recording captures what a process receives, so privacy tests can
// scan it for values that must never arrive there in the clear: TCP traffic
// through a forwarding proxy, and MPC messages through a wrapped
// communicator. It is test support shared by the packages whose tests make
// that check.
package recording

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
)

// Buffer collects bytes written from several goroutines.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of everything written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Len returns how many bytes were written.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Proxy listens on a loopback port, forwards every connection to addr, and
// copies what clients send (what the server at addr receives) to w. It
// returns the address to connect to; the listener closes with the test.
func Proxy(t testing.TB, addr string, w io.Writer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(d, io.TeeReader(c, w)); d.Close() }()
			go func() { io.Copy(c, d); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// Comm wraps a party's communicator and copies every message it receives
// to W.
type Comm struct {
	comm.Comm
	W io.Writer
}

// Recv receives from the wrapped communicator and records the message.
func (c *Comm) Recv(from int) ([]byte, error) {
	b, err := c.Comm.Recv(from)
	if err == nil {
		c.W.Write(b)
	}
	return b, err
}

// Flush keeps the wrapped transport's buffer-ownership contract.
func (c *Comm) Flush(to int) error { return comm.Flush(c.Comm, to) }
