package ring

import (
	"runtime"
	"sync"
)

// Cache blocking of the matrix product, in the GotoBLAS layout: B is packed
// in kc×nc blocks of nr-wide column panels, A in mc×kc blocks of mr-tall row
// panels, and a micro-kernel accumulates one mr×nr tile of C in registers.
const (
	mr = 4   // rows of a micro-tile
	nr = 32  // columns of a micro-tile (four 8-lane vectors)
	kc = 256 // depth of a packed block: an nr panel of B is kc·nr·8 = 64 KiB
	mc = 64  // rows of a packed A block: mc·kc·8 = 128 KiB
	nc = 1024
)

// parallelWork is the number of multiply-adds below which a product stays
// on one goroutine. It is high on purpose: the parties of a computation
// usually share the machine's cores and compute at the same time, so
// splitting a medium product only adds scheduling and cache traffic
// (measured: a 256³ product and the benchmark convolution ran faster
// whole); a large one still gains from a core its peer leaves idle.
var parallelWork = 1 << 27 // a variable so tests can exercise the split on small inputs

// MatMul computes c = a·b for row-major a (m×k), b (k×n) and c (m×n),
// overwriting c. Large products use every CPU (GOMAXPROCS).
func MatMul(c, a, b []uint64, m, k, n int) {
	MatMulTo(c, m, n, Epilogue{}, Product{A: a, B: b, K: k})
}

// MatMulAdd computes c += a·b for row-major a (m×k), b (k×n), c (m×n).
func MatMulAdd(c, a, b []uint64, m, k, n int) {
	MatMulTo(c, m, n, Epilogue{Add: true}, Product{A: a, B: b, K: k})
}

// Product is one term A·B of a sum of matrix products: A is m×K and B is
// K×n, row-major.
type Product struct {
	A, B []uint64
	K    int
}

