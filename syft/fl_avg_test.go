package syft_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// digits returns n synthetic MNIST-shaped images flattened to (n, 784)
// and their labels (n).
func digits(n int, seed uint64) (*tensor.Tensor, *tensor.Tensor) {
	x, y := dataset.Digits(n, seed)
	return x.Reshape(n, dataset.Side*dataset.Side), y
}

func classifier(seed uint64) *nn.Model {
	return mlp(dataset.Side*dataset.Side, 32, dataset.Classes, seed)
}

func accuracy(t testing.TB, m *nn.Model, x, y *tensor.Tensor) float64 {
	m.Eval()
	defer m.Train()
	out, err := m.Forward(nn.NewVariable(x))
	if err != nil {
		t.Fatal(err)
	}
	pred := out.Tensor().Argmax(1, false)
	return pred.Eq(y).MeanAll()
}

// centralized trains on all the data in one place: the reference.
func centralized(t testing.TB, x, y *tensor.Tensor, epochs, batch int, lr float64, seed uint64) *nn.Model {
	m := classifier(seed)
	opt := nn.NewSGD(m.Parameters(), lr, 0, 0)
	n := x.Dim(0)
	r := tensor.NewRNG(seed)
	for e := 0; e < epochs; e++ {
		perm := r.Perm(n)
		for s := 0; s+batch <= n; s += batch {
			idx := perm[s : s+batch]
			opt.ZeroGrad()
			out, err := m.Forward(nn.NewVariable(x.IndexSelect(0, idx)))
			if err != nil {
				t.Fatal(err)
			}
			l := nn.CrossEntropyLoss(out, nn.NewVariable(y.IndexSelect(0, idx)))
			if err := l.Backward(); err != nil {
				t.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m
}

// Federated averaging with 2 and 3 workers reaches the accuracy of
// centralized training on the same data, within 2 points.
func TestFedAvgMatchesCentralizedAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains classifiers")
	}
	// Both runs train until test accuracy has levelled off: the
	// centralized one for 8 epochs of batches of 20 (480 steps); the
	// federated one for 120 rounds of 2 local steps per worker.
	const (
		epochs = 8
		batch  = 20
		lr     = 0.25
		rounds = 120
		local  = 2
	)
	cases := []struct {
		workers int
		agg     syft.Aggregation
	}{
		{2, syft.Secure},
		{3, syft.Secure},
		{2, syft.OnSecureWorker},
	}
	if raceDetector {
		// The same rounds, fewer of them: loss must fall, accuracy is
		// checked without -race.
		fedAvgShort(t, cases[1].workers)
		return
	}
	x, y := digits(1200, 1)
	tx, ty := digits(600, 2)
	ref := accuracy(t, centralized(t, x, y, epochs, batch, lr, 3), tx, ty)
	t.Logf("centralized: %.1f%%", 100*ref)
	if ref < 0.9 {
		t.Fatalf("centralized accuracy %.3f: the task is not learnt, the comparison would mean nothing", ref)
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%dworkers/%v", tc.workers, map[syft.Aggregation]string{syft.Secure: "secure", syft.OnSecureWorker: "secure-worker"}[tc.agg]), func(t *testing.T) {
			ws := virtualWorkers(t, "bob", "alice", "carol", "secure")
			fd, err := syft.Federate(x, y, ws[:tc.workers]...)
			if err != nil {
				t.Fatal(err)
			}
			loader, err := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: batch, Shuffle: true, Seed: 4, DropLast: true})
			if err != nil {
				t.Fatal(err)
			}
			fa, err := syft.NewFedAvg(classifier(3), syft.FedAvgConfig{
				Loader: loader, LocalSteps: local, Aggregation: tc.agg, SecureWorker: ws[3],
				Train: syft.TrainConfig{Loss: "cross_entropy", Optimizer: syft.Optimizer{Name: "sgd", LR: lr}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var first, last float64
			for r := 0; r < rounds; r++ {
				st, err := fa.Round()
				if err != nil {
					t.Fatal(err)
				}
				if r == 0 {
					first = st.Loss
				}
				last = st.Loss
				if len(st.Included) != tc.workers || st.Samples != local*tc.workers*batch {
					t.Fatalf("round %d: %+v", r, st)
				}
			}
			acc := accuracy(t, fa.Model(), tx, ty)
			t.Logf("%d rounds: loss %.3f -> %.3f, accuracy %.1f%% (centralized %.1f%%)", rounds, first, last, 100*acc, 100*ref)
			if !(last < first) || math.IsNaN(last) {
				t.Errorf("training loss did not fall: %g -> %g", first, last)
			}
			if math.Abs(acc-ref) > 0.02 {
				t.Errorf("federated accuracy %.1f%% is more than 2 points from centralized %.1f%%", 100*acc, 100*ref)
			}
		})
	}
}

// fedAvgShort runs a few rounds of secure federated averaging and checks
// the loss falls.
func fedAvgShort(t *testing.T, workers int) {
	x, y := digits(300, 1)
	ws := virtualWorkers(t, "bob", "alice", "carol")[:workers]
	fd, err := syft.Federate(x, y, ws...)
	if err != nil {
		t.Fatal(err)
	}
	loader, _ := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: 20, Shuffle: true, Seed: 4, DropLast: true})
	fa, err := syft.NewFedAvg(classifier(3), syft.FedAvgConfig{Loader: loader, LocalSteps: 2,
		Train: syft.TrainConfig{Loss: "cross_entropy", Optimizer: syft.Optimizer{LR: 0.25}}})
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	for r := 0; r < 12; r++ {
		st, err := fa.Round()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, st.Loss)
	}
	if !(losses[len(losses)-1] < losses[0]) {
		t.Fatalf("loss did not fall: %v", losses)
	}
}
