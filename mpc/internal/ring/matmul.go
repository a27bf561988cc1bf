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

// parallelWork is the number of multiply-adds below which MatMul stays on
// one goroutine: below it, scheduling costs more than it saves.
const parallelWork = 1 << 22

// MatMul computes c = a·b for row-major a (m×k), b (k×n) and c (m×n),
// overwriting c. Large products use every CPU (GOMAXPROCS).
func MatMul(c, a, b []uint64, m, k, n int) {
	clear(c[:m*n])
	MatMulAdd(c, a, b, m, k, n)
}

// MatMulAdd computes c += a·b for row-major a (m×k), b (k×n), c (m×n).
func MatMulAdd(c, a, b []uint64, m, k, n int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	_ = a[m*k-1]
	_ = b[k*n-1]
	_ = c[m*n-1]
	if m*n*k < 32*32*32 || !haveKernel {
		matMulNaive(c, a, b, m, k, n)
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if m*n*k < parallelWork || workers < 2 || m < 2*mr {
		gemmBlocked(c, a, b, 0, m, k, n)
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
			gemmBlocked(c, a, b, r0, r1, k, n)
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

// gemmBlocked computes rows [r0, r1) of c += a·b with packed blocks and the
// assembly micro-kernel.
func gemmBlocked(c, a, b []uint64, r0, r1, k, n int) {
	bp := Get(kc * ((min(nc, n) + nr - 1) / nr * nr))
	ap := Get(kc * mc)
	defer Put(bp)
	defer Put(ap)
	var tile [mr * nr]uint64
	for jc := 0; jc < n; jc += nc {
		ncb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kcb := min(kc, k-pc)
			packB(bp, b, pc, kcb, jc, ncb, n)
			for ic := r0; ic < r1; ic += mc {
				mcb := min(mc, r1-ic)
				packA(ap, a, ic, mcb, pc, kcb, k)
				for jr := 0; jr < ncb; jr += nr {
					bpanel := bp[jr*kcb:]
					cols := min(nr, ncb-jr)
					for ir := 0; ir < mcb; ir += mr {
						apanel := ap[ir*kcb:]
						rows := min(mr, mcb-ir)
						if rows == mr && cols == nr {
							kernel(kcb, &apanel[0], &bpanel[0], &c[(ic+ir)*n+jc+jr], n)
							continue
						}
						clear(tile[:])
						kernel(kcb, &apanel[0], &bpanel[0], &tile[0], nr)
						for i := 0; i < rows; i++ {
							crow := c[(ic+ir+i)*n+jc+jr:]
							for j := 0; j < cols; j++ {
								crow[j] += tile[i*nr+j]
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