// MatMulTo computes the sum of the terms' products into c (m×n) as ep
// says. The terms run as one product of depth ΣK, so the sum is written
// once, with the epilogue applied as the last block lands.
func MatMulTo(c []uint64, m, n int, ep Epilogue, terms ...Product) {
	if m == 0 || n == 0 {
		return
	}
	c = c[:m*n]
	work := 0
	for _, t := range terms {
		_ = t.A[:m*t.K]
		_ = t.B[:t.K*n]
		work += m * n * t.K
	}
	if work < 32*32*32 || !haveKernel {
		prod := Get(m * n)
		clear(prod)
		for _, t := range terms {
			if t.K > 0 {
				matMulNaive(prod, t.A, t.B, m, t.K, n)
			}
		}
		ep.Apply(c, prod)
		Put(prod)
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if work < parallelWork || workers < 2 || m < 2*mr {
		gemmBlocked(c, terms, 0, m, n, ep)
		return
	}
	// Split rows of C among workers, in multiples of mr.
	rowsPer := (m + workers - 1) / workers
	rowsPer = (rowsPer + mr - 1) / mr * mr
	var wg sync.WaitGroup
	for r0 := 0; r0 < m; r0 += rowsPer {
		r1 := min(r0+rowsPer, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemmBlocked(c, terms, r0, r1, n, ep)
		}()
	}
	wg.Wait()
}

// matMulNaive is the portable product: i-k-j order so the inner loop
// streams a row of b into a row of c.
func matMulNaive(c, a, b []uint64, m, k, n int) {
	for i := 0; i < m; i++ {
		ci := c[i*n : i*n+n]
		for p := 0; p < k; p++ {
			x := a[i*k+p]
			if x == 0 {
				continue
			}
			bp := b[p*n : p*n+n]
			j := 0
			for ; j+4 <= n; j += 4 {
				ci[j] += x * bp[j]
				ci[j+1] += x * bp[j+1]
				ci[j+2] += x * bp[j+2]
				ci[j+3] += x * bp[j+3]
			}
			for ; j < n; j++ {
				ci[j] += x * bp[j]
			}
		}
	}
}

// gemmBlocked computes rows [r0, r1) of the terms' summed product into c
// with packed blocks and the micro-kernel: the depth of every term in kc
// blocks, the first block written as ep.Add says and the rest added, the
// truncation (if any) applied with the last.
func gemmBlocked(c []uint64, terms []Product, r0, r1, n int, ep Epilogue) {
	bp := Get(kc * ((min(nc, n) + nr - 1) / nr * nr))
	ap := Get(kc * mc)
	defer Put(bp)
	defer Put(ap)
	type block struct {
		t      Product
		pc, kb int
	}
	var blocks []block
	for _, t := range terms {
		for pc := 0; pc < t.K; pc += kc {
			blocks = append(blocks, block{t, pc, min(kc, t.K-pc)})
		}
	}
	if len(blocks) == 0 {
		// An empty sum: the product is zero.
		for i := r0; i < r1; i++ {
			row := c[i*n : i*n+n]
			for j := range row {
				ep.store(&row[j], 0)
			}
		}
		return
	}
	var tile [mr * nr]uint64
	for jc := 0; jc < n; jc += nc {
		ncb := min(nc, n-jc)
		for bi, blk := range blocks {
			bep := Epilogue{Add: bi > 0 || ep.Add, Trunc: bi == len(blocks)-1 && ep.Trunc, Shift: ep.Shift, Neg: ep.Neg}
			kcb := blk.kb
			packB(bp, blk.t.B, blk.pc, kcb, jc, ncb, n)
			for ic := r0; ic < r1; ic += mc {
				mcb := min(mc, r1-ic)
				packA(ap, blk.t.A, ic, mcb, blk.pc, kcb, blk.t.K)
				for jr := 0; jr < ncb; jr += nr {
					bpanel := bp[jr*kcb:]
					cols := min(nr, ncb-jr)
					for ir := 0; ir < mcb; ir += mr {
						apanel := ap[ir*kcb:]
						rows := min(mr, mcb-ir)
						if rows == mr && cols == nr {
							micro(kcb, apanel, bpanel, c[(ic+ir)*n+jc+jr:], n, bep)
							continue
						}
						micro(kcb, apanel, bpanel, tile[:], nr, Epilogue{})
						for i := 0; i < rows; i++ {
							crow := c[(ic+ir+i)*n+jc+jr:]
							for j := 0; j < cols; j++ {
								bep.store(&crow[j], tile[i*nr+j])
							}
						}
					}
				}
			}
		}
	}
}

// packB copies b[pc:pc+kcb, jc:jc+ncb] into nr-wide panels, each stored
// k-major (nr values per k), zero-padding the last panel.
func packB(dst, b []uint64, pc, kcb, jc, ncb, ldb int) {
	for jr := 0; jr < ncb; jr += nr {
		panel := dst[jr*kcb : jr*kcb+kcb*nr]
		cols := min(nr, ncb-jr)
		for p := 0; p < kcb; p++ {
			src := b[(pc+p)*ldb+jc+jr:]
			row := panel[p*nr : p*nr+nr]
			copy(row, src[:cols])
			clear(row[cols:])
		}
	}
}

// packA copies a[ic:ic+mcb, pc:pc+kcb] into mr-tall panels, each stored
// k-major (mr values per k), zero-padding the last panel.
func packA(dst, a []uint64, ic, mcb, pc, kcb, lda int) {
	for ir := 0; ir < mcb; ir += mr {
		panel := dst[ir*kcb : ir*kcb+kcb*mr]
		rows := min(mr, mcb-ir)
		for i := 0; i < mr; i++ {
			if i >= rows {
				for p := 0; p < kcb; p++ {
					panel[p*mr+i] = 0
				}
				continue
			}
			src := a[(ic+ir+i)*lda+pc : (ic+ir+i)*lda+pc+kcb]
			for p, x := range src {
				panel[p*mr+i] = x
			}
		}
	}
}
