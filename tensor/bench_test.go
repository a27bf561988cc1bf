package tensor

import (
	"io"
	"testing"
)

var errEOF = io.EOF

func benchMatMul(b *testing.B, n int) {
	x, y := RandN(1, n, n), RandN(2, n, n)
	b.SetBytes(int64(3 * n * n * 8))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		MatMul(x, y)
	}
	b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkMatMul256(b *testing.B)  { benchMatMul(b, 256) }
func BenchmarkMatMul1024(b *testing.B) { benchMatMul(b, 1024) }

// BenchmarkMatMulBatched multiplies 64 pairs of 32x32 matrices, the shape
// of attention-like batched products.
func BenchmarkMatMulBatched(b *testing.B) {
	x, y := RandN(1, 64, 32, 32), RandN(2, 64, 32, 32)
	b.ReportAllocs()
	for b.Loop() {
		MatMul(x, y)
	}
}

// BenchmarkConv2d is a first CIFAR-sized layer: a batch of 64 3x32x32
// images through 16 3x3 filters with padding 1.
func BenchmarkConv2d(b *testing.B) {
	x, w, bias := RandN(1, 64, 3, 32, 32), RandN(2, 16, 3, 3, 3), RandN(3, 16)
	opt := ConvOpts{Padding: [2]int{1, 1}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Conv2d(x, w, bias, opt)
	}
	flops := 2.0 * 64 * 16 * 32 * 32 * 27
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkMaxPool2d(b *testing.B) {
	x := RandN(1, 64, 16, 32, 32)
	opt := PoolOpts{Kernel: [2]int{2, 2}}
	b.ReportAllocs()
	for b.Loop() {
		MaxPool2d(x, opt)
	}
}

// BenchmarkAdd1M is the same-shape fast path: 1M + 1M elements.
func BenchmarkAdd1M(b *testing.B) {
	x, y := RandN(1, 1000, 1000), RandN(2, 1000, 1000)
	b.SetBytes(3 * 8 * 1000 * 1000)
	b.ReportAllocs()
	for b.Loop() {
		x.Add(y)
	}
}

// BenchmarkAddScalar1M is the scalar-broadcast fast path.
func BenchmarkAddScalar1M(b *testing.B) {
	x, s := RandN(1, 1000, 1000), Scalar(2)
	b.SetBytes(2 * 8 * 1000 * 1000)
	b.ReportAllocs()
	for b.Loop() {
		x.Add(s)
	}
}

// BenchmarkAddBroadcast1M adds a row vector to every row of a matrix.
func BenchmarkAddBroadcast1M(b *testing.B) {
	x, y := RandN(1, 1000, 1000), RandN(2, 1000)
	b.SetBytes(2 * 8 * 1000 * 1000)
	b.ReportAllocs()
	for b.Loop() {
		x.Add(y)
	}
}

func BenchmarkSum1MDim0(b *testing.B) {
	x := RandN(1, 1000, 1000)
	b.SetBytes(8 * 1000 * 1000)
	for b.Loop() {
		x.Sum(0, false)
	}
}

func BenchmarkTranspose1M(b *testing.B) {
	x := RandN(1, 1000, 1000)
	b.SetBytes(2 * 8 * 1000 * 1000)
	for b.Loop() {
		x.T()
	}
}

func BenchmarkWriteReadNPY1M(b *testing.B) {
	x := RandN(1, 1000, 1000)
	var buf bytesBuffer
	b.SetBytes(8 * 1000 * 1000)
	for b.Loop() {
		buf.b = buf.b[:0]
		buf.r = 0
		if err := WriteNPY(&buf, x); err != nil {
			b.Fatal(err)
		}
		if _, err := ReadNPY(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

// bytesBuffer is a reusable in-memory reader/writer.
type bytesBuffer struct {
	b []byte
	r int
}

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func (w *bytesBuffer) Read(p []byte) (int, error) {
	if w.r >= len(w.b) {
		return 0, errEOF
	}
	n := copy(p, w.b[w.r:])
	w.r += n
	return n, nil
}
