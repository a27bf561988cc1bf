package fl

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

var requestID = regexp.MustCompile(`r-[0-9a-f]{16}`)

// putPrivate has worker i's owner load private data (4 samples of 2
// features, targets of 2), and returns the ids.
func (fh *flHarness) putPrivate(t *testing.T, i int, seed uint64) (string, string) {
	t.Helper()
	r := tensor.NewRNG(seed)
	var ids []string
	for _, x := range []*tensor.Tensor{r.Normal(0, 1, 4, 2), r.Normal(0, 1, 4, 2)} {
		var rep workers.InfoReply
		if err := fh.own[i].Call(t.Context(), workers.MsgPut, &workers.PutRequest{Object: &store.Object{Kind: store.KindTensor, Tensor: x, Private: true}}, &rep); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rep.Info.ID)
	}
	return ids[0], ids[1]
}

// batch cuts rows of (x, y) on worker i as the requester.
func (fh *flHarness) batch(t *testing.T, i int, x, y string, rows ...int) BatchRef {
	t.Helper()
	var rep BatchReply
	if err := fh.c[i].Call(t.Context(), MsgBatch, &BatchRequest{Data: x, Targets: y, Indices: rows}, &rep); err != nil {
		t.Fatal(err)
	}
	return BatchRef{Data: rep.Data.ID, Target: rep.Target.ID}
}

func (fh *flHarness) train(i int, model string, plan *TrainPlan, lr float64, bs ...BatchRef) (*TrainReply, error) {
	var rep TrainReply
	err := fh.c[i].Call(context.Background(), MsgTrain, &TrainRequest{Model: model, Batches: bs, Loss: "mse", Optimizer: OptimizerConfig{LR: lr}, Plan: plan}, &rep)
	return &rep, err
}

func (fh *flHarness) approve(t *testing.T, i int, id string) {
	t.Helper()
	if err := fh.own[i].Call(t.Context(), approvals.MsgApprove, &approvals.ApproveRequest{ID: id}, &approvals.DecideReply{}); err != nil {
		t.Fatal(err)
	}
}

// refusedID checks err is a refusal naming a request, and returns its id.
func refusedID(t *testing.T, err error, want string) string {
	t.Helper()
	if !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v, want a refusal saying %q", err, want)
	}
	return requestID.FindString(err.Error())
}

