package syft_test

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/jobs"
)

// The job functions below are shipped to workers from this file's source.

// loadAll loads every rank's tensor tagged tag.
func loadAll(tag string) ([]*mpc.CrypTensor, error) {
	var xs []*mpc.CrypTensor
	for r := 0; r < mpc.WorldSize(); r++ {
		x, err := mpc.Load(tag, r)
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return xs, nil
}

// jobProduct multiplies every rank's private tensor.
func jobProduct() (any, error) {
	xs, err := loadAll("crypten_data")
	if err != nil {
		return nil, err
	}
	p := xs[0]
	for _, x := range xs[1:] {
		p = p.Mul(x)
	}
	return p.GetPlainText()
}

type scaler struct{ k float64 }

func (s scaler) apply(x *mpc.CrypTensor) *mpc.CrypTensor { return x.Mul(s.k) }

const jobScale = 2.0

// jobScaledSum uses a helper, a type with a method, a constant and public
// arguments, and returns a map of several kinds of values.
func jobScaledSum(offset float64, pub *tensor.Tensor, label string) (map[string]any, error) {
	xs, err := loadAll("crypten_data")
	if err != nil {
		return nil, err
	}
	s := xs[0]
	for _, x := range xs[1:] {
		s = s.Add(x)
	}
	sum, err := scaler{jobScale}.apply(s).Add(offset).Add(pub).GetPlainText()
	if err != nil {
		return nil, err
	}
	return map[string]any{"sum": sum, "rank": mpc.Rank(), "label": label, "parts": []float64{1, 2}}, nil
}

// jobEncrypted returns encrypted values: each party returns its share,
// and the requester adds them up.
func jobEncrypted() (any, error) {
	xs, err := loadAll("crypten_data")
	if err != nil {
		return nil, err
	}
	s := xs[0]
	for _, x := range xs[1:] {
		s = s.Add(x)
	}
	return map[string]any{"sum": s, "scaled": []*mpc.CrypTensor{xs[0].Mul(2)}, "rank": mpc.Rank()}, nil
}

// jobEmpty does nothing: the overhead of a job.
func jobEmpty() error { return nil }

// jobGrid is n workers, each holding a private tensor tagged
// "crypten_data", as the ordinary user "me" sees them.
type jobGrid struct {
	ws      []syft.Worker
	owners  []syft.Worker // daemons only
	data    []*tensor.Tensor
	daemons []*daemon.Daemon
}

var jobData = [][]float64{{42, 53, 3, 2}, {101, 32, 29, 2}, {1, 2, 3, 4}}

// stageTensor stores x as the owner's private data under tag, readable
// by the data scientist "me": the tests of jobs' mechanics run as a user
// who may read the data (requests_test.go tests jobs on data the
// requester may not read, which need the owners' approval).
func stageTensor(t testing.TB, owner syft.Worker, tag string, x *tensor.Tensor) {
	t.Helper()
	p, err := syft.Send(x, owner, syft.WithTags(tag), syft.AsPrivate(syft.DefaultUser))
	if err != nil {
		t.Fatal(err)
	}
	p.Keep()
}

func virtualJobGrid(t testing.TB, n int) *jobGrid {
	g := &jobGrid{}
	for i := 0; i < n; i++ {
		w := syft.NewVirtualWorker(fmt.Sprintf("w%d", i))
		t.Cleanup(w.Shutdown)
		g.data = append(g.data, tensor.FromSlice(jobData[i]))
		stageTensor(t, w.Owner(), "crypten_data", g.data[i])
		g.ws = append(g.ws, w)
	}
	return g
}

// daemonJobGrid starts n TLS daemons; with child set, their parties run
// as child processes (as `gomplab worker` runs them).
func daemonJobGrid(t testing.TB, n int, child bool) *jobGrid {
	g := &jobGrid{}
	for i := 0; i < n; i++ {
		d, tok := startDaemon(t, fmt.Sprintf("w%d", i))
		if child {
			d.Jobs().Configure(jobs.Options{Child: partyChild(t)})
		}
		g.data = append(g.data, tensor.FromSlice(jobData[i]))
		owner := connectB(t, d, tok[workers.OwnerUser])
		stageTensor(t, owner, "crypten_data", g.data[i])
		g.owners = append(g.owners, owner)
		g.ws = append(g.ws, connectB(t, d, tok["me"]))
		g.daemons = append(g.daemons, d)
	}
	return g
}

func connectB(t testing.TB, d *daemon.Daemon, token string) *syft.RemoteWorker {
	t.Helper()
	w, err := syft.Connect(d.Addr(), syft.Options{Token: token, Fingerprint: d.Fingerprint(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

var jobGrids = []struct {
	name string
	mk   func(t testing.TB, n int) *jobGrid
}{
	{"virtual", virtualJobGrid},
	{"daemon", func(t testing.TB, n int) *jobGrid { return daemonJobGrid(t, n, false) }},
	{"daemon-child", func(t testing.TB, n int) *jobGrid { return daemonJobGrid(t, n, true) }},
}

func wantProduct(g *jobGrid) *tensor.Tensor {
	p := g.data[0]
	for _, x := range g.data[1:] {
		p = p.Mul(x)
	}
	return p
}

func checkProduct(t *testing.T, g *jobGrid, res *syft.Results, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	want := wantProduct(g)
	for r := range g.ws {
		if got := res.Tensor(r); got == nil || !tensor.AllClose(got, want, 1e-3, 1e-2) {
			t.Fatalf("rank %d: %v, want %v", r, res.Value(r), want)
		}
	}
}

// TestJobsSameResults: virtual workers (goroutine parties) and daemons
// (parties in-process or as child processes, over TLS-connected workers)
// give the same results, for 2 and 3 parties.
func TestJobsSameResults(t *testing.T) {
	for _, gr := range jobGrids {
		for _, n := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/%d", gr.name, n), func(t *testing.T) {
				g := gr.mk(t, n)
				res, err := syft.RunMultiWorkers(g.ws, "127.0.0.1", jobProduct, tfpBeyond2(g.ws))
				checkProduct(t, g, res, err)

				pub := tensor.FromSlice([]float64{0.5, 0.5, 0.5, 0.5})
				res, err = syft.RunMultiWorkers(g.ws, "127.0.0.1", jobScaledSum, 1, pub, "hello", tfpBeyond2(g.ws))
				if err != nil {
					t.Fatal(err)
				}
				sum := g.data[0]
				for _, x := range g.data[1:] {
					sum = sum.Add(x)
				}
				want := sum.MulScalar(2).AddScalar(1.5)
				for r := range g.ws {
					m, ok := res.Value(r).(map[string]any)
					if !ok {
						t.Fatalf("rank %d: %T %v", r, res.Value(r), res.Value(r))
					}
					if got, _ := m["sum"].(*tensor.Tensor); got == nil || !tensor.AllClose(got, want, 0, 1e-2) {
						t.Errorf("rank %d: sum %v, want %v", r, m["sum"], want)
					}
					if m["rank"] != int64(r) || m["label"] != "hello" {
						t.Errorf("rank %d: %v", r, m)
					}
				}
			})
		}
	}
}

// TestJobEncryptedResults: a job returns encrypted values; every rank's
// result holds the values its parties' shares add up to, on virtual
// workers and daemons (parties in-process and as child processes).
func TestJobEncryptedResults(t *testing.T) {
	for _, gr := range jobGrids {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 2)
			res, err := syft.RunMultiWorkers(g.ws, "127.0.0.1", jobEncrypted)
			if err != nil {
				t.Fatal(err)
			}
			sum := g.data[0].Add(g.data[1])
			for r := range g.ws {
				m, ok := res.Value(r).(map[string]any)
				if !ok {
					t.Fatalf("rank %d: %T %v", r, res.Value(r), res.Value(r))
				}
				if got, _ := m["sum"].(*tensor.Tensor); got == nil || !tensor.AllClose(got, sum, 0, 1e-3) {
					t.Errorf("rank %d: sum %v, want %v", r, m["sum"], sum)
				}
				scaled, _ := m["scaled"].([]any)
				if len(scaled) != 1 || !tensor.AllClose(scaled[0].(*tensor.Tensor), g.data[0].MulScalar(2), 0, 1e-3) {
					t.Errorf("rank %d: scaled %v", r, m["scaled"])
				}
				if m["rank"] != int64(r) {
					t.Errorf("rank %d: rank %v", r, m["rank"])
				}
			}
		})
	}
}

