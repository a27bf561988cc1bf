package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// ownerStore is a worker store as mpc.TaggedStore sees one: tags in
// private are restricted; saves record whether the saving party was.
type ownerStore struct {
	mu      sync.Mutex
	data    map[string]*tensor.Tensor
	private map[string]bool
	saved   map[string]bool
}

func newOwnerStore(tag string, t *tensor.Tensor, private bool) *ownerStore {
	s := &ownerStore{data: map[string]*tensor.Tensor{}, private: map[string]bool{}, saved: map[string]bool{}}
	if t != nil {
		s.data[tag], s.private[tag] = t, private
	}
	return s
}

func (s *ownerStore) Load(tag string) (*tensor.Tensor, error) {
	t, _, err := s.LoadTagged(tag)
	return t, err
}

func (s *ownerStore) LoadTagged(tag string) (*tensor.Tensor, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data[tag]
	if !ok {
		return nil, false, fmt.Errorf("no object tagged %q", tag)
	}
	return t, s.private[tag], nil
}

func (s *ownerStore) Save(tag string, t *tensor.Tensor) error { return s.SaveTagged(tag, t, false) }

func (s *ownerStore) SaveTagged(tag string, t *tensor.Tensor, restricted bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[tag], s.saved[tag] = t, restricted
	return nil
}

const restrictionSrc = `package main

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

func reveal() (any, error) {
	x, err := mpc.Load("x", 0)
	if err != nil {
		return nil, err
	}
	return x.GetPlainText()
}

func back() (any, error) {
	x, err := mpc.Load("x", 0)
	if err != nil {
		return nil, err
	}
	return []any{x.Mul(2), "done"}, nil
}

func save() (any, error) {
	x, err := mpc.Load("x", 0)
	if err != nil {
		return nil, err
	}
	t, err := x.GetPlainTextTo(1)
	if err != nil {
		return nil, err
	}
	fmt.Println("rank", mpc.Rank(), "holds", t)
	if mpc.Rank() == 1 {
		return nil, mpc.Save("y", t)
	}
	return nil, nil
}
`

