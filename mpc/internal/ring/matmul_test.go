package ring

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func randVec(r *rand.Rand, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = r.Uint64()
	}
	return v
}

func TestMatMulMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, d := range [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 32, 32}, {33, 65, 31}, {64, 300, 70}, {130, 257, 129}, {5, 1030, 9}, {128, 128, 1100}} {
		m, k, n := d[0], d[1], d[2]
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			a, b := randVec(r, m*k), randVec(r, k*n)
			want := make([]uint64, m*n)
			matMulNaive(want, a, b, m, k, n)
			got := randVec(r, m*n)
			MatMul(got, a, b, m, k, n)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("element %d: got %d want %d", i, got[i], want[i])
				}
			}
			// gemmBlocked directly, so small shapes exercise the kernel too.
			if haveKernel {
				got2 := make([]uint64, m*n)
				gemmBlocked(got2, a, b, 0, m, k, n)
				for i := range want {
					if got2[i] != want[i] {
						t.Fatalf("blocked element %d: got %d want %d", i, got2[i], want[i])
					}
				}
			}
		})
	}
}

func benchMatMul(bb *testing.B, n int, f func(c, a, b []uint64, m, k, n int)) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b, c := randVec(r, n*n), randVec(r, n*n), make([]uint64, n*n)
	bb.ResetTimer()
	for i := 0; i < bb.N; i++ {
		f(c, a, b, n, n, n)
	}
	bb.ReportMetric(float64(n)*float64(n)*float64(n)*float64(bb.N)/bb.Elapsed().Seconds()/1e9, "Gmuladd/s")
}

func BenchmarkMatMul256(b *testing.B)  { benchMatMul(b, 256, MatMul) }
func BenchmarkMatMul1024(b *testing.B) { benchMatMul(b, 1024, MatMul) }
func BenchmarkMatMul1024Serial(b *testing.B) {
	benchMatMul(b, 1024, func(c, a, bb []uint64, m, k, n int) { clear(c); gemmBlocked(c, a, bb, 0, m, k, n) })
}
func BenchmarkMatMulNaive256(b *testing.B) {
	benchMatMul(b, 256, func(c, a, bb []uint64, m, k, n int) { clear(c); matMulNaive(c, a, bb, m, k, n) })
}

func BenchmarkKernelHot(bb *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b, c := randVec(r, 256*mr), randVec(r, 256*nr), make([]uint64, mr*nr)
	for i := 0; i < bb.N; i++ {
		kernel(256, &a[0], &b[0], &c[0], nr)
	}
	bb.ReportMetric(float64(256*mr*nr)*float64(bb.N)/bb.Elapsed().Seconds()/1e9, "Gmuladd/s")
}
