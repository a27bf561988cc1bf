package syft_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
)

var (
	planW    = tensor.MustNew([]float64{1, -1, 0.5, 2, 0, 1, -0.5, 0.25}, 4, 2)
	planBias = tensor.FromSlice([]float64{0.1, -0.2})
)

func affinePlan(t *testing.T) *syft.Plan {
	t.Helper()
	p, err := syft.Func2Plan("affine", func(b *syft.PlanBuilder, x *syft.Placeholder) *syft.Placeholder {
		return x.MatMul(b.State("w", planW)).Add(b.State("b", planBias)).Relu()
	}, []int{1, 4})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanOnPointers: a plan sent to a worker runs there on a pointer to
// private data (that the caller may read); its output is private too.
func TestPlanOnPointers(t *testing.T) {
	for _, gr := range jobGrids[:2] {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 1)
			p := affinePlan(t)
			pp, err := syft.SendPlan(p, g.ws[0])
			if err != nil {
				t.Fatal(err)
			}
			found, err := g.ws[0].Search("crypten_data")
			if err != nil || len(found) != 1 {
				t.Fatalf("search: %v %v", found, err)
			}
			x := found[0]
			xr, err := x.Reshape(1, 4)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := pp.Call(xr)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != 1 || !outs[0].Private() {
				t.Fatalf("outputs %v: want one private pointer", outs)
			}
			// "me" may read the input (see stageTensor), so the output too;
			// TestPlanGate runs plans on data the caller may not read.
			if got, err := outs[0].GetCopy(); err != nil || got == nil {
				t.Fatalf("the caller's copy of a plan output on data it may read: %v", err)
			}
			want, _ := p.Run(g.data[0].Reshape(1, 4))
			var owner syft.Worker
			if g.owners != nil {
				owner = g.owners[0]
			} else {
				owner = g.ws[0].(*syft.VirtualWorker).Owner()
			}
			mine, err := owner.Search()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range mine {
				if m.ID() == outs[0].ID() {
					got, err := m.GetCopy()
					if err != nil || !tensor.AllClose(got, want[0], 0, 1e-12) {
						t.Fatalf("output %v (%v), want %v", got, err, want[0])
					}
					return
				}
			}
			t.Fatal("the owner does not see the output")
		})
	}
}

// TestPlanRefusedOnArrival: a worker refuses a plan that names an
// operation outside the allow-list.
func TestPlanRefusedOnArrival(t *testing.T) {
	g := virtualJobGrid(t, 1)
	p := affinePlan(t)
	p.Actions[2].Op = "system"
	_, err := syft.SendPlan(p, g.ws[0])
	if !errors.Is(err, workers.ErrBadRequest) || !strings.Contains(err.Error(), `operation "system" is not allowed`) {
		t.Fatalf("SendPlan: %v", err)
	}
	if _, err := syft.RunPlan(g.ws, "", p); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("RunPlan: %v", err)
	}
}

