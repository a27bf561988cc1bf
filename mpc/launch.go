package mpc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/tensor"
)

// PartyFunc is the program every party runs: the same function on every
// rank, told apart by p.Rank().
type PartyFunc func(p *Party) (any, error)

// Result is what one rank of a launched computation produced.
type Result struct {
	Rank    int
	Value   any                    // the function's value (a *tensor.Tensor stays one)
	Err     error                  // the function's error, a recovered *Error panic, or the party's failure to communicate (Party.Err)
	Stats   comm.Counts            // traffic of the whole run, setup included
	ByOp    map[string]comm.Counts // traffic per outermost operation
	Elapsed time.Duration          // wall time of the function (setup excluded)
}

// runParty runs fn on a party over c, recovering panics into the result.
func runParty(c comm.Comm, fn PartyFunc, opts []Option) (res Result) {
	res.Rank = c.Rank()
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				res.Err = e
			} else {
				res.Err = fmt.Errorf("mpc: party %d panicked: %v\n%s", c.Rank(), r, debug.Stack())
			}
		}
		res.Stats = c.Stats().Total()
		res.ByOp = c.Stats().ByOp()
		if res.Err != nil {
			// Peers blocked on this party must fail too, not hang.
			c.Close()
		}
	}()
	p, err := NewParty(c, opts...)
	if err != nil {
		res.Err = err
		return res
	}
	defer p.Close()
	start := time.Now()
	res.Value, res.Err = fn(p)
	res.Elapsed = time.Since(start)
	if p.g.failed != nil && res.Err == nil {
		// fn went on past a failure to communicate without checking
		// (see Party.Err): its value is meaningless.
		res.Value, res.Err = nil, p.g.failed
	}
	return res
}

// joinErrors returns the failures of results, each naming its rank.
func joinErrors(results []Result) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			var me *Error
			if errors.As(r.Err, &me) {
				errs = append(errs, r.Err)
			} else {
				errs = append(errs, fmt.Errorf("party %d: %w", r.Rank, r.Err))
			}
		}
	}
	return errors.Join(errs...)
}

// RunLocal runs fn on n parties as goroutines over the in-memory
// transport and returns every rank's result, and an error joining the
// ranks' failures.
func RunLocal(n int, fn PartyFunc, opts ...Option) ([]Result, error) {
	if n < 1 {
		return nil, fmt.Errorf("mpc: RunLocal with %d parties", n)
	}
	var po partyOptions
	for _, f := range opts {
		f(&po)
	}
	cs := comm.NewMemWorld(n, po.ttp)
	results := make([]Result, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[r] = runParty(cs[r], fn, opts)
		}()
	}
	var dealerErr error
	if po.ttp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dealerErr = provider.ServeTrustedThirdParty(cs[n])
			cs[n].Close()
		}()
	}
	wg.Wait()
	err := joinErrors(results)
	if dealerErr != nil {
		err = errors.Join(err, fmt.Errorf("trusted third party: %w", dealerErr))
	}
	return results, err
}

// ---- parties as processes ----

var (
	registryMu sync.Mutex
	registry   = map[string]PartyFunc{}
)

// RegisterParty names fn so that child processes started by RunProcesses
// can find it. Register in an init function (or before
// RunChildIfRequested), in the binary that RunProcesses re-executes.
func RegisterParty(name string, fn PartyFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("mpc: party function %q registered twice", name))
	}
	registry[name] = fn
}

// Environment of a party child process (besides comm's RANK etc.).
const (
	envPartyFunc = "GOMPLAB_MPC_PARTY"
	envResultFD  = "GOMPLAB_MPC_RESULT_FD"
	// EnvProvider names the provider of a party process (see
	// ProviderOption); the trusted third party is selected by comm.EnvTTP.
	EnvProvider = "GOMPLAB_MPC_PROVIDER"
	// EnvDelay, a Go duration, delays every message a party process sends
	// by that much (comm.Delayed), as a wide-area link would.
	EnvDelay = "GOMPLAB_MPC_DELAY"
)

// RunChildIfRequested turns this process into an MPC party when it was
// started by RunProcesses: it joins the mesh, runs the registered
// function, reports the result to the parent, and exits. Otherwise it
// returns at once. Call it early in main (or TestMain).
func RunChildIfRequested() {
	name := os.Getenv(envPartyFunc)
	if name == "" {
		return
	}
	os.Exit(runChild(name))
}