// aggregate runs a secure-aggregation round of the models on workers idx
// (as listed in parts, for each index the worker's harness number) and
// returns the decoded weighted sums divided by the total weight, or the
// errors of the sums.
func (fh *flHarness) aggregate(t *testing.T, round string, idx []int, models []string, q ShareRequest) ([]float64, []error) {
	t.Helper()
	n := len(idx)
	lists := make([][]Participant, n)
	for a := range lists {
		lists[a] = make([]Participant, n)
		for b := range n {
			id := fh.h[idx[b]].WorkerID()
			lists[a][b] = Participant{Worker: id, Target: store.PointerTarget{Worker: id, Addr: "mem:" + id}}
			if a == b {
				continue
			}
			var g workers.GrantReply
			gq := &workers.GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{ShareID(round, a, b)}, Uses: 1, Audience: fh.h[idx[a]].WorkerID()}
			if err := fh.c[idx[b]].Call(t.Context(), workers.MsgGrant, gq, &g); err != nil {
				t.Fatal(err)
			}
			lists[a][b].Target.Grants = []string{g.Token}
		}
	}
	for a := range n {
		sq := q
		sq.Round, sq.Model, sq.Index, sq.Participants = round, models[a], a, lists[a]
		if err := fh.c[idx[a]].Call(t.Context(), MsgShare, &sq, &ShareReply{}); err != nil {
			return nil, []error{err}
		}
	}
	var acc []uint64
	var errs []error
	for a := range n {
		var rep SumReply
		if err := fh.c[idx[a]].Call(t.Context(), MsgSum, &SumRequest{Round: round}, &rep); err != nil {
			errs = append(errs, err)
			continue
		}
		v, _ := RingFromBytes(rep.Sum)
		if acc == nil {
			acc = v
			continue
		}
		for k := range acc {
			acc[k] += v[k]
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	dec := DecodeFixed(acc, DefaultFracBits)
	total := dec[len(dec)-1]
	out := dec[:len(dec)-1]
	for k := range out {
		out[k] /= total
	}
	return out, nil
}

// ownerVector is the model's parameters, read by its worker's owner.
func (fh *flHarness) ownerVector(t *testing.T, i int, id string) []float64 {
	t.Helper()
	var got workers.GetReply
	if err := fh.own[i].Call(t.Context(), workers.MsgGet, &workers.GetRequest{ID: id, Keep: true}, &got); err != nil {
		t.Fatal(err)
	}
	m, err := modelcodec.Decode(got.Object.Blob, serde.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v, _, _, _ := modelVector(m)
	return v
}

// The rules of issue 11 for federated training, on the workers: training
// on private data runs only as the owners approved it; secure aggregation
// weighs models by the workers' own records, and releases a model trained
// on private data only among enough contributors of the approved
// federation, proven by their links; the requester gets averages only.
func TestFederatedTrainingRules(t *testing.T) {
	fh := newFLHarness(t, "bob", "alice", "carol", "dave")
	const bob, alice, carol, dave = 0, 1, 2, 3
	fed := []approvals.Party{{Worker: "bob"}, {Worker: "alice"}, {Worker: "carol"}}
	plan := &TrainPlan{Federation: fed, BatchSize: 2, LocalSteps: 2, Rounds: 6}
	data := map[int][2]string{}
	for _, i := range []int{bob, alice} {
		x, y := fh.putPrivate(t, i, uint64(10+i))
		data[i] = [2]string{x, y}
	}
	batch := func(i int, rows ...int) BatchRef { return fh.batch(t, i, data[i][0], data[i][1], rows...) }

	// Without a plan, and without approval: refused, naming the request,
	// which the worker filed for the owner.
	m := fh.putModel(t, bob, 1)
	if _, err := fh.train(bob, m, nil, 0.1, batch(bob, 0, 1)); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "training plan") {
		t.Fatalf("trained on private data without a plan: %v", err)
	}
	_, err := fh.train(bob, m, plan, 0.1, batch(bob, 0, 1))
	idBob := refusedID(t, err, "pending")
	var show approvals.ShowReply
	if err := fh.own[bob].Call(t.Context(), approvals.MsgShow, &approvals.ShowRequest{ID: idBob}, &show); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"loss: mse", "learning rate 0.1", "batches of exactly 2 samples, 2 steps per round, at most 6 rounds", "weighted equally", "federation (the workers whose models", data[bob][0]} {
		if !strings.Contains(show.Review, want) {
			t.Errorf("the review does not show %q:\n%s", want, show.Review)
		}
	}
	fh.approve(t, bob, idBob)
	rep, err := fh.train(bob, m, plan, 0.1, batch(bob, 0, 1))
	if err != nil || rep.Request != idBob || rep.Samples != 2 {
		t.Fatalf("approved training: %v (request %q, samples %d)", err, rep.Request, rep.Samples)
	}
	// Within the round: the plan's batch size and steps.
	if _, err := fh.train(bob, m, plan, 0.1, batch(bob, 0, 1, 2)); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "exactly 2") {
		t.Fatalf("a batch of 3: %v", err)
	}
	if _, err := fh.train(bob, m, plan, 0.1, batch(bob, 2, 3), batch(bob, 0, 1)); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "allows 2 per round") {
		t.Fatalf("3 steps in a round of 2: %v", err)
	}
	// A batch of a batch still trains on the approved data set.
	b1 := batch(bob, 0, 1, 2, 3)
	if _, err := fh.train(bob, m, plan, 0.1, fh.batch(t, bob, b1.Data, b1.Target, 2, 3)); err != nil {
		t.Fatal(err)
	}
	// A changed configuration is a new request.
	m2 := fh.putModel(t, bob, 2)
	_, err = fh.train(bob, m2, plan, 0.2, batch(bob, 0, 1))
	if id := refusedID(t, err, "pending"); id == idBob || id == "" {
		t.Fatalf("a changed learning rate ran under request %s (approved %s)", id, idBob)
	}
	// The requester gets no single worker's model or loss.
	var got workers.GetReply
	if err := fh.c[bob].Call(t.Context(), workers.MsgGet, &workers.GetRequest{ID: m, Keep: true}, &got); !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("got the locally trained model: %v", err)
	}
	if err := fh.c[bob].Call(t.Context(), workers.MsgGet, &workers.GetRequest{ID: rep.Loss.ID, Keep: true}, &got); !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("got a worker's loss: %v", err)
	}
	pub := fh.putModel(t, bob, 3)
	if err := fh.c[bob].Call(t.Context(), MsgAverage, &AverageRequest{IDs: []string{m, pub}, Weights: []float64{1, 1e-9}}, &workers.InfoReply{}); !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("averaged the trained model with client weights: %v", err)
	}
	var cp workers.InfoReply
	if err := fh.c[bob].Call(t.Context(), workers.MsgCopy, &workers.CopyRequest{ID: m}, &cp); err != nil {
		t.Fatal(err)
	}

	// alice trains under her own approval.
	mA := fh.putModel(t, alice, 1)
	_, err = fh.train(alice, mA, plan, 0.1, batch(alice, 0, 1))
	fh.approve(t, alice, refusedID(t, err, "pending"))
	if _, err := fh.train(alice, mA, plan, 0.1, batch(alice, 0, 1), batch(alice, 2, 3)); err != nil {
		t.Fatal(err)
	}
	// carol trains the requester's own data: no approval, no contributor.
	var x, y workers.InfoReply
	r := tensor.NewRNG(5)
	fh.c[carol].Call(t.Context(), workers.MsgPut, &workers.PutRequest{Object: &store.Object{Kind: store.KindTensor, Tensor: r.Normal(0, 1, 2, 2)}}, &x)
	fh.c[carol].Call(t.Context(), workers.MsgPut, &workers.PutRequest{Object: &store.Object{Kind: store.KindTensor, Tensor: r.Normal(0, 1, 2, 2)}}, &y)
	mC := fh.putModel(t, carol, 4)
	if rep, err := fh.train(carol, mC, plan, 0.1, BatchRef{Data: x.Info.ID, Target: y.Info.ID}); err != nil || rep.Request != "" {
		t.Fatalf("training on the requester's data: %v (request %q)", err, rep.Request)
	}
	mD := fh.putModel(t, dave, 5)
	// A round from the same weights again is refused: the same update
	// averaged with other partners would be told apart.
	if _, err := fh.train(alice, fh.putModel(t, alice, 1), plan, 0.1, batch(alice, 0, 1)); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "from these exact weights") {
		t.Fatalf("a second round from the same weights: %v", err)
	}
	// alice again, from another starting model than bob's.
	mA2 := fh.putModel(t, alice, 7)
	if _, err := fh.train(alice, mA2, plan, 0.1, batch(alice, 0, 1)); err != nil {
		t.Fatal(err)
	}
	// A private tensor the requester stored claiming to be a batch of
	// bob's data set: its provenance proves nothing, so it is a load of
	// its own that bob's owner never approved.
	var forged workers.InfoReply
	fo := &store.Object{Kind: store.KindTensor, Tensor: tensor.Zeros(2, 2), Private: true,
		Provenance: store.Provenance{Source: "op", Op: "batch", Inputs: []string{data[bob][0]}}}
	if err := fh.c[bob].Call(t.Context(), workers.MsgPut, &workers.PutRequest{Object: fo}, &forged); err != nil {
		t.Fatal(err)
	}
	_, err = fh.train(bob, fh.putModel(t, bob, 1), plan, 0.1, BatchRef{Data: forged.Info.ID, Target: batch(bob, 0, 1).Target})
	if id := refusedID(t, err, "pending"); id == idBob || !strings.Contains(err.Error(), forged.Info.ID) {
		t.Fatalf("trained on a forged batch under request %s: %v", id, err)
	}

	// Refused rounds: none returns bob's model.
	for _, tc := range []struct {
		name   string
		idx    []int
		models []string
		q      ShareRequest
		want   string
	}{
		{"client weights", []int{bob, alice}, []string{m, mA}, ShareRequest{Weights: []float64{1, 1e-9}}, "weights chosen by the client"},
		{"one contributor", []int{bob, carol}, []string{m, mC}, ShareRequest{}, "1 contributor(s)"},
		{"outside the federation", []int{bob, dave}, []string{m, mD}, ShareRequest{}, "not in the federation"},
		{"a copy of the trained model", []int{bob, alice}, []string{cp.Info.ID, mA}, ShareRequest{}, "not trained"},
		{"another starting model", []int{bob, alice}, []string{m, mA2}, ShareRequest{}, "another starting model"},
		{"another weighting than approved", []int{bob, alice}, []string{m, mA}, ShareRequest{Weighting: WeightSamples}, "approved with weighting"},
		{"an extra the requester may not read", []int{bob, alice}, []string{m, mA}, ShareRequest{Extras: []string{data[bob][0]}}, "may read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			avg, errs := fh.aggregate(t, strings.ReplaceAll(tc.name, " ", "")[:8]+"x", tc.idx, tc.models, tc.q)
			if avg != nil {
				t.Fatalf("the round was aggregated")
			}
			found := false
			for _, e := range errs {
				found = found || errors.Is(e, workers.ErrPermission) && strings.Contains(e.Error(), tc.want)
			}
			if !found {
				t.Fatalf("errors %v, want a refusal saying %q", errs, tc.want)
			}
		})
	}
	// An impostor's mask: bob's round lists alice, but the mask for bob
	// comes over dave's link.
	t.Run("impostor", func(t *testing.T) {
		round := "imp1"
		lists := [2]Participant{{Worker: "bob", Target: store.PointerTarget{Worker: "bob", Addr: "mem:bob"}}, {Worker: "alice", Target: store.PointerTarget{Worker: "alice", Addr: "mem:alice"}}}
		var g workers.GrantReply
		fh.c[alice].Call(t.Context(), workers.MsgGrant, &workers.GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{ShareID(round, 0, 1)}, Uses: 1, Audience: "bob"}, &g)
		lists[1].Target.Grants = []string{g.Token}
		var sr ShareReply
		if err := fh.c[bob].Call(t.Context(), MsgShare, &ShareRequest{Round: round, Model: m, Participants: lists[:]}, &sr); err != nil {
			t.Fatal(err)
		}
		fh.c[bob].Call(t.Context(), workers.MsgGrant, &workers.GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{ShareID(round, 1, 0)}, Uses: 1, Audience: "dave"}, &g)
		impostor, err := workers.NewClient(t.Context(), workers.NewPeerSessionTransport(fh.h[bob], "peer", workers.Peer{Worker: "dave"}), workers.Credentials{Grants: []string{g.Token}}, workers.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		digest := roundDigest(&ShareRequest{Round: round, FracBits: DefaultFracBits, Participants: lists[:]}, WeightEqual)
		if err := impostor.Call(t.Context(), MsgMask, &MaskRequest{Round: round, From: 1, To: 0, Digest: digest, Layout: "x", Plan: "forged", Data: make([]byte, 8*sr.Length)}, nil); err != nil {
			t.Fatal(err)
		}
		if err := fh.c[bob].Call(t.Context(), MsgSum, &SumRequest{Round: round}, &SumReply{}); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "in-process:dave") {
			t.Fatalf("summed with an impostor's mask: %v", err)
		}
	})
	// A worker requiring 3 contributors refuses a round of 2.
	if err := fh.fl[bob].Configure(Options{MinContributors: 1}); err == nil {
		t.Error("configured a minimum of 1 contributor")
	}
	fh.fl[bob].Configure(Options{MinContributors: 3})
	if _, errs := fh.aggregate(t, "three", []int{bob, alice}, []string{m, mA}, ShareRequest{}); len(errs) == 0 || !strings.Contains(errs[0].Error(), "3 contributors") {
		t.Fatalf("a round of 2 with a minimum of 3: %v", errs)
	}
	fh.fl[bob].Configure(Options{})

	// The positive control: two contributors of the approved federation;
	// the average is exact, and no single model can be aggregated twice.
	avg, errs := fh.aggregate(t, "good", []int{bob, alice}, []string{m, mA}, ShareRequest{Loss: true})
	if errs != nil {
		t.Fatal(errs)
	}
	vb, va := fh.ownerVector(t, bob, m), fh.ownerVector(t, alice, mA)
	for k := range vb {
		if d := math.Abs(avg[k] - (vb[k]+va[k])/2); d > 1e-6 {
			t.Fatalf("parameter %d: %g, want %g", k, avg[k], (vb[k]+va[k])/2)
		}
	}
	if _, errs := fh.aggregate(t, "again", []int{bob, alice}, []string{m, mA}, ShareRequest{}); len(errs) == 0 || !strings.Contains(errs[0].Error(), "already shared") {
		t.Fatalf("a model aggregated twice: %v", errs)
	}
	if _, err := fh.train(bob, m, plan, 0.1, batch(bob, 0, 1)); !errors.Is(err, workers.ErrPermission) {
		t.Fatalf("trained a model already aggregated: %v", err)
	}
}

