package mpc

import (
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/tensor"
)

// benchOp times op on 2 in-memory parties (both in this process, so the
// figure is the sum of both parties' work on the machine's cores).
func benchOp(b *testing.B, in []*tensor.Tensor, op func(x []*CrypTensor) *CrypTensor) {
	b.Helper()
	cs := comm.NewMemWorld(2, false)
	ready := make(chan []*CrypTensor, 2)
	start := make([]chan bool, 2)
	done := make(chan bool, 2)
	for r := 0; r < 2; r++ {
		start[r] = make(chan bool)
		go func(r int) {
			p, err := NewParty(cs[r])
			if err != nil {
				panic(err)
			}
			xs := make([]*CrypTensor, len(in))
			for i, t := range in {
				xs[i] = p.Encrypt(t, i%2)
			}
			ready <- xs
			for range start[r] {
				op(xs)
				done <- true
			}
			p.Close()
		}(r)
	}
	<-ready
	<-ready
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start[0] <- true
		start[1] <- true
		<-done
		<-done
	}
	b.StopTimer()
	close(start[0])
	close(start[1])
}

func BenchmarkMul1M(b *testing.B) {
	benchOp(b, []*tensor.Tensor{tensor.RandN(1, 1<<20), tensor.RandN(2, 1<<20)},
		func(x []*CrypTensor) *CrypTensor { return x[0].Mul(x[1]) })
}

func BenchmarkRelu1M(b *testing.B) {
	benchOp(b, []*tensor.Tensor{tensor.RandN(1, 1<<20)}, func(x []*CrypTensor) *CrypTensor { return x[0].Relu() })
}

func BenchmarkMatMul256(b *testing.B) {
	benchOp(b, []*tensor.Tensor{tensor.RandN(1, 256, 256), tensor.RandN(2, 256, 256)},
		func(x []*CrypTensor) *CrypTensor { return x[0].MatMul(x[1]) })
}

func BenchmarkConv(b *testing.B) {
	benchOp(b, []*tensor.Tensor{tensor.RandN(1, 64, 3, 32, 32), tensor.RandN(2, 16, 3, 3, 3)},
		func(x []*CrypTensor) *CrypTensor {
			return x[0].Conv2d(x[1], nil, tensor.ConvOpts{Padding: [2]int{1, 1}})
		})
}

func BenchmarkAdd1M(b *testing.B) {
	benchOp(b, []*tensor.Tensor{tensor.RandN(1, 1<<20), tensor.RandN(2, 1<<20)},
		func(x []*CrypTensor) *CrypTensor { return x[0].Add(x[1]) })
}

func BenchmarkExp100k(b *testing.B) {
	benchOp(b, []*tensor.Tensor{tensor.RandU(1, -4, 4, 100_000)}, func(x []*CrypTensor) *CrypTensor { return x[0].Exp() })
}

func BenchmarkSqrt100k(b *testing.B) {
	benchOp(b, []*tensor.Tensor{tensor.RandU(1, 0.1, 100, 100_000)}, func(x []*CrypTensor) *CrypTensor { return x[0].Sqrt() })
}