// TestJobFailures: a forbidden import, an infinite loop, a panic, a huge
// allocation, a party killed mid-job and a worker that is down each give a
// clear per-rank error within the deadline, and every worker serves the
// next job. Workers are daemons running parties as child processes.
func TestJobFailures(t *testing.T) {
	g := daemonJobGrid(t, 2, true)
	down, downTok := startDaemon(t, "down")
	downW := connectB(t, down, downTok["me"])

	const head = "package main\nimport \"github.com/gomplab/gomplab/mpc\"\nfunc f() (any, error) {\n\ta, _ := mpc.Load(\"crypten_data\", 0)\n\tb, _ := mpc.Load(\"crypten_data\", 1)\n"
	const tail = "\treturn a.Mul(b).GetPlainText()\n}\n"
	cases := []struct {
		name    string
		src     string
		timeout time.Duration
		killR1  bool // kill rank 1's party once it runs
		down    bool // rank 1 is a worker that is down
		kinds   [][]sandbox.Kind
		msg     string
		line    int
		phases  []sandbox.Phase // per rank, when the job reached the workers
	}{
		{name: "forbidden import", src: "package main\nimport \"os\"\nfunc f() { os.Exit(1) }\n",
			kinds: [][]sandbox.Kind{{sandbox.KindForbidden}}, msg: `import "os"`, line: 2},
		{name: "infinite loop", src: head + "\tfor {\n\t}\n" + tail, timeout: 2 * time.Second,
			kinds: [][]sandbox.Kind{{sandbox.KindTimeout}, {sandbox.KindTimeout}}, msg: "deadline", line: 6,
			phases: []sandbox.Phase{sandbox.PhaseRun, sandbox.PhaseRun}},
		{name: "panic", src: head + "\tif mpc.Rank() == 1 {\n\t\tpanic(\"no way\")\n\t}\n" + tail,
			kinds: [][]sandbox.Kind{{sandbox.KindPeer}, {sandbox.KindPanic}}, msg: "no way", line: 7,
			phases: []sandbox.Phase{sandbox.PhaseRun, sandbox.PhaseRun}},
		{name: "huge allocation", src: head + "\tif mpc.Rank() == 1 {\n\t\tx := make([]float64, 1<<38)\n\t\tx[1] = 1\n\t}\n" + tail,
			kinds: [][]sandbox.Kind{{sandbox.KindPeer}, {sandbox.KindMemory}}, msg: "out of memory",
			phases: []sandbox.Phase{sandbox.PhaseRun, sandbox.PhaseRun}},
		{name: "killed mid-job", src: head + "\tfor mpc.Rank() == 1 {\n\t}\n" + tail, killR1: true,
			kinds: [][]sandbox.Kind{{sandbox.KindPeer}, {sandbox.KindKilled}}, msg: "killed",
			phases: []sandbox.Phase{sandbox.PhaseRun, sandbox.PhaseRun}},
		{name: "worker down", src: head + tail, down: true,
			kinds: [][]sandbox.Kind{{sandbox.KindCanceled}, {sandbox.KindUnavailable}}, msg: "unavailable",
			phases: []sandbox.Phase{sandbox.PhaseStart, sandbox.PhaseStart}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws := g.ws
			if c.down {
				ws = []syft.Worker{g.ws[0], downW}
				down.Shutdown(t.Context())
			}
			var killOnce sync.Once
			child := partyChild(t)
			if c.killR1 {
				child.Started = func(pid int) {
					killOnce.Do(func() { time.AfterFunc(time.Second, func() { syscall.Kill(pid, syscall.SIGKILL) }) })
				}
			}
			g.daemons[1].Jobs().Configure(jobs.Options{Child: child})
			defer g.daemons[1].Jobs().Configure(jobs.Options{Child: partyChild(t)})

			timeout := c.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			job := &syft.Job{Workers: ws, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(c.src, "f"), Timeout: timeout}
			start := time.Now()
			res, err := job.Run(t.Context())
			if d := time.Since(start); d > timeout+5*time.Second {
				t.Errorf("took %v with a %v timeout", d, timeout)
			}
			var je *syft.JobError
			if res == nil {
				// Refused before any worker was contacted.
				if sandbox.KindOf(err) != c.kinds[0][0] || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("err %v, want a %s error mentioning %q", err, c.kinds[0][0], c.msg)
				}
			} else {
				if !errors.As(err, &je) {
					t.Fatalf("err %v (%T), want *syft.JobError", err, err)
				}
				for i, rr := range res.Ranks {
					if !slices.Contains(c.kinds[i], sandbox.KindOf(rr.Err)) {
						t.Errorf("rank %d: %v, want kind %v", i, rr.Err, c.kinds[i])
					}
					var se *sandbox.Error
					if errors.As(rr.Err, &se) && (se.Rank != i || se.Worker != ws[i].ID()) {
						t.Errorf("rank %d: error names rank %d worker %q", i, se.Rank, se.Worker)
					}
					if se != nil && se.Phase != c.phases[i] {
						t.Errorf("rank %d failed in phase %q, want %q: %v", i, se.Phase, c.phases[i], se)
					}
				}
				if !strings.Contains(err.Error(), c.msg) {
					t.Errorf("error does not mention %q:\n%v", c.msg, err)
				}
			}
			if c.line != 0 && !strings.Contains(err.Error(), fmt.Sprintf("job.go:%d", c.line)) {
				t.Errorf("error does not give line %d:\n%v", c.line, err)
			}
			t.Logf("%v", err)

			// Every worker serves the next job.
			res, err = syft.RunMultiWorkers(g.ws, "127.0.0.1", jobProduct)
			checkProduct(t, g, res, err)
		})
	}
}

