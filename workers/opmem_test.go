package workers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/store"
)

func TestEstimateOp(t *testing.T) {
	dim := 1
	cases := []struct {
		op     string
		shapes [][]int
		p      OpParams
		result int64
		total  int64
	}{
		{"matmul", [][]int{{8192, 1}, {1, 8192}}, OpParams{}, 8 << 26, 6 * 8 << 26},
		{"matmul", [][]int{{3, 4}, {4, 5}}, OpParams{}, 8 * 15, 6 * 8 * 15},
		{"add", [][]int{{1000}, {1000}}, OpParams{}, 8000, 6 * 8000},
		{"add", [][]int{{1000, 1}, {1, 1000}}, OpParams{}, 8e6, 8 * 8e6}, // both operands broadcast
		{"add", [][]int{{1000}, {}}, OpParams{}, 8000, 7 * 8000},         // a scalar
		{"sum", [][]int{{1 << 20}}, OpParams{}, 8, 6 * 8},
		{"sum", [][]int{{1 << 10, 1 << 10}}, OpParams{Dim: &dim}, 8 << 10, 6 * 8 << 10},
		{"var", [][]int{{1 << 20}}, OpParams{}, 8, 6*8 + 8<<20},
		{"transpose", [][]int{{100, 10}}, OpParams{}, 8000, 7 * 8000},
	}
	for _, c := range cases {
		m, err := EstimateOp(c.op, c.shapes, c.p)
		if err != nil {
			t.Fatalf("%s %v: %v", c.op, c.shapes, err)
		}
		if m.Result != c.result || m.Total() != c.total {
			t.Errorf("%s %v: result %d total %d, want %d %d", c.op, c.shapes, m.Result, m.Total(), c.result, c.total)
		}
	}
	if _, err := EstimateOp("matmul", [][]int{{2, 3}, {4, 5}}, OpParams{}); err == nil {
		t.Error("matmul of [2 3] and [4 5] estimated")
	}
}

// opTestClient is user "me" of a handler with the given op bounds, and
// a function that opens more sessions of "me".
func opTestClient(t *testing.T, maxOp, inFlight int64) (*Handler, *Client, func() (*Client, error)) {
	t.Helper()
	users := NewUsers()
	me, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Config{WorkerID: "w", Store: store.NewMemStore(), Users: users, MaxOpBytes: maxOp, MaxOpBytesInFlight: inFlight})
	if err != nil {
		t.Fatal(err)
	}
	dial := func() (*Client, error) {
		return NewClient(context.Background(), NewSessionTransport(h, "me"), Credentials{Token: me}, ClientOptions{})
	}
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	return h, c, dial
}

func putTensor(t *testing.T, c *Client, id string, tt *tensor.Tensor) {
	t.Helper()
	if err := c.Call(context.Background(), MsgPut, &PutRequest{Object: &store.Object{ID: id, Kind: store.KindTensor, Tensor: tt}}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestOpMemoryQuota: issue 13's matmul of [8192,1] by [1,8192] (2.1 GB
// before this bound) is refused before it runs, naming the op, the
// shapes, the estimate and the limit; an op within the limit runs.
func TestOpMemoryQuota(t *testing.T) {
	_, c, _ := opTestClient(t, DefaultMaxOpBytes, 0)
	putTensor(t, c, "col", tensor.Ones(8192, 1))
	putTensor(t, c, "row", tensor.Ones(1, 8192))
	ctx := context.Background()
	err := c.Call(ctx, MsgOp, &OpRequest{Op: "matmul", Args: []Operand{{ID: "col"}, {ID: "row"}}}, nil)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large matmul: %v", err)
	}
	for _, want := range []string{"op matmul", "[8192 1] x [1 8192]", "3.0 GiB", "result 512.0 MiB", "64.0 MiB one op may take", "--max-op-memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var rep InfoReply
	if err := c.Call(ctx, MsgOp, &OpRequest{Op: "matmul", Args: []Operand{{ID: "row"}, {ID: "col"}}, ResultID: "dot"}, &rep); err != nil {
		t.Fatalf("[1,8192]x[8192,1]: %v", err)
	}
	if err := c.Call(ctx, MsgOp, &OpRequest{Op: "sum", Args: []Operand{{ID: "col"}}}, nil); err != nil {
		t.Fatalf("sum: %v", err)
	}
}

// TestOpMemoryInFlight: ops that together pass the in-flight bound wait
// for each other instead of running at once.
func TestOpMemoryInFlight(t *testing.T) {
	// Each [512,512]+[512,512] is 12 MiB of estimate (2 MiB result, 10
	// storing it); the bound lets one run at a time.
	h, c, dial := opTestClient(t, 16<<20, 13<<20)
	putTensor(t, c, "a", tensor.Ones(512, 512))
	var mu sync.Mutex
	peak := int64(0)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			u := h.opBudget.inUse()
			mu.Lock()
			peak = max(peak, u)
			mu.Unlock()
			time.Sleep(50 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc, err := dial()
			if err != nil {
				errs <- err
				return
			}
			errs <- cc.Call(context.Background(), MsgOp, &OpRequest{Op: "add", Args: []Operand{{ID: "a"}, {ID: "a"}}}, nil)
		}()
	}
	wg.Wait()
	close(stop)
	<-stopped
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if peak > 13<<20 {
		t.Errorf("%d bytes of ops in flight, over the bound of %d", peak, 13<<20)
	}
	if h.opBudget.inUse() != 0 {
		t.Errorf("%d bytes still held after the ops ended", h.opBudget.inUse())
	}
}
