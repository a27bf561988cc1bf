package provider

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// Messages between rank 0 and the trusted third party: a request is a
// one-byte tag and, for tagRequest, the request's fields as little-endian
// uint64s; a reply is rank 0's derived parts, concatenated.
const (
	tagRequest byte = 1
	tagClose   byte = 2
)

// requestFields is the number of integers a request encodes.
const requestFields = 6 + 14 + 1

// maxPartElements bounds every field and part of a decoded request, so a
// corrupt message cannot make the dealer allocate without limit.
const maxPartElements = maxPart

func encodeRequest(r Request) []byte {
	c := r.Conv
	f := [requestFields]int{int(r.Kind), r.N, r.Batch, r.M, r.K, r.Cols,
		c.N, c.C, c.H, c.W, c.Cout, c.KH, c.KW, c.StrideH, c.StrideW, c.PadH, c.PadW, c.DilationH, c.DilationW, c.Groups, int(r.Div)}
	b := make([]byte, 1+8*requestFields)
	b[0] = tagRequest
	for i, v := range f {
		binary.LittleEndian.PutUint64(b[1+8*i:], uint64(int64(v)))
	}
	return b
}

// decodeRequest parses and validates a request message.
func decodeRequest(b []byte) (Request, error) {
	if len(b) != 1+8*requestFields || b[0] != tagRequest {
		return Request{}, fmt.Errorf("provider: malformed request of %d bytes", len(b))
	}
	var f [requestFields]int
	for i := range f {
		v := int64(binary.LittleEndian.Uint64(b[1+8*i:]))
		if i == requestFields-1 { // the divisor, checked by layout
			if v < 0 || v > maxDiv {
				return Request{}, fmt.Errorf("provider: request divisor out of range: %d", v)
			}
			f[i] = int(v)
			continue
		}
		if v < 0 || v > maxPartElements {
			return Request{}, fmt.Errorf("provider: request field %d out of range: %d", i, v)
		}
		f[i] = int(v)
	}
	r := Request{Kind: Kind(f[0]), N: f[1], Batch: f[2], M: f[3], K: f[4], Cols: f[5],
		Conv: ConvSpec{N: f[6], C: f[7], H: f[8], W: f[9], Cout: f[10], KH: f[11], KW: f[12],
			StrideH: f[13], StrideW: f[14], PadH: f[15], PadW: f[16], DilationH: f[17], DilationW: f[18], Groups: f[19]},
		Div: uint64(f[20])}
	rnd, der, err := r.layout()
	if err != nil {
		return Request{}, err
	}
	for _, p := range append(rnd, der...) {
		if p.n > maxPartElements {
			return Request{}, fmt.Errorf("provider: %s request of %d elements is too large", r.Kind, p.n)
		}
	}
	return r, nil
}

// TrustedThirdParty is a computing party's end of a dealer running as a
// separate process (ServeTrustedThirdParty). Each party expands its random
// parts from a seed the dealer sent it; derived parts are random too,
// except rank 0's, which the dealer computes and sends: one request and
// one reply per Get, counted as a round on rank 0.
type TrustedThirdParty struct {
	c    comm.Comm
	rank int
	g    *PRG
}

// NewTrustedThirdParty connects this party to the dealer at rank c.Size()
// and receives its seed.
func NewTrustedThirdParty(c comm.Comm) (*TrustedThirdParty, error) {
	m, err := c.Recv(c.Size())
	if err != nil {
		return nil, fmt.Errorf("provider: seed from the trusted third party: %w", err)
	}
	if len(m) != SeedSize {
		return nil, fmt.Errorf("provider: seed from the trusted third party has %d bytes, want %d", len(m), SeedSize)
	}
	var s Seed
	copy(s[:], m)
	return &TrustedThirdParty{c: c, rank: c.Rank(), g: NewPRG(s.Derive("ttp"))}, nil
}