// wireResult is a Result as a child sends it to its parent.
type wireResult struct {
	Rank      int                    `json:"rank"`
	Tensor    *wireTensor            `json:"tensor,omitempty"`
	Value     json.RawMessage        `json:"value,omitempty"`
	Err       string                 `json:"error,omitempty"`
	Stats     comm.Counts            `json:"stats"`
	ByOp      map[string]comm.Counts `json:"by_op"`
	ElapsedNS int64                  `json:"elapsed_ns"`
}

type wireTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func runChild(name string) int {
	registryMu.Lock()
	fn := registry[name]
	registryMu.Unlock()
	out := os.Stdout
	if fd, err := strconv.Atoi(os.Getenv(envResultFD)); err == nil && fd > 2 {
		out = os.NewFile(uintptr(fd), "result")
	}
	report := func(w wireResult) int {
		b, _ := json.Marshal(w)
		bw := bufio.NewWriter(out)
		bw.Write(b)
		bw.WriteByte('\n')
		bw.Flush()
		if w.Err != "" {
			return 1
		}
		return 0
	}
	rank, _ := strconv.Atoi(os.Getenv(comm.EnvRank))
	if fn == nil {
		return report(wireResult{Rank: rank, Err: fmt.Sprintf("mpc: no party function registered as %q", name)})
	}
	c, err := comm.DialEnv(context.Background())
	if err != nil {
		return report(wireResult{Rank: rank, Err: fmt.Sprintf("mpc: party %d: joining the mesh: %v", rank, err)})
	}
	if v := os.Getenv(EnvDelay); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			c.Close()
			return report(wireResult{Rank: rank, Err: fmt.Sprintf("mpc: %s=%q: want a non-negative duration such as 20ms", EnvDelay, v)})
		}
		c = comm.Delayed(c, d)
	}
	var opts []Option
	if v := os.Getenv(comm.EnvTTP); v == "1" || v == "true" {
		if c.Rank() == c.Size() {
			err := provider.ServeTrustedThirdParty(c)
			c.Close()
			w := wireResult{Rank: rank, Stats: c.Stats().Total()}
			if err != nil {
				w.Err = fmt.Sprintf("mpc: trusted third party: %v", err)
			}
			return report(w)
		}
		opts = append(opts, TrustedThirdParty())
	} else if name := os.Getenv(EnvProvider); name != "" {
		o, err := ProviderOption(name)
		if err != nil {
			c.Close()
			return report(wireResult{Rank: rank, Err: err.Error()})
		}
		opts = append(opts, o)
	}
	res := runParty(c, fn, opts)
	w := wireResult{Rank: res.Rank, Stats: res.Stats, ByOp: res.ByOp, ElapsedNS: int64(res.Elapsed)}
	if res.Err != nil {
		w.Err = res.Err.Error()
	}
	switch v := res.Value.(type) {
	case nil:
	case *tensor.Tensor:
		if v != nil { // a nil tensor, usually beside an error, sends nothing
			w.Tensor = &wireTensor{Shape: v.Shape(), Data: v.Data()}
		}
	default:
		b, err := json.Marshal(v)
		if err != nil && w.Err == "" {
			w.Err = fmt.Sprintf("mpc: party %d: result of type %T cannot be sent to the parent: %v", rank, v, err)
		}
		w.Value = b
	}
	return report(w)
}

// ProcessOptions configures RunProcesses.
type ProcessOptions struct {
	// Args are the child's command-line arguments after the program name:
	// what makes the re-executed binary reach RunChildIfRequested (for a
	// test binary, "-test.run=^$" is added automatically when Args is nil).
	Args []string
	// Env is added to the children's environment.
	Env []string
	// Timeout kills the children after this long (0: no limit).
	Timeout time.Duration
	// Stderr receives the children's standard error (default os.Stderr).
	Stderr *os.File
	// TTP adds a trusted third party process (rank n) that deals the
	// correlated randomness, instead of rank 0.
	TTP bool
	// Provider names the parties' provider (ProviderOption's names);
	// ProviderDealer is the same as TTP.
	Provider string
	// Delay delays every message by this much (comm.Delayed): a one-way
	// network delay on loopback.
	Delay time.Duration
}

