package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

const encryptedResultSrc = `package main

import "github.com/gomplab/gomplab/mpc"

func f() (any, error) {
	x, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	y := x.Mul(x)
	return []any{x, map[string]any{"square": y, "n": 2}, []*mpc.CrypTensor{x.Add(1)}, "plain"}, nil
}
`

// testJob is the job id of the parties runEncrypted starts.
const testJob = "test-job"

// runEncrypted runs prog on two parties in jails, as a job of id testJob,
// with the stores given and the parties' options, and returns each rank's
// outcome (its error, or its value after the trip to the requester).
func runEncrypted(t *testing.T, prog Program, stores []Store, opts ...mpc.Option) []mpc.Result {
	t.Helper()
	res, _ := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		if s := stores[p.Rank()]; s != nil {
			mpc.SetStore(p, s)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		v, err := Run(ctx, prog, nil, Env{Party: p, JobID: testJob})
		if err != nil {
			return nil, err
		}
		b, err := serde.Marshal(v)
		if err != nil {
			return nil, err
		}
		return serde.Unmarshal(b, serde.Limits{})
	}, opts...)
	return res
}

// decodedValues is runEncrypted's values, every rank having succeeded.
func decodedValues(t *testing.T, prog Program, stores []Store) []any {
	t.Helper()
	values := []any{}
	for _, r := range runEncrypted(t, prog, stores) {
		if r.Err != nil {
			t.Fatalf("rank %d: %v", r.Rank, r.Err)
		}
		values = append(values, r.Value)
	}
	return values
}

// TestEncryptedResults: a job returns encrypted tensors, alone or inside
// lists and maps; each rank's result holds only its share (which decodes
// to noise), and CombineShares rebuilds every value exactly.
func TestEncryptedResults(t *testing.T) {
	x := tensor.FromSlice([]float64{1.5, -2.25, 313.125})
	stores := []Store{newMapStore("crypten_data", x), newMapStore()}
	values := decodedValues(t, Program{Source: encryptedResultSrc, Entry: "f"}, stores)
	for r, v := range values {
		if strings.Contains(fmt.Sprint(v), "313.125") {
			t.Fatalf("rank %d's result shows the value: %v", r, v)
		}
		one, err := CombineShares(testJob, []any{v}) // a single share is noise
		if err == nil {
			if got := one[0].([]any)[0].(*tensor.Tensor); tensor.AllClose(got, x, 0, 1) {
				t.Fatalf("rank %d's share alone decodes to the value", r)
			}
		}
	}
	out, err := CombineShares(testJob, values)
	if err != nil {
		t.Fatal(err)
	}
	for r, v := range out {
		list := v.([]any)
		square := list[1].(map[string]any)["square"].(*tensor.Tensor)
		checks := []struct {
			got, want *tensor.Tensor
			tol       float64
		}{
			{list[0].(*tensor.Tensor), x, 0},
			{square, x.Mul(x), 0.1},
			{list[2].([]any)[0].(*tensor.Tensor), x.AddScalar(1), 0},
		}
		for i, c := range checks {
			if !tensor.AllClose(c.got, c.want, 0, c.tol+1e-4) {
				t.Errorf("rank %d value %d: %v, want %v", r, i, c.got, c.want)
			}
		}
		if list[3] != "plain" || list[1].(map[string]any)["n"] != int64(2) {
			t.Errorf("rank %d: plain parts changed: %v", r, list)
		}
	}
}

// TestCombineSharesRefuses: shares that do not all match are not added.
func TestCombineSharesRefuses(t *testing.T) {
	stores := []Store{newMapStore("crypten_data", tensor.Ones(3)), newMapStore()}
	values := decodedValues(t, Program{Source: encryptedResultSrc, Entry: "f"}, stores)
	mark := func(v any) map[string]any { return v.([]any)[0].(map[string]any)[shareKey].(map[string]any) }
	cases := []struct {
		name  string
		job   string
		alter func(vs []any)
		msg   string
	}{
		{"missing rank", testJob, func(vs []any) { vs[1] = nil }, "rank 1 returned no share"},
		{"other job", "j2", func([]any) {}, `share is of job "test-job", not "j2"`},
		{"swapped ranks", testJob, func(vs []any) { vs[0], vs[1] = vs[1], vs[0] }, "marked rank 1 of 2"},
		{"shape", testJob, func(vs []any) { mark(vs[1])["shape"] = []any{int64(1), int64(3)} }, "differs from rank 0's"},
		{"short share", testJob, func(vs []any) { mark(vs[1])["share"] = []byte{1, 2, 3} }, "without its words"},
		{"renumbered", testJob, func(vs []any) { mark(vs[1])["seq"] = int64(2) }, "two shares numbered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := make([]any, len(values))
			for i, v := range values { // a deep copy through serde
				b, _ := serde.Marshal(v)
				vs[i], _ = serde.Unmarshal(b, serde.Limits{})
			}
			c.alter(vs)
			if _, err := CombineShares(c.job, vs); err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want one containing %q", err, c.msg)
			}
		})
	}
}

// restrictingStore is a TaggedStore whose tensors are all restricted.
type restrictingStore struct{ *mapStore }

func (s restrictingStore) LoadTagged(tag string) (*tensor.Tensor, bool, error) {
	t, err := s.Load(tag)
	return t, true, err
}

func (s restrictingStore) SaveTagged(tag string, t *tensor.Tensor, _ bool) error {
	return s.Save(tag, t)
}

