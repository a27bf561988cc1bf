package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// tlsConn opens a raw TLS connection to d, as a hostile client would:
// no authentication, any bytes.
func tlsConn(t *testing.T, d *Daemon) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", d.Addr(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin waits for the server to close c, and fails the test when it
// has not within d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection still open after %v", what, d)
	}
}

// pingFrame is a framed ping request with id.
func pingFrame(t *testing.T, id uint64) []byte {
	t.Helper()
	body, err := serde.EncodeBody(struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := serde.EncodeEnvelope(serde.Envelope{Type: workers.MsgPing, ID: id, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := serde.WriteFrame(&buf, env); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBoundsBeforeAuthentication: before a connection authenticates it may
// send only a small frame, only for a short time, and only a few requests;
// connections per address are capped; the refusals it causes take a few
// log lines.
func TestBoundsBeforeAuthentication(t *testing.T) {
	d, me := daemonForTest(t, Config{Bounds: Bounds{AuthTimeout: 2 * time.Second, MaxConnsPerHost: 8, LogBurst: 3}})

	t.Run("large frame", func(t *testing.T) {
		c := tlsConn(t, d)
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], 1<<30)
		c.Write(hdr[:])
		// Refused for its size (not for the time it takes), with a reply
		// that says so.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		reply, err := serde.ReadFrame(c, 1<<20)
		if err != nil || !bytes.Contains(reply, []byte("before authentication only an auth request of at most 65536 bytes")) {
			t.Fatalf("reply to a 1 GiB frame: %q, %v", reply, err)
		}
		closedWithin(t, c, 5*time.Second, "1 GiB frame announced")
	})
	t.Run("half-sent frame", func(t *testing.T) {
		c := tlsConn(t, d)
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], 32<<10)
		c.Write(hdr[:])
		c.Write(make([]byte, 1000))
		start := time.Now()
		closedWithin(t, c, 5*time.Second, "half-sent frame")
		if el := time.Since(start); el < time.Second {
			t.Errorf("closed after %v, before the auth timeout", el)
		}
	})
	t.Run("silent", func(t *testing.T) {
		c, err := net.Dial("tcp", d.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		closedWithin(t, c, 5*time.Second, "silent TCP connection")
	})
	t.Run("pings before auth", func(t *testing.T) {
		c := tlsConn(t, d)
		ping := pingFrame(t, 1)
		go func() {
			for range 50000 {
				if _, err := c.Write(ping); err != nil {
					return
				}
			}
		}()
		replies := 0
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			f, err := serde.ReadFrame(c, 1<<20)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("connection still open after 5 s of unauthenticated pings")
				}
				break
			}
			replies++
			if !bytes.Contains(f, []byte("authenticate first")) {
				t.Errorf("reply %d: %q", replies, f)
			}
		}
		if replies != 3 {
			t.Errorf("%d replies before the connection was closed, want 3", replies)
		}
	})
	t.Run("per host cap", func(t *testing.T) {
		var conns []net.Conn
		for range 8 {
			c, err := net.Dial("tcp", d.Addr())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		time.Sleep(100 * time.Millisecond)
		c, err := net.Dial("tcp", d.Addr())
		if err != nil {
			t.Fatal(err)
		}
		closedWithin(t, c, time.Second, "connection over the per-host cap")
		for _, c := range conns {
			c.Close()
		}
		// Once they are gone (the daemon notices within a moment, longer
		// on a loaded machine), a client gets in again.
		ctx := context.Background()
		for until := time.Now().Add(10 * time.Second); time.Now().Before(until); time.Sleep(100 * time.Millisecond) {
			var tr workers.Transport
			if tr, err = workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: d.Fingerprint()}); err != nil {
				continue
			}
			var c *workers.Client
			if c, err = workers.NewClient(ctx, tr, workers.Credentials{Token: me}, workers.ClientOptions{Timeout: 5 * time.Second}); err != nil {
				continue
			}
			err = c.Call(ctx, workers.MsgPing, struct{}{}, nil)
			c.Close()
			break
		}
		if err != nil {
			t.Fatalf("after the connections over the cap closed, a user is still refused: %v", err)
		}
	})
	// Log: the flood above wrote at most a burst of refusals per kind.
	b, err := os.ReadFile(d.dir.AccessLogPath())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"msg":"refused"`); n > 3 {
		t.Errorf("access log has %d refusal records (%d bytes), want at most the burst of 3", n, len(b))
	}
	if !strings.Contains(string(b), `"outcome":"ok"`) {
		t.Errorf("access log lost the authenticated request:\n%s", b)
	}
}

// TestAccessLogRotates: the access log rotates at its bound.
func TestAccessLogRotates(t *testing.T) {
	d, me := daemonForTest(t, Config{Bounds: Bounds{AccessLogMaxBytes: 4 << 10, AccessLogKeep: 2}})
	c := dialTest(t, d, me)
	for range 200 {
		if err := c.Call(context.Background(), workers.MsgPing, struct{}{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"", ".1", ".2"} {
		st, err := os.Stat(d.dir.AccessLogPath() + name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 4<<10 {
			t.Errorf("access.log%s is %d bytes, over its 4 KiB bound", name, st.Size())
		}
	}
	if _, err := os.Stat(d.dir.AccessLogPath() + ".3"); err == nil {
		t.Error("access.log.3 kept beyond --access-log-keep 2")
	}
}

// TestStoreQuota: a user's objects may take only --max-store-per-user
// bytes of the store; freeing them makes room again, and other users are
// not affected.
func TestStoreQuota(t *testing.T) {
	d, me := daemonForTest(t, Config{Quotas: Quotas{StoreBytesPerUser: 100 << 10}})
	c := dialTest(t, d, me)
	ctx := context.Background()
	put := func(c *workers.Client, id string) error {
		o := &store.Object{ID: id, Kind: store.KindTensor, Tensor: tensor.Ones(1000)} // about 8 KB
		return c.Call(ctx, workers.MsgPut, &workers.PutRequest{Object: o}, nil)
	}
	n := 0
	var err error
	for ; n < 100; n++ {
		if err = put(c, fmt.Sprintf("t%d", n)); err != nil {
			break
		}
	}
	if !errors.Is(err, store.ErrQuota) || n < 10 || n > 13 {
		t.Fatalf("after %d puts of 8 KB under a 100 KiB quota: %v", n, err)
	}
	for _, want := range []string{"user me stores", "may store 102400", "--max-store-per-user"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("quota error %q lacks %q", err, want)
		}
	}
	if err := c.Call(ctx, workers.MsgFree, &workers.FreeRequest{IDs: []string{"t0"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := put(c, "again"); err != nil {
		t.Fatalf("put after a free: %v", err)
	}
	owner, err := d.dir.OwnerToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := put(dialTest(t, d, owner), "owners"); err != nil {
		t.Fatalf("another user's put: %v", err)
	}
}

func TestMemoryLimitFor(t *testing.T) {
	cases := []struct {
		q    Quotas
		want int64
	}{
		{Quotas{}, 32<<20 + workers.DefaultMaxOpBytes + DefaultStoreCacheBytes},
		{Quotas{OpBytes: 100 << 20, OpBytesInFlight: 300 << 20, StoreCacheBytes: 1 << 20}, 32<<20 + 300<<20 + 1<<20},
		{Quotas{OpBytes: 100 << 20}, 32<<20 + 100<<20 + DefaultStoreCacheBytes},
		{Quotas{OpBytes: -1}, -1},
	}
	for _, c := range cases {
		if got := MemoryLimitFor(c.q); got != c.want {
			t.Errorf("MemoryLimitFor(%+v) = %d, want %d", c.q, got, c.want)
		}
	}
}