// TestPartyRestriction runs jobs on the worker's two party runners,
// in-process (RunJobWith) and child processes (RunChild), with rank 0's
// data restricted and each worker's Restriction: reveals follow the
// policy, encrypted results come back as shares the requester combines,
// a restricted party's save is recorded as restricted, and what the
// policy does not return to the requester (values, printed output) is
// withheld.
func TestPartyRestriction(t *testing.T) {
	x := tensor.FromSlice([]float64{1.5, -31.25, 7})
	requester := &mpc.RevealPolicy{Request: "r-t", Recipients: []string{"requester"}}
	toRank1 := &mpc.RevealPolicy{Request: "r-t", Recipients: []string{"party:1"}}
	runners := map[string]func(t *testing.T, job Job, stores []Store, r Restriction) []Result{
		"in-process": func(t *testing.T, job Job, stores []Store, r Restriction) []Result {
			return runRanks(t, 2, job, func(j Job, rv *comm.Rendezvous) Result {
				return RunJobWith(context.Background(), j, rv, stores[j.Rank], PartyOptions{Restriction: r})
			})
		},
		"child": func(t *testing.T, job Job, stores []Store, r Restriction) []Result {
			return runRanks(t, 2, job, func(j Job, rv *comm.Rendezvous) Result {
				o := childOpts(t)
				o.Restriction = r
				return RunChild(context.Background(), j, rv, stores[j.Rank], o)
			})
		},
	}
	for name, run := range runners {
		t.Run(name, func(t *testing.T) {
			job := func(entry string) Job {
				return Job{ID: "job-" + entry, Program: Program{Source: restrictionSrc, Entry: entry}, TimeoutMS: 30000}
			}
			stores := func() []Store { return []Store{newOwnerStore("x", x, true), newOwnerStore("", nil, false)} }

			// Revealing to every party is not approved.
			for _, r := range run(t, job("reveal"), stores(), Restriction{Policy: requester}) {
				if r.Err == nil || r.Err.Kind != KindRefused || !strings.Contains(r.Err.Msg, "revealing to all parties is not approved: request r-t") {
					t.Errorf("reveal rank %d: %v", r.Rank, r.Err)
				}
			}
			// Encrypted results go back as shares, and add up.
			res := run(t, job("back"), stores(), Restriction{Policy: requester})
			values := make([]any, len(res))
			for i, r := range res {
				if r.Err != nil {
					t.Fatalf("back rank %d: %v", i, r.Err)
				}
				values[i], _ = serde.Unmarshal(r.Value, serde.Limits{})
			}
			out, err := CombineShares("job-back", values)
			if err != nil {
				t.Fatal(err)
			}
			if got := out[1].([]any)[0].(*tensor.Tensor); !tensor.AllClose(got, x.MulScalar(2), 0, 1e-3) {
				t.Errorf("combined %v, want %v", got, x.MulScalar(2))
			}
			// Without "requester" the shares stay.
			for _, r := range run(t, job("back"), stores(), Restriction{Policy: toRank1}) {
				if r.Err == nil || r.Err.Kind != KindRefused || len(r.Value) > 0 {
					t.Errorf("back without requester rank %d: %v", r.Rank, r.Err)
				}
			}
			// Revealed to rank 1 (approved) and saved there: the save is
			// restricted, and the printed value does not reach the
			// requester.
			st := stores()
			for _, r := range run(t, job("save"), st, Restriction{Policy: toRank1}) {
				if strings.Contains(r.Output, "31.25") || r.Err == nil || !strings.Contains(r.Err.Msg, "returning results to the requester is not approved") {
					t.Errorf("save rank %d: output %q, error %v", r.Rank, r.Output, r.Err)
				}
			}
			if restricted, ok := st[1].(*ownerStore).saved["y"]; !ok || !restricted {
				t.Errorf("rank 1's save: saved %v, restricted %v", ok, restricted)
			}
			// A plan's outputs are revealed to every party: refused
			// under "requester", allowed under "all-parties".
			pl, err := plan.Trace("double", func(b *plan.Builder) *plan.Placeholder { return b.Load("x", 0, 3).Add(b.Load("x", 0, 3)) })
			if err != nil {
				t.Fatal(err)
			}
			enc, err := pl.Encode()
			if err != nil {
				t.Fatal(err)
			}
			planJob := Job{ID: "job-plan", Plan: enc, TimeoutMS: 30000}
			for _, r := range run(t, planJob, stores(), Restriction{Policy: requester}) {
				if r.Err == nil || r.Err.Kind != KindRefused || !strings.Contains(r.Err.Msg, "revealing to all parties is not approved") {
					t.Errorf("plan rank %d: %v", r.Rank, r.Err)
				}
			}
			for _, r := range run(t, planJob, stores(), Restriction{Policy: &mpc.RevealPolicy{Request: "r-t", Recipients: []string{"all-parties", "requester"}}}) {
				v, _ := serde.Unmarshal(r.Value, serde.Limits{})
				if list, ok := v.([]any); r.Err != nil || !ok || !tensor.AllClose(list[0].(*tensor.Tensor), x.MulScalar(2), 0, 1e-3) {
					t.Errorf("approved plan rank %d: %v %v", r.Rank, v, r.Err)
				}
			}
			// The control: with the requester named, the output returns.
			found := false
			for _, r := range run(t, job("save"), stores(), Restriction{Policy: &mpc.RevealPolicy{Request: "r-t", Recipients: []string{"party:1", "requester"}}}) {
				found = found || strings.Contains(r.Output, "31.25")
			}
			if !found {
				t.Error("with the requester named, rank 1's output did not come back")
			}
		})
	}
}
