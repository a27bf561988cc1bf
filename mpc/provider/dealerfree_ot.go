package provider

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/provider/ot"
)

// The elementwise kinds come from random OTs (SoftSpoken extension). In every OT one
// party is the receiver, with a choice bit c it drew, and the other the
// sender, with pads p0, p1 of which the receiver learns p_c. A correlated
// OT shares c·δ for the sender's value δ: the sender sends d = p0 − p1 + δ
// and keeps −p0; the receiver computes p_c + c·d = p0 + c·δ.
//
//   - mul (Gilboa): for each element, 64 correlated OTs per direction share
//     a_i·b_j, with the bits of b_j as choices and δ = a_i·2^k for bit k.
//     Only the top 64−k bits of the k-th matter, so the sender sends
//     64−k bits (2080 per element).
//   - square: one direction, δ = 2·r_0, choices the bits of r_1.
//   - and: two random OTs per bit and no sender message (Asharov et al.):
//     the receiver's choice is its b bit, the sender's a bit is
//     p0 ⊕ p1 (low bits), its share p0; the receiver's p_c = p0 ⊕ c·a.
//   - dabit: r = r0 ⊕ r1 = r0 + r1·(1 − 2r0): one correlated OT, choice
//     r1, δ = 1 − 2r0.
//   - bitmul: the same OT carries δ' = A0·(1 − 2r0) in the pad's second
//     word (A0·r), and a second OT the other way A1·(1 − 2r1).

// otChunk bounds the elements (words for and) of one round of OTs, which
// bounds the memory of a large request: 64 OTs per element, 4096 elements,
// 1 MiB of extension message.
const otChunk = 4096