// Sample weighting uses the samples each worker recorded, and the
// approved rounds bound the training.
func TestFederatedSampleWeightsAndRounds(t *testing.T) {
	fh := newFLHarness(t, "bob", "alice")
	plan := &TrainPlan{Federation: []approvals.Party{{Worker: "bob"}, {Worker: "alice"}}, BatchSize: 2, LocalSteps: 2, Rounds: 2, Weighting: WeightSamples}
	models := make([]string, 2)
	for i := range 2 {
		x, y := fh.putPrivate(t, i, uint64(20+i))
		for round := 0; ; round++ {
			mi := fh.putModel(t, i, uint64(round+1))
			steps := []BatchRef{fh.batch(t, i, x, y, 0, 1)}
			if i == 0 {
				steps = append(steps, fh.batch(t, i, x, y, 2, 3))
			}
			_, err := fh.train(i, mi, plan, 0.05, steps...)
			if round == 0 {
				fh.approve(t, i, refusedID(t, err, "pending"))
				_, err = fh.train(i, mi, plan, 0.05, steps...)
			}
			if round < 2 {
				if err != nil {
					t.Fatal(err)
				}
				models[i] = mi
			}
			if round == 2 {
				if !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "2 approved rounds are used up") {
					t.Fatalf("a third round of 2: %v", err)
				}
				break
			}
		}
	}
	// The models of round 2 are the ones still trained this round.
	avg, errs := fh.aggregate(t, "w", []int{0, 1}, models, ShareRequest{Weighting: WeightSamples})
	if errs != nil {
		t.Fatal(errs)
	}
	vb, va := fh.ownerVector(t, 0, models[0]), fh.ownerVector(t, 1, models[1])
	for k := range vb {
		want := (4*vb[k] + 2*va[k]) / 6
		if d := math.Abs(avg[k] - want); d > 1e-6 {
			t.Fatalf("parameter %d: %g, want %g (weighed 4:2 by the samples trained)", k, avg[k], want)
		}
	}
}

