package faultnet

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every connection.
func echoServer(t *testing.T) string {
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
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("bytes changed on the way")
	}
	return time.Since(start)
}

func TestDelayAndPartition(t *testing.T) {
	f := New()
	defer f.Close()
	addr, err := f.Forward("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, many chunks
	roundTrip(t, c, big)

	f.SetDelay(50 * time.Millisecond)
	if d := roundTrip(t, c, []byte("ping")); d < 100*time.Millisecond {
		t.Errorf("round trip through 50ms each way took %v", d)
	}

	f.SetDelay(0)
	f.Partition(true)
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 4)); err == nil {
		t.Fatalf("read %d bytes through a partition", n)
	}
	f.Partition(false)
	got := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "held" {
		t.Fatalf("after healing: %q, %v", got, err)
	}
}

func TestForwardPorts(t *testing.T) {
	// Two echo servers on consecutive ports are hard to get; forward a
	// single-port range and check the port mapping.
	target := echoServer(t)
	_, port, _ := net.SplitHostPort(target)
	f := New()
	defer f.Close()
	// Listen on another loopback address with the same port.
	var p int
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	if err := f.ForwardPorts("127.0.0.2", p, p, "127.0.0.1"); err != nil {
		t.Skipf("127.0.0.2 unavailable: %v", err)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.2", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, []byte("through the range"))
}
