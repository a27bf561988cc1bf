package he

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// Elementwise products use slot (SIMD) encoding: under a prime plaintext
// modulus t ≡ 1 mod 2N, the negacyclic NTT over Z_t turns polynomial
// products into N independent products of residues. Products of 64-bit
// values need 128 bits and more, so three such moduli (≈ 2^177 together)
// carry the exact integer Σ_k x_k·y_k + R, R a mask of 168 + log2(k)
// bits, from which the key owner keeps the value mod 2^64 and the
// evaluator −R mod 2^64: additive shares of Σ_k x_k·y_k over Z_2^64,
// with the sum hidden within 2^−40 statistical distance.

// maxVectors bounds the products summed per element.
const maxVectors = 64

// SlotCost returns the bytes each side sends for n elements and k
// products per element.
func SlotCost(n, k int) (upload, reply int64) {
	b := int64((n + N - 1) / N)
	return b * slotMods * int64(k) * ciphertextBytes, b * slotMods * replyBytes
}

func checkVectors(vs [][]uint64) (n int, err error) {
	if len(vs) == 0 || len(vs) > maxVectors {
		return 0, fmt.Errorf("he: %d vectors per product (1 to %d)", len(vs), maxVectors)
	}
	n = len(vs[0])
	for _, v := range vs {
		if len(v) != n {
			return 0, fmt.Errorf("he: vectors of %d and %d elements", n, len(v))
		}
	}
	if n == 0 || n > 1<<26 {
		return 0, fmt.Errorf("he: %d elements per vector (1 to 2^26)", n)
	}
	return n, nil
}

// slotPoly returns the coefficients whose slots are the values of
// xs[lo:hi] modulo pl's prime (zero past the end).
func slotPoly(pl *plain, xs []uint64) ring.Poly {
	p := pl.rt.NewPoly()
	for i, x := range xs {
		p.Coeffs[0][i] = x % pl.t
	}
	pl.rt.INTT(p, p)
	return p
}

// EncryptVectors encrypts the vectors xs (equal lengths, values in
// Z_2^64) slot-wise under k and returns the message for the evaluator.
func (k *SecretKey) EncryptVectors(xs [][]uint64) ([]byte, error) {
	n, err := checkVectors(xs)
	if err != nil {
		return nil, err
	}
	// Ciphertexts in the order batch, prime, vector; seeds drawn in that
	// order, encryptions in parallel.
	type job struct {
		lo, hi, prime, vec int
		sd                 ctSeeds
	}
	var jobs []job
	for lo := 0; lo < n; lo += N {
		for p := range k.c.slots {
			for v := range xs {
				sd, err := k.seeds()
				if err != nil {
					return nil, err
				}
				jobs = append(jobs, job{lo, min(n, lo+N), p, v, sd})
			}
		}
	}
	out := make([]byte, len(jobs)*ciphertextBytes)
	err = parallel(len(jobs), func(i int) error {
		jb := jobs[i]
		pl := k.c.slots[jb.prime]
		ct := k.encryptWith(pl, slotPoly(pl, xs[jb.vec][jb.lo:jb.hi]).Coeffs[0], jb.sd)
		copy(out[i*ciphertextBytes:], ct.Bytes(k.c))
		return nil
	})
	return out, err
}