// A plan with worker-drawn samples: the worker draws each step's batch
// from the approved data set; batches the requester cut are refused.
func TestFederatedWorkerSampling(t *testing.T) {
	fh := newFLHarness(t, "bob", "alice")
	plan := &TrainPlan{Federation: []approvals.Party{{Worker: "bob"}, {Worker: "alice"}}, BatchSize: 2, LocalSteps: 3, Rounds: 5, Sampling: SampleWorker}
	x, y := fh.putPrivate(t, 0, 30)
	sample := func(model string, steps int, p *TrainPlan) (*TrainReply, error) {
		var rep TrainReply
		err := fh.c[0].Call(t.Context(), MsgTrain, &TrainRequest{Model: model, Loss: "mse", Optimizer: OptimizerConfig{LR: 0.1}, Plan: p,
			Sample: &SampleRequest{Data: x, Target: y, Steps: steps}}, &rep)
		return &rep, err
	}
	m := fh.putModel(t, 0, 1)
	_, err := sample(m, 2, plan)
	id := refusedID(t, err, "pending")
	var show approvals.ShowReply
	if err := fh.own[0].Call(t.Context(), approvals.MsgShow, &approvals.ShowRequest{ID: id}, &show); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(show.Review, "drawn at random by this worker") {
		t.Errorf("the review does not say who draws the samples:\n%s", show.Review)
	}
	fh.approve(t, 0, id)
	rep, err := sample(m, 2, plan)
	if err != nil || rep.Samples != 4 || rep.Request != id {
		t.Fatalf("drawn samples: %v (samples %d, request %q)", err, rep.Samples, rep.Request)
	}
	if _, err := sample(m, 2, plan); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "allows 3 per round") {
		t.Fatalf("4 steps in a round of 3: %v", err)
	}
	// Batches the requester cut are refused under this plan.
	m2 := fh.putModel(t, 0, 2)
	if _, err := fh.train(0, m2, plan, 0.1, fh.batch(t, 0, x, y, 0, 1)); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "draw each step's samples") {
		t.Fatalf("requester batches under a worker-sampling plan: %v", err)
	}
	// A plan where the requester chooses cannot send a sample request,
	// nor one without a plan, nor batches and a sample at once.
	req := *plan
	req.Sampling = SampleRequester
	for _, tc := range []struct {
		q    TrainRequest
		want string
	}{
		{TrainRequest{Model: m2, Loss: "mse", Optimizer: OptimizerConfig{LR: 0.1}, Plan: &req, Sample: &SampleRequest{Data: x, Target: y, Steps: 1}}, "requester choose"},
		{TrainRequest{Model: m2, Loss: "mse", Optimizer: OptimizerConfig{LR: 0.1}, Sample: &SampleRequest{Data: x, Target: y, Steps: 1}}, "need a training plan"},
		{TrainRequest{Model: m2, Loss: "mse", Optimizer: OptimizerConfig{LR: 0.1}, Plan: plan, Batches: []BatchRef{{Data: x, Target: y}}, Sample: &SampleRequest{Data: x, Target: y, Steps: 1}}, "not both"},
		{TrainRequest{Model: m2, Loss: "mse", Optimizer: OptimizerConfig{LR: 0.1}, Plan: plan, Sample: &SampleRequest{Data: x, Target: y, Steps: 0}}, "1 to"},
	} {
		if err := fh.c[0].Call(t.Context(), MsgTrain, &tc.q, &TrainReply{}); !errors.Is(err, workers.ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.q.Sample, err, tc.want)
		}
	}
}
