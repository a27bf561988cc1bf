package comm

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// Two-party benchmarks: mem is the in-memory world; tcp and tls a loopback
// mesh inside this process (both parties share one Go runtime); proc a
// loopback mesh with the peer in a child process (as real parties run, and
// as the CrypTen reference was measured); wire the same traffic over a
// bare socket between two processes, the machine's own limit. The time is
// per operation as seen by rank 0; µs-median is robust to the descheduling
// that dominates means on a shared machine.

// benchOps are the measured operations; each runs the same on both ranks.
var benchOps = map[string]func(c Comm, length int) (step func() error){
	// pingpong: rank 0 sends length elements and waits for them back; the
	// time is a full round trip.
	"pingpong": func(c Comm, length int) func() error {
		out, in := make([]uint64, length), make([]uint64, length)
		peer := 1 - c.Rank()
		return func() error {
			if c.Rank() == 0 {
				if err := SendUint64s(c, peer, out); err != nil {
					return err
				}
				return RecvUint64s(c, peer, in)
			}
			if err := RecvUint64s(c, peer, in); err != nil {
				return err
			}
			in, out = out, in
			return SendUint64s(c, peer, out)
		}
	},
	"exchange": func(c Comm, length int) func() error {
		data := make([]uint64, length)
		out := [][]uint64{make([]uint64, length), make([]uint64, length)}
		return func() error { return ExchangeInto(c, data, out) }
	},
	"allreduce": func(c Comm, length int) func() error {
		data := make([]uint64, length)
		return func() error { return AllReduce(c, data) }
	},
}

var benchLengths = []struct {
	name string
	n    int
}{{"8B", 1}, {"1M", 1 << 20}, {"16M", 16 << 20}}

func BenchmarkComm(b *testing.B) {
	for _, op := range []string{"pingpong", "exchange", "allreduce"} {
		for _, l := range benchLengths {
			for _, tr := range []string{"mem", "tcp", "pinned", "secret", "proc", "proc-queued", "wire"} {
				if tr == "wire" && op == "allreduce" || tr == "proc-queued" && l.n > 1 {
					continue
				}
				b.Run(fmt.Sprintf("%s/%s/%s", op, l.name, tr), func(b *testing.B) {
					// MB/s is per direction: a pingpong moves the data
					// there and back, one after the other.
					if op == "pingpong" {
						b.SetBytes(int64(16 * l.n))
					} else {
						b.SetBytes(int64(8 * l.n))
					}
					switch tr {
					case "mem":
						benchInProcess(b, NewMemWorld(2, false), op, l.n)
					case "tcp":
						benchInProcess(b, dialWorld(b, 2, false, nil), op, l.n)
					case "pinned":
						benchInProcess(b, dialWorld(b, 2, false, pinned(b)), op, l.n)
					case "secret":
						benchInProcess(b, dialWorld(b, 2, false, withSecret(testSecret)), op, l.n)
					case "proc":
						benchProcess(b, op, l.n)
					case "proc-queued": // without inline sends, for comparison
						noInline = true
						defer func() { noInline = false }()
						benchProcess(b, op, l.n, noInlineEnv+"=1")
					case "wire":
						benchWire(b, op, l.n)
					}
				})
			}
		}
	}
}

