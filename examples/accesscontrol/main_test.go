package main

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/internal/recording"
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/jobs"
)

// envPartyChild makes the test binary an MPC party process, as `gomplab
// party` is for a worker daemon.
const envPartyChild = "GOMPLAB_ACCESSCONTROL_TEST_PARTY"

func TestMain(m *testing.M) {
	mpc.RunChildIfRequested()
	if os.Getenv(envPartyChild) == "1" {
		os.Exit(sandbox.ServeChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// testConfig is a smaller run than the program's: a stable learning rate,
// so that the encrypted loss curve follows the plaintext one closely.
func testConfig() config {
	c := defaults()
	c.train, c.test, c.epochs, c.batch, c.lr = 400, 300, 5, 10, 0.1
	return c
}

// daemonOpts say how to run the test's daemons.
type daemonOpts struct {
	child  bool // parties as child processes (this test binary), as `gomplab worker` runs them
	record bool // record what each worker receives and logs (plaintext loopback, in-process parties)
}

// recorded is what one daemon received and logged.
type recorded struct {
	dir           string
	received, log *recording.Buffer
	daemon        *daemon.Daemon
}

// daemonGrid starts alice and bob as TLS daemons in this process (or,
// with record, plaintext loopback daemons whose sessions and MPC traffic
// are recorded).
func daemonGrid(t testing.TB, o daemonOpts) (*grid, []*recorded) {
	t.Helper()
	g := &grid{user: "scientist", close: func() {}}
	var recs []*recorded
	for _, id := range []string{"alice", "bob", "carol"} {
		r := &recorded{dir: filepath.Join(t.TempDir(), id), received: &recording.Buffer{}, log: &recording.Buffer{}}
		res, err := daemon.InitDataDir(r.dir, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		users, err := res.Dir.Users()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := users.Add("scientist")
		if err != nil {
			t.Fatal(err)
		}
		cfg := daemon.Config{Dir: r.dir, Listen: "127.0.0.1:0", InsecureLoopback: o.record}
		if o.record {
			cfg.Log = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		d, err := daemon.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.daemon = d
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d.Shutdown(ctx)
		})
		switch {
		case o.child:
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			d.Jobs().Configure(jobs.Options{
				Child: &sandbox.ChildOptions{Command: []string{exe}, Env: []string{envPartyChild + "=1"}}})
		case o.record:
			rec := r.received
			d.Jobs().Configure(jobs.Options{
				Observe: func(_ string, _ int, c comm.Comm) comm.Comm { return &recording.Comm{Comm: c, W: rec} }})
		}
		opts := syft.Options{Fingerprint: d.Fingerprint(), Insecure: o.record, Timeout: 30 * time.Second}
		owner, err := syft.Connect(d.Addr(), withToken(opts, res.OwnerToken))
		if err != nil {
			t.Fatal(err)
		}
		addr := d.Addr()
		if o.record {
			// The data scientist's session goes through a recording proxy;
			// the owner stages the data directly.
			addr = recording.Proxy(t, d.Addr(), r.received)
		}
		sci, err := syft.Connect(addr, withToken(opts, tok))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { owner.Close(); sci.Close() })
		if id == "carol" {
			g.dealer = sci // the dealer of every job: no data, no party
			break
		}
		g.owners = append(g.owners, owner)
		g.scientist = append(g.scientist, sci)
		recs = append(recs, r)
	}
	return g, recs
}

func withToken(o syft.Options, tok string) syft.Options {
	o.Token = tok
	return o
}

func virtualGrid(t testing.TB) *grid {
	g, err := newGrid("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	return g
}

var grids = []struct {
	name string
	mk   func(t testing.TB) *grid
}{
	{"virtual", virtualGrid},
	{"daemon", func(t testing.TB) *grid { g, _ := daemonGrid(t, daemonOpts{}); return g }},
	{"daemon-child", func(t testing.TB) *grid { g, _ := daemonGrid(t, daemonOpts{child: true}); return g }},
}

// checkTraining: the model trained under encryption follows the plaintext
// run on the pooled data (loss curve within fixed-point tolerance), the
// loss falls, and the test accuracies agree.
func checkTraining(t *testing.T, o *trainOutcome) {
	t.Helper()
	// Each run draws fresh masks (a dealer worker's on daemons), and
	// truncation's one-unit errors compound over the epochs: 2e-2 on a
	// loss near 1, with the accuracy checked below.
	for e := range o.PlainLosses {
		if d := math.Abs(o.Losses[e] - o.PlainLosses[e]); d > 2e-2 {
			t.Errorf("%s, epoch %d: encrypted loss %.4f, plaintext %.4f", o.Name, e+1, o.Losses[e], o.PlainLosses[e])
		}
	}
	if n := len(o.Losses); n != len(o.PlainLosses) || !(o.Losses[n-1] < o.Losses[0]/2) {
		t.Errorf("%s: the loss did not fall: %v", o.Name, o.Losses)
	}
	if math.Abs(o.Accuracy-o.PlainAcc) > 0.03 || o.Accuracy < 0.6 {
		t.Errorf("%s: test accuracy %.3f after encrypted training, %.3f after plaintext training", o.Name, o.Accuracy, o.PlainAcc)
	}
	if o.Bytes == 0 || o.Rounds == 0 {
		t.Errorf("%s: no traffic counted (%d bytes, %d rounds)", o.Name, o.Bytes, o.Rounds)
	}
}

// checkHiding: every label equals plaintext inference's.
func checkHiding(t *testing.T, o *hidingOutcome, n int) {
	t.Helper()
	if len(o.Labels) != n || !tensor.SameShape(o.Labels, o.PlainLabels) {
		t.Errorf("model hiding: labels %v, plaintext %v", o.Labels, o.PlainLabels)
	}
	if o.Correct < n*9/10 {
		t.Errorf("model hiding: only %d of %d labels correct", o.Correct, n)
	}
}

// TestScenarios runs the four scenarios on virtual workers and on daemons
// (parties in-process and as child processes).
func TestScenarios(t *testing.T) {
	c := testConfig()
	d, err := makeData(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, gr := range grids {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t)
			if err := stage(g.owners, d); err != nil {
				t.Fatal(err)
			}
			for i, s := range scenarios {
				t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
					o, err := runTraining(g, i, d, c)
					if err != nil {
						t.Fatal(err)
					}
					checkTraining(t, o)
				})
			}
			t.Run("model_hiding", func(t *testing.T) {
				o, err := runHiding(g, d, c)
				if err != nil {
					t.Fatal(err)
				}
				checkHiding(t, o, c.infer)
			})
		})
	}
}

