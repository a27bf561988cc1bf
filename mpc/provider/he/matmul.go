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
	var out []byte
	poly := make([]uint64, N)
	for x, d := range ds {
		L := lefts[x]
		if len(L) != d.M*d.K {
			return nil, fmt.Errorf("he: left operand %d has %d values, want %d", x, len(L), d.M*d.K)
		}
		b := plan(d)
		for ib := 0; ib < b.mb; ib++ {
			for jb := 0; jb < b.nb; jb++ {
				clear(poly)
				for i := 0; i < b.m && ib*b.m+i < d.M; i++ {
					row := L[(ib*b.m+i)*d.K:]
					for j := 0; j < b.n && jb*b.n+j < d.K; j++ {
						poly[i*b.n*b.c+b.n-1-j] = row[jb*b.n+j]
					}
				}
				ct, err := k.Encrypt(poly)
				if err != nil {
					return nil, err
				}
				out = append(out, ct.Bytes(k.c)...)
			}
		}
	}
	return out, nil
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
	up, _ := Cost(ds)
	if int64(len(msg)) != up {
		return nil, nil, fmt.Errorf("he: %d bytes of ciphertexts, want %d", len(msg), up)
	}
	var reply []byte
	shares := make([][]uint64, len(ds))
	poly := make([]uint64, N)
	mask := make([]uint64, N)
	var mb [8 * N]byte
	for x, d := range ds {
		R := rights[x]
		if len(R) != d.K*d.C {
			return nil, nil, fmt.Errorf("he: right operand %d has %d values, want %d", x, len(R), d.K*d.C)
		}
		b := plan(d)
		cts := make([]*Expanded, b.uploads())
		for i := range cts {
			ct, err := c.ParseCiphertext(msg[:ciphertextBytes])
			if err != nil {
				return nil, nil, err
			}
			msg = msg[ciphertextBytes:]
			cts[i] = c.Expand(ct)
		}
		pts := make([]*Plaintext, b.nb*b.cb)
		for jb := 0; jb < b.nb; jb++ {
			for lb := 0; lb < b.cb; lb++ {
				clear(poly)
				for j := 0; j < b.n && jb*b.n+j < d.K; j++ {
					row := R[(jb*b.n+j)*d.C:]
					for l := 0; l < b.c && lb*b.c+l < d.C; l++ {
						poly[l*b.n+j] = row[lb*b.c+l]
					}
				}
				pts[jb*b.cb+lb] = c.NewPlaintext(poly)
			}
		}
		share := make([]uint64, d.M*d.C)
		for ib := 0; ib < b.mb; ib++ {
			for lb := 0; lb < b.cb; lb++ {
				acc := c.NewAccumulator()
				for jb := 0; jb < b.nb; jb++ {
					acc.MulAdd(cts[ib*b.nb+jb], pts[jb*b.cb+lb])
				}
				if _, err := io.ReadFull(rnd, mb[:]); err != nil {
					return nil, nil, fmt.Errorf("he: randomness: %w", err)
				}
				for i := range mask {
					mask[i] = binary.LittleEndian.Uint64(mb[8*i:])
				}
				rp, err := acc.Finish(pk, mask, rnd)
				if err != nil {
					return nil, nil, err
				}
				reply = append(reply, rp.Bytes(c)...)
				for i := 0; i < b.m && ib*b.m+i < d.M; i++ {
					for l := 0; l < b.c && lb*b.c+l < d.C; l++ {
						share[(ib*b.m+i)*d.C+lb*b.c+l] = -mask[i*b.n*b.c+l*b.n+b.n-1]
					}
				}
			}
		}
		shares[x] = share
	}
	return reply, shares, nil
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
		for ib := 0; ib < b.mb; ib++ {
			for lb := 0; lb < b.cb; lb++ {
				rp, err := k.c.ParseReply(reply[:replyBytes])
				if err != nil {
					return nil, err
				}
				reply = reply[replyBytes:]
				m := k.Decrypt(rp)
				for i := 0; i < b.m && ib*b.m+i < d.M; i++ {
					for l := 0; l < b.c && lb*b.c+l < d.C; l++ {
						share[(ib*b.m+i)*d.C+lb*b.c+l] = m[i*b.n*b.c+l*b.n+b.n-1]
					}
				}
			}
		}
		shares[x] = share
	}
	return shares, nil
}