// EvalProducts multiplies the encrypted vectors in msg slot-wise by ys
// (one vector per encrypted one), sums, masks every slot with fresh
// randomness from rnd, and returns the reply for the key's owner and
// this party's shares: the owner's DecryptProducts plus these shares is
// Σ_k xs[k]∘ys[k] mod 2^64.
func (c *Context) EvalProducts(pk *PublicKey, msg []byte, ys [][]uint64, rnd io.Reader) ([]byte, []uint64, error) {
	n, err := checkVectors(ys)
	if err != nil {
		return nil, nil, err
	}
	up, rep := SlotCost(n, len(ys))
	if int64(len(msg)) != up {
		return nil, nil, fmt.Errorf("he: %d bytes of ciphertexts, want %d", len(msg), up)
	}
	maskBits := 168 + bits.Len(uint(len(ys)))
	share := make([]uint64, n)
	batches := (n + N - 1) / N
	// The masks R of every slot, as three words, drawn in order; then a
	// seed per reply for its re-randomisation and flooding.
	r := make([][3]uint64, n)
	var w [24]byte
	for i := range r {
		if _, err := io.ReadFull(rnd, w[:]); err != nil {
			return nil, nil, fmt.Errorf("he: randomness: %w", err)
		}
		r[i] = [3]uint64{binary.LittleEndian.Uint64(w[:]), binary.LittleEndian.Uint64(w[8:]),
			binary.LittleEndian.Uint64(w[16:]) & (1<<(maskBits-128) - 1)}
		share[i] = -r[i][0]
	}
	seeds := make([][SeedSize]byte, batches*slotMods)
	for i := range seeds {
		if seeds[i], err = readSeed(rnd); err != nil {
			return nil, nil, err
		}
	}
	reply := make([]byte, rep)
	err = parallel(len(seeds), func(o int) error {
		bt, p := o/slotMods, o%slotMods
		lo, hi := bt*N, min(n, (bt+1)*N)
		pl := c.slots[p]
		acc := c.NewAccumulator()
		for v, y := range ys {
			off := (o*len(ys) + v) * ciphertextBytes
			ct, err := c.ParseCiphertext(msg[off : off+ciphertextBytes])
			if err != nil {
				return err
			}
			pt := slotPoly(pl, y[lo:hi])
			acc.MulAdd(c.Expand(ct), c.newPlaintext(pl, pt.Coeffs[0]))
		}
		m := make([]uint64, hi-lo)
		for i, ri := range r[lo:hi] {
			m[i] = bits.Rem64(bits.Rem64(ri[2], ri[1], pl.t), ri[0], pl.t)
		}
		rp, err := acc.finish(pl, pk, slotPoly(pl, m).Coeffs[0], newPRNG(seeds[o][:]))
		if err != nil {
			return err
		}
		copy(reply[o*replyBytes:], rp.Bytes(c))
		return nil
	})
	return reply, share, err
}

// DecryptProducts decrypts the evaluator's reply for n elements into
// this party's shares.
func (k *SecretKey) DecryptProducts(reply []byte, n, vectors int) ([]uint64, error) {
	if n <= 0 || n > 1<<26 || vectors <= 0 || vectors > maxVectors {
		return nil, fmt.Errorf("he: %d elements, %d vectors", n, vectors)
	}
	_, want := SlotCost(n, vectors)
	if int64(len(reply)) != want {
		return nil, fmt.Errorf("he: reply of %d bytes, want %d", len(reply), want)
	}
	c := k.c
	t1, t2, t3 := c.slots[0].t, c.slots[1].t, c.slots[2].t
	inv := func(a, m uint64) uint64 { return modInverse(a%m, m) }
	i12, i13, i23 := inv(t1, t2), inv(t1, t3), inv(t2, t3)
	t12 := t1 * t2 // mod 2^64
	mul := func(a, b, m uint64) uint64 {
		hi, lo := bits.Mul64(a, b)
		return bits.Rem64(hi, lo, m)
	}
	out := make([]uint64, n)
	batches := (n + N - 1) / N
	slots := make([][]uint64, batches*slotMods)
	err := parallel(len(slots), func(o int) error {
		pl := c.slots[o%slotMods]
		rp, err := c.ParseReply(reply[o*replyBytes : (o+1)*replyBytes])
		if err != nil {
			return err
		}
		p := pl.rt.NewPoly()
		copy(p.Coeffs[0], k.decrypt(pl, rp))
		pl.rt.NTT(p, p)
		slots[o] = p.Coeffs[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	for lo := 0; lo < n; lo += N {
		hi := min(n, lo+N)
		v := slots[lo/N*slotMods : lo/N*slotMods+slotMods]
		for i := 0; i < hi-lo; i++ {
			// Garner: v = a1 + a2·t1 + a3·t1·t2, exact below t1·t2·t3.
			a1 := v[0][i]
			a2 := mul((v[1][i]+t2-a1%t2)%t2, i12, t2)
			a3 := mul(((mul((v[2][i]+t3-a1%t3)%t3, i13, t3) + t3 - a2%t3) % t3), i23, t3)
			out[lo+i] = a1 + a2*t1 + a3*t12
		}
	}
	return out, nil
}

// modInverse returns a^{-1} mod m (m prime, a ≠ 0): a^{m−2}.
func modInverse(a, m uint64) uint64 {
	r, e := uint64(1), m-2
	for e > 0 {
		if e&1 == 1 {
			hi, lo := bits.Mul64(r, a)
			r = bits.Rem64(hi, lo, m)
		}
		hi, lo := bits.Mul64(a, a)
		a = bits.Rem64(hi, lo, m)
		e >>= 1
	}
	return r
}
