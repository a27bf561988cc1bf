// Command accesscontrol runs the four scenarios of CrypTen's access-control
// tutorial over two gomplab workers, alice and bob, with
// syft.RunMultiWorkers: each worker's owner stores private data under
// tags, and a data scientist, who never sees that data, ships a Go
// function that every worker runs as one MPC party over its own data.
//
//   - feature aggregation: alice holds the top half of every image and the
//     labels, bob the bottom half of the same images;
//   - data labeling: alice holds the images, bob their labels;
//   - dataset augmentation: each holds the images and labels of its own
//     samples;
//   - model hiding: alice holds a trained model (an ONNX file exported by
//     PyTorch), bob holds images; the scientist gets the predicted labels.
//
// In the first three a digit classifier is trained under encryption; the
// program compares it with the same training run in the clear on the
// pooled data (the loss curves, and the accuracy on fresh digits). In the
// fourth it compares the labels with plaintext inference.
//
// Usage:
//
//	go run ./examples/accesscontrol [-train 1000] [-epochs 10] [-gomplab bin/gomplab]
//
// A third worker, carol, deals the correlated randomness (PySyft's
// crypto_provider, syft.WithDealer): it runs no code and sees no data, and
// neither alice's nor bob's worker learns the other's masks, so neither
// can recover the other's inputs from what its party receives
// (docs/privacy.md).
//
// By default alice, bob and carol are virtual workers in this process;
// with -gomplab they are `gomplab worker` daemons started on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

type config struct {
	train, test, held, infer, epochs, batch int
	lr                                      float64
	seed                                    uint64
	model                                   string // ONNX file alice holds
	gomplab                                 string // binary for daemons ("": virtual workers)
}

func defaults() config {
	return config{train: 1000, test: 500, held: 200, infer: 100, epochs: 10, batch: 50, lr: 0.2, seed: 1, model: fixture()}
}

// fixture is the trained digit classifier exported by PyTorch
// (mpc/nn/testdata/make_fixtures.py), found next to this source file.
func fixture() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "mpc", "nn", "testdata", "digits_mlp.onnx")
}

func main() {
	c := defaults()
	flag.IntVar(&c.train, "train", c.train, "training samples (the pooled data of the three training scenarios)")
	flag.IntVar(&c.test, "test", c.test, "fresh test samples to measure accuracy on")
	flag.IntVar(&c.held, "images", c.held, "images bob holds")
	flag.IntVar(&c.infer, "infer", c.infer, "bob's first images classified with alice's model")
	flag.IntVar(&c.epochs, "epochs", c.epochs, "training epochs")
	flag.IntVar(&c.batch, "batch", c.batch, "batch size")
	flag.Float64Var(&c.lr, "lr", c.lr, "SGD learning rate")
	flag.Uint64Var(&c.seed, "seed", c.seed, "data seed")
	flag.StringVar(&c.model, "model", c.model, "ONNX model alice holds (flattened 28x28 input, 10 outputs)")
	flag.StringVar(&c.gomplab, "gomplab", "", "gomplab binary: run alice and bob as worker daemons instead of virtual workers")
	flag.Parse()
	g, err := newGrid(c.gomplab)
	if err != nil {
		fmt.Fprintln(os.Stderr, "accesscontrol:", err)
		os.Exit(1)
	}
	_, err = run(os.Stdout, g, c)
	g.close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "accesscontrol:", err)
		os.Exit(1)
	}
}

// grid is alice and bob as their owners see them (to store data) and as
// the data scientist does (to run jobs: no permission to read private
// data), and carol, the dealer of every job, as the data scientist sees
// it.
type grid struct {
	owners, scientist []syft.Worker
	dealer            syft.Worker
	// user is the data scientist's name on the workers, whose requests
	// the owners approve; log, when set, shows the owners' decisions.
	user  string
	log   io.Writer
	close func()
}

