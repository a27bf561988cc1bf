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
				gemmBlocked(got2, []Product{{a, b, k}}, 0, m, n, Epilogue{})
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
	benchMatMul(b, 1024, func(c, a, bb []uint64, m, k, n int) { gemmBlocked(c, []Product{{a, bb, k}}, 0, m, n, Epilogue{}) })
}
func BenchmarkMatMulNaive256(b *testing.B) {
	benchMatMul(b, 256, func(c, a, bb []uint64, m, k, n int) { clear(c); matMulNaive(c, a, bb, m, k, n) })
}

func BenchmarkKernelHot(bb *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b, c := randVec(r, 256*mr), randVec(r, 256*nr), make([]uint64, mr*nr)
	for i := 0; i < bb.N; i++ {
		kernel(256, &a[0], &b[0], &c[0], nr, 1, 0, 0)
	}
	bb.ReportMetric(float64(256*mr*nr)*float64(bb.N)/bb.Elapsed().Seconds()/1e9, "Gmuladd/s")
}

// A sum of products through every epilogue equals the naive products
// summed, the epilogue applied afterwards.
func TestMatMulToSumsAndEpilogues(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, d := range [][4]int{{3, 5, 7, 2}, {33, 65, 31, 300}, {64, 600, 70, 260}, {130, 257, 129, 40}, {8, 0, 40, 70}} {
		m, k1, n, k2 := d[0], d[1], d[2], d[3]
		a1, b1 := randVec(r, m*k1), randVec(r, k1*n)
		a2, b2 := randVec(r, m*k2), randVec(r, k2*n)
		prod := make([]uint64, m*n)
		matMulNaive(prod, a1, b1, m, k1, n)
		matMulNaive(prod, a2, b2, m, k2, n)
		for _, ep := range epilogues {
			start := randVec(r, m*n)
			want := append([]uint64(nil), start...)
			ep.Apply(want, prod)
			got := append([]uint64(nil), start...)
			MatMulTo(got, m, n, ep, Product{a1, b1, k1}, Product{a2, b2, k2})
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%v %+v: element %d got %d want %d", d, ep, i, got[i], want[i])
				}
			}
			if haveKernel {
				got = append(got[:0], start...)
				gemmBlocked(got, []Product{{a1, b1, k1}, {a2, b2, k2}}, 0, m, n, ep)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("blocked %v %+v: element %d got %d want %d", d, ep, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func BenchmarkMatMul256Serial(b *testing.B) {
	benchMatMul(b, 256, func(c, a, bb []uint64, m, k, n int) { gemmBlocked(c, []Product{{a, bb, k}}, 0, m, n, Epilogue{}) })
}

// The products and convolutions split across goroutines equal the serial
// ones (the threshold is lowered so that small inputs split).
func TestParallelSplit(t *testing.T) {
	defer func(w int) { parallelWork = w }(parallelWork)
	parallelWork = 1
	r := rand.New(rand.NewPCG(15, 16))
	m, k, n := 70, 90, 110
	a, b := randVec(r, m*k), randVec(r, k*n)
	want := make([]uint64, m*n)
	matMulNaive(want, a, b, m, k, n)
	got := randVec(r, m*n)
	MatMul(got, a, b, m, k, n)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("matmul element %d got %d want %d", i, got[i], want[i])
		}
	}
	for _, s := range []ConvSpec{
		{N: 2, C: 3, H: 10, W: 40, Cout: 8, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 1},
		{N: 3, C: 2, H: 17, W: 17, Cout: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, DilationH: 1, DilationW: 1, Groups: 2},
	} {
		x, w := randVec(r, s.InSize()), randVec(r, s.KernelSize())
		want := convDirect(x, w, s)
		got := randVec(r, s.OutSize())
		Conv2d(got, x, w, s)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: element %d got %d want %d", s, i, got[i], want[i])
			}
		}
	}
}
