package comm

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialAll dials the given ranks of job concurrently with per-rank config
// tweaks and returns each rank's Comm and error.
func dialAll(t *testing.T, job *LocalJob, ranks []int, tweak func(*Config)) ([]Comm, []error) {
	t.Helper()
	cs := make([]Comm, job.Parties())
	errs := make([]error, job.Parties())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var extra []Comm // every Comm made, for cleanup
	for _, r := range ranks {
		cfg := job.Config(r)
		if tweak != nil {
			tweak(&cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(context.Background(), cfg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[r] = err
			}
			if c != nil {
				extra = append(extra, c)
				cs[r] = c
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Dial hung past its timeout")
	}
	t.Cleanup(func() {
		for _, c := range extra {
			c.Close()
		}
	})
	return cs, errs
}

func newJob(t *testing.T, n int, ttp bool, timeout time.Duration) *LocalJob {
	t.Helper()
	job, err := NewLocalJob(n, ttp)
	if err != nil {
		t.Fatal(err)
	}
	job.Timeout = timeout
	t.Cleanup(func() { job.Close() })
	return job
}

func wantErr(t *testing.T, who string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one containing %q", who, subs)
		return
	}
	t.Logf("%s: %v", who, err)
	if !containsAll(err.Error(), subs...) {
		t.Errorf("%s: error %q lacks %q", who, err, subs)
	}
}

func TestRendezvousTimeout(t *testing.T) {
	cases := []struct {
		name    string
		n       int
		ttp     bool
		present []int
		missing string
	}{
		{"one-missing", 3, false, []int{0, 1}, "ranks [2] never showed up"},
		{"several-missing", 4, false, []int{0, 2}, "ranks [1 3] never showed up"},
		{"ttp-missing", 2, true, []int{0, 1}, "ranks [2 (TTP)] never showed up"},
		{"alone", 2, false, []int{0}, "ranks [1] never showed up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, tc.n, tc.ttp, 400*time.Millisecond)
			start := time.Now()
			_, errs := dialAll(t, job, tc.present, nil)
			wantErr(t, "rank 0", errs[0], tc.missing, "timed out")
			for _, r := range tc.present[1:] {
				// Either told by rank 0 or timed out on its own.
				wantErr(t, "other rank", errs[r], "rendezvous")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v for a 400ms timeout", d)
			}
		})
	}
}

func TestRendezvousRefusals(t *testing.T) {
	cases := []struct {
		name   string
		tweak  func(*Config) // applied to rank 1
		want1  string        // in rank 1's error
		want0  string        // in rank 0's timeout error
		ranks  []int
		n      int
		expect []int // ranks that must succeed
	}{
		{name: "job-mismatch", n: 2, ranks: []int{0, 1},
			tweak: func(c *Config) { c.JobID = "other-job" },
			want1: `job id "other-job" does not match`, want0: "ranks [1] never showed up; refused"},
		{name: "size-mismatch", n: 2, ranks: []int{0, 1},
			tweak: func(c *Config) { c.Size = 3 },
			want1: "world of 3 parties does not match this job's 2 parties", want0: "never showed up"},
		{name: "ttp-mismatch", n: 2, ranks: []int{0, 1},
			tweak: func(c *Config) { c.TTP = true },
			want1: "world of 2 parties + TTP does not match", want0: "never showed up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, tc.n, false, 600*time.Millisecond)
			_, errs := dialAll(t, job, tc.ranks, func(c *Config) {
				if c.Rank == 1 {
					tc.tweak(c)
				}
			})
			wantErr(t, "rank 1", errs[1], tc.want1, "refused")
			wantErr(t, "rank 0", errs[0], tc.want0)
		})
	}
}

func TestRendezvousDuplicateRank(t *testing.T) {
	// Rank 2 comes late, so both claimants of rank 1 reach the master
	// while the rendezvous is still open.
	job := newJob(t, 3, false, 5*time.Second)
	_, errs := dialAll(t, job, []int{0, 1, 1, 2}, func(c *Config) {
		if c.Rank == 2 {
			time.Sleep(time.Second)
		}
	})
	wantErr(t, "second claimant of rank 1", errs[1], "rank 1 is already connected")
	for _, r := range []int{0, 2} {
		if errs[r] != nil {
			t.Errorf("rank %d: %v", r, errs[r])
		}
	}
}

func TestMasterUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = Dial(context.Background(), Config{Rank: 1, Size: 2, MasterAddr: addr, Timeout: 300 * time.Millisecond})
	wantErr(t, "rank 1", err, "unreachable", addr, "timed out after 300ms")
}

func TestDialConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Rank: 0, Size: 0, MasterAddr: "x:1"}, "world size 0"},
		{Config{Rank: 2, Size: 2, MasterAddr: "x:1"}, "rank 2 out of range for 2 parties"},
		{Config{Rank: -1, Size: 2, MasterAddr: "x:1"}, "rank -1 out of range"},
		{Config{Rank: 1, Size: 2}, "no master address"},
		{Config{Rank: 1, Size: 2, MasterAddr: "x:1", JobID: strings.Repeat("j", 300)}, "job id of 300 bytes"},
	}
	for _, tc := range cases {
		_, err := Dial(context.Background(), tc.cfg)
		wantErr(t, tc.want, err, tc.want)
	}
}

