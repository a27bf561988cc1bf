package mpc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// Shares kept on workers between jobs (syft's shared pointers,
// docs/shared-pointers.md). A party stores its share of a CrypTensor in
// its own worker's store as a tensor whose float64 elements carry the
// share's 64-bit words bit for bit (SaveShare), and a later job's party
// reads it back as its share (LoadShare). Job code never holds the words:
// it gets a CrypTensor, and saves one. What a share is stored as follows
// Save: private, owned by the data's owners, when the party computed on
// restricted data.

// SaveShare stores this party's share of x in its own worker under tag,
// on every party (each in its own store; no communication). It counts
// against the job's save quota like Save.
func (p *Party) SaveShare(tag string, x *CrypTensor) error {
	if x == nil {
		return fmt.Errorf("mpc: save share %q: nil tensor", tag)
	}
	if x.p != p {
		return fmt.Errorf("mpc: save share %q: the tensor belongs to another party", tag)
	}
	words := make([]float64, len(x.share))
	for i, w := range x.share {
		words[i] = math.Float64frombits(w)
	}
	t, err := tensor.New(words, x.Shape()...)
	if err != nil {
		return fmt.Errorf("mpc: save share %q: %w", tag, err)
	}
	if err := p.save(tag, t, true); err != nil {
		return fmt.Errorf("mpc: save share: %w", err)
	}
	return nil
}

// ShareStore is a store that keeps a party's shares between jobs
// (SaveShare): as private objects, so that no listing shows their words
// and no one else reads them; readable by the job's user when the party
// is not restricted (its user could compute them anyway), else private
// data of the owners of what the job loaded, as Save's results are.
type ShareStore interface {
	SaveShareTagged(tag string, t *tensor.Tensor, restricted bool) error
}

// LoadShare reads this party's share stored under tag in its own worker
// (by SaveShare, or sent there by syft.Share) and returns the CrypTensor
// the parties' shares make up. Every party must call it with the same
// tag: each announces its share's shape (or its error) and whether the
// share is restricted, one round per party, so a failure on any party is
// reported on every one and every party becomes restricted when one
// share is.
func (p *Party) LoadShare(tag string) (*CrypTensor, error) {
	t, restricted, err := p.loadTagged(tag)
	if err == nil && t == nil {
		err = fmt.Errorf("store returned no tensor")
	}
	if err != nil {
		err = fmt.Errorf("load share %q: %w", tag, err)
	}
	var mine []byte
	if err == nil {
		mine = encodeShape(t.Shape())
	}
	var shape []int
	var first error
	for src := 0; src < p.size; src++ {
		var msg []byte
		var e error
		if src == p.rank {
			msg, e = Announce(p, src, mine, restricted, err)
		} else {
			msg, e = Announce(p, src, nil, false, nil)
		}
		if e != nil {
			if first == nil {
				first = e
			}
			continue
		}
		s, e := decodeShape(msg)
		if e != nil {
			if first == nil {
				first = fmt.Errorf("shape of party %d's share: %w", src, e)
			}
			continue
		}
		if shape == nil {
			shape = s
		} else if !sameShape(shape, s) && first == nil {
			first = fmt.Errorf("party %d's share has shape %v, party 0's %v: the shares are not of one tensor", src, s, shape)
		}
	}
	if first != nil {
		return nil, fmt.Errorf("mpc: load share %q: %w", tag, first)
	}
	words := make([]uint64, t.Size())
	for i, v := range t.Data() {
		words[i] = math.Float64bits(v)
	}
	return p.newCT(shape, words), nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// LoadShare is Party.LoadShare on the default party.
func LoadShare(tag string) (*CrypTensor, error) { return mustDefault("LoadShare").LoadShare(tag) }

// SaveShare is Party.SaveShare on the default party.
func SaveShare(tag string, x *CrypTensor) error { return mustDefault("SaveShare").SaveShare(tag, x) }

// SplitShares encodes x at precision fractional bits and splits it into n
// additive shares over Z_2^64 (crypto/rand): what a data scientist's
// process does to share a tensor it holds (syft.Share), so that no
// worker ever sees it. Host code only. CombineShares undoes it.
func SplitShares(x *tensor.Tensor, precision uint, n int) ([][]uint64, error) {
	if x == nil {
		return nil, fmt.Errorf("mpc: split shares: nil tensor")
	}
	if n < 1 {
		return nil, fmt.Errorf("mpc: split shares: %d shares", n)
	}
	if precision > 30 {
		return nil, fmt.Errorf("mpc: split shares: precision %d bits is too high", precision)
	}
	enc := make([]uint64, x.Size())
	if err := encodeSlice(enc, x.Data(), precision); err != nil {
		return nil, fmt.Errorf("mpc: split shares: %w", err)
	}
	out := make([][]uint64, n)
	out[0] = enc
	buf := make([]byte, 8*len(enc))
	for i := 1; i < n; i++ {
		if _, err := rand.Read(buf); err != nil {
			return nil, fmt.Errorf("mpc: split shares: %w", err)
		}
		s := make([]uint64, len(enc))
		for j := range s {
			s[j] = binary.LittleEndian.Uint64(buf[8*j:])
			enc[j] -= s[j]
		}
		out[i] = s
	}
	return out, nil
}
