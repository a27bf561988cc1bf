package syft_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/store"
)

// mlp is a small classifier used across the federated tests.
func mlp(in, hidden, out int, seed uint64) *nn.Model {
	r := tensor.NewRNG(seed)
	return nn.NewModel(nn.NewSequential(nn.NewLinear(in, hidden, r), nn.NewReLU(), nn.NewLinear(hidden, out, r)))
}

// plainAverage is the reference: the weighted average of state dicts.
func plainAverage(t *testing.T, ms []*nn.Model, w []float64) map[string]*tensor.Tensor {
	t.Helper()
	var acc map[string]*tensor.Tensor
	total := 0.0
	for i, m := range ms {
		sd, err := m.StateDict()
		if err != nil {
			t.Fatal(err)
		}
		total += w[i]
		if acc == nil {
			acc = map[string]*tensor.Tensor{}
			for k, v := range sd {
				acc[k] = v.MulScalar(w[i])
			}
			continue
		}
		for k, v := range sd {
			acc[k] = acc[k].Add(v.MulScalar(w[i]))
		}
	}
	for k, v := range acc {
		acc[k] = v.DivScalar(total)
	}
	return acc
}

func TestSecureAggregateEqualsPlainAverage(t *testing.T) {
	for _, tc := range []struct {
		workers  int
		weights  []float64
		fracBits int
	}{
		{2, nil, 0},
		{3, nil, 0},
		{3, []float64{10, 20, 5}, 0},
		{2, nil, 16},
		{4, []float64{1, 2, 3, 4}, 30},
	} {
		t.Run(fmt.Sprintf("%dworkers-w%v-f%d", tc.workers, tc.weights, tc.fracBits), func(t *testing.T) {
			ws := virtualWorkers(t, "bob", "alice", "carol", "dave")[:tc.workers]
			var ms []*nn.Model
			var mps []*syft.ModelPointer
			var extras [][]*syft.Pointer
			for i, w := range ws {
				m := mlp(5, 7, 3, uint64(10+i))
				ms = append(ms, m)
				mp, err := syft.SendModel(m, w)
				if err != nil {
					t.Fatal(err)
				}
				if tc.weights != nil {
					// Sample weights are the workers' own records: train
					// model i on weights[i] samples.
					k := int(tc.weights[i])
					r := tensor.NewRNG(uint64(30 + i))
					x, _ := syft.Send(r.Normal(0, 1, k, 5), w)
					y, _ := syft.Send(r.Normal(0, 1, k, 3), w)
					if _, err := mp.Train(x, y, syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.01}}); err != nil {
						t.Fatal(err)
					}
					if ms[i], err = mp.GetCopy(); err != nil {
						t.Fatal(err)
					}
				}
				mps = append(mps, mp)
				x, _ := syft.Send(tensor.FromSlice([]float64{float64(i), -2.5 * float64(i)}), w)
				extras = append(extras, []*syft.Pointer{x})
			}
			w := tc.weights
			if w == nil {
				w = []float64{1, 1, 1, 1}[:tc.workers]
			}
			opts := syft.SecureAggOptions{FracBits: tc.fracBits, Extras: extras}
			if tc.weights != nil {
				opts.Weighting = fl.WeightSamples
			}
			res, err := syft.SecureAggregate(mps, opts)
			if err != nil {
				t.Fatal(err)
			}
			fb := tc.fracBits
			if fb == 0 {
				fb = fl.DefaultFracBits
			}
			tol := math.Ldexp(1, -(fb + 1))
			want := plainAverage(t, ms, w)
			got, _ := res.Model.StateDict()
			for k, v := range want {
				if d := tensor.MaxAbsDiff(v, got[k]); d > tol {
					t.Errorf("%s: secure average off by %g, more than 2^-%d", k, d, fb+1)
				}
			}
			// Extras: the weighted mean of (i, -2.5 i).
			mean := 0.0
			tw := 0.0
			for i := range ws {
				mean += w[i] * float64(i)
				tw += w[i]
			}
			mean /= tw
			if len(res.Extras) != 1 || math.Abs(res.Extras[0].At(0)-mean) > tol || math.Abs(res.Extras[0].At(1)+2.5*mean) > tol {
				t.Errorf("extras %v, want [%g %g]", res.Extras, mean, -2.5*mean)
			}
			if tw := func() float64 {
				s := 0.0
				for _, x := range w {
					s += x
				}
				return s
			}(); math.Abs(res.Weight-tw) > tol*tw {
				t.Errorf("total weight %g, want %g", res.Weight, tw)
			}
			if len(res.Included) != tc.workers || res.Attempts != 1 || len(res.Excluded) != 0 {
				t.Errorf("result %+v", res)
			}
			// Nothing of the round is left on the workers: models and
			// extras only.
			for _, w := range ws {
				objs, _ := w.(*syft.VirtualWorker).Owner().List()
				for _, o := range objs {
					if o.Kind == store.KindBlob {
						t.Errorf("%s keeps %s", w.ID(), o.ID)
					}
				}
			}
		})
	}
}

func TestSecureAggregateRefuses(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice")
	a, _ := syft.SendModel(mlp(2, 3, 1, 1), ws[0])
	a2, _ := syft.SendModel(mlp(2, 3, 1, 2), ws[0])
	b, _ := syft.SendModel(mlp(2, 3, 1, 3), ws[1])
	other, _ := syft.SendModel(mlp(2, 4, 1, 3), ws[1])
	for _, tc := range []struct {
		name   string
		models []*syft.ModelPointer
		opts   syft.SecureAggOptions
		want   string
	}{
		{"alone", []*syft.ModelPointer{a}, syft.SecureAggOptions{}, "at least 2"},
		{"same worker", []*syft.ModelPointer{a, a2}, syft.SecureAggOptions{}, "two models on worker bob"},
		{"architectures", []*syft.ModelPointer{a, other}, syft.SecureAggOptions{}, "another architecture"},
		{"unknown weighting", []*syft.ModelPointer{a, b}, syft.SecureAggOptions{Weighting: "mine"}, "unknown weighting"},
		{"samples of untrained models", []*syft.ModelPointer{a, b}, syft.SecureAggOptions{Weighting: fl.WeightSamples}, "no sample count"},
		{"precision", []*syft.ModelPointer{a, b}, syft.SecureAggOptions{FracBits: 60}, "fractional bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := syft.SecureAggregate(tc.models, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			var de *syft.DropoutError
			if errors.As(err, &de) {
				t.Fatalf("a refusal reported as a dropout: %v", err)
			}
		})
	}
	// After every refusal, nothing is left behind and aggregation works.
	for _, w := range ws {
		objs, _ := w.(*syft.VirtualWorker).Owner().List()
		for _, o := range objs {
			if o.Kind == store.KindBlob {
				t.Errorf("%s keeps %s after a refused round", w.ID(), o.ID)
			}
		}
	}
	if _, err := syft.SecureAggregate([]*syft.ModelPointer{a, b}, syft.SecureAggOptions{}); err != nil {
		t.Fatal(err)
	}
}