func benchInProcess(b *testing.B, cs []Comm, op string, length int) {
	defer closeAll(cs)
	steps := []func() error{benchOps[op](cs[0], length), benchOps[op](cs[1], length)}
	both := func(n int) {
		errc := make(chan error, 1)
		go func() { errc <- loop(steps[1], n) }()
		if err := loop(steps[0], n); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	both(1) // warm up connections and buffer pools
	errc := make(chan error, 1)
	b.ResetTimer()
	go func() { errc <- loop(steps[1], b.N) }()
	timedLoop(b, steps[0])
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

func loop(step func() error, n int) error {
	for i := 0; i < n; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// timedLoop is loop recording each step's duration, and reports the
// median: on a shared machine the mean is dominated by descheduling.
func timedLoop(b *testing.B, step func() error) {
	ds := make([]time.Duration, b.N)
	for i := range ds {
		t := time.Now()
		if err := step(); err != nil {
			b.Fatal(err)
		}
		ds[i] = time.Since(t)
	}
	b.StopTimer()
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1e3, "µs-median")
}

// benchProcess runs rank 1 in a child process looping b.N times.
func benchProcess(b *testing.B, op string, length int, env ...string) {
	job, err := NewLocalJob(2, false)
	if err != nil {
		b.Fatal(err)
	}
	defer job.Close()
	kid := startChild(b, job, 1, "bench", append(env,
		"GOMPLAB_BENCH_OP="+op, "GOMPLAB_BENCH_LEN="+strconv.Itoa(length), "GOMPLAB_BENCH_N="+strconv.Itoa(b.N))...)
	c, err := Dial(context.Background(), job.Config(0))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	step := benchOps[op](c, length)
	if err := step(); err != nil { // warm-up step, matched by the child's
		b.Fatal(err)
	}
	b.ResetTimer()
	timedLoop(b, step)
	if err := kid.cmd.Wait(); err != nil {
		b.Fatalf("child: %v: %s", err, kid.stderr.String())
	}
}

// benchChild is rank 1 of benchProcess.
func benchChild(c Comm) int {
	length, _ := strconv.Atoi(os.Getenv("GOMPLAB_BENCH_LEN"))
	n, _ := strconv.Atoi(os.Getenv("GOMPLAB_BENCH_N"))
	mk, ok := benchOps[os.Getenv("GOMPLAB_BENCH_OP")]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown bench op")
		return 1
	}
	if err := loop(mk(c, length), 1+n); err != nil { // one warm-up step, then n
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// benchWire is the baseline: the same traffic between two processes over a
// bare TCP connection (TCP_NODELAY, no framing, no queues), i.e. what the
// machine's loopback allows.
func benchWire(b *testing.B, op string, length int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	job, err := NewLocalJob(2, false) // only for startChild's plumbing
	if err != nil {
		b.Fatal(err)
	}
	defer job.Close()
	kid := startChild(b, job, 1, "wire", "GOMPLAB_BENCH_OP="+op, "GOMPLAB_BENCH_LEN="+strconv.Itoa(length),
		"GOMPLAB_BENCH_N="+strconv.Itoa(b.N), "GOMPLAB_BENCH_ADDR="+ln.Addr().String())
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	step := wireStep(conn, op, 0, length)
	if err := step(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	timedLoop(b, step)
	if err := kid.cmd.Wait(); err != nil {
		b.Fatalf("child: %v: %s", err, kid.stderr.String())
	}
}

// wireStep is one pingpong or exchange of length uint64s on a bare conn.
func wireStep(conn net.Conn, op string, rank, length int) func() error {
	out, in := make([]byte, 8*length), make([]byte, 8*length)
	return func() error {
		if op == "pingpong" {
			if rank == 0 {
				if _, err := conn.Write(out); err != nil {
					return err
				}
				_, err := io.ReadFull(conn, in)
				return err
			}
			if _, err := io.ReadFull(conn, in); err != nil {
				return err
			}
			_, err := conn.Write(in)
			return err
		}
		errc := make(chan error, 1)
		go func() { _, err := conn.Write(out); errc <- err }()
		_, err := io.ReadFull(conn, in)
		if werr := <-errc; err == nil {
			err = werr
		}
		return err
	}
}

// wireChild is rank 1 of benchWire.
func wireChild() int {
	length, _ := strconv.Atoi(os.Getenv("GOMPLAB_BENCH_LEN"))
	n, _ := strconv.Atoi(os.Getenv("GOMPLAB_BENCH_N"))
	conn, err := net.Dial("tcp", os.Getenv("GOMPLAB_BENCH_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close()
	if err := loop(wireStep(conn, os.Getenv("GOMPLAB_BENCH_OP"), 1, length), 1+n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