// TestConcurrentJobs: several jobs at once on the same workers, each with
// its own id, port and parties, do not interfere.
func TestConcurrentJobs(t *testing.T) {
	for _, gr := range jobGrids {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 2)
			const jobs = 4
			var wg sync.WaitGroup
			errs := make([]error, jobs)
			for k := 0; k < jobs; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					pub := tensor.Full(float64(k), 4)
					res, err := syft.RunMultiWorkers(g.ws, "127.0.0.1", jobScaledSum, 0, pub, fmt.Sprint(k))
					if err != nil {
						errs[k] = err
						return
					}
					want := g.data[0].Add(g.data[1]).MulScalar(2).AddScalar(float64(k))
					for r := range g.ws {
						m, _ := res.Value(r).(map[string]any)
						if got, _ := m["sum"].(*tensor.Tensor); got == nil || !tensor.AllClose(got, want, 0, 1e-2) || m["label"] != fmt.Sprint(k) {
							errs[k] = fmt.Errorf("job %d rank %d: %v, want sum %v", k, r, m, want)
						}
					}
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestRunMultiWorkersRefusals(t *testing.T) {
	g := virtualJobGrid(t, 2)
	closure := func() error { return nil }
	cases := []struct {
		name string
		run  func() error
		msg  string
	}{
		{"no workers", func() error { _, err := syft.RunMultiWorkers(nil, "", jobEmpty); return err }, "at least one worker"},
		{"duplicate", func() error {
			_, err := syft.RunMultiWorkers([]syft.Worker{g.ws[0], g.ws[0]}, "", jobEmpty)
			return err
		}, "both rank 0 and rank 1"},
		{"closure", func() error { _, err := syft.RunMultiWorkers(g.ws, "", closure); return err }, "closure"},
		{"not a function", func() error { _, err := syft.RunMultiWorkers(g.ws, "", 42); return err }, "not a function"},
		{"encrypted argument", func() error {
			_, err := syft.RunMultiWorkers(g.ws, "", jobEmpty, make(chan int))
			return err
		}, "arguments"},
		{"wrong arguments", func() error { _, err := syft.RunMultiWorkers(g.ws, "", jobEmpty, 1); return err }, "takes 0 arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err %v, want one mentioning %q", err, c.msg)
			}
		})
	}
}

