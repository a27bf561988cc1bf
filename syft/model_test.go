package syft_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// The seed tutorial's "train on remote machine": data split between bob
// and alice, the model sent to whoever holds the batch, one optimizer
// state per worker, the loss falls over 20 iterations.
func TestToyLinearFederated(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice")
	data, target := toyData()
	fd, err := syft.Federate(data, target, ws...)
	if err != nil {
		t.Fatal(err)
	}
	model := toyModel(1)
	opt := syft.NewOptimizer("sgd", 0.1)
	var losses []float64
	for iter := 0; iter < 20; iter++ {
		total := 0.0
		for _, p := range fd.Parts() {
			mp, err := syft.SendModel(model, p.Worker)
			if err != nil {
				t.Fatal(err)
			}
			lp, err := mp.Train(p.Data, p.Targets, syft.TrainConfig{Loss: "sum_squared", Optimizer: opt})
			if err != nil {
				t.Fatal(err)
			}
			if model, err = mp.Get(); err != nil {
				t.Fatal(err)
			}
			l, err := lp.Get()
			if err != nil {
				t.Fatal(err)
			}
			if l.Dims() != 0 {
				t.Fatalf("loss of one step has shape %v, want a scalar", l.Shape())
			}
			total += l.Item()
		}
		losses = append(losses, total)
	}
	if !(losses[19] < losses[0]/10) {
		t.Fatalf("loss did not fall over 20 iterations: %v", losses)
	}
	for _, w := range ws {
		if objs, _ := w.List(); len(objs) != 2 {
			t.Errorf("%s holds %d objects after training, want its 2 dataset parts: %v", w.ID(), len(objs), objs)
		}
	}
}

// Remote training is the same computation as local training with mpc/nn:
// same weights after the same steps, for SGD with momentum and Adam (whose
// state must persist on the worker between requests and model sends).
func TestRemoteTrainingMatchesLocal(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  syft.Optimizer
		loss string
	}{
		{"sgd", syft.Optimizer{Name: "sgd", LR: 0.05}, "mse"},
		{"sgd momentum", syft.Optimizer{Name: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 0.01}, "mse"},
		{"adam", syft.Optimizer{Name: "adam", LR: 0.01}, "sum_squared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := virtualWorkers(t, "bob")[0]
			x := tensor.RandN(3, 8, 2)
			y := tensor.RandN(4, 8, 1)
			xp, _ := syft.Send(x, w)
			yp, _ := syft.Send(y, w)
			local := toyModel(5)
			var lopt nn.Optimizer = nn.NewSGD(local.Parameters(), tc.opt.LR, tc.opt.Momentum, tc.opt.WeightDecay)
			if tc.opt.Name == "adam" {
				lopt = nn.NewAdam(local.Parameters(), tc.opt.LR)
			}
			lossFn := map[string]func(p, t *nn.Variable) *nn.Variable{
				"mse":         nn.MSELoss,
				"sum_squared": func(p, t *nn.Variable) *nn.Variable { return p.Sub(t).Square().Sum() },
			}[tc.loss]
			remote := toyModel(5)
			opt := tc.opt
			opt.Key = "k-" + strings.ReplaceAll(tc.name, " ", "-")
			for step := 0; step < 5; step++ {
				lopt.ZeroGrad()
				pred, err := local.Forward(nn.NewVariable(x))
				if err != nil {
					t.Fatal(err)
				}
				l := lossFn(pred, nn.NewVariable(y))
				if err := l.Backward(); err != nil {
					t.Fatal(err)
				}
				if err := lopt.Step(); err != nil {
					t.Fatal(err)
				}
				// The remote model goes back and forth every step, as in
				// the tutorial; the optimizer state stays on bob.
				mp, err := syft.SendModel(remote, w)
				if err != nil {
					t.Fatal(err)
				}
				lp, err := mp.Train(xp, yp, syft.TrainConfig{Loss: tc.loss, Optimizer: opt})
				if err != nil {
					t.Fatal(err)
				}
				rl, _ := lp.Get()
				if math.Abs(rl.Item()-l.Tensor().Item()) > 1e-12 {
					t.Fatalf("step %d: remote loss %g, local %g", step, rl.Item(), l.Tensor().Item())
				}
				if remote, err = mp.Get(); err != nil {
					t.Fatal(err)
				}
			}
			ls, _ := local.StateDict()
			rs, _ := remote.StateDict()
			for k, v := range ls {
				if d := tensor.MaxAbsDiff(v, rs[k]); d > 1e-12 {
					t.Errorf("%s differs by %g after 5 steps", k, d)
				}
			}
		})
	}
}

