package syft_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/daemon"
)

// sharesLeft counts what a worker still holds of the rounds (its shares
// and the masks it received), discarding it.
func sharesLeft(t *testing.T, w syft.Worker, rounds []string) int {
	t.Helper()
	n := 0
	for _, r := range rounds {
		k, err := syft.AbortRound(w, r)
		if err != nil {
			t.Fatalf("abort %s on %s: %v", r, w.ID(), err)
		}
		n += k
	}
	return n
}

// sendModels sends one model per worker and returns the models too.
func sendModels(t *testing.T, ws []syft.Worker) ([]*nn.Model, []*syft.ModelPointer) {
	t.Helper()
	var ms []*nn.Model
	var mps []*syft.ModelPointer
	for i, w := range ws {
		m := mlp(3, 4, 2, uint64(40+i))
		mp, err := syft.SendModel(m, w)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
		mps = append(mps, mp)
	}
	return ms, mps
}

// checkDropout checks one dropout scenario: the worker killed as phase
// begins, under policy.
func checkDropout(t *testing.T, ws []syft.Worker, kill func(), victim string, phase string, policy syft.DropoutPolicy) {
	t.Helper()
	ms, mps := sendModels(t, ws)
	var once sync.Once
	var phases, rounds []string
	res, err := syft.SecureAggregate(mps, syft.SecureAggOptions{Policy: policy,
		Progress: func(p, round string) {
			phases = append(phases, p)
			if !slices.Contains(rounds, round) {
				rounds = append(rounds, round)
			}
			if p == phase {
				once.Do(kill)
			}
		}})
	var survivors []syft.Worker
	var sms []*nn.Model
	for i, w := range ws {
		if w.ID() != victim {
			survivors = append(survivors, w)
			sms = append(sms, ms[i])
		}
	}
	switch policy {
	case syft.FailRound:
		var de *syft.DropoutError
		if !errors.As(err, &de) {
			t.Fatalf("err %v, want a *DropoutError", err)
		}
		if de.Worker != victim || de.Phase != phase {
			t.Fatalf("dropout of %s in %s, want %s in %s: %v", de.Worker, de.Phase, victim, phase, err)
		}
		if !strings.Contains(err.Error(), "worker "+victim+" dropped out") {
			t.Errorf("error does not name the worker clearly: %v", err)
		}
		if res != nil {
			t.Fatalf("a failed round returned a result")
		}
	case syft.ExcludeDropped:
		if err != nil {
			t.Fatalf("ExcludeDropped: %v", err)
		}
		if len(res.Excluded) != 1 || res.Excluded[0].Worker != victim || res.Attempts != 2 {
			t.Fatalf("excluded %v after %d attempts, want %s after 2", res.Excluded, res.Attempts, victim)
		}
		if len(res.Included) != len(survivors) {
			t.Fatalf("included %v", res.Included)
		}
		// The average is over the survivors' full models, nothing else.
		w := make([]float64, len(sms))
		for i := range w {
			w[i] = 1
		}
		want := plainAverage(t, sms, w)
		got, _ := res.Model.StateDict()
		for k, v := range want {
			if d := tensor.MaxAbsDiff(v, got[k]); d > 1e-6 {
				t.Errorf("%s: average of survivors off by %g", k, d)
			}
		}
	}
	for _, w := range survivors {
		if left := sharesLeft(t, w, rounds); left > 0 {
			t.Errorf("%s keeps %d shares or masks after the round", w.ID(), left)
		}
	}
}

func TestSecureAggregationDropoutVirtual(t *testing.T) {
	for _, tc := range []struct {
		phase  string
		policy syft.DropoutPolicy
	}{
		{syft.PhaseShare, syft.FailRound},
		{syft.PhaseSum, syft.FailRound},
		{syft.PhaseShare, syft.ExcludeDropped},
		{syft.PhaseSum, syft.ExcludeDropped},
	} {
		t.Run(tc.phase+"/"+tc.policy.String(), func(t *testing.T) {
			ws := virtualWorkers(t, "bob", "alice", "carol")
			victim := ws[1].(*syft.VirtualWorker)
			checkDropout(t, ws, victim.Shutdown, "alice", tc.phase, tc.policy)
		})
	}
}

// The helper process for the killed-daemon test: a worker daemon in a
// process of its own, which the test kills with SIGKILL mid-round.
func TestFLHelperDaemon(t *testing.T) {
	dir := os.Getenv("GOMPLAB_FL_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestSecureAggregationDropoutKilledDaemon")
	}
	d, err := daemon.Start(daemon.Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", d.Addr())
	select {}
}

// startKillableDaemon starts a daemon in a child process and returns a
// session with it and a function that kills the process (SIGKILL).
func startKillableDaemon(t *testing.T, id string) (syft.Worker, func()) {
	t.Helper()
	w, kill, _ := startKillableDaemonPID(t, id)
	return w, kill
}

func TestSecureAggregationDropoutKilledDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemon processes")
	}
	for _, tc := range []struct {
		phase  string
		policy syft.DropoutPolicy
	}{
		{syft.PhaseShare, syft.FailRound},
		{syft.PhaseSum, syft.ExcludeDropped},
	} {
		t.Run(tc.phase+"/"+tc.policy.String(), func(t *testing.T) {
			bob := connectDaemon(t, "bob")
			carol := connectDaemon(t, "carol")
			alice, kill := startKillableDaemon(t, "alice")
			checkDropout(t, []syft.Worker{bob, alice, carol}, kill, "alice", tc.phase, tc.policy)
		})
	}
}

func connectDaemon(t *testing.T, id string) syft.Worker {
	d, tok := startDaemon(t, id)
	w, err := syft.Connect(d.Addr(), syft.Options{Token: tok["me"], Fingerprint: d.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// FedAvg applies the dropout policy to a worker gone between rounds: it
// fails naming the worker, or goes on without it.
func TestFedAvgDropout(t *testing.T) {
	for _, policy := range []syft.DropoutPolicy{syft.FailRound, syft.ExcludeDropped} {
		t.Run(policy.String(), func(t *testing.T) {
			ws := virtualWorkers(t, "bob", "alice", "carol")
			x, y := digits(180, 1)
			fd, err := syft.Federate(x, y, ws...)
			if err != nil {
				t.Fatal(err)
			}
			loader, _ := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: 20, DropLast: true})
			fa, err := syft.NewFedAvg(classifier(1), syft.FedAvgConfig{Loader: loader, LocalSteps: 1,
				Train:  syft.TrainConfig{Loss: "cross_entropy", Optimizer: syft.Optimizer{LR: 0.1}},
				Secure: syft.SecureAggOptions{Policy: policy}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fa.Round(); err != nil {
				t.Fatal(err)
			}
			ws[2].(*syft.VirtualWorker).Shutdown()
			st, err := fa.Round()
			if policy == syft.FailRound {
				var de *syft.DropoutError
				if !errors.As(err, &de) || de.Worker != "carol" {
					t.Fatalf("err %v, want carol's dropout", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(st.Included, ",") != "alice,bob" || len(st.Excluded) != 1 || st.Excluded[0].Worker != "carol" {
				t.Fatalf("round after carol left: included %v, excluded %v", st.Included, st.Excluded)
			}
			if st, err = fa.Round(); err != nil || len(st.Included) != 2 || len(st.Excluded) != 0 {
				t.Fatalf("next round: %+v, %v", st, err)
			}
		})
	}
}
