package he

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"
)

var ctx = func() *Context {
	c, err := NewContext()
	if err != nil {
		panic(err)
	}
	return c
}()

// negacyclic returns a·b mod (X^N+1, 2^64).
func negacyclic(a, b []uint64) []uint64 {
	out := make([]uint64, N)
	for i, x := range a {
		if x == 0 {
			continue
		}
		for j, y := range b {
			if i+j < N {
				out[i+j] += x * y
			} else {
				out[i+j-N] -= x * y
			}
		}
	}
	return out
}

func TestProductDecrypts(t *testing.T) {
	if ctx.LogQ() > 218 {
		t.Fatalf("log Q = %.1f exceeds 218 bits", ctx.LogQ())
	}
	k, err := ctx.NewSecretKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ctx.ParsePublic(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	// Sparse operands keep the reference product cheap; the values are
	// full 64-bit, so the noise is that of the worst magnitudes.
	const terms = 3
	want := make([]uint64, N)
	acc := ctx.NewAccumulator()
	for k2 := 0; k2 < terms; k2++ {
		a := make([]uint64, N)
		b := make([]uint64, N)
		for i := 0; i < 64; i++ {
			a[rng.IntN(N)] = rng.Uint64()
			b[rng.IntN(N)] = rng.Uint64()
		}
		ct, err := k.Encrypt(a)
		if err != nil {
			t.Fatal(err)
		}
		ct2, err := ctx.ParseCiphertext(ct.Bytes(ctx))
		if err != nil {
			t.Fatal(err)
		}
		acc.MulAdd(ctx.Expand(ct2), ctx.NewPlaintext(b))
		for i, v := range negacyclic(a, b) {
			want[i] += v
		}
	}
	mask := make([]uint64, N)
	for i := range mask {
		mask[i] = rng.Uint64()
	}
	rp, err := acc.Finish(pk, mask, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rp2, err := ctx.ParseReply(rp.Bytes(ctx))
	if err != nil {
		t.Fatal(err)
	}
	got := k.Decrypt(rp2)
	for i := range got {
		if got[i]-mask[i] != want[i] {
			t.Fatalf("coefficient %d: got %d, want %d", i, got[i]-mask[i], want[i])
		}
	}
}

func TestMatMulShares(t *testing.T) {
	k, err := ctx.NewSecretKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := ctx.ParsePublic(k.Public())
	rng := mrand.New(mrand.NewPCG(3, 4))
	ds := []Dims{{1, 1, 1}, {3, 5, 7}, {16, 100, 10}, {200, 3, 90}}
	var lefts, rights [][]uint64
	for _, d := range ds {
		l := make([]uint64, d.M*d.K)
		r := make([]uint64, d.K*d.C)
		for i := range l {
			l[i] = rng.Uint64()
		}
		for i := range r {
			r[i] = rng.Uint64()
		}
		lefts, rights = append(lefts, l), append(rights, r)
	}
	msg, err := k.EncryptLefts(ds, lefts)
	if err != nil {
		t.Fatal(err)
	}
	reply, evShares, err := ctx.EvalRights(pk, ds, msg, rights, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	own, err := k.DecryptOutputs(ds, reply)
	if err != nil {
		t.Fatal(err)
	}
	for x, d := range ds {
		for i := 0; i < d.M; i++ {
			for l := 0; l < d.C; l++ {
				var want uint64
				for j := 0; j < d.K; j++ {
					want += lefts[x][i*d.K+j] * rights[x][j*d.C+l]
				}
				if got := own[x][i*d.C+l] + evShares[x][i*d.C+l]; got != want {
					t.Fatalf("product %d %+v (%+v): entry (%d,%d) = %d, want %d", x, d, plan(d), i, l, got, want)
				}
			}
		}
	}
	if _, _, err := ctx.EvalRights(pk, ds, msg[1:], rights, rand.Reader); err == nil {
		t.Fatal("a short message was accepted")
	}
}

func FuzzParse(f *testing.F) {
	k, _ := ctx.NewSecretKey(rand.Reader)
	ct, _ := k.Encrypt([]uint64{1, 2, 3})
	f.Add(ct.Bytes(ctx)[:100], 0)
	f.Add([]byte{1, 2, 3}, 1)
	f.Add(k.Public()[:64], 2)
	f.Fuzz(func(t *testing.T, b []byte, which int) {
		// Lengths are checked before anything is allocated; pad short
		// inputs to a full-size message so the coefficient checks run.
		switch which % 3 {
		case 0:
			full := make([]byte, ciphertextBytes)
			copy(full, b)
			ctx.ParseCiphertext(full)
			ctx.ParseCiphertext(b)
		case 1:
			full := make([]byte, replyBytes)
			copy(full, b)
			ctx.ParseReply(full)
			ctx.ParseReply(b)
		default:
			full := make([]byte, SeedSize+limbs*limbBytes)
			copy(full, b)
			ctx.ParsePublic(full)
			ctx.ParsePublic(b)
		}
	})
}

func TestSlotProducts(t *testing.T) {
	k, err := ctx.NewSecretKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := ctx.ParsePublic(k.Public())
	rng := mrand.New(mrand.NewPCG(5, 6))
	for _, n := range []int{1, 100, N + 5} {
		xs := [][]uint64{make([]uint64, n), make([]uint64, n)}
		ys := [][]uint64{make([]uint64, n), make([]uint64, n)}
		for v := range xs {
			for i := 0; i < n; i++ {
				xs[v][i], ys[v][i] = rng.Uint64(), rng.Uint64()
			}
		}
		xs[0][0], ys[0][0] = ^uint64(0), ^uint64(0) // the largest product
		msg, err := k.EncryptVectors(xs)
		if err != nil {
			t.Fatal(err)
		}
		reply, share, err := ctx.EvalProducts(pk, msg, ys, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		own, err := k.DecryptProducts(reply, n, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			want := xs[0][i]*ys[0][i] + xs[1][i]*ys[1][i]
			if got := own[i] + share[i]; got != want {
				t.Fatalf("n=%d element %d: %#x, want %#x", n, i, got, want)
			}
		}
	}
}
