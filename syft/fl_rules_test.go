package syft_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
)

// The federated rules of issue 11 through syft on virtual workers: the
// hospitals' owners load private data; the data scientist ("me") trains
// only as the owners approved, never gets one worker's model, and a round
// needs two contributors whose data the data scientist may not read.
func TestFederatedRulesVirtual(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice", "carol")
	bob, alice, carol := ws[0], ws[1], ws[2]
	r := tensor.NewRNG(9)
	type set struct{ x, y *syft.Pointer }
	data := map[string]set{}
	for _, w := range []syft.Worker{bob, alice} {
		owner := w.(*syft.VirtualWorker).Owner()
		x, err := syft.Send(r.Normal(0, 1, 4, 3), owner, syft.WithTags("#x"), syft.AsPrivate())
		if err != nil {
			t.Fatal(err)
		}
		y, err := syft.Send(r.Normal(0, 1, 4, 2), owner, syft.WithTags("#y"), syft.AsPrivate())
		if err != nil {
			t.Fatal(err)
		}
		x.Keep()
		y.Keep()
		fd, err := syft.FederatedFromTags("#x", "#y", w)
		if err != nil {
			t.Fatal(err)
		}
		data[w.ID()] = set{fd.Parts()[0].Data, fd.Parts()[0].Targets}
	}
	// carol holds data of the data scientist's own: readable by them.
	cx, _ := syft.Send(r.Normal(0, 1, 4, 3), carol)
	cy, _ := syft.Send(r.Normal(0, 1, 4, 2), carol)
	data["carol"] = set{cx, cy}

	cfg := syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.1},
		Plan: &syft.TrainPlan{Federation: syft.Federation(bob, alice, carol), BatchSize: 4, LocalSteps: 1, Rounds: 10}}
	train := func(w syft.Worker, cfg syft.TrainConfig) (*syft.ModelPointer, error) {
		mp, err := syft.SendModel(mlp(3, 4, 2, 1), w)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mp.Train(data[w.ID()].x, data[w.ID()].y, cfg)
		return mp, err
	}
	// Without approval: refused, naming the request each owner approves.
	for _, w := range []syft.Worker{bob, alice} {
		_, err := train(w, cfg)
		if !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "is pending") {
			t.Fatalf("training on %s without approval: %v", w.ID(), err)
		}
		owner := w.(*syft.VirtualWorker).Owner()
		reqs, err := syft.TrainingRequests(owner)
		if err != nil || len(reqs) != 1 || !strings.Contains(err2text(train(w, cfg)), reqs[0].ID) {
			t.Fatalf("requests on %s: %v %v", w.ID(), reqs, err)
		}
		if err := syft.ApproveTraining(owner, reqs[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	// A changed configuration needs a new approval.
	changed := cfg
	changed.Optimizer.Momentum = 0.9
	if _, err := train(alice, changed); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "is pending") {
		t.Fatalf("a changed configuration ran: %v", err)
	}
	mb, err := train(bob, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ma, err := train(alice, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := train(carol, cfg) // the data scientist's own data: no approval
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.GetCopy(); !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("got bob's trained model: %v", err)
	}
	// carol is in the federation but trained on data the data scientist
	// may read: alone with her, bob's model is not released.
	if _, err := syft.SecureAggregate([]*syft.ModelPointer{mb, mc}, syft.SecureAggOptions{}); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "1 contributor(s)") {
		t.Fatalf("a round of one contributor and the data scientist's worker: %v", err)
	}
	if _, err := syft.SecureAggregate([]*syft.ModelPointer{mb, mb}, syft.SecureAggOptions{}); err == nil || !strings.Contains(err.Error(), "two models on worker bob") {
		t.Fatalf("bob twice: %v", err)
	}
	// Two contributors: the average, exactly as the owners would compute it.
	res, err := syft.SecureAggregate([]*syft.ModelPointer{mb, ma}, syft.SecureAggOptions{Loss: true})
	if err != nil {
		t.Fatal(err)
	}
	var own []*nn.Model
	for _, p := range []*syft.ModelPointer{mb, ma} {
		// What the owner holds: the model in the worker's store.
		o, err := p.Location().(*syft.VirtualWorker).Handler().Store().Get(p.ID())
		if err != nil {
			t.Fatal(err)
		}
		m, err := modelcodec.Decode(o.Blob, serde.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, m)
	}
	if len(own) != 2 {
		t.Fatalf("the owners found %d models", len(own))
	}
	want := plainAverage(t, own, []float64{1, 1})
	got, _ := res.Model.StateDict()
	for k, v := range want {
		if d := tensor.MaxAbsDiff(v, got[k]); d > 1e-6 {
			t.Errorf("%s: off by %g", k, d)
		}
	}
	if !(res.Loss > 0) || res.Weight != 2 {
		t.Errorf("loss %g, weight %g", res.Loss, res.Weight)
	}
	// Each round's model is aggregated once.
	if _, err := syft.SecureAggregate([]*syft.ModelPointer{mb, ma}, syft.SecureAggOptions{}); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "already shared") {
		t.Fatalf("aggregated the same models twice: %v", err)
	}
}

