package syft_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/jobs"
)

// jobOps multiplies, compares (relu) and multiplies matrices of ranks 0
// and 1's private tensors: every kind of dealt randomness a job uses.
func jobOps() (any, error) {
	a, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("crypten_data", 1)
	if err != nil {
		return nil, err
	}
	prod, err := a.Mul(b).GetPlainText()
	if err != nil {
		return nil, err
	}
	relu, err := a.Sub(b).Relu().GetPlainText()
	if err != nil {
		return nil, err
	}
	mm, err := a.Reshape(2, 2).MatMul(b.Reshape(2, 2)).GetPlainText()
	if err != nil {
		return nil, err
	}
	return []any{prod, relu, mm}, nil
}

// checkOps compares jobOps' results at every rank with plaintext.
func checkOps(t *testing.T, g *jobGrid, res *syft.Results, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	a, b := g.data[0], g.data[1]
	want := []*tensor.Tensor{a.Mul(b), a.Sub(b).Relu(), tensor.MatMul(a.Reshape(2, 2), b.Reshape(2, 2))}
	for r := range g.ws {
		got, ok := res.Value(r).([]any)
		if !ok || len(got) != 3 {
			t.Fatalf("rank %d: %v", r, res.Value(r))
		}
		for i, w := range want {
			if x, _ := got[i].(*tensor.Tensor); x == nil || !tensor.AllClose(x, w, 1e-3, 1e-2) {
				t.Errorf("rank %d, result %d: %v, want %v", r, i, got[i], w)
			}
		}
	}
}

// dealerFor is a worker of none of g's owners that the user "me" reaches
// the way g's workers are reached: a virtual worker or a TLS daemon.
func dealerFor(t *testing.T, name string) *syft.VirtualWorker {
	w := syft.NewVirtualWorker("dealer")
	t.Cleanup(w.Shutdown)
	return w
}

// TestDealerWorker: a job between two owners' workers with a third
// worker as dealer (PySyft's crypto_provider) computes mul, relu and
// matmul as plaintext does, on virtual workers and on TLS daemons (their
// parties in process and as child processes); the dealer's traffic is
// reported, the results name the provider, and the dealer's worker ran
// no party of its own. With 3 parties and a dealer too, and for a plan.
func TestDealerWorker(t *testing.T) {
	for _, gr := range jobGrids {
		for _, n := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/%d", gr.name, n), func(t *testing.T) {
				g := gr.mk(t, n)
				var dealer syft.Worker
				if gr.name == "virtual" {
					dealer = dealerFor(t, "dealer")
				} else {
					d, tok := startDaemon(t, "dealer")
					dealer = connectB(t, d, tok["me"])
				}
				res, err := syft.RunMultiWorkers(g.ws, "127.0.0.1", jobOps, syft.WithDealer(dealer))
				checkOps(t, g, res, err)
				if res.Provider != mpc.ProviderDealer || res.Dealer != "dealer" || res.DealerRank == nil {
					t.Fatalf("provider %q, dealer %q, %v", res.Provider, res.Dealer, res.DealerRank)
				}
				if d := res.DealerRank; d.Err != nil || d.Stats.BytesSent == 0 || d.Rank != n || d.Value != nil {
					t.Errorf("dealer: %+v", *d)
				}
				if s := res.String(); !strings.Contains(s, "provider dealer dealer") || !strings.Contains(s, "dealer (dealer): sent") {
					t.Errorf("String:\n%s", s)
				}
				if h := res.HTML(); !strings.Contains(h, "<td>dealer</td>") {
					t.Errorf("HTML lacks the dealer's row: %s", h)
				}
				// The long form, and a plan, take the same dealer.
				res, err = (&syft.Job{Workers: g.ws, Func: mustFunc(t, jobOps), Dealer: dealer, MasterAddr: "127.0.0.1"}).Run(t.Context())
				checkOps(t, g, res, err)
				if res.Provider != mpc.ProviderDealer {
					t.Errorf("long form: provider %q", res.Provider)
				}
				pl, err := syft.Func2Plan("dealt", func(b *syft.PlanBuilder, shift *syft.Placeholder) []*syft.Placeholder {
					a := b.Load("crypten_data", 0, 4)
					c := b.Load("crypten_data", 1, 4)
					return []*syft.Placeholder{a.Mul(c).Sub(shift).Relu()}
				}, []int{4})
				if err != nil {
					t.Fatal(err)
				}
				shift := tensor.Full(100, 4)
				res, err = syft.RunPlan(g.ws, "127.0.0.1", pl, shift, syft.WithDealer(dealer))
				if err != nil {
					t.Fatal(err)
				}
				want := g.data[0].Mul(g.data[1]).Sub(shift).Relu()
				outs, _ := res.Value(0).([]any)
				if len(outs) != 1 || !tensor.AllClose(outs[0].(*tensor.Tensor), want, 1e-3, 1e-2) || res.Provider != mpc.ProviderDealer {
					t.Errorf("plan: %v (provider %q), want %v", res.Value(0), res.Provider, want)
				}
			})
		}
	}
}