// A model trained on private data becomes private: it can be trained
// further and aggregated securely, but not taken, copied out or moved.
func TestModelTrainedOnPrivateData(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice", "secure")
	data, target := toyData()
	fd, err := syft.FederateWith(data, target, ws[:2], syft.AsPrivate())
	if err != nil {
		t.Fatal(err)
	}
	cfg := syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.1}}
	var mps []*syft.ModelPointer
	for _, p := range fd.Parts() {
		mp, err := syft.SendModel(toyModel(2), p.Worker)
		if err != nil {
			t.Fatal(err)
		}
		if mp.Private() {
			t.Fatal("model private before training")
		}
		// Training on private data needs a plan, approved by the owner.
		if _, err := mp.Train(p.Data, p.Targets, cfg); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "training plan") {
			t.Fatalf("trained on private data without a plan: %v", err)
		}
		cfg := cfg
		cfg.Plan = &syft.TrainPlan{Federation: syft.Federation(ws[:2]...), BatchSize: 2, LocalSteps: 1, Rounds: 1}
		_, refusal := mp.Train(p.Data, p.Targets, cfg)
		if !errors.Is(refusal, workers.ErrPermission) || !strings.Contains(refusal.Error(), "pending") {
			t.Fatalf("trained on private data without approval: %v", refusal)
		}
		owner := p.Worker.(*syft.VirtualWorker).Owner()
		reqs, err := syft.TrainingRequests(owner)
		if err != nil || len(reqs) != 1 || reqs[0].Status != approvals.StatusPending {
			t.Fatalf("pending requests %v: %v", reqs, err)
		}
		id := reqs[0].ID
		if !strings.Contains(refusal.Error(), id) {
			t.Fatalf("the refusal does not name request %s: %v", id, refusal)
		}
		if review, err := syft.ReviewTraining(owner, id); err != nil || !strings.Contains(review, "loss: mse") {
			t.Fatalf("review: %v\n%s", err, review)
		}
		if err := syft.ApproveTraining(p.Worker, id); !errors.Is(err, workers.ErrPermission) {
			t.Fatalf("the requester approved their own request: %v", err)
		}
		if err := syft.ApproveTraining(owner, id); err != nil {
			t.Fatal(err)
		}
		lp, err := mp.Train(p.Data, p.Targets, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !mp.Private() || !lp.Private() {
			t.Fatalf("model (%v) and loss (%v) trained on private data must be private", mp.Private(), lp.Private())
		}
		if _, err := lp.Get(); !errors.Is(err, workers.ErrPermission) {
			t.Errorf("loss of private data released: %v", err)
		}
		mps = append(mps, mp)
	}
	if _, err := mps[0].GetCopy(); !errors.Is(err, workers.ErrPermission) {
		t.Errorf("GetCopy of a private-trained model: %v", err)
	}
	if _, err := mps[0].Get(); !errors.Is(err, workers.ErrPermission) {
		t.Errorf("Get of a private-trained model: %v", err)
	}
	if _, err := syft.AverageOn(ws[2], mps, nil); !errors.Is(err, workers.ErrPermission) {
		t.Errorf("moving private-trained models to a secure worker: %v", err)
	}
	res, err := syft.SecureAggregate(mps, syft.SecureAggOptions{})
	if err != nil {
		t.Fatalf("secure aggregation of private-trained models: %v", err)
	}
	if res.Model == nil || len(res.Included) != 2 {
		t.Fatalf("result %+v", res)
	}
	// The data owner may take the model.
	owner := ws[0].(*syft.VirtualWorker).Owner()
	ps, err := owner.Search()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range ps {
		if p.Info().Kind == store.KindModel {
			found = true
		}
	}
	if !found {
		t.Fatal("owner does not see the model")
	}
}

func TestAverageOnSecureWorker(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice", "secure")
	a, b := toyModel(1), toyModel(2)
	pa, err := syft.SendModel(a, ws[0])
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := syft.SendModel(b, ws[1])
	avg, err := syft.AverageOn(ws[2], []*syft.ModelPointer{pa, pb}, []float64{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if avg.Location() != ws[2] {
		t.Fatalf("average on %s", avg.Location().ID())
	}
	got, err := avg.Get()
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := a.StateDict()
	sb, _ := b.StateDict()
	gs, _ := got.StateDict()
	for k := range sa {
		want := sa[k].MulScalar(0.25).Add(sb[k].MulScalar(0.75))
		if d := tensor.MaxAbsDiff(want, gs[k]); d > 1e-15 {
			t.Errorf("%s off by %g", k, d)
		}
	}
	for _, w := range ws {
		if objs, _ := w.List(); len(objs) != 0 {
			t.Errorf("%s keeps %v", w.ID(), objs)
		}
	}
	if _, err := pa.Get(); err == nil {
		t.Error("pointer to an averaged-away model still works")
	}
}

func TestTrainRefusesBadRequests(t *testing.T) {
	ws := virtualWorkers(t, "bob", "alice")
	x, _ := syft.Send(tensor.Zeros(4, 2), ws[0])
	y, _ := syft.Send(tensor.Zeros(4, 1), ws[0])
	y3, _ := syft.Send(tensor.Zeros(3, 1), ws[0])
	ya, _ := syft.Send(tensor.Zeros(4, 1), ws[1])
	mp, err := syft.SendModel(toyModel(1), ws[0])
	if err != nil {
		t.Fatal(err)
	}
	ok := syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.1}}
	for _, tc := range []struct {
		name string
		x, y *syft.Pointer
		cfg  syft.TrainConfig
		want string
	}{
		{"unknown loss", x, y, syft.TrainConfig{Loss: "hinge", Optimizer: syft.Optimizer{LR: 0.1}}, "unknown loss"},
		{"no lr", x, y, syft.TrainConfig{Loss: "mse"}, "learning rate"},
		{"bad optimizer", x, y, syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{Name: "lbfgs", LR: 1}}, "unknown optimizer"},
		{"negative lr", x, y, syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: -1}}, "non-negative"},
		{"samples differ", x, y3, ok, "same number of samples"},
		{"elsewhere", x, ya, ok, "send the model where the data is"},
		{"wrong width", y, y, ok, "forward"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mp.Train(tc.x, tc.y, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// The model survived every refusal.
	if _, err := mp.Train(x, y, ok); err != nil {
		t.Fatalf("training after refusals: %v", err)
	}
}
