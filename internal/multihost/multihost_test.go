//go:build multihost

package multihost

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

var cl *cluster

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	if cl, err = up(); err != nil {
		fmt.Fprintln(os.Stderr, "multihost: bringing the three hosts up:", err)
		os.Exit(1)
	}
	code := m.Run()
	cl.down()
	os.Exit(code)
}

// data is each owner's private tensor.
var data = map[string]*tensor.Tensor{
	"alice": tensor.FromSlice([]float64{1.5, -2, 3, 0.25}),
	"bob":   tensor.FromSlice([]float64{2, 0.5, -1, 4}),
	"carol": tensor.FromSlice([]float64{-1, 3, 0.5, 2}),
}

const productSrc = `package main

import "github.com/gomplab/gomplab/mpc"

// product multiplies the private tensors of the first n ranks, and rounds
// times more by rank 0's, a round trip each.
func product(n, rounds int) (any, error) {
	p, err := mpc.Load("mh_data", 0)
	if err != nil {
		return nil, err
	}
	x0 := p
	for r := 1; r < n; r++ {
		x, err := mpc.Load("mh_data", r)
		if err != nil {
			return nil, err
		}
		p = p.Mul(x)
	}
	for i := 0; i < rounds; i++ {
		p = p.Mul(x0).Mul(0.0)
		p = p.Add(x0)
	}
	return p.Relu().GetPlainText()
}
`

// runJob runs productSrc on the named workers, with the trusted first
// party: the hosts' data is the test's own, and the faults it injects are
// the parties' (a job of three parties must name its provider).
func runJob(names []string, rounds int, timeout time.Duration) (*syft.Results, error) {
	j := &syft.Job{Workers: cl.workers(names...), Func: syft.SourceFunc(productSrc, "product"),
		Args: []any{len(names), rounds}, Timeout: timeout, Provider: mpc.ProviderTFP}
	return j.Run(context.Background())
}

func wantProduct(t *testing.T, res *syft.Results, names []string) {
	t.Helper()
	want := data[names[0]]
	for _, n := range names[1:] {
		want = want.Mul(data[n])
	}
	want = want.Apply(func(v float64) float64 { return max(v, 0) })
	for r := range names {
		if got := res.Tensor(r); got == nil || !tensor.AllClose(got, want, 1e-3, 1e-2) {
			t.Errorf("rank %d (%s): %v, want %v", r, names[r], res.Value(r), want)
		}
	}
}

var stageOnce sync.Once

func staged(t *testing.T) {
	stageOnce.Do(func() { cl.stage(t, "mh_data", data) })
}

