package comm

import (
	"testing"
	"time"
)

func TestDelayed(t *testing.T) {
	const d = 30 * time.Millisecond
	cs := NewMemWorld(2, false)
	a, b := Delayed(cs[0], d), Delayed(cs[1], d)
	start := time.Now()
	buf := []byte{1, 2, 3}
	if err := a.Send(1, buf); err != nil {
		t.Fatal(err)
	}
	buf[0] = 9 // Send copied it
	if err := a.Send(1, []byte{4}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > d/2 {
		t.Fatal("Send waited for the delay")
	}
	m, err := b.Recv(0)
	if err != nil || len(m) != 3 || m[0] != 1 {
		t.Fatalf("first message %v, %v", m, err)
	}
	if el := time.Since(start); el < d {
		t.Fatalf("message arrived after %v, before the %v delay", el, d)
	}
	m, err = b.Recv(0)
	if err != nil || len(m) != 1 || m[0] != 4 {
		t.Fatalf("second message %v, %v", m, err)
	}
	// A round trip costs two delays.
	start = time.Now()
	go func() {
		v := make([]uint64, 2)
		if err := RecvUint64s(b, 0, v); err == nil {
			SendUint64s(b, 0, v)
		}
	}()
	if err := SendUint64s(a, 1, []uint64{5, 6}); err != nil {
		t.Fatal(err)
	}
	v := make([]uint64, 2)
	if err := RecvUint64s(a, 1, v); err != nil || v[1] != 6 {
		t.Fatalf("echo %v, %v", v, err)
	}
	if el := time.Since(start); el < 2*d {
		t.Fatalf("round trip took %v, less than two delays", el)
	}
	a.Close()
	b.Close()
	if Delayed(cs[0], 0) != cs[0] {
		t.Fatal("a zero delay wrapped the communicator")
	}
}
