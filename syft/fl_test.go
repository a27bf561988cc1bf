package syft_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// rowsData returns n samples (n, 2) whose rows are (i, -i) and targets
// (n) equal to i, so any batch tells which rows it holds.
func rowsData(n int) (*tensor.Tensor, *tensor.Tensor) {
	d := tensor.Zeros(n, 2)
	t := tensor.Zeros(n)
	for i := 0; i < n; i++ {
		d.Set(float64(i), i, 0)
		d.Set(float64(-i), i, 1)
		t.Set(float64(i), i)
	}
	return d, t
}

func virtualWorkers(t testing.TB, ids ...string) []syft.Worker {
	var ws []syft.Worker
	for _, id := range ids {
		w := syft.NewVirtualWorker(id)
		t.Cleanup(w.Shutdown)
		ws = append(ws, w)
	}
	return ws
}

func TestFederateSplits(t *testing.T) {
	for _, tc := range []struct {
		n, workers int
		want       []int
	}{
		{4, 2, []int{2, 2}},
		{10, 3, []int{4, 3, 3}},
		{3, 3, []int{1, 1, 1}},
		{7, 1, []int{7}},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.n, tc.workers), func(t *testing.T) {
			ws := virtualWorkers(t, "bob", "alice", "carol")[:tc.workers]
			d, tg := rowsData(tc.n)
			fd, err := syft.Federate(d, tg, ws...)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			next := 0.0
			for i, p := range fd.Parts() {
				got = append(got, p.Len)
				if p.Worker != ws[i] {
					t.Errorf("part %d on %s, want %s", i, p.Worker.ID(), ws[i].ID())
				}
				v, err := p.Targets.GetCopy()
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range v.Data() {
					if x != next {
						t.Fatalf("part %d holds sample %g, want %g (contiguous split)", i, x, next)
					}
					next++
				}
			}
			if !slices.Equal(got, tc.want) || fd.Len() != tc.n {
				t.Errorf("sizes %v (total %d), want %v", got, fd.Len(), tc.want)
			}
		})
	}
}