// inferSrc runs rank 0's private model on rank 1's private data: the
// model's weights reach rank 1 only as shares, the data reaches rank 0
// only as shares. It also returns the decrypted model, to show models come
// back as *nn.Model.
const inferSrc = `package main

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
)

func infer() (any, error) {
	model, err := nn.LoadModel("crypten_model", 0)
	if err != nil {
		return nil, err
	}
	x, err := mpc.Load("crypten_data", 1)
	if err != nil {
		return nil, err
	}
	out, err := model.Forward(nn.NewEncrypted(x.Reshape(1, 4)))
	if err != nil {
		return nil, err
	}
	y, err := out.PlainText()
	if err != nil {
		return nil, err
	}
	if err := model.Decrypt(); err != nil {
		return nil, err
	}
	return []any{y, model}, nil
}
`

func TestJobModelByTag(t *testing.T) {
	for _, gr := range jobGrids {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 2)
			rng := tensor.NewRNG(7)
			model := nn.NewModel(nn.NewSequential(nn.NewLinear(4, 3, rng), nn.NewReLU(), nn.NewLinear(3, 2, rng)))
			var owner syft.Worker
			if g.daemons == nil {
				owner = g.ws[0].(*syft.VirtualWorker).Owner()
			} else {
				owner = g.owners[0]
			}
			mp, err := syft.SendModel(model, owner, syft.WithTags("crypten_model"), syft.AsPrivate(syft.DefaultUser))
			if err != nil {
				t.Fatal(err)
			}
			mp.Pointer().Keep()
			model.Eval()
			want, err := model.Forward(nn.NewVariable(g.data[1].Reshape(1, 4)))
			if err != nil {
				t.Fatal(err)
			}
			res, err := syft.RunSource(g.ws, "127.0.0.1", inferSrc, "infer")
			if err != nil {
				t.Fatal(err)
			}
			for r := range g.ws {
				vs, _ := res.Value(r).([]any)
				if len(vs) != 2 {
					t.Fatalf("rank %d: %v", r, res.Value(r))
				}
				if y, _ := vs[0].(*tensor.Tensor); y == nil || !tensor.AllClose(y, want.Tensor(), 0, 0.05) {
					t.Errorf("rank %d: output %v, want %v", r, vs[0], want.Tensor())
				}
				m, ok := vs[1].(*nn.Model)
				if !ok {
					t.Fatalf("rank %d: returned %T, want *nn.Model", r, vs[1])
				}
				sd, _ := m.StateDict()
				orig, _ := model.StateDict()
				for name, w := range orig {
					if !tensor.AllClose(sd[name], w, 0, 1e-3) {
						t.Errorf("rank %d: parameter %s %v, want %v", r, name, sd[name], w)
					}
				}
			}
		})
	}
}

