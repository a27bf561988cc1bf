package connlimit

import (
	"net"
	"sync"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, 3, 5)
	var mu sync.Mutex
	var refused []bool
	l.Refused = func(_ string, perHost bool) { mu.Lock(); refused = append(refused, perHost); mu.Unlock() }
	defer l.Close()
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(local string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedSoon reports whether the server hung up on c.
	closedSoon := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) // only a kept connection waits it out
		_, err := c.Read(make([]byte, 1))
		ne, ok := err.(net.Error)
		return !(ok && ne.Timeout())
	}
	for range 3 {
		dial("127.0.0.1")
	}
	for range 3 {
		<-accepted
	}
	if !closedSoon(dial("127.0.0.1")) {
		t.Error("a fourth connection from one host was kept")
	}
	other := "127.0.0.2"
	c5 := dial(other)
	<-accepted
	dial(other)
	<-accepted
	if !closedSoon(dial(other)) {
		t.Error("a sixth connection in all was kept")
	}
	if n, h := l.Open("127.0.0.1"); n != 5 || h != 3 {
		t.Errorf("open %d, from host %d", n, h)
	}
	// Closing on the server side frees the slot.
	_ = c5
	// The listener reports a refusal after hanging up, so the client may
	// see the close first.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(refused)
		mu.Unlock()
		if n >= 2 {
			break
		}
	}
	mu.Lock()
	if len(refused) != 2 || !refused[0] || refused[1] {
		t.Errorf("refusals %v", refused)
	}
	mu.Unlock()
}

func TestRelease(t *testing.T) {
	raw, _ := net.Listen("tcp", "127.0.0.1:0")
	l := New(raw, 1, 0)
	defer l.Close()
	for i := range 3 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close() // twice is harmless
		c.Close()
		if n, _ := l.Open("127.0.0.1"); n != 0 {
			t.Fatalf("round %d: %d open after close", i, n)
		}
	}
}
