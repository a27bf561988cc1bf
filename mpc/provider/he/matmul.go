package he

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Dims shapes a product L·R of an M×K matrix by a K×C matrix (row-major).
type Dims struct{ M, K, C int }

// blocking cuts a product into m×n by n×c blocks with m·n·c ≤ N: one
// ciphertext per block of L, one plaintext per block of R, and one
// product polynomial per pair, whose coefficient i·n·c + l·n + n − 1 is
// the inner product of row i of the L block with column l of the R block
// (Cheetah's encoding): with L̂ = Σ L[i][j] X^{i·n·c + n−1−j} and
// R̂ = Σ R[j][l] X^{l·n + j}, the terms with equal j land there and the
// others land on coefficients that are not of that form.
type blocking struct {
	m, n, c    int
	mb, nb, cb int
}

func (b blocking) uploads() int { return b.mb * b.nb }
func (b blocking) replies() int { return b.mb * b.cb }

func ceil(a, b int) int { return (a + b - 1) / b }

// plan chooses the blocking of d that moves the fewest bytes, counting
// plaintext encodings (NTTs) as a small extra cost.
func plan(d Dims) blocking {
	best, bestCost := blocking{}, -1.0
	for m := 1; m <= min(d.M, N); m++ {
		// Only block heights that change the number of row blocks matter.
		if m < d.M && ceil(d.M, m) == ceil(d.M, m+1) {
			continue
		}
		for n := 1; n <= min(d.K, N/m); n++ {
			if n < d.K && ceil(d.K, n) == ceil(d.K, n+1) && m*(n+1) <= N {
				continue
			}
			c := min(d.C, N/(m*n))
			b := blocking{m: m, n: n, c: c, mb: ceil(d.M, m), nb: ceil(d.K, n), cb: ceil(d.C, c)}
			cost := float64(b.uploads()+b.replies()) + float64(b.nb*b.cb)/8
			if bestCost < 0 || cost < bestCost {
				best, bestCost = b, cost
			}
		}
	}
	return best
}

// checkDims validates the shapes of a list of products.
func checkDims(ds []Dims) error {
	for _, d := range ds {
		if d.M <= 0 || d.K <= 0 || d.C <= 0 || d.M > 1<<24 || d.K > 1<<24 || d.C > 1<<24 {
			return fmt.Errorf("he: product shape %+v out of range", d)
		}
	}
	return nil
}

// Cost returns the bytes each side sends for the products ds: the
// encryptor's ciphertexts and the evaluator's replies.
func Cost(ds []Dims) (upload, reply int64) {
	for _, d := range ds {
		b := plan(d)
		upload += int64(b.uploads()) * ciphertextBytes
		reply += int64(b.replies()) * replyBytes
	}
	return upload, reply
}

// EncryptLefts encrypts the left operands (lefts[i] is ds[i].M×ds[i].K)
// block by block and returns the message for the evaluator.
func (k *SecretKey) EncryptLefts(ds []Dims, lefts [][]uint64) ([]byte, error) {
	if err := checkDims(ds); err != nil {
		return nil, err
	}
	// Lay out every block and draw its seeds in order, then encrypt in
	// parallel.
	type job struct {
		poly []uint64
		sd   ctSeeds
	}
	var jobs []job
	for x, d := range ds {
		L := lefts[x]
		if len(L) != d.M*d.K {
			return nil, fmt.Errorf("he: left operand %d has %d values, want %d", x, len(L), d.M*d.K)
		}
		b := plan(d)
		for ib := 0; ib < b.mb; ib++ {
			for jb := 0; jb < b.nb; jb++ {
				poly := make([]uint64, N)
				for i := 0; i < b.m && ib*b.m+i < d.M; i++ {
					row := L[(ib*b.m+i)*d.K:]
					for j := 0; j < b.n && jb*b.n+j < d.K; j++ {
						poly[i*b.n*b.c+b.n-1-j] = row[jb*b.n+j]
					}
				}
				sd, err := k.seeds()
				if err != nil {
					return nil, err
				}
				jobs = append(jobs, job{poly, sd})
			}
		}
	}
	out := make([]byte, len(jobs)*ciphertextBytes)
	err := parallel(len(jobs), func(i int) error {
		ct := k.encryptWith(k.c.p64, jobs[i].poly, jobs[i].sd)
		copy(out[i*ciphertextBytes:], ct.Bytes(k.c))
		return nil
	})
	return out, err
}

