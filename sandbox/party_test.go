package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// mapStore is a Store over a map, recording saves.
type mapStore struct {
	mu sync.Mutex
	m  map[string]*tensor.Tensor
}

func newMapStore(kv ...any) *mapStore {
	s := &mapStore{m: map[string]*tensor.Tensor{}}
	for i := 0; i < len(kv); i += 2 {
		s.m[kv[i].(string)] = kv[i+1].(*tensor.Tensor)
	}
	return s
}

func (s *mapStore) Load(tag string) (*tensor.Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[tag]
	if !ok {
		return nil, fmt.Errorf("no object tagged %q", tag)
	}
	return t, nil
}

func (s *mapStore) Save(tag string, t *tensor.Tensor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[tag] = t
	return nil
}

// runLocalJob runs prog on n in-process parties over loopback TCP.
func runLocalJob(t *testing.T, n int, prog Program, timeout time.Duration, stores []Store, args ...any) []Result {
	t.Helper()
	var ab []byte
	if args != nil {
		var err error
		if ab, err = serde.Marshal(args); err != nil {
			t.Fatal(err)
		}
	}
	job := Job{ID: "test-job", Program: prog, Args: ab, TimeoutMS: timeout.Milliseconds()}
	return runRanks(t, n, job, func(j Job, rv *comm.Rendezvous) Result {
		return RunJob(context.Background(), j, rv, stores[j.Rank])
	})
}

// runRanks runs the n ranks of job (worker "w<rank>"), each on a
// goroutine of its own through run, rank 0 holding the rendezvous, and
// returns their results by rank.
func runRanks(t *testing.T, n int, job Job, run func(j Job, rv *comm.Rendezvous) Result) []Result {
	t.Helper()
	rv, err := comm.LocalRendezvous()
	if err != nil {
		t.Fatal(err)
	}
	res := make([]Result, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		j := job
		j.Rank, j.WorldSize, j.MasterAddr, j.Worker = r, n, rv.Addr(), fmt.Sprintf("w%d", r)
		var rrv *comm.Rendezvous
		if r == 0 {
			rrv = rv
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[r] = run(j, rrv)
		}()
	}
	wg.Wait()
	return res
}

// checkFailed checks that every rank failed, rank i with one of kinds[i]
// naming its rank and worker, and that some rank's error mentions msg.
func checkFailed(t *testing.T, res []Result, kinds [][]Kind, msg string) {
	t.Helper()
	found := false
	for i, r := range res {
		if r.Err == nil {
			t.Fatalf("rank %d succeeded", i)
		}
		if !slices.Contains(kinds[i], r.Err.Kind) {
			t.Errorf("rank %d: kind %q, want one of %q: %v", i, r.Err.Kind, kinds[i], r.Err)
		}
		if r.Err.Rank != i || r.Err.Worker != fmt.Sprintf("w%d", i) {
			t.Errorf("rank %d: error names rank %d worker %q", i, r.Err.Rank, r.Err.Worker)
		}
		switch r.Err.Phase {
		case PhaseValidate, PhaseStart, PhaseRun, PhaseCollect:
		default:
			t.Errorf("rank %d: error names no phase: %q", i, r.Err.Phase)
		}
		found = found || strings.Contains(r.Err.Error(), msg)
	}
	if !found {
		t.Errorf("no rank's error mentions %q: %v / %v", msg, res[0].Err, res[1].Err)
	}
}

const productSrc = `package main

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

func product(scale float64) (*tensor.Tensor, error) {
	a, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("crypten_data", 1)
	if err != nil {
		return nil, err
	}
	return a.Mul(b).Mul(scale).GetPlainText()
}
`

func TestRunJobProduct(t *testing.T) {
	alice := newMapStore("crypten_data", tensor.FromSlice([]float64{42, 53, 3, 2}))
	bob := newMapStore("crypten_data", tensor.FromSlice([]float64{101, 32, 29, 2}))
	res := runLocalJob(t, 2, Program{Source: productSrc, Entry: "product"}, 20*time.Second, []Store{alice, bob}, 0.5)
	want := tensor.FromSlice([]float64{42 * 101 / 2., 53 * 32 / 2., 3 * 29 / 2., 2})
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("rank %d: %v", r.Rank, r.Err)
		}
		v, err := serde.Unmarshal(r.Value, serde.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := v.(*tensor.Tensor)
		if !ok || !tensor.AllClose(got, want, 0, 1e-3) {
			t.Fatalf("rank %d: got %v, want %v", r.Rank, v, want)
		}
		if r.Stats.BytesSent == 0 || r.Stats.Rounds == 0 {
			t.Errorf("rank %d: no traffic counted: %+v", r.Rank, r.Stats)
		}
	}
}

