package provider

import (
	"encoding/binary"

	"github.com/gomplab/gomplab/mpc/internal/vaes"
)

// expandKey returns the AES-128 round keys of key (vaes.ExpandKey).
func expandKey(key []byte) [176]byte { return vaes.ExpandKey(key) }

// The PRG's stream is AES-128 in counter mode with a 128-bit big-endian
// counter whose low 64 bits start at zero (so they never carry into the
// high half): the stream of crypto/cipher's CTR with that IV. On CPUs with
// 512-bit vector AES it is computed 16 blocks at a time by ctrVAES;
// elsewhere crypto/cipher computes the very same bytes, so parties on
// different machines stay in step.

// ctrState is the vector path's counter state, laid out for ctrVAES:
// four lanes of (high, low) counter halves as little-endian qwords, the
// per-lane increment of four blocks, and the byte-swap shuffle that turns
// each qword big-endian.
type ctrState struct {
	ctr  [8]uint64
	inc  [8]uint64
	swap [8]uint64
}

func newCtrState(hi uint64) *ctrState {
	st := &ctrState{}
	for lane := 0; lane < 4; lane++ {
		st.ctr[2*lane] = hi
		st.ctr[2*lane+1] = uint64(lane)
		st.inc[2*lane+1] = 4
	}
	// Within each 8-byte qword, byte i comes from byte 7-i.
	var sw [64]byte
	for q := 0; q < 8; q++ {
		for i := 0; i < 8; i++ {
			sw[8*q+i] = byte(8*(q%2) + 7 - i)
		}
	}
	for i := range st.swap {
		st.swap[i] = binary.LittleEndian.Uint64(sw[8*i:])
	}
	return st
}
