package plans

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// TestPlanOpMemory: a plan's operations are held to the worker's bound
// for ops, so issue 13's [8192,1]x[1,8192] matmul is refused inside a
// plan too, naming the op, the shapes and the limit, before it runs; a
// plan within the bound runs.
func TestPlanOpMemory(t *testing.T) {
	users := workers.NewUsers()
	tok, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	h, err := workers.NewHandler(workers.Config{WorkerID: "w", Store: store.NewMemStore(), Users: users, MaxOpBytes: workers.DefaultMaxOpBytes})
	if err != nil {
		t.Fatal(err)
	}
	book, err := approvals.Register(h, approvals.Options{})
	if err != nil {
		t.Fatal(err)
	}
	Register(h, book)
	ctx := context.Background()
	c, err := workers.NewClient(ctx, workers.NewSessionTransport(h, "me"), workers.Credentials{Token: tok}, workers.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(o *store.Object) {
		t.Helper()
		if err := c.Call(ctx, workers.MsgPut, &workers.PutRequest{Object: o}, nil); err != nil {
			t.Fatal(err)
		}
	}
	outer := func(name string, n int) {
		p, err := plan.Trace(name, func(b *plan.Builder, x, y *plan.Placeholder) *plan.Placeholder { return x.MatMul(y).Add(x) }, []int{n, 1}, []int{1, n})
		if err != nil {
			t.Fatal(err)
		}
		blob, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		put(&store.Object{ID: name, Kind: store.KindPlan, Blob: blob})
		put(&store.Object{ID: name + "-col", Kind: store.KindTensor, Tensor: tensor.Ones(n, 1)})
		put(&store.Object{ID: name + "-row", Kind: store.KindTensor, Tensor: tensor.Ones(1, n)})
	}
	outer("big", 8192)
	outer("small", 100)
	var rep RunReply
	err = c.Call(ctx, MsgRun, &RunRequest{PlanID: "big", Args: []string{"big-col", "big-row"}}, &rep)
	if !errors.Is(err, workers.ErrTooLarge) || !strings.Contains(err.Error(), "op matmul on shapes [8192 1] x [1 8192]") || !strings.Contains(err.Error(), "64.0 MiB one op may take") {
		t.Fatalf("plan with the large matmul: %v", err)
	}
	if err := c.Call(ctx, MsgRun, &RunRequest{PlanID: "small", Args: []string{"small-col", "small-row"}}, &rep); err != nil || len(rep.Results) != 1 {
		t.Fatalf("small plan: %v", err)
	}
}