// Encrypted jobs across the three hosts: two parties, three parties.
func TestEncryptedJobs(t *testing.T) {
	staged(t)
	for _, names := range [][]string{{"alice", "bob"}, {"bob", "carol"}, {"alice", "bob", "carol"}, {"carol", "alice", "bob"}} {
		t.Run(strings.Join(names, "-"), func(t *testing.T) {
			res, err := runJob(names, 0, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			wantProduct(t, res, names)
			t.Logf("%v: %v", names, res.Elapsed)
		})
	}
}

// A job between alice and bob with carol's worker as its dealer, each in
// its own container: the dealer's links cross the network like the
// parties', and the job names the provider that ran.
func TestDealerAcrossHosts(t *testing.T) {
	staged(t)
	names := []string{"alice", "bob"}
	j := &syft.Job{Workers: cl.workers(names...), Func: syft.SourceFunc(productSrc, "product"),
		Args: []any{2, 0}, Timeout: time.Minute, Dealer: cl.workers("carol")[0]}
	res, err := j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantProduct(t, res, names)
	if res.Provider != mpc.ProviderDealer || res.DealerRank == nil || res.DealerRank.Worker != "carol" || res.DealerRank.Stats.BytesSent == 0 {
		t.Fatalf("provider %q, dealer %+v", res.Provider, res.DealerRank)
	}
	t.Logf("%v with dealer carol: %v; the dealer sent %d B", names, res.Elapsed, res.DealerRank.Stats.BytesSent)
}

const inferSrc = `package main

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
)

// infer runs rank 0's private model on rank 1's private data; only the
// output is decrypted.
func infer() (any, error) {
	model, err := nn.LoadModel("mh_model", 0)
	if err != nil {
		return nil, err
	}
	x, err := mpc.Load("mh_data", 1)
	if err != nil {
		return nil, err
	}
	out, err := model.Forward(nn.NewEncrypted(x.Reshape(1, 4)))
	if err != nil {
		return nil, err
	}
	return out.PlainText()
}
`

// Model hiding: alice's model on bob's data, neither seeing the other's.
func TestModelHiding(t *testing.T) {
	staged(t)
	rng := tensor.NewRNG(11)
	model := nn.NewModel(nn.NewSequential(nn.NewLinear(4, 3, rng), nn.NewReLU(), nn.NewLinear(3, 2, rng)))
	mp, err := syft.SendModel(model, cl.hosts["alice"].owner, syft.WithTags("mh_model"), syft.AsPrivate("ds"))
	if err != nil {
		t.Fatal(err)
	}
	mp.Pointer().Keep()
	res, err := syft.RunSource(cl.workers("alice", "bob"), "", inferSrc, "infer")
	if err != nil {
		t.Fatal(err)
	}
	out, err := model.Forward(nn.NewVariable(data["bob"].Reshape(1, 4)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := out.PlainText()
	if err != nil {
		t.Fatal(err)
	}
	for r := range 2 {
		if got := res.Tensor(r); got == nil || !tensor.AllClose(got, want, 1e-2, 1e-2) {
			t.Errorf("rank %d: %v, want %v", r, res.Value(r), want)
		}
	}
}

// A plan run as an MPC job across three hosts.
func TestPlan(t *testing.T) {
	staged(t)
	p, err := syft.Func2Plan("sum of products", func(b *syft.PlanBuilder, shift *syft.Placeholder) []*syft.Placeholder {
		a := b.Load("mh_data", 0, 4)
		c := b.Load("mh_data", 1, 4)
		d := b.Load("mh_data", 2, 4)
		return []*syft.Placeholder{a.Mul(c).Add(d).Add(shift)}
	}, []int{4})
	if err != nil {
		t.Fatal(err)
	}
	shift := tensor.FromSlice([]float64{1, 1, 1, 1})
	res, err := syft.RunPlan(cl.workers("alice", "bob", "carol"), "", p, shift, syft.WithProvider(mpc.ProviderTFP))
	if err != nil {
		t.Fatal(err)
	}
	want := data["alice"].Mul(data["bob"]).Add(data["carol"]).Add(shift)
	for r := range 3 {
		outs, _ := res.Value(r).([]any)
		if len(outs) != 1 {
			t.Fatalf("rank %d: %v", r, res.Value(r))
		}
		if got, _ := outs[0].(*tensor.Tensor); got == nil || !tensor.AllClose(got, want, 1e-3, 1e-2) {
			t.Errorf("rank %d: %v, want %v", r, outs[0], want)
		}
	}
}

// fault runs a long three-party job, applies a fault to victim mid-job,
// and checks every rank fails within bound with an error that names the
// victim's rank; heal undoes the fault, and the others then serve a
// job, as does the victim once healed.
func fault(t *testing.T, victim string, bound time.Duration, apply, heal func()) {
	staged(t)
	names := []string{"alice", "bob", "carol"}
	rank := map[string]int{"alice": 0, "bob": 1, "carol": 2}[victim]
	type outcome struct {
		res *syft.Results
		err error
	}
	done := make(chan outcome, 1)
	jobStart := time.Now()
	go func() {
		res, err := runJob(names, 100000, 3*time.Minute)
		done <- outcome{res, err}
	}()
	time.Sleep(4 * time.Second) // the job is under way
	start := time.Now()
	apply()
	t.Logf("applying the fault took %v", time.Since(start).Round(10*time.Millisecond))
	var o outcome
	select {
	case o = <-done:
	case <-time.After(bound + 20*time.Second):
		heal()
		t.Fatalf("the job did not fail within %v of the fault", bound+20*time.Second)
	}
	took := time.Since(start)
	t.Logf("job failed %v after the fault: %v", took, o.err)
	heal()
	if o.err == nil {
		t.Fatal("the job succeeded through the fault")
	}
	var je *syft.JobError
	if !errors.As(o.err, &je) {
		t.Fatalf("error %T: %v", o.err, o.err)
	}
	for r, rr := range o.res.Ranks {
		if r == rank {
			continue
		}
		if rr.Err == nil {
			t.Errorf("rank %d (%s) reported no error", r, rr.Worker)
			continue
		}
		// When the party failed, from the fault (its program starts a
		// few milliseconds into the job).
		t.Logf("rank %d (%s) failed about %v after the fault", r, rr.Worker,
			jobStart.Add(rr.Elapsed).Sub(start).Round(100*time.Millisecond))
		msg := rr.Err.Error()
		if !strings.Contains(msg, fmt.Sprintf("party %d", rank)) && !strings.Contains(msg, fmt.Sprintf("rank %d", rank)) {
			t.Errorf("rank %d's error does not name rank %d: %v", r, rank, msg)
		}
	}
	if took > bound {
		t.Errorf("the ranks took %v to fail, more than %v", took, bound)
	}
	// The others serve the next job at once.
	var others []string
	for _, n := range names {
		if n != victim {
			others = append(others, n)
		}
	}
	res, err := runJob(others, 0, time.Minute)
	if err != nil {
		t.Fatalf("the next job on %v: %v", others, err)
	}
	wantProduct(t, res, others)
	// And all three once the victim is back.
	if err := withTimeout(t, 2*time.Minute, "the job after healing", func(context.Context) error {
		res, err := runJob(names, 0, time.Minute)
		if err == nil {
			wantProduct(t, res, names)
		}
		return err
	}); err != nil {
		t.Fatalf("the job after healing: %v", err)
	}
}

// One host killed mid-job (its worker and parties gone at once).
func TestKillHost(t *testing.T) {
	fault(t, "carol", 15*time.Second,
		func() { cl.docker(t, "kill", "carol") },
		func() { cl.restart(t, "carol") })
}

// One host frozen mid-job (docker pause: its processes stop, its sockets
// stay open).
func TestFreezeHost(t *testing.T) {
	fault(t, "bob", 25*time.Second,
		func() { cl.docker(t, "pause", "bob") },
		func() {
			cl.docker(t, "unpause", "bob")
			if err := cl.connect(cl.hosts["bob"]); err != nil {
				t.Fatal(err)
			}
		})
}

// One host cut off its network mid-job.
func TestPartitionHost(t *testing.T) {
	fault(t, "alice", 25*time.Second,
		func() { cl.docker(t, "network", "alice", "disconnect", cl.network()) },
		func() {
			cl.docker(t, "network", "alice", "connect", "--alias", "alice", cl.network())
			cl.hosts["alice"].addr = ""
			if err := cl.attach("alice"); err != nil {
				t.Fatal(err)
			}
		})
}