// EvalRights multiplies the encrypted left operands in msg by the right
// operands (rights[i] is ds[i].K×ds[i].C), masks every result with fresh
// randomness from rnd, and returns the reply for the key's owner and this
// party's shares of the products (ds[i].M×ds[i].C each): the owner's
// decryption plus these shares is L·R mod 2^64.
func (c *Context) EvalRights(pk *PublicKey, ds []Dims, msg []byte, rights [][]uint64, rnd io.Reader) ([]byte, [][]uint64, error) {
	if err := checkDims(ds); err != nil {
		return nil, nil, err
	}
	up, rep := Cost(ds)
	if int64(len(msg)) != up {
		return nil, nil, fmt.Errorf("he: %d bytes of ciphertexts, want %d", len(msg), up)
	}
	full := make([]byte, rep)
	reply := full // the rest to fill
	shares := make([][]uint64, len(ds))
	for x, d := range ds {
		R := rights[x]
		if len(R) != d.K*d.C {
			return nil, nil, fmt.Errorf("he: right operand %d has %d values, want %d", x, len(R), d.K*d.C)
		}
		b := plan(d)
		cts := make([]*Expanded, b.uploads())
		err := parallel(len(cts), func(i int) error {
			ct, err := c.ParseCiphertext(msg[i*ciphertextBytes : (i+1)*ciphertextBytes])
			if err != nil {
				return err
			}
			cts[i] = c.Expand(ct)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		msg = msg[len(cts)*ciphertextBytes:]
		pts := make([]*Plaintext, b.nb*b.cb)
		parallel(len(pts), func(i int) error {
			jb, lb := i/b.cb, i%b.cb
			poly := make([]uint64, N)
			for j := 0; j < b.n && jb*b.n+j < d.K; j++ {
				row := R[(jb*b.n+j)*d.C:]
				for l := 0; l < b.c && lb*b.c+l < d.C; l++ {
					poly[l*b.n+j] = row[lb*b.c+l]
				}
			}
			pts[i] = c.NewPlaintext(poly)
			return nil
		})
		// Each output block's randomness (mask, re-randomisation,
		// flooding) comes from a seed drawn here in order.
		seeds := make([][SeedSize]byte, b.replies())
		for i := range seeds {
			if seeds[i], err = readSeed(rnd); err != nil {
				return nil, nil, err
			}
		}
		share := make([]uint64, d.M*d.C)
		err = parallel(len(seeds), func(o int) error {
			ib, lb := o/b.cb, o%b.cb
			acc := c.NewAccumulator()
			for jb := 0; jb < b.nb; jb++ {
				acc.MulAdd(cts[ib*b.nb+jb], pts[jb*b.cb+lb])
			}
			src := newPRNG(seeds[o][:])
			var mb [8 * N]byte
			src.Read(mb[:])
			mask := make([]uint64, N)
			for i := range mask {
				mask[i] = binary.LittleEndian.Uint64(mb[8*i:])
			}
			rp, err := acc.Finish(pk, mask, src)
			if err != nil {
				return err
			}
			copy(reply[o*replyBytes:], rp.Bytes(c))
			for i := 0; i < b.m && ib*b.m+i < d.M; i++ {
				for l := 0; l < b.c && lb*b.c+l < d.C; l++ {
					share[(ib*b.m+i)*d.C+lb*b.c+l] = -mask[i*b.n*b.c+l*b.n+b.n-1]
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		reply = reply[b.replies()*replyBytes:]
		shares[x] = share
	}
	return full, shares, nil
}

// DecryptOutputs decrypts the evaluator's reply into this party's shares
// of the products ds.
func (k *SecretKey) DecryptOutputs(ds []Dims, reply []byte) ([][]uint64, error) {
	if err := checkDims(ds); err != nil {
		return nil, err
	}
	_, want := Cost(ds)
	if int64(len(reply)) != want {
		return nil, fmt.Errorf("he: reply of %d bytes, want %d", len(reply), want)
	}
	shares := make([][]uint64, len(ds))
	for x, d := range ds {
		b := plan(d)
		share := make([]uint64, d.M*d.C)
		err := parallel(b.replies(), func(o int) error {
			ib, lb := o/b.cb, o%b.cb
			rp, err := k.c.ParseReply(reply[o*replyBytes : (o+1)*replyBytes])
			if err != nil {
				return err
			}
			m := k.Decrypt(rp)
			for i := 0; i < b.m && ib*b.m+i < d.M; i++ {
				for l := 0; l < b.c && lb*b.c+l < d.C; l++ {
					share[(ib*b.m+i)*d.C+lb*b.c+l] = m[i*b.n*b.c+l*b.n+b.n-1]
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		reply = reply[b.replies()*replyBytes:]
		shares[x] = share
	}
	return shares, nil
}
