package attack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/store"
)

// Tags of alice's private training set: one sample, the canary, with
// target 1; and of bob's, another sample (not searched for).
const (
	tagFLX  = "att-fl-x"
	tagFLY  = "att-fl-y"
	tagFLBX = "att-fl-bx"
	tagFLBY = "att-fl-by"
)

// flWorld: alice's owner holds a private data set of one sample whose
// features are the canary, bob's owner one of another sample. One SGD
// step (MSE, learning rate 1/2) of a zero linear model on alice's sets
// the weights to the sample itself: whoever obtains that model, or an
// aggregate it dominates, has the data. Both owners approved one training
// plan of the attacker's (approved): federation alice and bob, batches of
// 1, one step per round, SGD at 1/2, equal weights.
type flWorld struct {
	c      *Cluster
	canary Canary
	bobX   []float64
}

var theFLWorld *flWorld

// flPlan is a plan over workers ids of c, with SGD at lr.
func flPlan(c *Cluster, lr float64, ids ...string) syft.TrainConfig {
	fed := federation(c, ids...)
	return syft.TrainConfig{Loss: "mse", Optimizer: syft.NewOptimizer("sgd", lr),
		Plan: &syft.TrainPlan{Federation: fed, BatchSize: 1, LocalSteps: 1, Rounds: 1000}}
}

func newFLWorld(t *testing.T) *flWorld {
	c := Shared(t)
	c.Once("fl world", func() {
		w := &flWorld{c: c, canary: NewCanary(3, 4), bobX: []float64{0.5, -1.25, 2, 0.75}}
		c.Plant("alice", w.canary.Tensor(), tagFLX)
		c.Plant("alice", tensor.MustNew([]float64{1}, 1, 1), tagFLY)
		c.Plant("bob", tensor.MustNew(w.bobX, 1, 4), tagFLBX)
		c.Plant("bob", tensor.MustNew([]float64{1}, 1, 1), tagFLBY)
		// The attacker's first round is refused on both workers, which
		// file the request; each owner approves it.
		if _, _, _, err := w.train(t, Attacker, flPlan(c, 0.5, "alice", "bob"), true); err == nil {
			t.Error("the first round of an unapproved training ran")
		}
		approvePending(t, c, "alice", "bob")
		theFLWorld = w
	})
	if theFLWorld == nil {
		t.Fatal("the federated world could not be planted")
	}
	w := *theFLWorld
	w.c = c
	return &w
}

// federation lists workers ids of c with their fingerprints.
func federation(c *Cluster, ids ...string) []approvals.Party {
	var out []approvals.Party
	for _, id := range ids {
		out = append(out, approvals.Party{Worker: id, Fingerprint: c.Daemons[id].Fingerprint})
	}
	return out
}

