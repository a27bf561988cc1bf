package paillier

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestEncryptDecryptInt(t *testing.T) {
	priv := testKey(t, 0)
	half := priv.halfN()
	for _, m := range []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(-1), big.NewInt(42), big.NewInt(-42),
		big.NewInt(math.MaxInt64), big.NewInt(math.MinInt64),
		half, new(big.Int).Neg(half), new(big.Int).Sub(half, one),
	} {
		ct, err := Encrypt(&priv.PublicKey, m)
		if err != nil {
			t.Fatalf("Encrypt(%v): %v", m, err)
		}
		got, err := priv.Decrypt(ct)
		if err != nil {
			t.Fatalf("Decrypt: %v", err)
		}
		if got.Cmp(m) != 0 {
			t.Errorf("Decrypt(Encrypt(%v)) = %v", m, got)
		}
	}
}

func TestEncryptRejectsOutOfRange(t *testing.T) {
	pub := &testKey(t, 0).PublicKey
	over := new(big.Int).Add(pub.halfN(), one)
	for _, m := range []*big.Int{over, new(big.Int).Neg(over), pub.N} {
		if _, err := Encrypt(pub, m); err == nil || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("Encrypt(%v) error = %v, want a range error", m, err)
		}
	}
}

func TestEncryptIsProbabilistic(t *testing.T) {
	pub := &testKey(t, 0).PublicKey
	a, _ := EncryptInt64(pub, 7)
	b, _ := EncryptInt64(pub, 7)
	if a.Int().Cmp(b.Int()) == 0 {
		t.Error("two encryptions of 7 are identical")
	}
}

func TestCiphertextHomomorphism(t *testing.T) {
	priv := testKey(t, 0)
	pub := &priv.PublicKey
	for _, tc := range []struct{ a, b, k int64 }{
		{3, 4, 5},
		{-3, 4, 5},
		{3, -4, -5},
		{-100, -250, 0},
		{0, 0, -1},
		{math.MaxInt32, math.MinInt32, math.MaxInt32},
	} {
		ea, err := EncryptInt64(pub, tc.a)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := EncryptInt64(pub, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := ea.Add(eb)
		if err != nil {
			t.Fatal(err)
		}
		plus, err := ea.AddPlain(big.NewInt(tc.b))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			ct   *Ciphertext
			want int64
		}{
			{"Add", sum, tc.a + tc.b},
			{"AddPlain", plus, tc.a + tc.b},
			{"MulPlain", ea.MulPlain(big.NewInt(tc.k)), tc.a * tc.k},
			{"Neg", ea.Neg(), -tc.a},
		} {
			got, err := priv.Decrypt(c.ct)
			if err != nil {
				t.Fatal(err)
			}
			if !got.IsInt64() || got.Int64() != c.want {
				t.Errorf("%s with a=%d b=%d k=%d: got %v, want %d", c.name, tc.a, tc.b, tc.k, got, c.want)
			}
		}
	}
}

func TestCiphertextKeyMismatch(t *testing.T) {
	k0, k1 := testKey(t, 0), testKey(t, 1)
	a, _ := EncryptInt64(&k0.PublicKey, 1)
	b, _ := EncryptInt64(&k1.PublicKey, 2)
	if _, err := a.Add(b); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("Add across keys: error = %v, want ErrKeyMismatch", err)
	}
	if _, err := k1.Decrypt(a); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("Decrypt with the wrong key: error = %v, want ErrKeyMismatch", err)
	}
	if !strings.Contains(ErrKeyMismatch.Error(), "different public keys") {
		t.Errorf("ErrKeyMismatch message %q does not name the problem", ErrKeyMismatch)
	}
}
