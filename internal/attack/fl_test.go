package attack

import (
	"context"
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/fl"
)

// ruleFL is what the federated attacks wait for.
const ruleFL = "issue 11 Deliver 7: federated rounds need approved training on private data, worker-side weights and 2+ contributors of distinct owners the requester cannot read (fl)"

// Tags of alice's private training set: one sample, the canary, with
// target 1.
const (
	tagFLX = "att-fl-x"
	tagFLY = "att-fl-y"
)

// flWorld: alice's owner holds a private data set of one sample whose
// features are the canary. One SGD step (MSE, learning rate 1/2) of a
// zero linear model on it sets the weights to the sample itself: whoever
// obtains that model, or an aggregate it dominates, has the data.
type flWorld struct {
	c      *Cluster
	canary Canary
}

var theFLWorld *flWorld

func newFLWorld(t *testing.T) *flWorld {
	c := Shared(t)
	c.Once("fl world", func() {
		w := &flWorld{c: c, canary: NewCanary(3, 4)}
		c.Plant("alice", w.canary.Tensor(), tagFLX)
		c.Plant("alice", tensor.MustNew([]float64{1}, 1, 1), tagFLY)
		theFLWorld = w
	})
	if theFLWorld == nil {
		t.Fatal("the federated world could not be planted")
	}
	w := *theFLWorld
	w.c = c
	return &w
}

// zeroModel is a linear model from 4 features to 1 with zero weights.
func zeroModel(t *testing.T) *nn.Model {
	m := nn.NewModel(nn.NewLinear(4, 1, nil))
	if err := m.LoadStateDict(map[string]*tensor.Tensor{"weight": tensor.Zeros(1, 4), "bias": tensor.Zeros(1)}); err != nil {
		t.Fatal(err)
	}
	return m
}

// trainOnAlice sends a zero model to alice as user, trains it one step on
// alice's private sample, and sends another zero model to bob.
func (w *flWorld) trainOnAlice(t *testing.T, user string) (onAlice, onBob *syft.ModelPointer, err error) {
	wa, wb := w.c.Connect("alice", user), w.c.Connect("bob", user)
	if onAlice, err = syft.SendModel(zeroModel(t), wa); err != nil {
		return nil, nil, err
	}
	if onBob, err = syft.SendModel(zeroModel(t), wb); err != nil {
		return nil, nil, err
	}
	xs, err := wa.Search(tagFLX)
	if err != nil || len(xs) != 1 {
		return nil, nil, fmt.Errorf("%s searching %s: %d, %v", user, tagFLX, len(xs), err)
	}
	ys, err := wa.Search(tagFLY)
	if err != nil || len(ys) != 1 {
		return nil, nil, fmt.Errorf("%s searching %s: %d, %v", user, tagFLY, len(ys), err)
	}
	loss, err := onAlice.Train(xs[0], ys[0], syft.TrainConfig{Loss: "mse", Optimizer: syft.NewOptimizer("sgd", 0.5)})
	if loss != nil {
		loss.Free()
	}
	return onAlice, onBob, err
}

// addModel records a model's weights, and each times scale (undoing an
// average).
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

// TestFederatedAttacks: federated training and secure aggregation by a
// user without permission on alice's private data; each control is the
// data's owners doing the same.
func TestFederatedAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	w := newFLWorld(t)
	c := w.c
	both := func(f func(t *testing.T, e *Evidence, user string) error) (func(t *testing.T, e *Evidence) error, func(t *testing.T, e *Evidence) error) {
		return func(t *testing.T, e *Evidence) error { return f(t, e, Attacker) },
			func(t *testing.T, e *Evidence) error { return f(t, e, workers.OwnerUser) }
	}
	var cases []Case
	add := func(name, pending string, f func(t *testing.T, e *Evidence, user string) error) {
		a, ctl := both(f)
		cases = append(cases, Case{Name: name, Pending: pending, Attack: a, Control: ctl})
	}
	add("train on another owner's private data, then get the model", "", func(t *testing.T, e *Evidence, user string) error {
		ma, mb, err := w.trainOnAlice(t, user)
		if mb != nil {
			defer mb.Free()
		}
		if err != nil {
			return err
		}
		defer ma.Free()
		m, err := ma.GetCopy()
		addModel(e, "trained model", m, 1)
		return err
	})
	secagg := func(weights []float64, scale float64) func(t *testing.T, e *Evidence, user string) error {
		return func(t *testing.T, e *Evidence, user string) error {
			ma, mb, err := w.trainOnAlice(t, user)
			if mb != nil {
				defer mb.Free()
			}
			if err != nil {
				return err
			}
			defer ma.Free()
			res, err := syft.SecureAggregate([]*syft.ModelPointer{ma, mb}, syft.SecureAggOptions{Weights: weights})
			if res != nil {
				addModel(e, "aggregate", res.Model, scale)
			}
			return err
		}
	}
	add("secure aggregation with client-chosen weights {1, 1e-9}", ruleFL, secagg([]float64{1, 1e-9}, 1))
	add("secure aggregation against one's own zero model (equal weights, then doubled)", ruleFL, secagg(nil, 2))
	add("average on a secure worker of one's choosing (AverageOn)", "", func(t *testing.T, e *Evidence, user string) error {
		ma, mb, err := w.trainOnAlice(t, user)
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
		addModel(e, "average", m, 2)
		return err
	})
	add("cut a batch of another owner's private data set, then get it", "", func(t *testing.T, e *Evidence, user string) error {
		wa := c.Connect("alice", user)
		xs, err := wa.Search(tagFLX)
		if err != nil || len(xs) != 1 {
			return fmt.Errorf("searching %s: %d, %v", tagFLX, len(xs), err)
		}
		ys, err := wa.Search(tagFLY)
		if err != nil || len(ys) != 1 {
			return fmt.Errorf("searching %s: %d, %v", tagFLY, len(ys), err)
		}
		cl := c.Raw("alice", user)
		var rep fl.BatchReply
		if err := cl.Call(context.Background(), fl.MsgBatch, &fl.BatchRequest{Data: xs[0].ID(), Targets: ys[0].ID(), Indices: []int{0, 0}}, &rep); err != nil {
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
}
