package comm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// flood opens n connections to addr and runs each through what(c) in its
// own goroutine; they are closed when the test ends.
func flood(t *testing.T, addr string, n int, what func(c net.Conn)) {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		go what(c)
	}
}

// The rendezvous and the mesh listeners outlast strangers of every kind:
// idle connections past MaxPending, garbage, oversized frames, hellos of
// other jobs and of the right job without proof. The job still forms, in
// every authentication mode.
func TestRendezvousSurvivesStrangers(t *testing.T) {
	idle := func(c net.Conn) {}
	garbage := func(c net.Conn) { c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) }
	huge := func(c net.Conn) { c.Write(rawHeader(1 << 30)) }
	halfFrame := func(c net.Conn) { c.Write(rawHeader(maxHello)[:40]) }
	for _, mode := range []struct {
		name string
		auth authFn
	}{{"plain", nil}, {"pinned", pinned(t)}, {"secret", withSecret(testSecret)}} {
		t.Run(mode.name, func(t *testing.T) {
			job := newJob(t, 4, false, 15*time.Second)
			wrongJob := func(c net.Conn) {
				h := ctrlMsg{Kind: kindHello, From: 1, Size: 4, Job: "another-job"}
				c.Write(h.encode())
			}
			noProof := func(c net.Conn) {
				h := ctrlMsg{Kind: kindHello, From: 1, Size: 4, Job: job.JobID}
				c.Write(h.encode())
			}
			addr := job.MasterAddr()
			flood(t, addr, 3*MaxPending, idle)
			for _, f := range []func(net.Conn){garbage, huge, halfFrame, wrongJob} {
				flood(t, addr, 10, f)
			}
			if mode.auth != nil {
				flood(t, addr, 10, noProof)
			}
			// The mesh listeners get theirs too, as soon as the table is out.
			testHookTable = func(rank int, addrs []string) {
				if rank == 1 {
					for _, a := range addrs[2:] {
						flood(t, a, 2*MaxPending, idle)
						flood(t, a, 5, garbage)
					}
				}
			}
			defer func() { testHookTable = nil }()
			cs, errs := dialAll(t, job, []int{0, 1, 2, 3}, func(c *Config) {
				c.HelloTimeout = 500 * time.Millisecond
				if mode.auth != nil {
					mode.auth(t, c)
				}
			})
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			runParties(t, cs, func(c Comm) error {
				v := []uint64{uint64(c.Rank())}
				return AllReduce(c, v)
			})
		})
	}
}

// A connection that says nothing is cut off after the hello timeout, long
// before setup ends, and so is one that stops mid-frame.
func TestHelloTimeout(t *testing.T) {
	job := newJob(t, 2, false, 10*time.Second)
	cfg := job.Config(0)
	cfg.HelloTimeout = 200 * time.Millisecond
	go func() {
		c, err := Dial(context.Background(), cfg)
		if err == nil {
			c.Close()
		}
	}()
	for _, first := range [][]byte{nil, rawHeader(100)[:30]} {
		c, err := net.Dial("tcp", job.MasterAddr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(first)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a silent stranger was still connected after %v", time.Since(start))
		}
		t.Logf("silent stranger cut off after %v: %v", time.Since(start), err)
		c.Close()
	}
}

// Past MaxPending, the stranger dropped is the oldest of the address
// holding the most: one flooding host cannot crowd out the others.
func TestStrangersEvictBusiestHost(t *testing.T) {
	s := newStrangers(4)
	mk := func(host string) *stranger {
		a, b := net.Pipe()
		b.Close()
		return s.add(addrConn{a, host})
	}
	alone := mk("10.0.0.2")
	f1, f2, f3 := mk("10.0.0.9"), mk("10.0.0.9"), mk("10.0.0.9")
	f4 := mk("10.0.0.9") // full: the flooder's oldest goes
	if !f1.evicted || f2.evicted || alone.evicted {
		t.Errorf("evicted: alone %v, f1 %v, f2 %v", alone.evicted, f1.evicted, f2.evicted)
	}
	if s.done(f2) {
		t.Error("f2 reported evicted")
	}
	mk("10.0.0.3")
	mk("10.0.0.3") // full again: f3 is the oldest of the busiest host
	if !f3.evicted || f4.evicted || alone.evicted {
		t.Errorf("evicted: f3 %v f4 %v alone %v", f3.evicted, f4.evicted, alone.evicted)
	}
	if !s.done(f1) {
		t.Error("f1 not reported evicted")
	}
}

// addrConn is a net.Conn with a chosen remote host.
type addrConn struct {
	net.Conn
	host string
}

func (c addrConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP(c.host), Port: 1}
}

