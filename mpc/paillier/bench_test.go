package paillier

import (
	"crypto/rand"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// benchSize is the element count of the standard Paillier workload.
const benchSize = 1000

var (
	benchOnce      sync.Once
	benchX, benchY *Tensor
	benchPlain     *tensor.Tensor
)

// benchFixture encrypts two benchSize tensors under a DefaultKeyBits key
// once, with the key holder's faster path, so op benchmarks start quickly.
func benchFixture(b *testing.B) (*PrivateKey, *Tensor, *Tensor, *tensor.Tensor) {
	priv := defaultKey(b)
	benchOnce.Do(func() {
		benchPlain = tensor.MustNew(randomValues(9, benchSize), benchSize)
		var err error
		if benchX, err = priv.EncryptTensor(benchPlain, DefaultPrecisionBits); err != nil {
			panic(err)
		}
		if benchY, err = priv.EncryptTensor(benchPlain, DefaultPrecisionBits); err != nil {
			panic(err)
		}
	})
	return priv, benchX, benchY, benchPlain
}

func BenchmarkGenerateKey2048(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateKey(rand.Reader, 2048); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptTensor1000(b *testing.B) {
	priv, _, _, x := benchFixture(b)
	for b.Loop() {
		if _, err := EncryptTensor(&priv.PublicKey, x, DefaultPrecisionBits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptTensorKeyHolder1000(b *testing.B) {
	priv, _, _, x := benchFixture(b)
	for b.Loop() {
		if _, err := priv.EncryptTensor(x, DefaultPrecisionBits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptTensor1000(b *testing.B) {
	priv, x, _, _ := benchFixture(b)
	for b.Loop() {
		if _, err := priv.DecryptTensor(x); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdd1000(b *testing.B) {
	_, x, y, _ := benchFixture(b)
	for b.Loop() {
		if _, err := x.Add(y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddPlain1000(b *testing.B) {
	_, x, _, p := benchFixture(b)
	for b.Loop() {
		if _, err := x.AddPlain(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMulScalar1000(b *testing.B) {
	_, x, _, _ := benchFixture(b)
	for b.Loop() {
		if _, err := x.MulScalar(-1.5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNeg1000(b *testing.B) {
	_, x, _, _ := benchFixture(b)
	for b.Loop() {
		x.Neg()
	}
}

// The single-integer benchmarks give the per-element cost on one core,
// for comparison with the parallel tensor figures.
func BenchmarkEncryptInt2048(b *testing.B) {
	pub := &defaultKey(b).PublicKey
	for b.Loop() {
		if _, err := EncryptInt64(pub, -12345); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptInt2048(b *testing.B) {
	priv := defaultKey(b)
	c, err := EncryptInt64(&priv.PublicKey, -12345)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := priv.Decrypt(c); err != nil {
			b.Fatal(err)
		}
	}
}