func TestFederateRefusesBadInput(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice")
	d, tg := rowsData(4)
	for _, tc := range []struct {
		name    string
		d, t    *tensor.Tensor
		ws      []syft.Worker
		wantErr string
	}{
		{"no workers", d, tg, nil, "no workers"},
		{"mismatched", d, tensor.Zeros(3), ws, "same number of samples"},
		{"too few samples", tensor.Zeros(1, 2), tensor.Zeros(1), ws, "cannot be split"},
		{"nil", nil, tg, ws, "nil data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := syft.Federate(tc.d, tc.t, tc.ws...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// epochRows runs one epoch and returns, per worker, the rows of each batch
// (read from the batch's targets), checking data and targets agree.
func epochRows(t *testing.T, it *syft.BatchIter) map[string][][]int {
	t.Helper()
	out := map[string][][]int{}
	for it.Next() {
		b := it.Batch()
		tv, err := b.Target.Get()
		if err != nil {
			t.Fatal(err)
		}
		dv, err := b.Data.Get()
		if err != nil {
			t.Fatal(err)
		}
		var rows []int
		for i, x := range tv.Data() {
			rows = append(rows, int(x))
			if dv.At(i, 0) != x || dv.At(i, 1) != -x {
				t.Fatalf("batch row %d: data %v does not match target %g", i, dv, x)
			}
		}
		if b.Size != len(rows) {
			t.Fatalf("batch size %d, holds %d rows", b.Size, len(rows))
		}
		out[b.Worker.ID()] = append(out[b.Worker.ID()], rows)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFederatedDataLoader(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice")
	d, tg := rowsData(10) // bob 0..4, alice 5..9
	fd, err := syft.Federate(d, tg, ws...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opts  syft.LoaderOptions
		sizes []int // per worker
	}{
		{"in order", syft.LoaderOptions{BatchSize: 2}, []int{2, 2, 1}},
		{"drop last", syft.LoaderOptions{BatchSize: 2, DropLast: true}, []int{2, 2}},
		{"shuffled", syft.LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 7}, []int{3, 2}},
		{"shuffled drop last", syft.LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 7, DropLast: true}, []int{3}},
		{"default batch size", syft.LoaderOptions{}, []int{1, 1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := syft.NewFederatedDataLoader(fd, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != 2*len(tc.sizes) {
				t.Errorf("Len %d, want %d", l.Len(), 2*len(tc.sizes))
			}
			got := epochRows(t, l.Iter())
			for wi, w := range []string{"bob", "alice"} {
				var all []int
				for i, rows := range got[w] {
					if len(rows) != tc.sizes[i] {
						t.Errorf("%s batch %d has %d rows, want %d", w, i, len(rows), tc.sizes[i])
					}
					all = append(all, rows...)
				}
				inOrder := slices.IsSorted(all)
				if tc.opts.Shuffle == inOrder && len(all) > 2 {
					t.Errorf("%s rows %v: shuffle %v but sorted %v", w, all, tc.opts.Shuffle, inOrder)
				}
				slices.Sort(all)
				for _, r := range all {
					if r < 5*wi || r >= 5*wi+5 {
						t.Errorf("%s got row %d of another worker", w, r)
					}
				}
				if len(slices.Compact(all)) != len(all) {
					t.Errorf("%s: a row came twice in one epoch: %v", w, all)
				}
			}
			if tc.opts.Shuffle {
				// Same seed: same first epoch; the next epoch differs.
				l2, _ := syft.NewFederatedDataLoader(fd, tc.opts)
				again := epochRows(t, l2.Iter())
				if fmt.Sprint(again) != fmt.Sprint(got) {
					t.Errorf("same seed, different epochs: %v vs %v", again, got)
				}
				second := epochRows(t, l2.Iter())
				if fmt.Sprint(second) == fmt.Sprint(got) {
					t.Errorf("second epoch repeats the first: %v", got)
				}
			}
		})
	}
}

func TestFederatedFromTags(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice")
	for i, w := range ws {
		d, tg := rowsData(3 + i)
		o := w.(*syft.VirtualWorker).Owner()
		if _, err := syft.Send(d, o, syft.WithTags("#x"), syft.AsPrivate()); err != nil {
			t.Fatal(err)
		}
		p, err := syft.Send(tg, o, syft.WithTags("#y"), syft.AsPrivate())
		if err != nil {
			t.Fatal(err)
		}
		p.Keep()
	}
	fd, err := syft.FederatedFromTags("#x", "#y", ws...)
	if err != nil {
		t.Fatal(err)
	}
	if fd.Len() != 7 || fd.Part("alice").Len != 4 {
		t.Fatalf("bound %d samples, alice %d", fd.Len(), fd.Part("alice").Len)
	}
	l, _ := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: 2})
	it := l.Iter()
	n := 0
	for it.Next() {
		b := it.Batch()
		if !b.Data.Private() || !b.Target.Private() {
			t.Errorf("batch of private data is not private: %v", b.Data)
		}
		if _, err := b.Data.GetCopy(); !errors.Is(err, workers.ErrPermission) {
			t.Errorf("got a private batch: %v", err)
		}
		n++
	}
	if it.Err() != nil || n != 4 {
		t.Fatalf("%d batches, err %v", n, it.Err())
	}
	if fd.Free() != nil {
		t.Fatal("free of bound dataset failed")
	}
	if ps, _ := ws[0].Search("#x"); len(ps) != 1 {
		t.Fatalf("freeing a bound dataset deleted the owner's data")
	}
	if _, err := syft.FederatedFromTags("#nope", "#y", ws...); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing tag: %v", err)
	}
}

// toyModel is the seed tutorial's nn.Linear(2, 1).
func toyModel(seed uint64) *nn.Model {
	return nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(seed)))
}

func toyData() (*tensor.Tensor, *tensor.Tensor) {
	return tensor.MustNew([]float64{0, 0, 0, 1, 1, 0, 1, 1}, 4, 2), tensor.MustNew([]float64{0, 0, 1, 1}, 4, 1)
}