// TestDealerFreeJob: two owners' daemons run a job with no dealer at
// all, the default for two parties.
func TestDealerFreeJob(t *testing.T) {
	for _, gr := range jobGrids {
		t.Run(gr.name, func(t *testing.T) {
			g := gr.mk(t, 2)
			res, err := syft.RunMultiWorkers(g.ws, "127.0.0.1", jobOps)
			checkOps(t, g, res, err)
			if res.Provider != mpc.ProviderDealerFree || res.DealerRank != nil {
				t.Fatalf("provider %q (dealer %v), want the default %q", res.Provider, res.DealerRank, mpc.ProviderDealerFree)
			}
			if !strings.Contains(res.String(), "dealer-free") {
				t.Errorf("String:\n%s", res)
			}
		})
	}
}

// jobLoad0 loads rank 0's tensor and sums it.
func jobLoad0() (any, error) {
	x, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	return x.SumAll().GetPlainText()
}

// TestProviderChoice: what a job runs with when it names no provider, and
// the clear refusals of what cannot run, before any worker is contacted.
func TestProviderChoice(t *testing.T) {
	g := virtualJobGrid(t, 3)
	dealer := dealerFor(t, "dealer")
	loads, public := mustFunc(t, jobLoad0), mustFunc(t, jobEmpty)
	cases := []struct {
		name     string
		job      syft.Job
		provider string
		err      string
	}{
		{"one party", syft.Job{Workers: g.ws[:1], Func: loads}, mpc.ProviderTFP, ""},
		{"two parties", syft.Job{Workers: g.ws[:2], Func: loads}, mpc.ProviderDealerFree, ""},
		{"two parties, public data", syft.Job{Workers: g.ws[:2], Func: public}, mpc.ProviderTFP, ""},
		{"three parties, public data", syft.Job{Workers: g.ws, Func: public}, mpc.ProviderTFP, ""},
		{"a dealer", syft.Job{Workers: g.ws[:2], Func: loads, Dealer: dealer}, mpc.ProviderDealer, ""},
		{"a dealer, public data", syft.Job{Workers: g.ws[:2], Func: public, Dealer: dealer}, mpc.ProviderDealer, ""},
		{"three with a dealer", syft.Job{Workers: g.ws, Func: loads, Dealer: dealer}, mpc.ProviderDealer, ""},
		{"tfp by request", syft.Job{Workers: g.ws, Func: loads, Provider: mpc.ProviderTFP}, mpc.ProviderTFP, ""},
		{"three, no dealer", syft.Job{Workers: g.ws, Func: loads}, "", "name a dealer worker (syft.Job.Dealer"},
		{"a tag computed at run time", syft.Job{Workers: g.ws, Func: syft.SourceFunc(
			"package main\nimport \"github.com/gomplab/gomplab/mpc\"\nfunc f(tag string) { mpc.Load(tag, 1) }\n", "f"), Args: []any{"x"}},
			"", "name a dealer worker"},
		{"dealer-free for three", syft.Job{Workers: g.ws, Func: loads, Provider: mpc.ProviderDealerFree}, "", "exactly 2 parties, not 3"},
		{"unknown", syft.Job{Workers: g.ws[:2], Func: loads, Provider: "rank0"}, "", `unknown provider "rank0"`},
		{"dealer without one", syft.Job{Workers: g.ws[:2], Func: loads, Provider: mpc.ProviderDealer}, "", "needs a dealer worker"},
		{"dealer under tfp", syft.Job{Workers: g.ws[:2], Func: loads, Provider: mpc.ProviderTFP, Dealer: dealer}, "", "a dealer worker (dealer) is given"},
		{"a party as dealer", syft.Job{Workers: g.ws[:2], Func: loads, Dealer: g.ws[1]}, "", "is both rank 1 and the dealer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := c.job
			j.MasterAddr = "127.0.0.1"
			res, err := j.Run(t.Context())
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || res != nil {
					t.Fatalf("err %v (results %v), want one saying %q", err, res, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Provider != c.provider {
				t.Errorf("provider %q, want %q", res.Provider, c.provider)
			}
		})
	}
}

// jobLongMul multiplies for a while (enough for a dealer to be killed or
// frozen under it).
func jobLongMul(n int) (any, error) {
	a, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("crypten_data", 1)
	if err != nil {
		return nil, err
	}
	p := a
	for i := 0; i < n; i++ {
		p = p.Mul(b).Mul(0.01)
		if i%64 == 0 {
			// A failed party's operations return placeholders: stop at
			// the first failure.
			if _, err := p.GetPlainText(); err != nil {
				return nil, err
			}
		}
	}
	return p.GetPlainText()
}

// TestDealerFails: a dealer daemon killed (SIGKILL) or frozen (SIGSTOP)
// in the middle of a job, or down before it, makes it fail with an error
// that names the dealer, within the peers' timeout; the parties' workers
// serve the next job.
func TestDealerFails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemon processes")
	}
	g := daemonJobGrid(t, 2, false)
	for _, d := range g.daemons {
		d.Jobs().Configure(jobs.Options{PeerTimeout: 3 * time.Second})
	}
	for _, how := range []string{"killed", "frozen", "down"} {
		t.Run(how, func(t *testing.T) {
			dealer, kill, pid := startKillableDaemonPID(t, "dealer")
			var once sync.Once
			hit := func() {
				once.Do(func() {
					if how == "killed" {
						kill()
						return
					}
					syscall.Kill(pid, syscall.SIGSTOP)
					t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
				})
			}
			if how == "down" {
				kill() // before the job: it cannot start there
			} else {
				time.AfterFunc(1500*time.Millisecond, hit)
			}
			start := time.Now()
			job := &syft.Job{Workers: g.ws, MasterAddr: "127.0.0.1", Func: mustFunc(t, jobLongMul), Args: []any{1 << 20},
				Dealer: dealer, Timeout: 2 * time.Minute}
			res, err := job.Run(t.Context())
			took := time.Since(start)
			if err == nil {
				t.Fatalf("the job succeeded with its dealer %s: %v", how, res)
			}
			// A dealer down before the job fails when the orchestrator asks
			// it about the job's request, before any party starts.
			if !strings.Contains(err.Error(), "dealer (dealer)") {
				t.Errorf("the error does not name the dealer:\n%v", err)
			}
			for r := range g.ws {
				if res.Ranks[r].Err == nil {
					t.Errorf("rank %d did not fail", r)
				}
			}
			if how == "frozen" && !strings.Contains(err.Error(), "party 2 (the dealer, dealer)") {
				t.Errorf("the parties' errors do not name the dealer:\n%v", err)
			}
			if took > time.Minute {
				t.Errorf("took %v", took)
			}
			t.Logf("%s after %v:\n%v", how, took.Round(time.Millisecond), err)
			// The parties' workers serve the next job.
			res, err = syft.RunMultiWorkers(g.ws, "127.0.0.1", jobOps)
			checkOps(t, g, res, err)
		})
	}
}

