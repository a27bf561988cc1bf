package paillier

import (
	"crypto/rand"
	"math/big"
	"strings"
	"sync"
	"testing"
)

// Short keys keep the suite fast; they exercise the same code as real keys.
const testKeyBits = 512

var (
	testKeysOnce sync.Once
	testKeys     [2]*PrivateKey
	realKeyOnce  sync.Once
	realKey      *PrivateKey
)

// testKey returns one of two fixed, insecure 512-bit keys (i is 0 or 1).
func testKey(t testing.TB, i int) *PrivateKey {
	t.Helper()
	testKeysOnce.Do(func() {
		for j := range testKeys {
			k, err := generateKey(rand.Reader, testKeyBits)
			if err != nil {
				panic(err)
			}
			testKeys[j] = k
		}
	})
	return testKeys[i]
}

// defaultKey returns a DefaultKeyBits key made through the exported path.
func defaultKey(t testing.TB) *PrivateKey {
	t.Helper()
	realKeyOnce.Do(func() {
		k, err := GenerateKey(rand.Reader, DefaultKeyBits)
		if err != nil {
			panic(err)
		}
		realKey = k
	})
	return realKey
}

func TestGenerateKeyRejectsBadLengths(t *testing.T) {
	for _, tc := range []struct {
		bits int
		want string
	}{
		{-1, "minimum"},
		{0, "minimum"},
		{512, "minimum is 2048"},
		{1024, "insecure"},
		{MinKeyBits - 1, "minimum"},
		{MaxKeyBits + 1, "out of range"},
	} {
		_, err := GenerateKey(rand.Reader, tc.bits)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("GenerateKey(%d) error = %v, want one containing %q", tc.bits, err, tc.want)
		}
	}
}

func TestGenerateKeyStructure(t *testing.T) {
	for _, bits := range []int{minInsecureKeyBits, 255, 256, 511, testKeyBits} {
		priv, err := generateKey(rand.Reader, bits)
		if err != nil {
			t.Fatalf("generateKey(%d): %v", bits, err)
		}
		checkKey(t, priv, bits)
	}
	checkKey(t, defaultKey(t), DefaultKeyBits)
}

func checkKey(t *testing.T, priv *PrivateKey, bits int) {
	t.Helper()
	n := priv.N
	if n.BitLen() != bits {
		t.Errorf("%d-bit key: N has %d bits", bits, n.BitLen())
	}
	if new(big.Int).Mul(priv.P, priv.Q).Cmp(n) != 0 {
		t.Errorf("%d-bit key: P·Q != N", bits)
	}
	if !priv.P.ProbablyPrime(20) || !priv.Q.ProbablyPrime(20) {
		t.Errorf("%d-bit key: a factor is not prime", bits)
	}
	if priv.G.Cmp(new(big.Int).Add(n, one)) != 0 || priv.N2.Cmp(new(big.Int).Mul(n, n)) != 0 {
		t.Errorf("%d-bit key: G or N2 inconsistent with N", bits)
	}
	// The textbook condition: L(G^λ mod N²)·μ ≡ 1 (mod N).
	x := new(big.Int).Exp(priv.G, priv.Lambda, priv.N2)
	x.Sub(x, one).Div(x, n).Mul(x, priv.Mu).Mod(x, n)
	if x.Cmp(one) != 0 {
		t.Errorf("%d-bit key: L(G^λ)·μ mod N = %v, want 1", bits, x)
	}
}

func TestNewPublicKey(t *testing.T) {
	good := defaultKey(t).N
	for _, tc := range []struct {
		name string
		n    *big.Int
		want string
	}{
		{"nil", nil, "positive"},
		{"negative", big.NewInt(-15), "positive"},
		{"short", testKey(t, 0).N, "shorter than the minimum"},
		{"even", new(big.Int).Add(good, one), "even"},
		{"long", new(big.Int).Lsh(one, MaxKeyBits+1), "longer than the maximum"},
	} {
		if _, err := NewPublicKey(tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	pub, err := NewPublicKey(good)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&defaultKey(t).PublicKey) || pub.Equal(&testKey(t, 0).PublicKey) {
		t.Error("Equal does not compare moduli")
	}
}

// TestDecryptPathsAgree checks the CRT decryption against the textbook
// formula, on a copy of the key that has no CRT values.
func TestDecryptPathsAgree(t *testing.T) {
	priv := testKey(t, 0)
	textbook := &PrivateKey{PublicKey: priv.PublicKey, Lambda: priv.Lambda, Mu: priv.Mu}
	for range 50 {
		m, err := rand.Int(rand.Reader, priv.N)
		if err != nil {
			t.Fatal(err)
		}
		s, err := priv.PublicKey.noise()
		if err != nil {
			t.Fatal(err)
		}
		c := priv.encryptResidue(m, s)
		if a, b := priv.decrypt(c), textbook.decrypt(c); a.Cmp(m) != 0 || b.Cmp(m) != 0 {
			t.Fatalf("decrypt(Enc(%v)): CRT %v, textbook %v", m, a, b)
		}
	}
}

// TestKeyHolderNoise checks the claim behind PrivateKey.noise: for any a,
// a^N mod N² equals the CRT-built value from bp = a^Q mod P, bq = a^P mod Q.
// As a ↦ (bp, bq) is a bijection on units, uniform draws of bp and bq give
// the same distribution as r^N for uniform r.
func TestKeyHolderNoise(t *testing.T) {
	for i := range 2 {
		priv := testKey(t, i)
		for range 30 {
			a, err := randUnit(priv.N)
			if err != nil {
				t.Fatal(err)
			}
			want := new(big.Int).Exp(a, priv.N, priv.N2)
			bp := new(big.Int).Exp(a, priv.Q, priv.P)
			bq := new(big.Int).Exp(a, priv.P, priv.Q)
			if got := priv.noiseFrom(bp, bq); got.Cmp(want) != 0 {
				t.Fatalf("key %d: noiseFrom(a^Q mod P, a^P mod Q) != a^N mod N² for a = %v", i, a)
			}
		}
		// And the drawn noise lies in the N-th residues: x^λ ≡ 1 (mod N²).
		for _, noise := range []func() (*big.Int, error){priv.noise, priv.PublicKey.noise} {
			x, err := noise()
			if err != nil {
				t.Fatal(err)
			}
			if new(big.Int).Exp(x, priv.Lambda, priv.N2).Cmp(one) != 0 {
				t.Fatalf("key %d: noise is not an N-th residue", i)
			}
		}
	}
}