// newGrid starts alice and bob: virtual workers, or daemons of bin.
func newGrid(bin string) (*grid, error) {
	g := &grid{user: syft.DefaultUser, close: func() {}}
	if bin == "" {
		for _, id := range []string{"alice", "bob", "carol"} {
			w := syft.NewVirtualWorker(id)
			prev := g.close
			g.close = func() { w.Shutdown(); prev() }
			if id == "carol" {
				g.dealer = w
				break
			}
			g.owners = append(g.owners, w.Owner())
			g.scientist = append(g.scientist, w)
		}
		return g, nil
	}
	g.user = "scientist"
	for _, id := range []string{"alice", "bob", "carol"} {
		d, err := syft.StartLocalDaemon(id, syft.DaemonOptions{Binary: bin, Users: []string{"scientist"}})
		if err != nil {
			g.close()
			return nil, err
		}
		prev := g.close
		g.close = func() { d.Stop(); prev() }
		owner, err := d.Connect(d.OwnerToken)
		if err != nil {
			g.close()
			return nil, err
		}
		w, err := d.Connect(d.Tokens["scientist"])
		if err != nil {
			g.close()
			return nil, err
		}
		g.close = func() { owner.Close(); w.Close(); d.Stop(); prev() }
		if id == "carol" {
			g.dealer = w
			break
		}
		g.owners = append(g.owners, owner)
		g.scientist = append(g.scientist, w)
	}
	return g, nil
}

// data is what the owners hold between them, and the public test set.
type data struct {
	sets              []trainSet     // one per training scenario, in the order of scenarios
	testX, testLabels *tensor.Tensor // fresh digits, public
	images            *tensor.Tensor // bob's images for model hiding (M, 1, 28, 28)
	truth             *tensor.Tensor // their true labels (for the report only)
	model             []byte         // alice's ONNX model
}

// trainSet is one scenario's training data, pooled: images (N, 784) and
// one-hot labels (N, 10). stage splits it between alice and bob.
type trainSet struct{ x, y *tensor.Tensor }

func makeData(c config) (*data, error) {
	model, err := os.ReadFile(c.model)
	if err != nil {
		return nil, err
	}
	d := &data{model: model}
	for i := range scenarios {
		img, labels := dataset.Digits(c.train, c.seed+uint64(10*i))
		d.sets = append(d.sets, trainSet{x: img.Reshape(c.train, 784), y: tensor.OneHot(labels, 10)})
	}
	timg, tlabels := dataset.Digits(c.test, c.seed+100)
	d.testX, d.testLabels = timg.Reshape(c.test, 784), tlabels
	if c.infer > c.held {
		return nil, fmt.Errorf("bob holds %d images, fewer than the %d to classify", c.held, c.infer)
	}
	d.images, d.truth = dataset.Digits(c.held, c.seed+200)
	return d, nil
}

// put stores x on w under tag, private: it may enter MPC jobs, but no one
// but its owner may read it.
func put(w syft.Worker, tag string, x *tensor.Tensor) error {
	p, err := syft.Send(x, w, syft.WithTags(tag), syft.AsPrivate())
	if err != nil {
		return fmt.Errorf("store %s on %s: %w", tag, w, err)
	}
	p.Keep() // the data stays when this pointer goes
	return nil
}

// stage is what the two owners do before any job: store their parts of
// every scenario's data on their own workers.
func stage(owners []syft.Worker, d *data) error {
	a, b := owners[alice], owners[bob]
	agg, lab, aug := d.sets[0], d.sets[1], d.sets[2]
	n := aug.x.Shape()[0]
	half := n / 2
	steps := []struct {
		w   syft.Worker
		tag string
		x   *tensor.Tensor
	}{
		{a, tagAggFeatures, agg.x.Slice(1, 0, 392, 1)}, // image rows 0-13
		{a, tagAggLabels, agg.y},
		{b, tagAggFeatures, agg.x.Slice(1, 392, 784, 1)}, // rows 14-27
		{a, tagLabFeatures, lab.x},
		{b, tagLabLabels, lab.y},
		{a, tagAugFeatures, aug.x.Slice(0, 0, half, 1)},
		{a, tagAugLabels, aug.y.Slice(0, 0, half, 1)},
		{b, tagAugFeatures, aug.x.Slice(0, half, n, 1)},
		{b, tagAugLabels, aug.y.Slice(0, half, n, 1)},
		{b, tagData, d.images},
	}
	for _, s := range steps {
		if err := put(s.w, s.tag, s.x); err != nil {
			return err
		}
	}
	mp, err := syft.SendONNX(d.model, a, syft.WithTags(tagModel), syft.AsPrivate())
	if err != nil {
		return err
	}
	mp.Pointer().Keep()
	return nil
}