// tfpBeyond2 is what a test of more than two parties, on the test's own
// data, names to run with the trusted first party: a job of three parties
// must name its provider (or a dealer). Two parties keep the default.
func tfpBeyond2(ws []syft.Worker) syft.JobOption {
	if len(ws) > 2 {
		return syft.WithProvider(mpc.ProviderTFP)
	}
	return nil
}

// tfpName is tfpBeyond2 for a Job's Provider field.
func tfpName(ws []syft.Worker) string {
	if len(ws) > 2 {
		return mpc.ProviderTFP
	}
	return ""
}

func mustFunc(t testing.TB, fn any) *syft.Func {
	t.Helper()
	f, err := syft.FuncOf(fn)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startKillableDaemonPID starts a daemon in a child process (the helper
// of TestFLHelperDaemon) and returns the user "me"'s session with it, a
// function that kills it and its process id.
func startKillableDaemonPID(t *testing.T, id string) (syft.Worker, func(), int) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	res, err := daemon.InitDataDir(dir, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	users, err := res.Dir.Users()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFLHelperDaemon$", "-test.v=false")
	cmd.Env = append(os.Environ(), "GOMPLAB_FL_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(kill)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addr <- a
				return
			}
		}
		close(addr)
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("helper daemon did not start")
	}
	if a == "" {
		t.Fatal("helper daemon failed to start")
	}
	w, err := syft.Connect(a, syft.Options{Token: tok, Fingerprint: res.Fingerprint, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, kill, cmd.Process.Pid
}

// jobCosts runs a small workload on public inputs (x from rank 0, w from
// rank 1): 4096 products, 4096 ReLUs and a 64x128 by 128x64 product.
func jobCosts(x, w *tensor.Tensor) (any, error) {
	a := mpc.Encrypt(x, 0)
	b := mpc.Encrypt(w, 1)
	p := a.Mul(b).Relu()
	m := a.Reshape(64, 64).MatMul(b.Reshape(64, 64))
	if _, err := p.GetPlainText(); err != nil {
		return nil, err
	}
	return m.SumAll().GetPlainText()
}

// TestProviderCosts: the same job between two daemons over TLS under
// each provider. The dealer costs the parties no more rounds than the
// trusted first party beyond the first request of each matrix shape, and
// moves its randomness itself; the dealer-free parties move theirs.
// Figures are logged (reported in docs/privacy.md).
func TestProviderCosts(t *testing.T) {
	g := daemonJobGrid(t, 2, false)
	d, tok := startDaemon(t, "dealer")
	dealer := connectB(t, d, tok["me"])
	x := tensor.NewRNG(1).Uniform(-4, 4, 4096)
	w := tensor.NewRNG(2).Uniform(-4, 4, 4096)
	rounds := map[string]int64{}
	for _, c := range []struct {
		prov   string
		dealer syft.Worker
	}{{mpc.ProviderTFP, nil}, {mpc.ProviderDealer, dealer}, {mpc.ProviderDealerFree, nil}} {
		job := &syft.Job{Workers: g.ws, MasterAddr: "127.0.0.1", Func: mustFunc(t, jobCosts), Args: []any{x, w},
			Provider: c.prov, Dealer: c.dealer}
		res, err := job.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := tensor.Scalar(tensor.MatMul(x.Reshape(64, 64), w.Reshape(64, 64)).SumAll())
		if got := res.Tensor(0); got == nil || !tensor.AllClose(got, want, 1e-3, 1) {
			t.Fatalf("%s: %v, want %v", c.prov, res.Value(0), want)
		}
		r0, r1 := res.Ranks[0].Stats, res.Ranks[1].Stats
		rounds[c.prov] = max(r0.Rounds, r1.Rounds)
		line := fmt.Sprintf("%-11s rank 0 sent %8d B, rank 1 %8d B, %d rounds", c.prov, r0.BytesSent, r1.BytesSent, rounds[c.prov])
		if dr := res.DealerRank; dr != nil {
			line += fmt.Sprintf("; the dealer sent %d B in %d messages", dr.Stats.BytesSent, dr.Stats.Messages)
			if dr.Stats.BytesSent == 0 {
				t.Errorf("the dealer sent nothing")
			}
		}
		t.Log(line)
	}
	if rounds[mpc.ProviderDealer] > rounds[mpc.ProviderTFP]+2 {
		t.Errorf("the dealer costs %d rounds, the trusted first party %d", rounds[mpc.ProviderDealer], rounds[mpc.ProviderTFP])
	}
}
