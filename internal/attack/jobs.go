package attack

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/store"
)

// PendingEnv, set to 1, runs the attacks marked pending too (they fail
// while the rule they wait for has not landed, showing the leak).
const PendingEnv = "GOMPLAB_ATTACK_PENDING"

// skipPending skips a case that waits for a rule still being built,
// naming it, unless PendingEnv asks to run it.
func skipPending(t *testing.T, rule string) {
	if rule == "" || os.Getenv(PendingEnv) == "1" {
		return
	}
	pendingMu.Lock()
	pending = append(pending, t.Name()+"\n      waits for "+rule)
	pendingMu.Unlock()
	t.Skipf("PENDING (%s): this attack still finds a leak on main; run it with %s=1", rule, PendingEnv)
}

var (
	pendingMu sync.Mutex
	pending   []string
)

// Pending lists the attacks skipped as pending so far, each with the
// rule it waits for (TestMain prints them, so that no skip is silent).
func Pending() []string {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	return slices.Clone(pending)
}

// RunJob runs src's entry as an MPC job on ws (rank i on ws[i]), through
// syft as a data scientist would, and records in e every rank's value,
// printed output and error. It returns the job's error: the refusal.
func RunJob(e *Evidence, ws []syft.Worker, src, entry string, args ...any) error {
	return RunSyftJob(e, &syft.Job{Workers: ws, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(src, entry), Args: args, Timeout: 60 * time.Second})
}

// RunSyftJob is RunJob for a job built by the caller (declared loads,
// recipients, a note: what a request binds).
func RunSyftJob(e *Evidence, j *syft.Job) error {
	res, err := j.Run(context.Background())
	e.AddErr("job error", err)
	if res != nil {
		for _, r := range res.Ranks {
			where := fmt.Sprintf("rank %d (%s)", r.Rank, r.Worker)
			e.AddValue(where+" value", r.Value)
			e.Add(where+" output", []byte(r.Output))
			e.AddErr(where+" error", r.Err)
		}
	}
	return err
}

// AddValue records a value a job, plan or round returned: its text, and
// every number in it as derived (tensors, models' weights, lists, maps).
func (e *Evidence) AddValue(where string, v any) {
	switch v := v.(type) {
	case nil:
		return
	case *tensor.Tensor:
		e.AddTensor(where, v)
		return
	case *nn.Model:
		if sd, err := v.StateDict(); err == nil {
			for k, t := range sd {
				e.AddTensor(where+" "+k, t)
			}
		}
		return
	case float64:
		e.Derived(where, v)
	case float32:
		e.Derived(where, float64(v))
	case int64:
		e.Derived(where, float64(v))
	case []byte:
		e.Add(where, v)
	case string:
		e.Add(where, []byte(v))
	case []any:
		for i, x := range v {
			e.AddValue(fmt.Sprintf("%s[%d]", where, i), x)
		}
	case map[string]any:
		for k, x := range v {
			e.AddValue(where+"."+k, x)
		}
	}
	e.AddText(where, v)
}

// RawJob is a job.start's job for worker id, as an orchestrator would
// send it: authenticated with a fresh job secret, rank 0 of size one
// unless changed.
func RawJob(src, entry string, args ...any) sandbox.Job {
	secret := make([]byte, comm.MinSecret)
	rand.Read(secret)
	a, err := serde.Marshal(args)
	if err != nil {
		panic(err)
	}
	return sandbox.Job{ID: store.NewID(), WorldSize: 1, Program: sandbox.Program{Source: src, Entry: entry},
		Args: a, TimeoutMS: 30000, SetupTimeoutMS: 10000, Link: sandbox.Link{Secret: secret}}
}

// StartRaw sends cl a job.start for j: the refusal (an error, or the
// reply's refusal), or nil if the worker started the party.
func StartRaw(e *Evidence, cl *workers.Client, j sandbox.Job) error {
	_, err := StartRawAt(e, cl, j)
	return err
}

// StartRawAt is StartRaw that also returns where the job's parties meet
// (rank 0's rendezvous, which the other ranks' job.start name).
func StartRawAt(e *Evidence, cl *workers.Client, j sandbox.Job) (string, error) {
	var rep jobs.StartReply
	err := cl.Call(context.Background(), jobs.MsgStart, &jobs.StartRequest{Job: j, MasterHost: "127.0.0.1"}, &rep)
	e.AddText("job.start reply", rep)
	if err != nil {
		return "", err
	}
	if rep.Refused != nil {
		return "", rep.Refused
	}
	return rep.MasterAddr, nil
}

// WaitRaw collects job id's result from cl (job.wait until it is done),
// recording it in e; it returns the result's error, or the wait's.
func WaitRaw(e *Evidence, cl *workers.Client, id string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var rep jobs.WaitReply
		if err := cl.Call(context.Background(), jobs.MsgWait, &jobs.WaitRequest{JobID: id, WaitMS: 2000}, &rep); err != nil {
			return err
		}
		if !rep.Done || rep.Result == nil {
			continue
		}
		r := rep.Result
		e.Add("job.wait output", []byte(r.Output))
		if len(r.Value) > 0 {
			if v, err := serde.Unmarshal(r.Value, serde.Limits{}); err == nil {
				e.AddValue("job.wait value", v)
			}
			e.Add("job.wait value bytes", r.Value)
		}
		if r.Err != nil {
			e.AddErr("job.wait error", r.Err)
			return r.Err
		}
		return nil
	}
	return fmt.Errorf("job %s: not done after 60 s", id)
}