// jobPanics fails on rank 1, on a line the test knows.
func jobPanics() (any, error) {
	if mpc.Rank() == 1 {
		var xs []float64
		xs[mpc.Rank()]++ // jobPanicsLine
	}
	return nil, nil
}

// TestJobErrorLineFromGoFile: errors in a function shipped from a Go
// file name that file and the line in it.
func TestJobErrorLineFromGoFile(t *testing.T) {
	g := virtualJobGrid(t, 2)
	src, err := os.ReadFile("jobs_test.go")
	if err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(string(src[:strings.Index(string(src), "xs[mpc.Rank()]++ // jobPanicsLine")]), "\n")
	_, err = syft.RunMultiWorkers(g.ws, "127.0.0.1", jobPanics)
	var se *sandbox.Error
	if !errors.As(err, &se) || se.Rank != 1 || se.File != "jobs_test.go" || se.Line != line || se.Kind != sandbox.KindPanic {
		t.Fatalf("error %#v, want a panic at jobs_test.go:%d on rank 1", se, line)
	}
	t.Log(err)
}

// TestReleasedPointerNamed: a tensor sent for a job and never used again
// in Go is freed when its owning pointer is collected; the job that loads
// it by tag then fails, and the error names the freed object and says how
// to keep it.
func TestReleasedPointerNamed(t *testing.T) {
	const src = `package main

import "github.com/gomplab/gomplab/mpc"

func f() (any, error) {
	x, err := mpc.Load("#released", 0)
	if err != nil {
		return nil, err
	}
	return x.GetPlainText()
}
`
	for _, gr := range jobGrids[:2] {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 1)
			w := g.ws[0]
			id := func() string {
				p, err := syft.Send(tensor.FromSlice([]float64{1, 2}), w, syft.WithTags("#released"))
				if err != nil {
					t.Fatal(err)
				}
				return p.ID() // the pointer's last use
			}()
			deadline := time.Now().Add(10 * time.Second)
			for holds(t, w, id) {
				if time.Now().After(deadline) {
					t.Fatal("dropped owning pointer's object was not reclaimed")
				}
				runtime.GC()
				if err := syft.FlushFrees(w); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			_, err := syft.RunSource(g.ws, "127.0.0.1", src, "f")
			if err == nil {
				t.Fatal("the job found a freed object")
			}
			for _, want := range []string{"no object tagged", id, "Keep()", "garbage collected"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			// Kept, the object outlives its pointer and the job finds it.
			func() {
				p, err := syft.Send(tensor.FromSlice([]float64{3, 4}), w, syft.WithTags("#released"))
				if err != nil {
					t.Fatal(err)
				}
				p.Keep()
			}()
			runtime.GC()
			if err := syft.FlushFrees(w); err != nil {
				t.Fatal(err)
			}
			res, err := syft.RunSource(g.ws, "127.0.0.1", src, "f")
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Tensor(0); got == nil || !tensor.AllClose(got, tensor.FromSlice([]float64{3, 4}), 1e-3, 1e-3) {
				t.Fatalf("kept object: %v", got)
			}
		})
	}
}