// The rendezvous may listen on every interface and advertise the address
// the others reach it by; parties with Advertise do the same for their
// mesh listeners.
func TestAdvertisedAddresses(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "127.0.0.1:0"} {
		t.Run(listen, func(t *testing.T) {
			rv, err := ListenRendezvous(listen, "localhost")
			if err != nil {
				t.Fatal(err)
			}
			if host, _, _ := net.SplitHostPort(rv.Addr()); host != "localhost" {
				t.Fatalf("Addr %s, want localhost:port", rv.Addr())
			}
			var tables [][]string
			var mu sync.Mutex
			testHookTable = func(rank int, addrs []string) {
				mu.Lock()
				tables = append(tables, addrs)
				mu.Unlock()
			}
			defer func() { testHookTable = nil }()
			cs := make([]Comm, 4)
			errs := make([]error, 4)
			var wg sync.WaitGroup
			for r := range 4 {
				cfg := Config{Rank: r, Size: 4, MasterAddr: rv.Addr(), JobID: "adv", Timeout: 10 * time.Second, Secret: testSecret}
				if r == 0 {
					cfg.Rendezvous = rv
				}
				if r >= 2 {
					cfg.Advertise = "127.0.0.1"
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					cs[r], errs[r] = Dial(context.Background(), cfg)
				}()
			}
			wg.Wait()
			defer closeAll(cs[:0])
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			defer closeAll(cs)
			for _, tab := range tables {
				for r, a := range tab[2:] {
					if !strings.HasPrefix(a, "127.0.0.1:") {
						t.Errorf("rank %d registered %q, want its advertised host", r+2, a)
					}
				}
			}
			runParties(t, cs, func(c Comm) error { return Barrier(c) })
		})
	}
}

// A party the others cannot reach is named, with its address, within the
// connect timeout, far sooner than the setup timeout; the party that could
// not reach it tells rank 0, which calls the setup off for everyone, so
// every rank's error names the culprit at once.
func TestPeerUnreachable(t *testing.T) {
	job := newJob(t, 3, false, 20*time.Second)
	start := time.Now()
	_, errs := dialAll(t, job, []int{0, 1, 2}, func(c *Config) {
		c.ConnectTimeout = 500 * time.Millisecond
		c.Secret = testSecret
		if c.Rank == 2 {
			// TEST-NET-1: nothing answers there.
			c.Advertise = "192.0.2.1"
		}
	})
	t.Logf("every rank failed after %v", time.Since(start))
	for r, err := range errs {
		wantErr(t, fmt.Sprintf("rank %d", r), err, "dial to party 2", "192.0.2.1:")
		if b, ok := Blame(err); !ok || b != 2 {
			t.Errorf("rank %d blames %d (%v)", r, b, ok)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v, about the setup timeout", d)
	}
}

// A peer speaking plain TCP to a TLS party, or TLS to a plain one, is told
// what is wrong rather than left to time out.
func TestModeMismatch(t *testing.T) {
	job := newJob(t, 2, false, 3*time.Second)
	_, errs := dialAll(t, job, []int{0, 1}, func(c *Config) {
		if c.Rank == 1 {
			c.Secret = testSecret
		}
	})
	wantErr(t, "rank 1", errs[1], "the peer does not speak TLS", "configure every party alike")
	wantErr(t, "rank 0", errs[0], "never showed up", "a TLS client reached a job of plain links")
}

func TestPortRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PortRange
		err  string
	}{
		{"", PortRange{}, ""},
		{"7200-7209", PortRange{7200, 7209}, ""},
		{"7200", PortRange{7200, 7200}, ""},
		{"7209-7200", PortRange{}, "want 1 <= LO <= HI"},
		{"0-10", PortRange{}, "want 1 <= LO <= HI"},
		{"a-b", PortRange{}, "want LO-HI"},
	} {
		got, err := ParsePortRange(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v", tc.in, got, err)
		}
	}
	// Listeners fill a small range, then report it full.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := free.Addr().(*net.TCPAddr).Port
	free.Close()
	r := PortRange{base, base + 1}
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range 2 {
		ln, err := ListenRange("127.0.0.1", r)
		if err != nil {
			t.Skipf("ports near %d are taken by others: %v", base, err)
		}
		if p := ln.Addr().(*net.TCPAddr).Port; p < r.Lo || p > r.Hi {
			t.Errorf("port %d outside %v", p, r)
		}
		lns = append(lns, ln)
	}
	if _, err := ListenRange("127.0.0.1", r); err == nil || !strings.Contains(err.Error(), "no free port in") {
		t.Errorf("full range: %v", err)
	}
}

// Mesh listeners bind the configured range.
func TestMeshPorts(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := free.Addr().(*net.TCPAddr).Port
	free.Close()
	var addrs []string
	testHookTable = func(rank int, a []string) {
		if rank == 1 {
			addrs = a
		}
	}
	defer func() { testHookTable = nil }()
	job := newJob(t, 4, false, 10*time.Second)
	cs, errs := dialAll(t, job, []int{0, 1, 2, 3}, func(c *Config) { c.Ports = PortRange{base, base + 20} })
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	for _, a := range addrs[2:] {
		_, p, _ := net.SplitHostPort(a)
		if n, _ := strconv.Atoi(p); n < base || n > base+20 {
			t.Errorf("listener %s outside %d-%d", a, base, base+20)
		}
	}
	runParties(t, cs, func(c Comm) error { return Barrier(c) })
}