// approvePending has each worker's owner approve every pending training
// request of the attacker there.
func approvePending(t *testing.T, c *Cluster, ids ...string) {
	t.Helper()
	for _, id := range ids {
		owner := c.Connect(id, workers.OwnerUser)
		reqs, err := syft.TrainingRequests(owner)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			if r.Requester == Attacker && r.Status == approvals.StatusPending {
				if err := syft.ApproveTraining(owner, r.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// zeroModel is a linear model from 4 features to 1 with zero weights.
func zeroModel(t *testing.T) *nn.Model {
	m := nn.NewModel(nn.NewLinear(4, 1, nil))
	if err := m.LoadStateDict(map[string]*tensor.Tensor{"weight": tensor.Zeros(1, 4), "bias": tensor.Zeros(1)}); err != nil {
		t.Fatal(err)
	}
	return m
}

// one finds the one object tagged tag that user sees on w.
func one(w syft.Worker, tag string) (*syft.Pointer, error) {
	ps, err := w.Search(tag)
	if err != nil || len(ps) != 1 {
		return nil, fmt.Errorf("searching %s on %s: %d, %v", tag, w.ID(), len(ps), err)
	}
	return ps[0], nil
}

// flStarts numbers the rounds' starting models: a worker trains an
// approved round from given weights once.
var flStarts atomic.Int64

// startModel is a linear model from 4 features to 1 with zero weights
// and bias -k: one SGD step at lr on a sample x with target 1 makes the
// weights 2 lr (1+k) x.
func startModel(t *testing.T, k float64) *nn.Model {
	m := nn.NewModel(nn.NewLinear(4, 1, nil))
	if err := m.LoadStateDict(map[string]*tensor.Tensor{"weight": tensor.Zeros(1, 4), "bias": tensor.FromSlice([]float64{-k})}); err != nil {
		t.Fatal(err)
	}
	return m
}

// train sends a fresh starting model (startModel, k) to alice as user and
// trains it one step on alice's private sample with cfg; it sends the same
// model to bob, trained on bob's private sample when bobTrains.
func (w *flWorld) train(t *testing.T, user string, cfg syft.TrainConfig, bobTrains bool) (onAlice, onBob *syft.ModelPointer, k float64, err error) {
	k = float64(flStarts.Add(1))
	wa, wb := w.c.Connect("alice", user), w.c.Connect("bob", user)
	if onAlice, err = syft.SendModel(startModel(t, k), wa); err != nil {
		return nil, nil, k, err
	}
	if onBob, err = syft.SendModel(startModel(t, k), wb); err != nil {
		return nil, nil, k, err
	}
	step := func(mp *syft.ModelPointer, wk syft.Worker, tx, ty string) error {
		x, err := one(wk, tx)
		if err != nil {
			return err
		}
		y, err := one(wk, ty)
		if err != nil {
			return err
		}
		loss, err := mp.Train(x, y, cfg)
		if loss != nil {
			loss.Free()
		}
		return err
	}
	err = step(onAlice, wa, tagFLX, tagFLY)
	if bobTrains {
		err = errors.Join(err, step(onBob, wb, tagFLBX, tagFLBY))
	}
	return onAlice, onBob, k, err
}

// addModel records a model's weights, and each times scale (undoing an
// average or a learning rate).
func addModel(e *Evidence, where string, m *nn.Model, scale float64) {
	if m == nil {
		return
	}
	e.AddValue(where, m)
	sd, err := m.StateDict()
	if err != nil {
		return
	}
	for k, t := range sd {
		for _, v := range t.Data() {
			e.Derived(where+" "+k+" rescaled", v*scale)
		}
	}
}

// rawRound runs the share phase of a secure-aggregation round below
// syft's API, as user: participant i is called listed[i] and is the
// daemon at[i], sharing model models[i]; q carries the rest. It returns
// the first refusal.
func rawRound(c *Cluster, user string, listed, at, models []string, q fl.ShareRequest) error {
	ctx := context.Background()
	round := store.NewID()
	n := len(listed)
	parts := make([][]fl.Participant, n)
	for i := range parts {
		parts[i] = make([]fl.Participant, n)
		for j := range n {
			d := c.Daemons[at[j]]
			parts[i][j] = fl.Participant{Worker: listed[j], Target: store.PointerTarget{Worker: listed[j], Addr: d.Addr, Fingerprint: d.Fingerprint}}
			if i == j {
				continue
			}
			var g workers.GrantReply
			err := c.Raw(at[j], user).Call(ctx, workers.MsgGrant, &workers.GrantRequest{Actions: []string{store.GrantPut}, Objects: []string{fl.ShareID(round, i, j)},
				Uses: 1, Audience: at[i], AudienceFingerprint: c.Daemons[at[i]].Fingerprint}, &g)
			if err != nil {
				return err
			}
			parts[i][j].Target.Grants = []string{g.Token}
		}
	}
	for i := range n {
		sq := q
		sq.Round, sq.Model, sq.Index, sq.Participants = round, models[i], i, parts[i]
		if err := c.Raw(at[i], user).Call(ctx, fl.MsgShare, &sq, &fl.ShareReply{}); err != nil {
			for k := range n {
				c.Raw(at[k], user).Call(ctx, fl.MsgAbort, &fl.AbortRequest{Round: round}, &fl.AbortReply{})
			}
			return err
		}
	}
	return errors.New("rawRound: every participant shared (the test expects a refusal)")
}

// TestFederatedAttacks: federated training and secure aggregation by a
// user without permission on alice's private data (with, where the case
// says so, the owners' approval of one training plan); each control is
// the data's owners doing the same.
func TestFederatedAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	w := newFLWorld(t)
	c := w.c
	approved := flPlan(c, 0.5, "alice", "bob")
	var cases []Case
	add := func(name, refusal string, f func(t *testing.T, e *Evidence, user string) error) {
		cases = append(cases, Case{Name: name, Refusal: refusal,
			Attack:  func(t *testing.T, e *Evidence) error { return f(t, e, Attacker) },
			Control: func(t *testing.T, e *Evidence) error { return f(t, e, workers.OwnerUser) }})
	}
	// getTrained trains on alice with cfg and takes the model back
	// (scaled by 1/(2 lr): the sample).
	getTrained := func(cfg syft.TrainConfig) func(t *testing.T, e *Evidence, user string) error {
		return func(t *testing.T, e *Evidence, user string) error {
			ma, mb, k, err := w.train(t, user, cfg, false)
			for _, m := range []*syft.ModelPointer{ma, mb} {
				if m != nil {
					defer m.Free()
				}
			}
			if err != nil {
				return err
			}
			m, err := ma.GetCopy()
			addModel(e, "trained model", m, 1/(2*cfg.Optimizer.LR*(1+k)))
			return err
		}
	}
	add("train under the approved plan, then get the locally trained model", "computed from private data", getTrained(approved))
	noPlan := approved
	noPlan.Plan = nil
	add("train on another owner's private data without a training plan", "training plan", getTrained(noPlan))
	add("train on another owner's private data without the owners' approval", "is pending", getTrained(flPlan(c, 0.3, "alice", "bob")))
	add("change the approved configuration (learning rate 1 instead of 1/2)", "is pending", getTrained(flPlan(c, 1, "alice", "bob")))

	add("a second round from the same starting weights (the same update, to be averaged with other partners)", "from these exact weights",
		func(t *testing.T, e *Evidence, user string) error {
			k := float64(flStarts.Add(1))
			wa := c.Connect("alice", user)
			x, err := one(wa, tagFLX)
			if err != nil {
				return err
			}
			y, err := one(wa, tagFLY)
			if err != nil {
				return err
			}
			var last *syft.ModelPointer
			for round := 0; round < 2; round++ {
				mp, err := syft.SendModel(startModel(t, k), wa)
				if err != nil {
					return err
				}
				defer mp.Free()
				if _, err := mp.Train(x, y, approved); err != nil {
					if round == 0 {
						return fmt.Errorf("training (not the attack): %w", err)
					}
					return err
				}
				last = mp
			}
			m, err := last.GetCopy()
			addModel(e, "trained model", m, 1/(2*approved.Optimizer.LR*(1+k)))
			return err
		})
	// aggregate trains on alice under the approved plan (and on bob when
	// bobTrains), then aggregates with how; the result doubled is the
	// sample when bob's model stayed zero.
	aggregate := func(bobTrains bool, how func(ma, mb *syft.ModelPointer, user string) (*syft.AggregateResult, error)) func(t *testing.T, e *Evidence, user string) error {
		return func(t *testing.T, e *Evidence, user string) error {
			ma, mb, k, err := w.train(t, user, approved, bobTrains)
			for _, m := range []*syft.ModelPointer{ma, mb} {
				if m != nil {
					defer m.Free()
				}
			}
			if err != nil {
				return fmt.Errorf("training (not the attack): %w", err)
			}
			res, err := how(ma, mb, user)
			if res != nil {
				addModel(e, "aggregate", res.Model, 1/(approved.Optimizer.LR*(1+k)))
				for _, x := range res.Extras {
					e.AddTensor("aggregated extra", x)
					e.AddTensor("aggregated extra doubled", x.MulScalar(2))
				}
			}
			return err
		}
	}
	secure := func(ma, mb *syft.ModelPointer, _ string) (*syft.AggregateResult, error) {
		return syft.SecureAggregate([]*syft.ModelPointer{ma, mb}, syft.SecureAggOptions{})
	}
	add("secure aggregation with client-chosen weights {1, 1e-9}", "weights chosen by the client",
		aggregate(false, func(ma, mb *syft.ModelPointer, user string) (*syft.AggregateResult, error) {
			if user == workers.OwnerUser {
				// Weights are refused to everyone; the owners' control is
				// the equal average against the zero model.
				return secure(ma, mb, user)
			}
			return nil, rawRound(c, user, []string{"alice", "bob"}, []string{"alice", "bob"}, []string{ma.ID(), mb.ID()},
				fl.ShareRequest{Weights: []float64{1, 1e-9}})
		}))
	add("secure aggregation against one's own zero model (a single contributor)", "1 contributor(s)", aggregate(false, secure))
	add("secure aggregation listing alice twice (under a second name, with her certificate)", "same certificate",
		aggregate(false, func(ma, mb *syft.ModelPointer, user string) (*syft.AggregateResult, error) {
			if user == workers.OwnerUser {
				return secure(ma, mb, user)
			}
			return nil, rawRound(c, user, []string{"alice", "alice2"}, []string{"alice", "alice"}, []string{ma.ID(), ma.ID()}, fl.ShareRequest{})
		}))
	add("secure aggregation of two contributors with the private sample as an extra", "may read",
		aggregate(true, func(ma, mb *syft.ModelPointer, user string) (*syft.AggregateResult, error) {
			x, err := one(c.Connect("alice", user), tagFLX)
			if err != nil {
				return nil, err
			}
			z, err := syft.Send(tensor.Zeros(1, 4), c.Connect("bob", user))
			if err != nil {
				return nil, err
			}
			defer z.Free()
			return syft.SecureAggregate([]*syft.ModelPointer{ma, mb}, syft.SecureAggOptions{Extras: [][]*syft.Pointer{{x}, {z}}})
		}))
	add("secure aggregation where bob trained from another model than alice (one his data cannot move)", "another starting model",
		func(t *testing.T, e *Evidence, user string) error {
			ma, mb, k, err := w.train(t, user, approved, false)
			for _, m := range []*syft.ModelPointer{ma, mb} {
				if m != nil {
					defer m.Free()
				}
			}
			if err != nil {
				return fmt.Errorf("training (not the attack): %w", err)
			}
			// bob trains from weights of the attacker's choosing.
			wb := c.Connect("bob", user)
			other := startModel(t, -float64(flStarts.Add(1)))
			mb2, err := syft.SendModel(other, wb)
			if err != nil {
				return err
			}
			defer mb2.Free()
			x, _ := one(wb, tagFLBX)
			y, _ := one(wb, tagFLBY)
			if x != nil && y != nil {
				if _, err := mb2.Train(x, y, approved); err != nil {
					return fmt.Errorf("training (not the attack): %w", err)
				}
			}
			if user == workers.OwnerUser {
				// The owners' control: the equal average against bob's
				// untrained zero model.
				mb2 = mb
			}
			res, err := syft.SecureAggregate([]*syft.ModelPointer{ma, mb2}, syft.SecureAggOptions{})
			if res != nil {
				addModel(e, "aggregate", res.Model, 1/(approved.Optimizer.LR*(1+k)))
			}
			return err
		})
	add("average on a secure worker of one's choosing (AverageOn)", "computed from private data", func(t *testing.T, e *Evidence, user string) error {
		ma, mb, k, err := w.train(t, user, approved, false)
		if mb != nil {
			defer mb.Free()
		}
		if err != nil {
			return err
		}
		avg, err := syft.AverageOn(c.Connect("bob", user), []*syft.ModelPointer{ma, mb}, nil)
		if err != nil {
			ma.Free()
			return err
		}
		defer avg.Free()
		m, err := avg.GetCopy()
		addModel(e, "average", m, 1/(approved.Optimizer.LR*(1+k)))
		return err
	})
	add("cut a batch of another owner's private data set, then get it", "computed from private data", func(t *testing.T, e *Evidence, user string) error {
		wa := c.Connect("alice", user)
		xs, err := one(wa, tagFLX)
		if err != nil {
			return err
		}
		ys, err := one(wa, tagFLY)
		if err != nil {
			return err
		}
		cl := c.Raw("alice", user)
		var rep fl.BatchReply
		if err := cl.Call(context.Background(), fl.MsgBatch, &fl.BatchRequest{Data: xs.ID(), Targets: ys.ID(), Indices: []int{0, 0}}, &rep); err != nil {
			return err
		}
		defer cl.Call(context.Background(), workers.MsgFree, &workers.FreeRequest{IDs: []string{rep.Data.ID, rep.Target.ID}}, &workers.FreeReply{})
		var got workers.GetReply
		err = cl.Call(context.Background(), workers.MsgGet, &workers.GetRequest{ID: rep.Data.ID, Keep: true}, &got)
		if got.Object != nil {
			e.AddTensor("batch", got.Object.Tensor)
		}
		return err
	})
	c.Run(t, w.canary, cases)

	// The legitimate version: two contributors under the approved plan.
	// The round runs and returns the average, which is not alice's sample.
	t.Run("approved round of two contributors", func(t *testing.T) {
		c := c.For(t)
		m := c.Mark()
		e := NewEvidence()
		ma, mb, k, err := w.train(t, Attacker, approved, true)
		if err != nil {
			t.Fatal(err)
		}
		defer ma.Free()
		defer mb.Free()
		res, err := syft.SecureAggregate([]*syft.ModelPointer{ma, mb}, syft.SecureAggOptions{Loss: true})
		if err != nil {
			t.Fatalf("the approved round was refused: %v", err)
		}
		addModel(e, "aggregate", res.Model, 1/(approved.Optimizer.LR*(1+k)))
		c.Collect(e, m)
		if hits := e.Find(w.canary); len(hits) > 0 {
			t.Errorf("the canary leaked from an approved round:\n  %s", strings.Join(hits, "\n  "))
		}
		sd, _ := res.Model.StateDict()
		for i, v := range sd["weight"].Data() {
			if want := (1 + k) * (w.canary.Values[i] + w.bobX[i]) / 2; mathAbs(v-want) > 1e-4*(1+mathAbs(want)) {
				t.Errorf("weight %d: %g, want the average %g", i, v, want)
			}
		}
		if res.Weight != 2 {
			t.Errorf("total weight %g, want 2 models", res.Weight)
		}
	})
}

func mathAbs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestFederatedContributorAttacks: a third worker, carol, that the
// attacker owns (its admin: its data is the attacker's to read). Alice's
// owner approved the attacker's training with carol in the federation, or
// without her; either way carol never counts as a contributor.
func TestFederatedContributorAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	c := Start(t, Options{Workers: []string{"alice", "bob", "carol"}})
	canary := NewCanary(5, 4)
	c.Plant("alice", canary.Tensor(), tagFLX)
	c.Plant("alice", tensor.MustNew([]float64{1}, 1, 1), tagFLY)
	withCarol, withoutCarol := flPlan(c, 0.5, "alice", "bob", "carol"), flPlan(c, 0.25, "alice", "bob")
	// carolAs is carol as the attacker drives her: her admin.
	carolAs := func(user string) syft.Worker {
		if user == Attacker {
			return c.Connect("carol", workers.OwnerUser)
		}
		return c.Connect("carol", user)
	}
	trainAlice := func(t *testing.T, user string, cfg syft.TrainConfig) (*syft.ModelPointer, error) {
		wa := c.Connect("alice", user)
		mp, err := syft.SendModel(zeroModel(t), wa)
		if err != nil {
			return nil, err
		}
		x, err := one(wa, tagFLX)
		if err != nil {
			return mp, err
		}
		y, err := one(wa, tagFLY)
		if err != nil {
			return mp, err
		}
		loss, err := mp.Train(x, y, cfg)
		if loss != nil {
			loss.Free()
		}
		return mp, err
	}
	for _, cfg := range []syft.TrainConfig{withCarol, withoutCarol} {
		if mp, err := trainAlice(t, Attacker, cfg); err == nil {
			t.Fatal("an unapproved training ran")
		} else if mp != nil {
			mp.Free()
		}
	}
	approvePending(t, c, "alice")
	withUser := func(cfg syft.TrainConfig, user string) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			ma, err := trainAlice(t, user, cfg)
			if ma != nil {
				defer ma.Free()
			}
			if err != nil {
				return fmt.Errorf("training (not the attack): %w", err)
			}
			// carol's model: the attacker's own, trained on data the
			// attacker may read (it stays zero: no step), known to them.
			mc, err := syft.SendModel(zeroModel(t), carolAs(user))
			if err != nil {
				return err
			}
			defer mc.Free()
			res, err := syft.SecureAggregate([]*syft.ModelPointer{ma, mc}, syft.SecureAggOptions{})
			if res != nil {
				// Doubled, then undoing the step's 2 lr: the sample.
				addModel(e, "aggregate", res.Model, 1/cfg.Optimizer.LR)
			}
			return err
		}
	}
	c.Run(t, canary, []Case{
		{Name: "a worker the attacker owns as the second contributor (in the approved federation)", Refusal: "1 contributor(s)",
			Attack: withUser(withCarol, Attacker), Control: withUser(withCarol, workers.OwnerUser)},
		{Name: "a worker the attacker owns as the second contributor (outside the approved federation)", Refusal: "not in the federation",
			Attack: withUser(withoutCarol, Attacker), Control: withUser(withoutCarol, workers.OwnerUser)},
	})
}