// TestEncryptedResultsGated: on a restricted party, returning an
// encrypted value needs the reveal policy to name the requester.
func TestEncryptedResultsGated(t *testing.T) {
	// A party without a policy: refused on every rank.
	stores := []Store{restrictingStore{newMapStore("crypten_data", tensor.Ones(2))}, nil}
	for _, r := range runEncrypted(t, Program{Source: encryptedResultSrc, Entry: "f"}, stores) {
		if KindOf(r.Err) != KindRefused || !strings.Contains(r.Err.Error(), "returning results to the requester is not approved: this party computes on private data and runs under no approved request") {
			t.Errorf("rank %d: %v", r.Rank, r.Err)
		}
	}

	for _, c := range []struct {
		recipients []string
		ok         bool
	}{{[]string{"requester"}, true}, {[]string{"all-parties"}, false}} {
		res := runEncrypted(t, Program{Source: encryptedResultSrc, Entry: "f"}, stores,
			mpc.WithRevealPolicy(mpc.RevealPolicy{Request: "r-1", Recipients: c.recipients}))
		var err error
		for _, r := range res {
			err = errors.Join(err, r.Err)
		}
		if c.ok {
			if err != nil {
				t.Fatalf("%v: %v", c.recipients, err)
			}
			vs := []any{res[0].Value, res[1].Value}
			if _, err := CombineShares(testJob, vs); err != nil {
				t.Fatalf("%v: %v", c.recipients, err)
			}
			continue
		}
		for _, r := range res {
			if r.Err == nil || KindOf(r.Err) != KindRefused || !errors.Is(r.Err, &Error{Kind: KindRefused}) ||
				!strings.Contains(r.Err.Error(), "names recipients [all-parties]; ask the owners to approve requester") {
				t.Errorf("%v rank %d: %v", c.recipients, r.Rank, r.Err)
			}
		}
	}
}

// TestRefusalsAndGate: a refusal reaches the requester as the engine's
// text alone, whatever the program wrapped around it; and GateResult
// withholds from a restricted party's result everything the program
// could have written, unless the policy names the requester.
func TestRefusalsAndGate(t *testing.T) {
	const secretSrc = `package main

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

func wrap() (any, error) {
	x, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	_, err = x.GetPlainText()
	return nil, fmt.Errorf("SECRET-%d: %w", 42, err)
}

func must() any {
	x, _ := mpc.Load("crypten_data", 0)
	return x.MustPlainText()
}

func talk() (any, error) {
	x, _ := mpc.Load("crypten_data", 0)
	t, err := x.GetPlainTextTo(0)
	fmt.Println("SECRET printed", t)
	if mpc.Rank() == 0 {
		return nil, fmt.Errorf("SECRET %v", t)
	}
	return "SECRET value", err
}
`
	run := func(entry string, recipients []string) []mpc.Result {
		res, _ := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
			if p.Rank() == 0 {
				mpc.SetStore(p, restrictingStore{newMapStore("crypten_data", tensor.Ones(2))})
			}
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			v, err := Run(ctx, Program{Source: secretSrc, Entry: entry}, nil, Env{Party: p, Stdout: &out})
			r := Result{Rank: p.Rank(), Output: out.String()}
			if err != nil {
				r.Err = err.(*Error)
			} else {
				r.Value, _ = serde.Marshal(v)
			}
			GateResult(p, &r)
			return r, nil
		}, mpc.WithRevealPolicy(mpc.RevealPolicy{Request: "r-g", Recipients: recipients}))
		return res
	}
	for _, entry := range []string{"wrap", "must"} {
		for _, rr := range run(entry, []string{"requester"}) {
			r := rr.Value.(Result)
			if r.Err == nil || r.Err.Kind != KindRefused || strings.Contains(r.Err.Error(), "SECRET") ||
				!strings.Contains(r.Err.Msg, "mpc: party "+fmt.Sprint(rr.Rank)+": GetPlainText: revealing to all parties is not approved: request r-g") {
				t.Errorf("%s rank %d: %v", entry, rr.Rank, r.Err)
			}
		}
	}
	// Revealed to party 0 (approved), but the requester is not a
	// recipient: nothing the program wrote comes back.
	for _, rr := range run("talk", []string{"party:0"}) {
		r := rr.Value.(Result)
		all := fmt.Sprintf("%v %q %q", r.Err, r.Output, r.Value)
		if strings.Contains(all, "SECRET") || r.Err == nil || !strings.Contains(r.Err.Msg, "returning results to the requester is not approved") {
			t.Errorf("rank %d: %s", rr.Rank, all)
		}
	}
	// The control: with the requester named, the same job's output comes
	// back.
	for _, rr := range run("talk", []string{"party:0", "requester"}) {
		r := rr.Value.(Result)
		if all := fmt.Sprintf("%v %q %q", r.Err, r.Output, r.Value); !strings.Contains(all, "SECRET") {
			t.Errorf("control rank %d: %s", rr.Rank, all)
		}
	}
}

// TestEncryptedResultsNeedAJob: a run outside a job (no job id) cannot
// return an encrypted value: nobody could combine its shares.
func TestEncryptedResultsNeedAJob(t *testing.T) {
	res, _ := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		src := "package main\nimport \"github.com/gomplab/gomplab/mpc\"\nfunc f() any { return []any{mpc.Zeros(2)} }"
		return Run(ctx, Program{Source: src, Entry: "f"}, nil, Env{Party: p})
	})
	for _, r := range res {
		if KindOf(r.Err) != KindResult || !strings.Contains(r.Err.Error(), "decrypt it with GetPlainText()") {
			t.Errorf("rank %d: %v", r.Rank, r.Err)
		}
	}
}