// scenario is one training scenario: its name and the function shipped.
// Each has its own data (data.sets), so that what one owner holds is never
// the other's in another scenario.
type scenario struct {
	name string
	job  func(epochs, batch int, lr float64) (map[string]any, error)
}

var scenarios = []scenario{
	{"feature aggregation", featureAggregation},
	{"data labeling", dataLabeling},
	{"dataset augmentation", datasetAugmentation},
}

// trainOutcome compares an encrypted training run with the plaintext one.
type trainOutcome struct {
	Name                string
	Losses, PlainLosses []float64
	Accuracy, PlainAcc  float64 // on the test set
	MaxWeightDiff       float64 // between the two models
	Bytes, Rounds       int64   // sent by all parties; rounds of each party
	Elapsed             time.Duration
	Model               *nn.Model
}

// hidingOutcome compares encrypted inference with plaintext inference.
type hidingOutcome struct {
	Labels, PlainLabels []int
	Correct             int // encrypted labels equal to the true ones
	Bytes, Rounds       int64
	Elapsed             time.Duration
}

// outcome is what run measured.
type outcome struct {
	Train  []trainOutcome
	Hiding hidingOutcome
}

// reference trains the classifier in the clear on a scenario's pooled
// data: the model the parties would get if they could share their data.
func reference(set trainSet, c config) (*nn.Model, []float64, error) {
	m, losses, err := fit(nil, nn.NewVariable(set.x), nn.NewVariable(set.y), c.epochs, c.batch, c.lr)
	if err != nil {
		return nil, nil, err
	}
	return m, losses.Data(), nil
}

func accuracy(m *nn.Model, x, labels *tensor.Tensor) (float64, error) {
	out, err := m.Forward(nn.NewVariable(x))
	if err != nil {
		return 0, err
	}
	pred := out.Tensor().Argmax(1, false).Data()
	ok := 0
	for i, v := range pred {
		if v == labels.Data()[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred)), nil
}

// runTraining runs training scenario i on the grid and compares it with
// the same training in the clear on the pooled data.
func runTraining(g *grid, i int, d *data, c config) (*trainOutcome, error) {
	s := scenarios[i]
	plain, plainLosses, err := reference(d.sets[i], c)
	if err != nil {
		return nil, err
	}
	res, err := g.approvedRun(s.job, c.epochs, c.batch, c.lr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	o := &trainOutcome{Name: s.name, PlainLosses: plainLosses, Elapsed: res.Elapsed}
	o.Bytes, o.Rounds = traffic(res)
	m, ok := res.Value(alice).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: alice returned %T", s.name, res.Value(alice))
	}
	o.Model, _ = m["model"].(*nn.Model)
	losses, _ := m["losses"].(*tensor.Tensor)
	if o.Model == nil || losses == nil {
		return nil, errors.New(s.name + ": no model or losses returned")
	}
	o.Losses = losses.Data()
	if o.Accuracy, err = accuracy(o.Model, d.testX, d.testLabels); err != nil {
		return nil, err
	}
	if o.PlainAcc, err = accuracy(plain, d.testX, d.testLabels); err != nil {
		return nil, err
	}
	got, _ := o.Model.StateDict()
	want, _ := plain.StateDict()
	for name, w := range want {
		if diff := tensor.MaxAbsDiff(got[name], w); diff > o.MaxWeightDiff {
			o.MaxWeightDiff = diff
		}
	}
	return o, nil
}

// runHiding runs model hiding on the grid and compares the labels with
// plaintext inference (which only someone holding both the model and the
// data could run: here, the program checking the demo).
func runHiding(g *grid, d *data, c config) (*hidingOutcome, error) {
	res, err := g.approvedRun(modelHiding, c.infer)
	if err != nil {
		return nil, fmt.Errorf("model hiding: %w", err)
	}
	o := &hidingOutcome{Elapsed: res.Elapsed}
	o.Bytes, o.Rounds = traffic(res)
	got := res.Tensor(bob)
	if got == nil {
		return nil, fmt.Errorf("model hiding: bob returned %T", res.Value(bob))
	}
	om, err := onnx.Decode(d.model)
	if err != nil {
		return nil, err
	}
	model, err := onnx.Import(om)
	if err != nil {
		return nil, err
	}
	x := d.images.Slice(0, 0, c.infer, 1).Reshape(c.infer, 784)
	out, err := model.Forward(nn.NewVariable(x))
	if err != nil {
		return nil, err
	}
	plain := out.Tensor().Argmax(1, false)
	for i := 0; i < c.infer; i++ {
		o.Labels = append(o.Labels, int(got.Data()[i]+0.5))
		o.PlainLabels = append(o.PlainLabels, int(plain.Data()[i]))
		if o.Labels[i] == int(d.truth.Data()[i]) {
			o.Correct++
		}
	}
	return o, nil
}