// TestProgram runs the program's own flow on virtual workers (a short
// run: TestScenarios checks the figures).
func TestProgram(t *testing.T) {
	var out bytes.Buffer
	c := testConfig()
	c.train, c.epochs = 100, 1
	o, err := run(&out, virtualGrid(t), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Train) != 3 {
		t.Fatalf("%d training scenarios", len(o.Train))
	}
	for _, want := range []string{"== feature aggregation ==", "== data labeling ==", "== dataset augmentation ==",
		"== model hiding ==", "equal to plaintext inference: true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out.String())
	}
}

// TestOwnersDataStaysHome runs the four scenarios on two recorded daemons
// and then scans everything each worker received (the data scientist's
// session and the MPC traffic of its party), its logs (operational and
// access) and its store file for the other owner's data: none of it
// appears, in any encoding, while each store holds its own (which shows
// the scan finds data where it is).
func TestOwnersDataStaysHome(t *testing.T) {
	c := testConfig()
	d, err := makeData(c)
	if err != nil {
		t.Fatal(err)
	}
	g, recs := daemonGrid(t, daemonOpts{record: true})
	if err := stage(g.owners, d); err != nil {
		t.Fatal(err)
	}
	for i := range scenarios {
		o, err := runTraining(g, i, d, c)
		if err != nil {
			t.Fatal(err)
		}
		checkTraining(t, o)
	}
	h, err := runHiding(g, d, c)
	if err != nil {
		t.Fatal(err)
	}
	checkHiding(t, h, c.infer)
	for _, r := range recs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.daemon.Shutdown(ctx) // flushes the access log and closes the store
		cancel()
	}

	// What each owner holds and must not be found at the other: every
	// tensor it staged, and alice's model weights as the ONNX file stores
	// them (float32) and as loaded (float64).
	held := ownersData(t, d, c)
	names := []string{"alice", "bob"}
	for i, r := range recs {
		store, err := os.ReadFile(filepath.Join(r.dir, "store.db"))
		if err != nil {
			t.Fatal(err)
		}
		access, err := os.ReadFile(filepath.Join(r.dir, "access.log"))
		if err != nil {
			t.Fatal(err)
		}
		received := r.received.Bytes()
		if len(received) == 0 || len(access) == 0 || r.log.Len() == 0 {
			t.Fatalf("%s: nothing recorded", names[i])
		}
		places := map[string][]byte{"received messages": received, "log": r.log.Bytes(), "access log": access, "store": store}
		other := 1 - i
		sc := newScanner(held[other])
		for where, b := range places {
			for _, p := range sc.find(b) {
				t.Errorf("%s's %s contain %s's %s", names[i], where, names[other], p.what)
			}
		}
		// The scan finds each owner's data in its own store.
		var own []pattern
		for _, p := range held[i] {
			if p.stored {
				own = append(own, p)
			}
		}
		if found := newScanner(own).find(store); len(own) == 0 || len(found) < len(own)/2 {
			t.Errorf("%s's store holds %d of %d patterns of its own data: the scan would miss a leak", names[i], len(found), len(own))
		}
		t.Logf("%s: scanned %d bytes received, %d of logs, %d of store for %d patterns of %s's data",
			names[i], len(received), r.log.Len()+len(access), len(store), len(held[other]), names[other])
	}
}

// BenchmarkModelHiding: encrypted inference on 100 of bob's images with
// alice's model, submission to results, on virtual workers and on daemons
// whose parties are child processes.
func BenchmarkModelHiding(b *testing.B) {
	c := testConfig()
	d, err := makeData(c)
	if err != nil {
		b.Fatal(err)
	}
	for _, gr := range grids {
		if gr.name == "daemon" {
			continue
		}
		b.Run(gr.name, func(b *testing.B) {
			g := gr.mk(b)
			if err := stage(g.owners, d); err != nil {
				b.Fatal(err)
			}
			var res *syft.Results
			for b.Loop() {
				if res, err = syft.RunMultiWorkers(g.scientist, "127.0.0.1", modelHiding, c.infer, syft.WithDealer(g.dealer)); err != nil {
					b.Fatal(err)
				}
			}
			sent, rounds := traffic(res)
			b.ReportMetric(float64(sent), "sent-bytes/op")
			b.ReportMetric(float64(rounds), "rounds/op")
		})
	}
}