// A stranger speaking garbage at the rendezvous is refused without
// disturbing the job, and named if the job then fails.
func TestRendezvousMalformedHello(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"not-gomplab", rawFrame([]byte("HTTP")), "not a gomplab mesh peer"},
		{"oversized", rawHeader(1 << 40), "exceeds the limit"},
		{"truncated-hello", func() []byte {
			p := payload((&ctrlMsg{Kind: kindHello, From: 1, Size: 2, Job: "j"}).encode())
			return rawFrame(p[:len(p)-3])
		}(), "truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, 3, false, 800*time.Millisecond)
			go func() {
				c, err := net.Dial("tcp", job.MasterAddr())
				if err != nil {
					return
				}
				defer c.Close()
				c.Write(tc.raw)
				time.Sleep(time.Second)
			}()
			_, errs := dialAll(t, job, []int{0, 1}, nil)
			wantErr(t, "rank 0", errs[0], "ranks [2] never showed up", tc.want)
		})
	}
}

// A stranger at the mesh stage (after the rendezvous) is refused with a
// reason, and the legitimate party it impersonated still gets in.
func TestMeshRefusesStranger(t *testing.T) {
	cases := []struct {
		name  string
		hello ctrlMsg
		want  string
	}{
		{"wrong-job", ctrlMsg{Kind: kindHello, From: 1, To: 2, Size: 3, Job: "intruder"}, `job id "intruder" does not match`},
		{"wrong-target", ctrlMsg{Kind: kindHello, From: 1, To: 3, Size: 3}, "addressed to rank 3 reached rank 2"},
		{"higher-rank", ctrlMsg{Kind: kindHello, From: 2, To: 2, Size: 3}, "rank 2 may not connect to rank 2"},
		{"rank-zero", ctrlMsg{Kind: kindHello, From: 0, To: 2, Size: 3}, "rank 0 may not connect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, 3, false, 5*time.Second)
			if tc.hello.Job == "" {
				tc.hello.Job = job.JobID
			}
			var reason string
			testHookTable = func(rank int, addrs []string) {
				if rank != 1 {
					return
				}
				c, err := net.Dial("tcp", addrs[2])
				if err != nil {
					reason = err.Error()
					return
				}
				defer c.Close()
				c.Write(tc.hello.encode())
				m, err := readCtrl(bufio.NewReader(c))
				if err != nil {
					reason = err.Error()
					return
				}
				reason = m.Reason
			}
			defer func() { testHookTable = nil }()
			cs, errs := dialAll(t, job, []int{0, 1, 2}, nil)
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			if !strings.Contains(reason, tc.want) || !strings.Contains(reason, "rank 2 refused the link") {
				t.Errorf("stranger told %q, want %q", reason, tc.want)
			}
			runParties(t, cs, func(c Comm) error { return Barrier(c) })
		})
	}
}

// Data-link failures: a truncated frame, an oversized frame and a silent
// peer each give an error naming the peer, and never a hang.
func TestLinkFailures(t *testing.T) {
	cases := []struct {
		name   string
		recvTO time.Duration
		peer   func(c net.Conn)
		want   []string
		isGone bool
	}{
		{"truncated", 0, func(c net.Conn) {
			c.Write(rawHeader(100))
			c.Write(make([]byte, 10))
			c.Close()
		}, []string{"recv from party 1", "peer closed"}, true},
		{"oversized", 0, func(c net.Conn) {
			c.Write(rawHeader(1 << 20))
		}, []string{"recv from party 1", "frame of 1048576 bytes exceeds the limit of 4096"}, false},
		{"silent", 50 * time.Millisecond, func(c net.Conn) {}, []string{"recv from party 1", "no message within 50ms"}, false},
		{"hangup", 0, func(c net.Conn) { c.Close() }, []string{"recv from party 1", "peer closed"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			c := newTCPComm(0, worldSpec{Size: 2}, []*peerConn{nil, newPeerConn(a)}, linkOptions{maxMsg: 4096, recvTO: tc.recvTO})
			defer c.Close()
			go tc.peer(b)
			errc := make(chan error, 1)
			go func() { _, err := c.Recv(1); errc <- err }()
			var err error
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second):
				t.Fatal("Recv hung")
			}
			wantErr(t, tc.name, err, tc.want...)
			var pe *PeerError
			if !errors.As(err, &pe) || pe.Peer != 1 || errors.Is(err, ErrPeerClosed) != tc.isGone {
				t.Errorf("error %#v: want PeerError for party 1, gone=%v", err, tc.isGone)
			}
			// The failure is sticky: the stream is out of step.
			if _, err2 := c.Recv(1); err2 == nil {
				t.Error("Recv after a broken frame succeeded")
			}
		})
	}
}

func TestSendTooLarge(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newTCPComm(0, worldSpec{Size: 2}, []*peerConn{nil, newPeerConn(a)}, linkOptions{maxMsg: 16})
	defer c.Close()
	wantErr(t, "send", c.Send(1, make([]byte, 17)), "17 bytes", "limit of 16")
}