// RunProcesses runs the function registered as name on n parties, each a
// child process re-executing this binary (os.Executable), connected by the
// TCP mesh on loopback. It returns every rank's result (values decoded
// from JSON, tensors as *tensor.Tensor) and an error joining the ranks'
// failures.
func RunProcesses(n int, name string, opt ProcessOptions) ([]Result, error) {
	if n < 1 {
		return nil, fmt.Errorf("mpc: RunProcesses with %d parties", n)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("mpc: finding this executable: %w", err)
	}
	switch opt.Provider {
	case ProviderDealer, "ttp", "trusted-third-party":
		opt.TTP = true
	case "":
	default:
		if _, err := ProviderOption(opt.Provider); err != nil {
			return nil, err
		}
		opt.Env = append(append([]string(nil), opt.Env...), EnvProvider+"="+opt.Provider)
	}
	if opt.Delay > 0 {
		opt.Env = append(append([]string(nil), opt.Env...), EnvDelay+"="+opt.Delay.String())
	}
	args := opt.Args
	if args == nil && isTestBinary() {
		args = []string{"-test.run=^$"}
	}
	job, err := comm.NewLocalJob(n, opt.TTP)
	if err != nil {
		return nil, err
	}
	procs := job.Parties()
	defer job.Close()
	ctx := context.Background()
	if opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Timeout)
		defer cancel()
	}
	type child struct {
		cmd  *exec.Cmd
		pipe *os.File
	}
	children := make([]child, procs)
	results := make([]Result, procs)
	for r := 0; r < procs; r++ {
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env = append(os.Environ(), opt.Env...)
		cmd.Env = append(cmd.Env, envPartyFunc+"="+name)
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if opt.Stderr != nil {
			cmd.Stdout, cmd.Stderr = opt.Stderr, opt.Stderr
		}
		if err := job.Prepare(cmd, r); err != nil {
			return nil, err
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, pw)
		cmd.Env = append(cmd.Env, envResultFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
		if err := cmd.Start(); err != nil {
			pr.Close()
			pw.Close()
			for _, c := range children[:r] {
				c.cmd.Process.Kill()
			}
			return nil, fmt.Errorf("mpc: starting party %d: %w", r, err)
		}
		pw.Close()
		children[r] = child{cmd, pr}
	}
	job.Close()
	var wg sync.WaitGroup
	for r := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := children[r]
			line, _ := bufio.NewReader(c.pipe).ReadBytes('\n')
			c.pipe.Close()
			werr := c.cmd.Wait()
			results[r] = decodeChild(r, line, werr)
		}()
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].Rank < results[j].Rank })
	err = joinErrors(results)
	// The dealer's result is not a party's: report only its failure.
	return results[:n], err
}

func decodeChild(rank int, line []byte, waitErr error) Result {
	res := Result{Rank: rank}
	var w wireResult
	if len(line) == 0 || json.Unmarshal(line, &w) != nil {
		res.Err = fmt.Errorf("mpc: party %d exited without a result (%v)", rank, waitErr)
		return res
	}
	res.Stats, res.ByOp, res.Elapsed = w.Stats, w.ByOp, time.Duration(w.ElapsedNS)
	if w.Err != "" {
		res.Err = errors.New(w.Err)
	}
	if w.Tensor != nil {
		t, err := tensor.New(w.Tensor.Data, w.Tensor.Shape...)
		if err != nil {
			res.Err = errors.Join(res.Err, fmt.Errorf("mpc: party %d sent a bad tensor: %w", rank, err))
		}
		res.Value = t
	} else if len(w.Value) > 0 {
		var v any
		json.Unmarshal(w.Value, &v)
		res.Value = v
	}
	return res
}

// isTestBinary reports whether this is a Go test binary (its flags are
// registered under the "test." prefix).
func isTestBinary() bool {
	for _, a := range os.Args[1:] {
		if len(a) > 6 && (a[:6] == "-test." || a[:7] == "--test.") {
			return true
		}
	}
	return len(os.Args) > 0 && len(os.Args[0]) > 5 && os.Args[0][len(os.Args[0])-5:] == ".test"
}
