package sandbox

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// runChildJob runs prog on n parties, each a child process.
func runChildJob(t *testing.T, n int, prog Program, timeout time.Duration, stores []Store, opts func(rank int, o *ChildOptions)) []Result {
	t.Helper()
	o := make([]ChildOptions, n)
	for r := range o {
		o[r] = childOpts(t)
		if opts != nil {
			opts(r, &o[r])
		}
	}
	job := Job{ID: "child-job", Program: prog, TimeoutMS: timeout.Milliseconds()}
	return runRanks(t, n, job, func(j Job, rv *comm.Rendezvous) Result {
		return RunChild(context.Background(), j, rv, stores[j.Rank], o[j.Rank])
	})
}

func TestRunChildProduct(t *testing.T) {
	alice := newMapStore("crypten_data", tensor.FromSlice([]float64{42, 53, 3, 2}))
	bob := newMapStore("crypten_data", tensor.FromSlice([]float64{101, 32, 29, 2}))
	src := strings.Replace(productSrc, "func product(scale float64)", "func product()", 1)
	src = strings.Replace(src, ".Mul(scale)", "", 1)
	res := runChildJob(t, 2, Program{Source: src, Entry: "product"}, 20*time.Second, []Store{alice, bob}, nil)
	want := tensor.FromSlice([]float64{42 * 101, 53 * 32, 3 * 29, 4})
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("rank %d: %v", r.Rank, r.Err)
		}
		v, err := serde.Unmarshal(r.Value, serde.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := v.(*tensor.Tensor); !ok || !tensor.AllClose(got, want, 0, 1e-2) {
			t.Fatalf("rank %d: got %v, want %v", r.Rank, v, want)
		}
	}
}

func TestRunChildSaveAndPrint(t *testing.T) {
	src := `package main
import (
	"fmt"
	"github.com/gomplab/gomplab/mpc"
)
func f() (any, error) {
	a, err := mpc.Load("x", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("x", 1)
	if err != nil {
		return nil, err
	}
	s, err := a.Add(b).GetPlainText()
	if err != nil {
		return nil, err
	}
	fmt.Println("rank", mpc.Rank(), "done")
	return nil, mpc.Save("sum", s)
}`
	stores := []*mapStore{newMapStore("x", tensor.FromSlice([]float64{1, 2})), newMapStore("x", tensor.FromSlice([]float64{10, 20}))}
	res := runChildJob(t, 2, Program{Source: src, Entry: "f"}, 20*time.Second, []Store{stores[0], stores[1]}, nil)
	for i, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if want := fmt.Sprintf("rank %d done\n", i); r.Output != want {
			t.Errorf("rank %d printed %q, want %q", i, r.Output, want)
		}
		got, err := stores[i].Load("sum")
		if err != nil || !tensor.AllClose(got, tensor.FromSlice([]float64{11, 22}), 0, 1e-3) {
			t.Fatalf("store %d: sum = %v, %v", i, got, err)
		}
	}
}

