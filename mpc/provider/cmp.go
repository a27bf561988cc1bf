package provider

import (
	"math/bits"
	"slices"

	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// The comparison kinds (Cmp, Carry) serve the engine's sign-bit protocol
// (package mpc, cmp.go there): the parties open c = x + r for a mask r
// dealt in both sharings, and the sign of x = c − r is c63 ⊕ r63 ⊕ the
// borrow into bit 63, computed by a carry-lookahead tree over 4-bit
// digits. With c public, a digit's (generate, propagate) pair is a
// polynomial in the digit's bits of r, so Cmp deals every product of
// those bits; the two levels above the digits combine four pairs at a
// time in one round each, on values opened under the masks a Carry unit
// deals with the products of the mask subsets the combination needs.
//
// Layouts (words are binary shares, 64 elements per word):
//
//   - Cmp, per 64 elements (one word w): RB[64w+j] is bit plane j of
//     R[64w .. 64w+63] (bit i of it is bit j of R[64w+i]; the bits of
//     elements past N are unspecified); RD[DigitProducts·(16w+d) + k] is the product of the
//     bits of digit d (positions 4d .. 4d+3) of R in the subset
//     DigitSubset(k) (bit m of the subset: position 4d+m).
//   - Carry, per word w: M[CarryVars·w + v] is the mask of variable v
//     (0..3: generate G0..G3, 4..7: propagate P0..P3), and
//     MQ[CarryProducts·w + k] the product of the masks of the variables in
//     CarrySubset(k).

// DigitProducts is the number of products a Cmp deals per digit: every
// subset of its four bits with at least two members.
const DigitProducts = 11

// CarryVars is the number of masked variables of a Carry unit, and
// CarryProducts the number of mask products it deals.
const (
	CarryVars     = 8
	CarryProducts = 22
)

var (
	digitSubsets []uint8       // DigitSubset(k), increasing
	digitIndex   [16]int8      // subset → k, −1 if not dealt
	carrySubsets []uint8       // CarrySubset(k), increasing
	carryIndex   [256]int16    // subset → k, −1 if not dealt
	carryMonos   = [...]uint8{ // the monomials of a combination
		1 << 3,                    // G3
		1<<7 | 1<<2,               // P3 G2
		1<<7 | 1<<6 | 1<<1,        // P3 P2 G1
		1<<7 | 1<<6 | 1<<5 | 1<<0, // P3 P2 P1 G0
		1<<7 | 1<<6 | 1<<5 | 1<<4, // P3 P2 P1 P0 (the propagate)
	}
)

func init() {
	for i := range digitIndex {
		digitIndex[i] = -1
	}
	for s := 0; s < 16; s++ {
		if bits.OnesCount(uint(s)) >= 2 {
			digitIndex[s] = int8(len(digitSubsets))
			digitSubsets = append(digitSubsets, uint8(s))
		}
	}
	for i := range carryIndex {
		carryIndex[i] = -1
	}
	seen := map[uint8]bool{}
	for _, m := range carryMonos {
		for t := m; t != 0; t = (t - 1) & m {
			if bits.OnesCount8(t) >= 2 {
				seen[t] = true
			}
		}
	}
	for t := range seen {
		carrySubsets = append(carrySubsets, t)
	}
	slices.Sort(carrySubsets)
	for k, t := range carrySubsets {
		carryIndex[t] = int16(k)
	}
	if len(digitSubsets) != DigitProducts || len(carrySubsets) != CarryProducts {
		panic("provider: comparison subsets miscounted")
	}
}

// DigitSubset returns the subset of a digit's four bits (bit m: the
// digit's bit m) whose product is the k-th a Cmp deals per digit.
func DigitSubset(k int) uint8 { return digitSubsets[k] }

// DigitIndex returns the index of the product of the digit bits in subset
// s (at least two bits) among a Cmp's products, or −1.
func DigitIndex(s uint8) int { return int(digitIndex[s&15]) }

// CarrySubset returns the subset of a Carry unit's variables (bit v:
// variable v) whose mask product is the k-th it deals.
func CarrySubset(k int) uint8 { return carrySubsets[k] }

// CarryIndex returns the index of the mask product of subset s (at least
// two variables) among a Carry unit's products, or −1 if it is not dealt.
func CarryIndex(s uint8) int { return int(carryIndex[s]) }

// deriveCmp sets the bit planes and digit products of the mask r.
func deriveCmp(rb, rd, r []uint64) {
	var blk [64]uint64
	for w := 0; w < len(rb)/64; w++ {
		m := copy(blk[:], r[64*w:min(64*w+64, len(r))])
		clear(blk[m:])
		ring.Transpose64(&blk)
		copy(rb[64*w:64*w+64], blk[:])
		digitProducts(rd[DigitProducts*16*w:DigitProducts*16*(w+1)], &blk)
	}
}

// digitProducts sets the products of every digit of 64 bit planes.
func digitProducts(out []uint64, planes *[64]uint64) {
	for d := 0; d < 16; d++ {
		b := planes[4*d : 4*d+4]
		o := out[DigitProducts*d : DigitProducts*(d+1)]
		for k, s := range digitSubsets {
			v := ^uint64(0)
			for m := 0; m < 4; m++ {
				if s>>m&1 == 1 {
					v &= b[m]
				}
			}
			o[k] = v
		}
	}
}

// deriveCarry sets the mask products of every Carry unit.
func deriveCarry(q, m []uint64) {
	for w := 0; w < len(m)/CarryVars; w++ {
		v := m[CarryVars*w : CarryVars*(w+1)]
		o := q[CarryProducts*w : CarryProducts*(w+1)]
		for k, s := range carrySubsets {
			x := ^uint64(0)
			for i := 0; i < CarryVars; i++ {
				if s>>i&1 == 1 {
					x &= v[i]
				}
			}
			o[k] = x
		}
	}
}

// MaxFan is the largest fan-in of a Fan request.
const MaxFan = 12

// FanProducts returns the number of products a Fan unit of fan-in k
// deals: the subsets of its k bits with at least two members.
func FanProducts(k int) int { return 1<<k - k - 1 }

// FanIndex returns the index of the product over the subset s (a bit mask
// with at least two bits) among a Fan unit's products: they are dealt in
// increasing order of s.
func FanIndex(s uint16) int { return int(s) - bits.Len16(s) - 1 }

// deriveFan sets the subset products of every Fan unit of fan-in k.
func deriveFan(q, m []uint64, k int) {
	np := FanProducts(k)
	prod := make([]uint64, 1<<k)
	for w := 0; w < len(m)/k; w++ {
		v := m[k*w : k*(w+1)]
		o := q[np*w : np*(w+1)]
		prod[0] = ^uint64(0)
		for s := 1; s < 1<<k; s++ {
			lo := s & -s
			prod[s] = prod[s&^lo] & v[bits.TrailingZeros(uint(lo))]
			if s&(s-1) != 0 {
				o[FanIndex(uint16(s))] = prod[s]
			}
		}
	}
}