// TestRunPlan: the same plan runs over CrypTensors at every party, loading
// each worker's private tensor by tag; virtual and daemon workers agree.
func TestRunPlan(t *testing.T) {
	p, err := syft.Func2Plan("private affine", func(b *syft.PlanBuilder, shift *syft.Placeholder) []*syft.Placeholder {
		w := b.State("w", planW)
		a := b.Load("crypten_data", 0, 4)
		c := b.Load("crypten_data", 1, 4)
		s := a.Mul(c).Reshape(1, 4).MatMul(w).Add(shift)
		return []*syft.Placeholder{s, s.SumAll()}
	}, []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	shift := tensor.MustNew([]float64{1, 2}, 1, 2)
	for _, gr := range jobGrids {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 2)
			res, err := syft.RunPlan(g.ws, "127.0.0.1", p, shift)
			if err != nil {
				t.Fatal(err)
			}
			want := tensor.MatMul(g.data[0].Mul(g.data[1]).Reshape(1, 4), planW).Add(shift)
			for r := range g.ws {
				outs, _ := res.Value(r).([]any)
				if len(outs) != 2 {
					t.Fatalf("rank %d: %v", r, res.Value(r))
				}
				if got, _ := outs[0].(*tensor.Tensor); got == nil || !tensor.AllClose(got, want, 1e-3, 0.1) {
					t.Errorf("rank %d: %v, want %v", r, outs[0], want)
				}
				// The accessors read the plan's list of outputs.
				ts, err := res.Tensors(r)
				if err != nil || len(ts) != 2 || !tensor.AllClose(ts[0], want, 1e-3, 0.1) {
					t.Errorf("rank %d: Tensors = %v, %v", r, ts, err)
				}
				sum, err := res.Output(r, 1)
				if err != nil || sum.Size() != 1 || math.Abs(sum.Data()[0]-want.SumAll()) > 0.1 {
					t.Errorf("rank %d: Output(1) = %v, %v, want %v", r, sum, err, want.SumAll())
				}
				if _, err := res.Output(r, 2); err == nil || !strings.Contains(err.Error(), "has 2 outputs") {
					t.Errorf("rank %d: Output(2): %v", r, err)
				}
				if got := res.Tensor(r); got != nil {
					t.Errorf("rank %d: Tensor of two outputs = %v, want nil (Tensors returns both)", r, got)
				}
			}
			// A one-output plan's output is what Tensor returns.
			one, err := syft.Func2Plan("one output", func(b *syft.PlanBuilder, shift *syft.Placeholder) *syft.Placeholder {
				return b.Load("crypten_data", 0, 4).Reshape(1, 4).MatMul(b.State("w", planW)).Add(shift)
			}, []int{1, 2})
			if err != nil {
				t.Fatal(err)
			}
			res, err = syft.RunPlan(g.ws, "127.0.0.1", one, shift)
			if err != nil {
				t.Fatal(err)
			}
			want = tensor.MatMul(g.data[0].Reshape(1, 4), planW).Add(shift)
			for r := range g.ws {
				if got := res.Tensor(r); got == nil || !tensor.AllClose(got, want, 1e-3, 0.1) {
					t.Errorf("rank %d: Tensor of a one-output plan = %v, want %v", r, got, want)
				}
			}
		})
	}
}

// TestResultsAccessors: every shape of a rank's value, and what Tensor,
// Tensors and Output make of it; an error names the rank and worker and
// never shows a value.
func TestResultsAccessors(t *testing.T) {
	a, b := tensor.FromSlice([]float64{1, 2}), tensor.FromSlice([]float64{3})
	res := &syft.Results{Ranks: []syft.RankResult{
		{Rank: 0, Worker: "w0", Value: a},
		{Rank: 1, Worker: "w1", Value: []any{a, b}},
		{Rank: 2, Worker: "w2", Value: []any{a}},
		{Rank: 3, Worker: "w3", Value: []any{a, 42.5}},
		{Rank: 4, Worker: "w4", Value: 42.5},
		{Rank: 5, Worker: "w5", Err: errors.New("boom")},
		{Rank: 6, Worker: "w6"},
	}}
	for _, c := range []struct {
		rank    int
		n       int    // len(Tensors)
		tensor  bool   // Tensor non-nil
		wantErr string // in Tensors' error
	}{
		{0, 1, true, ""},
		{1, 2, false, ""},
		{2, 1, true, ""},
		{3, 0, false, "rank 3 (w3) returned a list whose element 1 is a float64"},
		{4, 0, false, "rank 4 (w4) returned a float64, not a tensor"},
		{5, 0, false, "rank 5 (w5) failed: boom"},
		{6, 0, false, "rank 6 (w6) returned nothing"},
		{7, 0, false, "no rank 7 (the job had 7)"},
		{-1, 0, false, "no rank -1"},
	} {
		ts, err := res.Tensors(c.rank)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("rank %d: Tensors error %v, want %q", c.rank, err, c.wantErr)
			}
			if strings.Contains(fmt.Sprint(err), "42.5") {
				t.Errorf("rank %d: error shows a value: %v", c.rank, err)
			}
		} else if err != nil || len(ts) != c.n {
			t.Errorf("rank %d: Tensors = %d tensors, %v; want %d", c.rank, len(ts), err, c.n)
		}
		if got := res.Tensor(c.rank); (got != nil) != c.tensor {
			t.Errorf("rank %d: Tensor = %v, want non-nil %v", c.rank, got, c.tensor)
		}
	}
	if got, err := res.Output(1, 1); err != nil || got != b {
		t.Errorf("Output(1, 1) = %v, %v", got, err)
	}
	if got, err := res.Output(0, 0); err != nil || got != a {
		t.Errorf("Output(0, 0) = %v, %v", got, err)
	}
	var none *syft.Results
	if _, err := none.Tensors(0); err == nil {
		t.Error("Tensors of nil results: no error")
	}
}