// TestRunChildFailures: every way a party can fail gives each rank a
// clear, classified error within the deadline.
func TestRunChildFailures(t *testing.T) {
	loadBoth := "\ta, _ := mpc.Load(\"x\", 0)\n\tb, _ := mpc.Load(\"x\", 1)\n"
	cases := []struct {
		name    string
		body    string // body of f, after loading a and b
		timeout time.Duration
		opts    func(rank int, o *ChildOptions)
		kill    bool // kill rank 1's process once it runs
		kinds   [][]Kind
		msg     string
	}{
		{name: "infinite loop", body: "\tfor {\n\t}\n", timeout: 2 * time.Second,
			kinds: [][]Kind{{KindTimeout}, {KindTimeout}}, msg: "deadline"},
		{name: "panic on rank 1", body: "\tif mpc.Rank() == 1 {\n\t\tpanic(\"gave up\")\n\t}\n\treturn a.Mul(b).GetPlainText()\n",
			timeout: 10 * time.Second, kinds: [][]Kind{{KindPeer}, {KindPanic}}, msg: "gave up"},
		{name: "huge allocation", body: "\tif mpc.Rank() == 1 {\n\t\tbig := make([]byte, 1<<40)\n\t\tbig[len(big)-1] = 1\n\t}\n\treturn a.Mul(b).GetPlainText()\n",
			timeout: 10 * time.Second, kinds: [][]Kind{{KindPeer}, {KindMemory}}, msg: "out of memory"},
		{name: "growing allocation", body: "\tvar keep [][]float64\n\tfor mpc.Rank() == 1 {\n\t\tkeep = append(keep, make([]float64, 1<<20))\n\t}\n\treturn a.Mul(b).GetPlainText()\n",
			timeout: 20 * time.Second, opts: func(r int, o *ChildOptions) { o.Limits.AddressSpace = 3 << 30 },
			kinds: [][]Kind{{KindPeer}, {KindMemory}}, msg: "out of memory"},
		{name: "recursion", body: "\tif mpc.Rank() == 1 {\n\t\tdeep(0)\n\t}\n\treturn a.Mul(b).GetPlainText()\n",
			timeout: 20 * time.Second, opts: func(r int, o *ChildOptions) { o.Limits.Stack = 8 << 20 },
			kinds: [][]Kind{{KindPeer}, {KindStack}}, msg: "recursion"},
		{name: "cpu limit", body: "\tx := 0\n\tfor mpc.Rank() == 1 {\n\t\tx++\n\t}\n\treturn a.Mul(b).GetPlainText()\n",
			timeout: 20 * time.Second, opts: func(r int, o *ChildOptions) { o.Limits.CPU = time.Second },
			kinds: [][]Kind{{KindPeer}, {KindCPU}}, msg: "CPU"},
		{name: "killed mid-job", body: "\tfor mpc.Rank() == 1 {\n\t}\n\treturn a.Mul(b).GetPlainText()\n",
			timeout: 20 * time.Second, kill: true, kinds: [][]Kind{{KindPeer}, {KindKilled}}, msg: "killed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "package main\nimport \"github.com/gomplab/gomplab/mpc\"\nfunc deep(n int) int { return deep(n+1) + 1 }\nfunc f() (any, error) {\n" + loadBoth + c.body
			if !strings.Contains(c.body, "return") {
				src += "\treturn nil, nil\n"
			}
			src += "}\n"
			stores := []Store{newMapStore("x", tensor.Ones(3)), newMapStore("x", tensor.Ones(3))}
			opts := c.opts
			if c.kill {
				opts = func(r int, o *ChildOptions) {
					if r == 1 {
						o.Started = func(pid int) {
							time.AfterFunc(500*time.Millisecond, func() { syscall.Kill(pid, syscall.SIGKILL) })
						}
					}
				}
			}
			start := time.Now()
			res := runChildJob(t, 2, Program{Source: src, Entry: "f"}, c.timeout, stores, opts)
			if d := time.Since(start); d > c.timeout+5*time.Second {
				t.Errorf("took %v with a %v timeout", d, c.timeout)
			}
			checkFailed(t, res, c.kinds, c.msg)
			for i, r := range res {
				if r.Err.Phase != PhaseRun {
					t.Errorf("rank %d failed in phase %q, want run: %v", i, r.Err.Phase, r.Err)
				}
			}
		})
	}
}

// TestRunChildSetupPhases: a worker that cannot start a party process
// says so in the phase it failed in, naming the rank and worker.
func TestRunChildSetupPhases(t *testing.T) {
	job := Job{ID: "j", Rank: 1, WorldSize: 2, Worker: "bob", MasterAddr: "127.0.0.1:1", TimeoutMS: 1000,
		Program: Program{Source: "package main\nfunc f() {}", Entry: "f"}}
	for _, c := range []struct {
		name    string
		command []string
		phase   Phase
		msg     string
	}{
		{"no command", nil, PhaseValidate, "no party command"},
		{"missing binary", []string{"/nonexistent/gomplab", "party"}, PhaseStart, "starting the party process"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := RunChild(context.Background(), job, nil, newMapStore(), ChildOptions{Command: c.command})
			e := res.Err
			if e == nil || e.Phase != c.phase || e.Kind != KindSetup || e.Rank != 1 || e.Worker != "bob" || !strings.Contains(e.Msg, c.msg) {
				t.Fatalf("got %+v, want a setup failure of rank 1 (bob) in phase %s naming %q", e, c.phase, c.msg)
			}
		})
	}
}
