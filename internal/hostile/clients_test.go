package hostile

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// clientsDuration is how long TestHundredClients runs (HOSTILE_SECONDS
// overrides, for measuring).
func clientsDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("HOSTILE_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 30 * time.Second
}

// TestHundredClients runs 100 authenticated clients at once for 30 s,
// each over its own TLS connection, each repeating what a notebook does:
// send a tensor, compute on it, fetch the result, search by tag, free
// both. Every call succeeds, the daemon stays within rssLimit of idle,
// and the per-call latencies (p50, p99) and resident sizes are logged
// (docs/benchmarks.md, "Hosts").
func TestHundredClients(t *testing.T) {
	const clients = 100
	p := startDaemon(t)
	idle := p.idle(t)
	stop := p.watch(t)
	dur := clientsDuration()
	ctx, cancel := context.WithTimeout(context.Background(), dur+30*time.Second)
	defer cancel()
	until := time.Now().Add(dur)
	kinds := []string{"put", "op", "get", "search", "free"}
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	var failures []error
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := map[string][]time.Duration{}
			fail := func(err error) {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
			c, err := p.client(ctx)
			if err != nil {
				fail(fmt.Errorf("client %d: %w", w, err))
				return
			}
			defer c.Close()
			tag := fmt.Sprintf("#c%d", w)
			x := tensor.Full(float64(w), 10, 10)
			timed := func(kind string, typ string, req, rep any) error {
				start := time.Now()
				err := c.Call(ctx, typ, req, rep)
				mine[kind] = append(mine[kind], time.Since(start))
				return err
			}
			for i := 0; time.Now().Before(until); i++ {
				id, res := fmt.Sprintf("c%d-%d", w, i), fmt.Sprintf("c%d-%d-r", w, i)
				o := &store.Object{ID: id, Kind: store.KindTensor, Tags: []string{tag}, Tensor: x}
				if err := timed("put", workers.MsgPut, &workers.PutRequest{Object: o}, nil); err != nil {
					fail(err)
					return
				}
				op := &workers.OpRequest{Op: "add", Args: []workers.Operand{{ID: id}, {ID: id}}, ResultID: res}
				if err := timed("op", workers.MsgOp, op, nil); err != nil {
					fail(err)
					return
				}
				var got workers.GetReply
				if err := timed("get", workers.MsgGet, &workers.GetRequest{ID: res, Keep: true}, &got); err != nil {
					fail(err)
					return
				}
				if got.Object == nil || !tensor.Equal(got.Object.Tensor, tensor.Full(2*float64(w), 10, 10)) {
					fail(fmt.Errorf("client %d: wrong result", w))
					return
				}
				var found workers.SearchReply
				if err := timed("search", workers.MsgSearch, &workers.SearchRequest{Tags: []string{tag}}, &found); err != nil {
					fail(err)
					return
				}
				if len(found.Objects) != 1 || found.Objects[0].ID != id {
					fail(fmt.Errorf("client %d: search found %d objects", w, len(found.Objects)))
					return
				}
				if err := timed("free", workers.MsgFree, &workers.FreeRequest{IDs: []string{id, res}}, nil); err != nil {
					fail(err)
					return
				}
			}
			mu.Lock()
			for k, v := range mine {
				lat[k] = append(lat[k], v...)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	peak, hwm := stop()
	after, _ := p.mem(t)
	for i, err := range failures {
		if i == 5 {
			t.Errorf("and %d more failures", len(failures)-5)
			break
		}
		t.Error(err)
	}
	var all []time.Duration
	for _, k := range kinds {
		all = append(all, lat[k]...)
		t.Logf("%-6s %6d calls  p50 %6.2f ms  p99 %6.2f ms", k, len(lat[k]), ms(pct(lat[k], 50)), ms(pct(lat[k], 99)))
	}
	t.Logf("all    %6d calls  p50 %6.2f ms  p99 %6.2f ms  (%d clients for %v: %.0f calls/s)",
		len(all), ms(pct(all, 50)), ms(pct(all, 99)), clients, dur, float64(len(all))/dur.Seconds())
	t.Logf("RSS: idle %d MB, peak %d MB, after %d MB", idle>>20, max(peak, hwm)>>20, after>>20)
	if len(all) < clients*5 {
		t.Errorf("only %d calls completed", len(all))
	}
	checkBound(t, "100 clients", idle, peak, hwm)
	p.stillServes(t)
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
