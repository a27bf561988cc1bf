package mpc

import (
	"fmt"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/tensor"
)

func TestMain(m *testing.M) {
	RunChildIfRequested()
	os.Exit(m.Run())
}

// run executes fn on n in-memory parties and returns rank 0's value after
// checking that every rank returned the same thing (when comparable).
func run(t *testing.T, n int, fn func(p *Party) *tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	cs := comm.NewMemWorld(n, false)
	out := make([]*tensor.Tensor, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			defer func() {
				if e := recover(); e != nil {
					errs[r] = fmt.Errorf("rank %d panicked: %v", r, e)
					cs[r].Close()
				}
			}()
			p, err := NewParty(cs[r])
			if err != nil {
				errs[r] = err
				return
			}
			defer p.Close()
			out[r] = fn(p)
		}(r)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// reveal decrypts on every party and panics on failure.
func reveal(x *CrypTensor) *tensor.Tensor { return x.MustPlainText() }

func assertClose(t *testing.T, what string, got, want *tensor.Tensor, tol float64) float64 {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	worst := 0.0
	for i, g := range got.Data() {
		d := math.Abs(g - want.Data()[i])
		if !(d <= tol) {
			t.Fatalf("%s: element %d is %g, want %g (error %g > %g)", what, i, g, want.Data()[i], d, tol)
		}
		worst = max(worst, d)
	}
	return worst
}

// ulp is one unit of the default fixed-point encoding.
const ulp = 1.0 / (1 << 16)

var parties = []int{2, 3}
