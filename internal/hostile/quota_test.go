package hostile

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// TestLargeMatmul: issue 13's matmul of [8192,1] by [1,8192] took the
// daemon to 2.1 GB, three at once to 7.4 GB. Now each is refused before
// it runs, naming the op, the shapes, the estimate and the limit; ops
// within the limit, several users at once, run one budget at a time.
// Throughout, the daemon's memory stays within rssLimit of idle.
func TestLargeMatmul(t *testing.T) {
	p := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := p.client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for id, tt := range map[string]*tensor.Tensor{
		"col": tensor.Ones(8192, 1), "row": tensor.Ones(1, 8192),
		"colm": tensor.Ones(1100, 1), "rowm": tensor.Ones(1, 1100),
	} {
		if err := c.Call(ctx, workers.MsgPut, &workers.PutRequest{Object: &store.Object{ID: id, Kind: store.KindTensor, Tensor: tt}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	idle := p.idle(t)
	stop := p.watch(t)

	matmul := func(c *workers.Client, a, b string) error {
		return c.Call(ctx, workers.MsgOp, &workers.OpRequest{Op: "matmul", Args: []workers.Operand{{ID: a}, {ID: b}}}, nil)
	}
	err = matmul(c, "col", "row")
	if !errors.Is(err, workers.ErrTooLarge) || !strings.Contains(err.Error(), "op matmul on shapes [8192 1] x [1 8192] needs about 3.0 GiB") ||
		!strings.Contains(err.Error(), "64.0 MiB one op may take") {
		t.Fatalf("large matmul: %v", err)
	}
	t.Logf("refused: %v", err)
	// Three users at once, each asking for the large one and then for
	// [1100,1]x[1,1100] (a 9.2 MiB result, 55 MiB estimated, within the
	// 64 MiB) five times.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.client(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := matmul(c, "col", "row"); !errors.Is(err, workers.ErrTooLarge) {
				errs <- err
			}
			for range 5 {
				if err := matmul(c, "colm", "rowm"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent matmuls: %v", err)
	}
	peak, hwm := stop()
	t.Logf("after: %s", p.status("VmRSS", "RssAnon", "RssFile", "VmHWM"))
	checkBound(t, "large matmul refused, 15 of [1100,1]x[1,1100] by 3 users", idle, peak, hwm)
	p.stillServes(t)
}