func TestRunJobFailures(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		timeout time.Duration
		kinds   [][]Kind // per rank, the kinds accepted
		msg     string
		phase   Phase // of every rank's failure
	}{
		{"forbidden", "package main\nimport \"os\"\nfunc f() { os.Exit(3) }", 5 * time.Second,
			[][]Kind{{KindForbidden}, {KindForbidden}}, `import "os"`, PhaseValidate},
		{"panic on rank 1", `package main
import "github.com/gomplab/gomplab/mpc"
func f() (any, error) {
	a, _ := mpc.Load("crypten_data", 0)
	if mpc.Rank() == 1 {
		panic("rank one gives up")
	}
	return a.Mul(a).GetPlainText()
}`, 10 * time.Second, [][]Kind{{KindPeer}, {KindPanic}}, "rank one gives up", PhaseRun},
		{"unknown tag", `package main
import "github.com/gomplab/gomplab/mpc"
func f() (any, error) {
	a, err := mpc.Load("nothing here", 1)
	if err != nil {
		panic(err)
	}
	return a.GetPlainText()
}`, 10 * time.Second, [][]Kind{{KindPanic}, {KindPanic}}, `no object tagged "nothing here"`, PhaseRun},
		{"loop on rank 0", `package main
import "github.com/gomplab/gomplab/mpc"
func f() (any, error) {
	a, _ := mpc.Load("crypten_data", 1)
	for mpc.Rank() == 0 {
	}
	return a.GetPlainText()
}`, time.Second, [][]Kind{{KindTimeout}, {KindTimeout, KindPeer}}, "deadline", PhaseRun},
		{"binary encrypted result", `package main
import "github.com/gomplab/gomplab/mpc"
func f() any { x, _ := mpc.Load("crypten_data", 0); return []any{x.ToBinary()} }`, 10 * time.Second,
			[][]Kind{{KindResult}, {KindResult}}, "ToArithmetic", PhaseCollect},
		{"peer gone, error ignored", `package main
import (
	"errors"
	"github.com/gomplab/gomplab/mpc"
)
func f() (any, error) {
	a, _ := mpc.Load("crypten_data", 0)
	if mpc.Rank() == 1 {
		return nil, errors.New("rank one leaves")
	}
	t, _ := a.Mul(a).Mul(a).GetPlainText()
	return t, nil
}`, 10 * time.Second, [][]Kind{{KindPeer}, {KindError}}, "rank one leaves", PhaseRun},
		{"bad arguments", `package main
func f(n int) int { return n }`, 5 * time.Second, [][]Kind{{KindArgs}, {KindArgs}}, "argument 1", PhaseValidate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stores := []Store{newMapStore("crypten_data", tensor.Ones(2)), newMapStore("crypten_data", tensor.Ones(2))}
			start := time.Now()
			var args []any
			if c.name == "bad arguments" {
				args = []any{"not an int"}
			}
			res := runLocalJob(t, 2, Program{Source: c.src, Entry: "f"}, c.timeout, stores, args...)
			if d := time.Since(start); d > c.timeout+3*time.Second {
				t.Errorf("took %v with a %v timeout", d, c.timeout)
			}
			checkFailed(t, res, c.kinds, c.msg)
			for i, r := range res {
				if r.Err.Phase != c.phase {
					t.Errorf("rank %d failed in phase %q, want %q: %v", i, r.Err.Phase, c.phase, r.Err)
				}
			}
		})
	}
}

func TestRunJobSave(t *testing.T) {
	src := `package main
import "github.com/gomplab/gomplab/mpc"
func f() error {
	a, _ := mpc.Load("x", 0)
	b, _ := mpc.Load("x", 1)
	s, err := a.Add(b).GetPlainText()
	if err != nil {
		return err
	}
	return mpc.Save("sum", s)
}`
	stores := []*mapStore{newMapStore("x", tensor.FromSlice([]float64{1, 2})), newMapStore("x", tensor.FromSlice([]float64{10, 20}))}
	res := runLocalJob(t, 2, Program{Source: src, Entry: "f"}, 10*time.Second, []Store{stores[0], stores[1]})
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for i, s := range stores {
		got, err := s.Load("sum")
		if err != nil || !tensor.AllClose(got, tensor.FromSlice([]float64{11, 22}), 0, 1e-3) {
			t.Fatalf("store %d: sum = %v, %v", i, got, err)
		}
	}
	var e *Error
	if errors.As(error(nil), &e) {
		t.Fatal("unreachable")
	}
}