// Get implements Provider.
func (t *TrustedThirdParty) Get(r Request) *Shares {
	rnd, der, err := r.layout()
	if err != nil {
		panic(err)
	}
	s := &Shares{}
	var parts [][]uint64
	if r.lazy() {
		parts = s.skipLazy(t.g, rnd)
	} else {
		parts = draw(t.g, rnd)
	}
	if t.rank != 0 {
		s.Parts = append(parts, draw(t.g, der)...)
		return s
	}
	s.Parts = append(parts, make([][]uint64, len(der))...)
	ttp := t.c.Size()
	t.c.Stats().Round()
	if err := t.c.Send(ttp, encodeRequest(r)); err != nil {
		s.err, s.done = fmt.Errorf("provider: request to the trusted third party: %w", err), true
		return s
	}
	s.wait = func() error {
		total := 0
		for _, d := range der {
			total += d.n
		}
		buf := make([]uint64, total)
		if err := comm.RecvUint64s(t.c, ttp, buf); err != nil {
			return fmt.Errorf("provider: reply from the trusted third party: %w", err)
		}
		at := 0
		for i, d := range der {
			s.Parts[len(rnd)+i] = buf[at : at+d.n : at+d.n]
			at += d.n
		}
		return nil
	}
	return s
}

// Close tells the dealer that rank 0 is done (the other ranks have nothing
// to say).
func (t *TrustedThirdParty) Close() error {
	if t.rank != 0 {
		return nil
	}
	if err := t.c.Send(t.c.Size(), []byte{tagClose}); err != nil {
		return err
	}
	return comm.Flush(t.c, t.c.Size())
}

// ServeTrustedThirdParty runs the dealer on c (rank c.Size()): it sends
// every party its seed, then answers rank 0's requests in order until rank
// 0 closes. It returns nil after a close, or the error that ended it.
func ServeTrustedThirdParty(c comm.Comm) error {
	n := c.Size()
	if c.Rank() != n {
		return fmt.Errorf("provider: the trusted third party must be rank %d, not %d", n, c.Rank())
	}
	streams := make([]*PRG, n)
	for i := range streams {
		s := NewSeed()
		streams[i] = NewPRG(s.Derive("ttp"))
		if err := c.Send(i, s[:]); err != nil {
			return fmt.Errorf("provider: sending party %d its seed: %w", i, err)
		}
	}
	for {
		m, err := c.Recv(0)
		if err != nil {
			if errors.Is(err, comm.ErrClosed) {
				return nil
			}
			return fmt.Errorf("provider: trusted third party: %w", err)
		}
		if len(m) == 1 && m[0] == tagClose {
			return nil
		}
		r, err := decodeRequest(m)
		if err != nil {
			return err
		}
		reply := deal(r, streams)
		if err := comm.SendUint64s(c, 0, reply); err != nil {
			return fmt.Errorf("provider: reply to party 0: %w", err)
		}
		if err := comm.Flush(c, 0); err != nil {
			return err
		}
	}
}

// deal replays every party's stream for r and returns rank 0's derived
// parts, concatenated.
func deal(r Request, streams []*PRG) []uint64 {
	rnd, der, _ := r.layout()
	all := make([][][]uint64, len(streams))
	for i, g := range streams {
		all[i] = draw(g, rnd)
	}
	others := make([][][]uint64, 0, len(streams)-1)
	for _, g := range streams[1:] {
		others = append(others, draw(g, der))
	}
	// derive sums into the replicas of ranks ≥ 1; rank 0's are replicas
	// here too, so nothing is shared with a party.
	full := derive(r, all)
	total := 0
	for _, d := range der {
		total += d.n
	}
	out := make([]uint64, 0, total)
	for i, d := range der {
		for _, o := range others {
			if d.binary {
				ring.XorTo(full[i], o[i])
			} else {
				ring.SubFrom(full[i], o[i])
			}
		}
		out = append(out, full[i]...)
	}
	release(all)
	release(others)
	release([][][]uint64{full})
	return out
}
