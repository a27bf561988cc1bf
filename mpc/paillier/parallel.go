package paillier

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor calls fn(i) for every i in [0, n) on GOMAXPROCS goroutines and
// returns the error of the lowest failing index, or nil. Goroutines take
// small chunks from a shared counter rather than one fixed range each, so a
// core slowed by other load does not hold up the whole operation. After a
// failure the remaining indices are skipped.
func parallelFor(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	chunk := max(1, n/(workers*8))
	var (
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		errAt  = n
		errLow error
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					if err := fn(i); err != nil {
						mu.Lock()
						if i < errAt {
							errAt, errLow = i, err
						}
						mu.Unlock()
						failed.Store(true)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return errLow
}