// TestFederatedMinContributorsFlag: workers started with
// --fl-min-contributors 3 refuse a training whose federation has two
// workers (the default allows it: TestFederatedAttacks), before any
// approval, and so before any model could be released.
func TestFederatedMinContributorsFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	c := Start(t, Options{Args: []string{"--fl-min-contributors", "3"}})
	canary := NewCanary(6, 4)
	c.Plant("alice", canary.Tensor(), tagFLX)
	c.Plant("alice", tensor.MustNew([]float64{1}, 1, 1), tagFLY)
	m := c.Mark()
	e := NewEvidence()
	w := c.Connect("alice", Attacker)
	mp, err := syft.SendModel(zeroModel(t), w)
	if err != nil {
		t.Fatal(err)
	}
	x, err := one(w, tagFLX)
	if err != nil {
		t.Fatal(err)
	}
	y, err := one(w, tagFLY)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mp.Train(x, y, flPlan(c, 0.5, "alice", "bob"))
	if err == nil || !strings.Contains(err.Error(), "worker alice needs at least 3 contributors per round") {
		t.Fatalf("a federation of 2 on workers requiring 3: %v", err)
	}
	e.Refused("train", err)
	owner := c.Connect("alice", workers.OwnerUser)
	if reqs, err := syft.TrainingRequests(owner); err != nil || len(reqs) != 0 {
		t.Errorf("a plan that can never run was filed for the owner: %v %v", reqs, err)
	}
	c.Collect(e, m)
	if hits := e.Find(canary); len(hits) > 0 {
		t.Errorf("the canary leaked:\n  %s", strings.Join(hits, "\n  "))
	}
}
