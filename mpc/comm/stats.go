package comm

import (
	"sort"
	"sync"
)

// Counts is a snapshot of traffic.
type Counts struct {
	BytesSent     int64 `json:"bytes_sent"`
	BytesReceived int64 `json:"bytes_received"`
	Messages      int64 `json:"messages"` // messages sent
	Rounds        int64 `json:"rounds"`
}

// Add returns c + o.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.BytesSent + o.BytesSent, c.BytesReceived + o.BytesReceived,
		c.Messages + o.Messages, c.Rounds + o.Rounds}
}

// Sub returns c - o, for measuring an interval between two snapshots.
func (c Counts) Sub(o Counts) Counts {
	return Counts{c.BytesSent - o.BytesSent, c.BytesReceived - o.BytesReceived,
		c.Messages - o.Messages, c.Rounds - o.Rounds}
}

// Stats counts one party's traffic, in total and per operation. Traffic is
// attributed to the outermost operation open at the time (see Op), so the
// rounds of a ReLU include those of the comparison inside it. Stats is safe
// for concurrent use.
type Stats struct {
	mu    sync.Mutex
	total Counts
	byOp  map[string]Counts
	ops   []string // stack of open operations
}

// NewStats returns zeroed counters.
func NewStats() *Stats { return &Stats{byOp: map[string]Counts{}} }

// Op opens an operation named name and returns the function that closes it.
// Typical use: defer stats.Op("mul")().
func (s *Stats) Op(name string) (end func()) {
	s.mu.Lock()
	s.ops = append(s.ops, name)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.ops = s.ops[:len(s.ops)-1]
		s.mu.Unlock()
	}
}

func (s *Stats) add(c Counts) {
	s.mu.Lock()
	s.total = s.total.Add(c)
	if len(s.ops) > 0 {
		op := s.ops[0]
		s.byOp[op] = s.byOp[op].Add(c)
	}
	s.mu.Unlock()
}

// Sent records one message of n bytes sent.
func (s *Stats) Sent(n int) { s.add(Counts{BytesSent: int64(n), Messages: 1}) }

// Received records n bytes received.
func (s *Stats) Received(n int) { s.add(Counts{BytesReceived: int64(n)}) }

// Round records one communication round.
func (s *Stats) Round() { s.add(Counts{Rounds: 1}) }

// Total returns the counts since creation or the last Reset.
func (s *Stats) Total() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ByOp returns the counts attributed to each outermost operation.
func (s *Stats) ByOp() map[string]Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]Counts, len(s.byOp))
	for k, v := range s.byOp {
		m[k] = v
	}
	return m
}

// OpNames returns the names of operations with recorded traffic, sorted.
func (s *Stats) OpNames() []string {
	m := s.ByOp()
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Reset zeroes all counters (open operations stay open).
func (s *Stats) Reset() {
	s.mu.Lock()
	s.total = Counts{}
	s.byOp = map[string]Counts{}
	s.mu.Unlock()
}