func err2text(_ *syft.ModelPointer, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FedAvg with worker-drawn batches on the owners' private data: refused
// until each owner approves a plan saying the workers draw the samples,
// then rounds run and the loss falls.
func TestFedAvgWorkerBatchesPrivate(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice")
	r := tensor.NewRNG(11)
	w := r.Normal(0, 1, 3, 1)
	for _, wk := range ws {
		owner := wk.(*syft.VirtualWorker).Owner()
		x := r.Normal(0, 1, 40, 3)
		for _, d := range []struct {
			t   *tensor.Tensor
			tag string
		}{{x, "#x"}, {tensor.MatMul(x, w), "#y"}} {
			p, err := syft.Send(d.t, owner, syft.WithTags(d.tag), syft.AsPrivate())
			if err != nil {
				t.Fatal(err)
			}
			p.Keep()
		}
	}
	fd, err := syft.FederatedFromTags("#x", "#y", ws...)
	if err != nil {
		t.Fatal(err)
	}
	loader, err := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	fa, err := syft.NewFedAvg(nn.NewModel(nn.NewLinear(3, 1, tensor.NewRNG(1))), syft.FedAvgConfig{Loader: loader, LocalSteps: 3, Rounds: 20,
		WorkerBatches: true, Weighted: true, Train: syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.05}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fa.Round(); !errors.Is(err, workers.ErrPermission) || strings.Count(err.Error(), "is pending") != 2 {
		t.Fatalf("the first round before approval: %v", err)
	}
	for _, wk := range ws {
		owner := wk.(*syft.VirtualWorker).Owner()
		reqs, err := syft.TrainingRequests(owner)
		if err != nil || len(reqs) != 1 {
			t.Fatalf("requests on %s: %v %v", wk.ID(), reqs, err)
		}
		review, err := syft.ReviewTraining(owner, reqs[0].ID)
		if err != nil || !strings.Contains(review, "drawn at random by this worker") || !strings.Contains(review, "batches of exactly 8 samples, 3 steps per round, at most 20 rounds") {
			t.Fatalf("review: %v\n%s", err, review)
		}
		if err := syft.ApproveTraining(owner, reqs[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	var first, last float64
	for round := 1; round <= 20; round++ {
		st, err := fa.Round()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if st.Samples != 2*3*8 {
			t.Fatalf("round %d trained on %d samples, want 48", round, st.Samples)
		}
		if round == 1 {
			first = st.Loss
		}
		last = st.Loss
	}
	if !(last < first/2) {
		t.Errorf("loss %g after 20 rounds, from %g", last, first)
	}
	if _, err := fa.Round(); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "20 approved rounds are used up") {
		t.Fatalf("a 21st round of 20: %v", err)
	}
}