// approvedRun runs fn on the grid as the data scientist, once both owners
// have approved it: the scientist submits the job's code request, each
// owner reviews it on their own worker (syft.ShowRequest: the exact
// source, what it loads, who learns the results) and approves one run
// (syft.Approve; on a daemon's machine, gomplab worker requests
// approve), and the job then runs with no further step.
func (g *grid) approvedRun(fn any, args ...any) (*syft.Results, error) {
	f, err := syft.FuncOf(fn)
	if err != nil {
		return nil, err
	}
	job := &syft.Job{Workers: g.scientist, MasterAddr: "127.0.0.1", Func: f, Args: args, Dealer: g.dealer}
	st, err := syft.Submit(job)
	if err != nil {
		return nil, err
	}
	for i, o := range g.owners {
		if st.Verdicts[i].OK() {
			continue // nothing of this owner's that the scientist may not read
		}
		rv, err := syft.ShowRequest(o, st.ID)
		if err != nil {
			return nil, err
		}
		if _, err := syft.Approve(o, st.ID, g.user, syft.Limits{Runs: 1}); err != nil {
			return nil, err
		}
		if g.log != nil {
			fmt.Fprintf(g.log, "%s's owner reviews request %s (%d lines: the source, what it loads here, who learns what) and approves one run\n",
				st.Verdicts[i].Worker, st.ID, strings.Count(rv.Review, "\n"))
		}
	}
	return job.Run(context.Background())
}

// traffic is a job's bytes sent by all parties together, and its rounds:
// the sequential exchanges each party waited for (its latency cost).
func traffic(res *syft.Results) (bytes, rounds int64) {
	for _, r := range res.Ranks {
		bytes += r.Stats.BytesSent
		rounds = max(rounds, r.Stats.Rounds)
	}
	return bytes, rounds
}

func run(w io.Writer, g *grid, c config) (*outcome, error) {
	d, err := makeData(c)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "alice and bob store their data (%d training digits between them for each training scenario, %d images at bob, a %d-byte ONNX model at alice)\n",
		c.train, c.held, len(d.model))
	if err := stage(g.owners, d); err != nil {
		return nil, err
	}
	g.log = w
	out := &outcome{}
	for i, s := range scenarios {
		fmt.Fprintf(w, "\n== %s ==\n", s.name)
		o, err := runTraining(g, i, d, c)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "epoch  encrypted loss  plaintext loss\n")
		for e := range o.Losses {
			fmt.Fprintf(w, "%5d  %14.4f  %14.4f\n", e+1, o.Losses[e], o.PlainLosses[e])
		}
		fmt.Fprintf(w, "test accuracy: encrypted training %.1f%%, plaintext training on the pooled data %.1f%%; weights differ by at most %.1e\n",
			100*o.Accuracy, 100*o.PlainAcc, o.MaxWeightDiff)
		fmt.Fprintf(w, "%v, %.1f MB sent, %d rounds\n", o.Elapsed.Round(time.Millisecond), float64(o.Bytes)/1e6, o.Rounds)
		out.Train = append(out.Train, *o)
	}
	fmt.Fprintf(w, "\n== model hiding ==\n")
	h, err := runHiding(g, d, c)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "labels of bob's first %d images: %v\n", c.infer, h.Labels)
	fmt.Fprintf(w, "equal to plaintext inference: %v; correct: %d of %d\n", tensor.SameShape(h.Labels, h.PlainLabels), h.Correct, c.infer)
	fmt.Fprintf(w, "%v, %.1f MB sent, %d rounds\n", h.Elapsed.Round(time.Millisecond), float64(h.Bytes)/1e6, h.Rounds)
	out.Hiding = *h
	return out, nil
}
