package provider

import (
	"testing"
)

// BenchmarkDealerFree measures the offline cost of each kind: time per
// request (both parties on this machine) and bytes sent per party per
// element (per output element for matmul and conv).
func BenchmarkDealerFree(b *testing.B) {
	cases := []struct {
		name  string
		r     Request
		elems int
	}{
		{"mul-16k", Request{Kind: Mul, N: 1 << 14}, 1 << 14},
		{"square-16k", Request{Kind: Square, N: 1 << 14}, 1 << 14},
		{"and-64k-bits", Request{Kind: And, N: 1 << 10}, 1 << 16},
		{"bitmul-16k", Request{Kind: BitMul, N: 1 << 14}, 1 << 14},
		{"matmul-256", Request{Kind: MatMul, Batch: 1, M: 256, K: 256, Cols: 256}, 256 * 256},
		{"conv-28x28-6x5x5", Request{Kind: Conv, Conv: ConvSpec{N: 1, C: 1, H: 28, W: 28, Cout: 6, KH: 5, KW: 5, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1}}, 6 * 24 * 24},
		// The conv2d row of gomplab bench mpc.
		{"conv-64x3x32x32-16x3x3-pad1", Request{Kind: Conv, Conv: ConvSpec{N: 64, C: 3, H: 32, W: 32, Cout: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1}}, 64 * 16 * 32 * 32},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var sent [2]int64
			runPair(b, [2]Seed{NewSeed(), NewSeed()}, nil, func(d *DealerFree) ([]*Shares, error) {
				// Setup (base OTs, keys) outside the timing.
				if err := d.Preprocess(Request{Kind: Mul, N: 1}, Request{Kind: MatMul, Batch: 1, M: 1, K: 1, Cols: 1}); err != nil {
					return nil, err
				}
				before := d.c.Stats().Total().BytesSent
				if d.rank == 0 {
					b.ResetTimer()
				}
				for i := 0; i < b.N; i++ {
					if err := d.Preprocess(c.r); err != nil {
						return nil, err
					}
				}
				sent[d.rank] = d.c.Stats().Total().BytesSent - before
				return nil, nil
			})
			b.ReportMetric(float64(sent[0]+sent[1])/2/float64(b.N)/float64(c.elems), "B/elem/party")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.elems), "ns/elem")
		})
	}
}