// extend runs the OT extensions of one step: this party receives with
// choices (mRecv = 64·len(choices) OTs, none if choices is nil) and sends
// mSend OTs (the peer's mRecv). One message each way.
func (d *DealerFree) extend(choices []uint64, mSend int) (pads, p0, p1 []ot.Block, err error) {
	if choices != nil {
		msg, pd, err := d.otR.Extend(choices, 64*len(choices))
		if err != nil {
			return nil, nil, nil, err
		}
		pads = pd
		if err := comm.SendUint64s(d.c, d.peer, msg); err != nil {
			return nil, nil, nil, err
		}
	}
	if mSend > 0 {
		msg := make([]uint64, ot.MessageWords(mSend))
		if err := comm.RecvUint64s(d.c, d.peer, msg); err != nil {
			return nil, nil, nil, err
		}
		if p0, p1, err = d.otS.Extend(msg, mSend); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := comm.Flush(d.c, d.peer); err != nil {
		return nil, nil, nil, err
	}
	return pads, p0, p1, nil
}

// swap sends out (if not nil) and receives n words (if n > 0).
func (d *DealerFree) swap(out []uint64, n int) ([]uint64, error) {
	if out != nil {
		if err := comm.SendUint64s(d.c, d.peer, out); err != nil {
			return nil, err
		}
	}
	var in []uint64
	if n > 0 {
		in = make([]uint64, n)
		if err := comm.RecvUint64s(d.c, d.peer, in); err != nil {
			return nil, err
		}
	}
	return in, comm.Flush(d.c, d.peer)
}

// gilboaWords is the size in words of the sender's message for n
// products: 64 + 63 + ... + 1 = 2080 bits each.
func gilboaWords(n int) int { return (2080*n + 63) / 64 }

// elementwise fills the derived parts of r from the random parts.
func (d *DealerFree) elementwise(r Request, parts [][]uint64) ([][]uint64, error) {
	switch r.Kind {
	case Mul, Square:
		if r.N >= heProductsMin {
			return d.heProducts(r, parts)
		}
		c := make([]uint64, r.N)
		for lo := 0; lo < r.N; lo += otChunk {
			hi := min(r.N, lo+otChunk)
			var err error
			if r.Kind == Mul {
				err = d.mulChunk(parts[0][lo:hi], parts[1][lo:hi], c[lo:hi])
			} else {
				err = d.squareChunk(parts[0][lo:hi], c[lo:hi])
			}
			if err != nil {
				return nil, err
			}
		}
		return [][]uint64{c}, nil
	case And:
		c := make([]uint64, r.N)
		for lo := 0; lo < r.N; lo += otChunk {
			hi := min(r.N, lo+otChunk)
			if err := d.andChunk(parts[0][lo:hi], parts[1][lo:hi], c[lo:hi]); err != nil {
				return nil, err
			}
		}
		return [][]uint64{c}, nil
	case DaBit, BitMul:
		ra := make([]uint64, r.N)
		var cc []uint64
		if r.Kind == BitMul {
			cc = make([]uint64, r.N)
		}
		for lo := 0; lo < r.N; lo += 64 * otChunk {
			hi := min(r.N, lo+64*otChunk)
			bits := parts[0][lo/64 : (hi+63)/64]
			var a, cpart []uint64
			if r.Kind == BitMul {
				a, cpart = parts[1][lo:hi], cc[lo:hi]
			}
			if err := d.bitChunk(bits, a, ra[lo:hi], cpart); err != nil {
				return nil, err
			}
		}
		if r.Kind == DaBit {
			return [][]uint64{ra}, nil
		}
		return [][]uint64{ra, cc}, nil
	}
	return nil, fmt.Errorf("kind %s is not elementwise", r.Kind)
}

// mulChunk sets c = a∘b + shares of a_0∘b_1 + a_1∘b_0.
func (d *DealerFree) mulChunk(a, b, c []uint64) error {
	n := len(a)
	// Choices: the bits of b, OT 64e+k choosing by bit k of b_e.
	pads, p0, p1, err := d.extend(b, 64*n)
	if err != nil {
		return err
	}
	for e := range c {
		c[e] = a[e] * b[e]
	}
	msg := gilboaSend(a, p0, p1, c)
	in, err := d.swap(msg, gilboaWords(n))
	if err != nil {
		return err
	}
	return gilboaReceive(b, pads, in, c)
}

// squareChunk sets c = r∘r + shares of 2·r_0∘r_1: rank 0 sends, rank 1
// receives.
func (d *DealerFree) squareChunk(r, c []uint64) error {
	n := len(r)
	for e := range c {
		c[e] = r[e] * r[e]
	}
	if d.rank == 0 {
		_, p0, p1, err := d.extend(nil, 64*n)
		if err != nil {
			return err
		}
		x := make([]uint64, n)
		for e := range x {
			x[e] = 2 * r[e]
		}
		_, err = d.swap(gilboaSend(x, p0, p1, c), 0)
		return err
	}
	pads, _, _, err := d.extend(r, 0)
	if err != nil {
		return err
	}
	in, err := d.swap(nil, gilboaWords(n))
	if err != nil {
		return err
	}
	return gilboaReceive(r, pads, in, c)
}

// gilboaSend returns the sender's message for the products x_e·y_e of
// the peer's y (OT 64e+k chose by bit k of y_e) and subtracts the
// sender's pads from its shares in c.
func gilboaSend(x []uint64, p0, p1 []ot.Block, c []uint64) []uint64 {
	var w bitWriter
	w.out = make([]uint64, 0, gilboaWords(len(x)))
	for e, xe := range x {
		for k := 0; k < 64; k++ {
			j := 64*e + k
			a, b := p0[j][0], p1[j][0]
			width := uint(64 - k)
			w.put((a-b+xe)&mask(width), width)
			c[e] -= a << k
		}
	}
	return w.flush()
}

// gilboaReceive adds the receiver's shares of the products to c.
func gilboaReceive(y []uint64, pads []ot.Block, msg []uint64, c []uint64) error {
	if len(msg) != gilboaWords(len(y)) {
		return fmt.Errorf("product message of %d words, want %d", len(msg), gilboaWords(len(y)))
	}
	rd := bitReader{in: msg}
	for e, ye := range y {
		for k := 0; k < 64; k++ {
			width := uint(64 - k)
			dk := rd.get(width)
			v := pads[64*e+k][0]
			if ye>>k&1 == 1 {
				v += dk
			}
			c[e] += v << k
		}
	}
	return nil
}

func mask(width uint) uint64 {
	if width >= 64 {
		return ^uint64(0)
	}
	return 1<<width - 1
}

// bitWriter packs values of given widths into words, low bits first.
type bitWriter struct {
	out []uint64
	acc uint64
	n   uint
}

func (w *bitWriter) put(v uint64, width uint) {
	w.acc |= v << w.n
	if w.n+width >= 64 {
		w.out = append(w.out, w.acc)
		if w.n == 0 {
			w.acc = 0
		} else {
			w.acc = v >> (64 - w.n)
		}
		w.n = w.n + width - 64
		return
	}
	w.n += width
}

func (w *bitWriter) flush() []uint64 {
	if w.n > 0 {
		w.out = append(w.out, w.acc)
		w.acc, w.n = 0, 0
	}
	return w.out
}

// bitReader reads what bitWriter packed.
type bitReader struct {
	in  []uint64
	pos int
	acc uint64
	n   uint // unread bits in acc
}

func (r *bitReader) get(width uint) uint64 {
	if r.n >= width {
		v := r.acc & mask(width)
		r.acc >>= width % 64
		if width == 64 {
			r.acc = 0
		}
		r.n -= width
		return v
	}
	var next uint64
	if r.pos < len(r.in) {
		next = r.in[r.pos]
		r.pos++
	}
	v := r.acc
	if r.n < 64 {
		v |= next << r.n
	}
	v &= mask(width)
	used := width - r.n
	if used >= 64 {
		r.acc = 0
	} else {
		r.acc = next >> used
	}
	r.n = 64 - used
	return v
}

// andChunk sets a (replacing the drawn part: the sender's a bits come out
// of the OTs) and c = a&b ⊕ shares of a_0&b_1 ⊕ a_1&b_0.
func (d *DealerFree) andChunk(a, b, c []uint64) error {
	pads, p0, p1, err := d.extend(b, 64*len(b))
	if err != nil {
		return err
	}
	for w := range a {
		var aw, uw, vw uint64
		for k := 0; k < 64; k++ {
			j := 64*w + k
			aw |= (p0[j][0] ^ p1[j][0]) & 1 << k
			uw |= p0[j][0] & 1 << k
			vw |= pads[j][0] & 1 << k
		}
		a[w] = aw
		c[w] = aw&b[w] ^ uw ^ vw
	}
	return nil
}

// bitChunk shares the random bits (packed, r0 ⊕ r1) arithmetically in ra
// and, for bitmul (a and c not nil), the products c = a∘ra.
func (d *DealerFree) bitChunk(bits, a, ra, c []uint64) error {
	n := len(ra)
	m := 64 * len(bits)
	bit := func(e int) uint64 { return bits[e/64] >> (e % 64) & 1 }
	mul := a != nil
	if d.rank == 0 {
		// Sender of the OTs chosen by r1 (one or two words each), receiver
		// of bitmul's second direction, chosen by r0.
		var choices []uint64
		if mul {
			choices = bits
		}
		pads, p0, p1, err := d.extend(choices, m)
		if err != nil {
			return err
		}
		lanes := 1
		if mul {
			lanes = 2
		}
		out := make([]uint64, lanes*m)
		for j := 0; j < m; j++ {
			var r uint64
			if j < n {
				r = bit(j)
			}
			out[lanes*j] = p0[j][0] - p1[j][0] + 1 - 2*r
			if j < n {
				ra[j] = r - p0[j][0]
			}
			if mul {
				var av uint64
				if j < n {
					av = a[j]
				}
				out[lanes*j+1] = p0[j][1] - p1[j][1] + av*(1-2*r)
				if j < n {
					c[j] = av*r - p0[j][1]
				}
			}
		}
		inLen := 0
		if mul {
			inLen = m
		}
		in, err := d.swap(out, inLen)
		if err != nil {
			return err
		}
		if mul {
			for j := 0; j < n; j++ {
				v := pads[j][0]
				if bit(j) == 1 {
					v += in[j]
				}
				c[j] += v
			}
		}
		return nil
	}
	mSend := 0
	if mul {
		mSend = m
	}
	pads, p0, p1, err := d.extend(bits, mSend)
	if err != nil {
		return err
	}
	var out []uint64
	if mul {
		out = make([]uint64, m)
		for j := 0; j < m; j++ {
			var r, av uint64
			if j < n {
				r, av = bit(j), a[j]
			}
			out[j] = p0[j][0] - p1[j][0] + av*(1-2*r)
			if j < n {
				c[j] = av*r - p0[j][0]
			}
		}
	}
	lanes := 1
	if mul {
		lanes = 2
	}
	in, err := d.swap(out, lanes*m)
	if err != nil {
		return err
	}
	for j := 0; j < n; j++ {
		r := bit(j)
		v := pads[j][0]
		if r == 1 {
			v += in[lanes*j]
		}
		ra[j] = v
		if mul {
			w := pads[j][1]
			if r == 1 {
				w += in[lanes*j+1]
			}
			c[j] += w
		}
	}
	return nil
}
