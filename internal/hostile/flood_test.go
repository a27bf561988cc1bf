package hostile

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers"
)

// dialTLS connects as the flood does: from 127.0.0.2, another client
// address than the users' 127.0.0.1, so that the per-address cap (which
// the flood passes) bounds the attacker and not the users.
func dialTLS(addr string) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	return tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
}

// TestPreAuthFlood floods the daemon before authentication, the way
// issue 13 measured it (before the bounds, four connections announcing
// 1 GiB frames took it from 29 MB to 1.72 GB, and 50,000 pings on one
// connection were never cut off): 300 connections at once from one
// address (over the per-address cap) announcing 1 GiB frames and then sending data; 100
// that send most of a 60 KiB frame and stall; 50,000 unauthenticated
// pings. The daemon's memory stays within rssLimit of idle, it logs a
// few lines, and it serves its users throughout.
func TestPreAuthFlood(t *testing.T) {
	p := startDaemon(t)
	idle := p.idle(t)
	stop := p.watch(t)
	deadline := time.Now().Add(6 * time.Second)
	var wg sync.WaitGroup
	var bigRefused, stalled atomic.Int64

	// 1 GiB frames announced, then a MiB of data behind each.
	junk := make([]byte, 64<<10)
	for range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				c, err := dialTLS(p.addr)
				if err != nil {
					continue // over the cap: closed at once
				}
				var hdr [4]byte
				binary.BigEndian.PutUint32(hdr[:], 1<<30)
				c.Write(hdr[:])
				for range 16 {
					c.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := c.Write(junk); err != nil {
						break
					}
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := io.Copy(io.Discard, c); err == nil {
					bigRefused.Add(1) // the server closed it
				}
				c.Close()
			}
		}()
	}
	// Half-sent frames of just under the pre-authentication bound.
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				c, err := dialTLS(p.addr)
				if err != nil {
					continue
				}
				var hdr [4]byte
				binary.BigEndian.PutUint32(hdr[:], 60<<10)
				c.Write(hdr[:])
				c.Write(junk[:59<<10])
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, c) // until the auth timeout closes it
				stalled.Add(1)
				c.Close()
			}
		}()
	}
	// 50,000 unauthenticated pings, pipelined on as many connections as
	// it takes.
	body, _ := serde.EncodeBody(struct{}{})
	env, _ := serde.EncodeEnvelope(serde.Envelope{Type: workers.MsgPing, ID: 1, Body: body})
	var one bytes.Buffer
	serde.WriteFrame(&one, env)
	var pings atomic.Int64
	var conns, maxReplies atomic.Int64
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pings.Load() < 50000 {
				c, err := dialTLS(p.addr)
				if err != nil {
					continue
				}
				conns.Add(1)
				read := make(chan int64)
				go func() {
					// Count the replies until the daemon hangs up.
					var n int64
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					for {
						if _, err := serde.ReadFrame(c, 1<<20); err != nil {
							read <- n
							return
						}
						n++
					}
				}()
				for pings.Load() < 50000 {
					c.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := c.Write(one.Bytes()); err != nil {
						break
					}
					pings.Add(1)
				}
				n := <-read
				c.Close()
				for {
					m := maxReplies.Load()
					if n <= m || maxReplies.CompareAndSwap(m, n) {
						break
					}
				}
			}
		}()
	}
	// Users (from another address) are served during the flood.
	p.stillServes(t)
	wg.Wait()
	peak, hwm := stop()
	checkBound(t, "pre-authentication flood", idle, peak, hwm)
	t.Logf("%d connections with 1 GiB frames closed by the daemon, %d stalled frames timed out, %d pings sent on %d connections (at most %d replies on one)",
		bigRefused.Load(), stalled.Load(), pings.Load(), conns.Load(), maxReplies.Load())
	if bigRefused.Load() == 0 || stalled.Load() == 0 {
		t.Error("the flood did not reach the daemon")
	}
	if n := maxReplies.Load(); n > 3 || n == 0 {
		t.Errorf("a connection got %d replies to unauthenticated pings, want at most 3 before it is closed", n)
	}
	p.stillServes(t)
	// Logs: a few lines per kind of refusal, not megabytes.
	p.stderr.mu.Lock()
	lines, logBytes := p.stderr.lines, p.stderr.bytes
	p.stderr.mu.Unlock()
	st, err := os.Stat(filepath.Join(p.dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("log: %d lines (%d bytes) on stderr, access.log %d bytes", lines, logBytes, st.Size())
	if logBytes > 256<<10 || st.Size() > 256<<10 {
		t.Errorf("the flood wrote %d bytes of log and %d of access log", logBytes, st.Size())
	}
}
