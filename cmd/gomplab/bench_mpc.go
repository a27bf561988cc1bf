package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/tensor"
	"github.com/spf13/cobra"
)

// cryptenRef is CrypTen's figure for a workload (shared/anchors/crypten-cpu.md).
type cryptenRef struct {
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	Rounds  int64   `json:"rounds"`
	Error   float64 `json:"max_abs_error"`
}

// mpcWorkload is one row of `gomplab bench mpc`: inputs are drawn from
// fixed seeds, so every party and the plaintext reference agree on them.
type mpcWorkload struct {
	name   string
	ref    cryptenRef
	inputs func() []*tensor.Tensor
	enc    func(p *mpc.Party, in []*tensor.Tensor) []*mpc.CrypTensor // untimed
	op     func(x []*mpc.CrypTensor) *mpc.CrypTensor                 // timed
	plain  func(in []*tensor.Tensor) *tensor.Tensor
}

func twoOperands(p *mpc.Party, in []*tensor.Tensor) []*mpc.CrypTensor {
	return []*mpc.CrypTensor{p.Encrypt(in[0], 0), p.Encrypt(in[1], 1%p.WorldSize())}
}

func oneOperand(p *mpc.Party, in []*tensor.Tensor) []*mpc.CrypTensor {
	return []*mpc.CrypTensor{p.Encrypt(in[0], 0)}
}

func unary(name string, lo, hi float64, n int, ref cryptenRef, op func(x *mpc.CrypTensor) *mpc.CrypTensor, f func(float64) float64) mpcWorkload {
	return mpcWorkload{
		name:   name,
		ref:    ref,
		inputs: func() []*tensor.Tensor { return []*tensor.Tensor{tensor.RandU(11, lo, hi, n)} },
		enc:    oneOperand,
		op:     func(x []*mpc.CrypTensor) *mpc.CrypTensor { return op(x[0]) },
		plain:  func(in []*tensor.Tensor) *tensor.Tensor { return in[0].Apply(f) },
	}
}

var mpcWorkloads = []mpcWorkload{
	{
		name: "add 1M", ref: cryptenRef{0.0082, 0, 0, 3.0e-5},
		inputs: func() []*tensor.Tensor {
			return []*tensor.Tensor{tensor.RandN(1, 1_000_000), tensor.RandN(2, 1_000_000)}
		},
		enc:   twoOperands,
		op:    func(x []*mpc.CrypTensor) *mpc.CrypTensor { return x[0].Add(x[1]) },
		plain: func(in []*tensor.Tensor) *tensor.Tensor { return in[0].Add(in[1]) },
	},
	{
		name: "mul 1M", ref: cryptenRef{0.106, 16_000_000, 1, 8.8e-5},
		inputs: func() []*tensor.Tensor {
			return []*tensor.Tensor{tensor.RandN(1, 1_000_000), tensor.RandN(2, 1_000_000)}
		},
		enc:   twoOperands,
		op:    func(x []*mpc.CrypTensor) *mpc.CrypTensor { return x[0].Mul(x[1]) },
		plain: func(in []*tensor.Tensor) *tensor.Tensor { return in[0].Mul(in[1]) },
	},
	matmulWorkload(256, cryptenRef{0.0243, 1_048_576, 1, 1.1e-3}),
	matmulWorkload(1024, cryptenRef{0.832, 16_777_216, 1, 2.5e-3}),
	{
		// Unscaled random weights, as CrypTen's reference (torch.randn).
		name: "conv2d 64x3x32x32, 16 3x3, pad 1", ref: cryptenRef{0.054, 1_576_320, 1, 3.9e-4},
		inputs: func() []*tensor.Tensor {
			return []*tensor.Tensor{tensor.RandN(3, 64, 3, 32, 32), tensor.RandN(4, 16, 3, 3, 3)}
		},
		enc: twoOperands,
		op: func(x []*mpc.CrypTensor) *mpc.CrypTensor {
			return x[0].Conv2d(x[1], nil, tensor.ConvOpts{Padding: [2]int{1, 1}})
		},
		plain: func(in []*tensor.Tensor) *tensor.Tensor {
			return tensor.Conv2d(in[0], in[1], nil, tensor.ConvOpts{Padding: [2]int{1, 1}})
		},
	},
	unary("relu 1M", -1, 1, 1_000_000, cryptenRef{1.30, 232_000_000, 9, 1.5e-5}, (*mpc.CrypTensor).Relu,
		func(v float64) float64 { return math.Max(v, 0) }),
	unary("x > 0, 1M", -1, 1, 1_000_000, cryptenRef{1.23, 216_000_000, 8, 0},
		func(x *mpc.CrypTensor) *mpc.CrypTensor { return x.Gt(0) },
		// Exact on encoded inputs: compare the value as encoded (a |x| below
		// half a fixed-point unit encodes to 0, which is not > 0).
		func(v float64) float64 {
			if math.Round(v*(1<<16)) > 0 {
				return 1
			}
			return 0
		}),
	unary("sigmoid 100k, U[-8,8]", -8, 8, 100_000, cryptenRef{0.277, 37_600_000, 23, 2.8e-3}, (*mpc.CrypTensor).Sigmoid,
		func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }),
	unary("tanh 100k, U[-4,4]", -4, 4, 100_000, cryptenRef{0.269, 37_600_000, 23, 5.8e-3}, (*mpc.CrypTensor).Tanh, math.Tanh),
	unary("exp 100k, U[-4,4]", -4, 4, 100_000, cryptenRef{0.067, 6_400_000, 8, 1.88}, (*mpc.CrypTensor).Exp, math.Exp),
	unary("log 100k, U[0.1,100]", 0.1, 100, 100_000, cryptenRef{0.389, 36_800_000, 32, 0.046}, (*mpc.CrypTensor).Log, math.Log),
	unary("reciprocal 100k, U[0.1,100]", 0.1, 100, 100_000, cryptenRef{0.402, 55_200_000, 38, 1.6e-3}, (*mpc.CrypTensor).Reciprocal,
		func(v float64) float64 { return 1 / v }),
	unary("sqrt 100k, U[0.1,100]", 0.1, 100, 100_000, cryptenRef{0.159, 20_000_000, 18, 9.3e-3}, (*mpc.CrypTensor).Sqrt, math.Sqrt),
	{
		name: "softmax 1000x10", ref: cryptenRef{0.234, 8_296_000, 94, 3.5e-3},
		inputs: func() []*tensor.Tensor { return []*tensor.Tensor{tensor.RandN(5, 1000, 10)} },
		enc:    oneOperand,
		op:     func(x []*mpc.CrypTensor) *mpc.CrypTensor { return x[0].Softmax(1) },
		plain:  func(in []*tensor.Tensor) *tensor.Tensor { return tensor.Softmax(in[0], 1) },
	},
	{
		name: "argmax 1000x10 (one-hot)", ref: cryptenRef{0.161, 7_264_000, 57, 0},
		inputs: func() []*tensor.Tensor { return []*tensor.Tensor{tensor.RandN(6, 1000, 10)} },
		enc:    oneOperand,
		op:     func(x []*mpc.CrypTensor) *mpc.CrypTensor { return x[0].ArgmaxOneHot(1) },
		plain: func(in []*tensor.Tensor) *tensor.Tensor {
			return tensor.OneHot(in[0].Argmax(1, false), 10)
		},
	},
}

func matmulWorkload(n int, ref cryptenRef) mpcWorkload {
	return mpcWorkload{
		name: fmt.Sprintf("matmul %dx%d @ %dx%d", n, n, n, n), ref: ref,
		inputs: func() []*tensor.Tensor { return []*tensor.Tensor{tensor.RandN(7, n, n), tensor.RandN(8, n, n)} },
		enc:    twoOperands,
		op:     func(x []*mpc.CrypTensor) *mpc.CrypTensor { return x[0].MatMul(x[1]) },
		plain:  func(in []*tensor.Tensor) *tensor.Tensor { return tensor.MatMul(in[0], in[1]) },
	}
}

// envBenchSizes carries --sizes to the parties, which build the same rows.
const envBenchSizes = "GOMPLAB_BENCH_SIZES"

// growthWorkloads are the rows of --sizes: mul and relu on n elements and
// the product of two √n×√n matrices, for each n (no CrypTen reference).
func growthWorkloads(sizes []int) []mpcWorkload {
	var ws []mpcWorkload
	for _, n := range sizes {
		ws = append(ws, mpcWorkload{
			name: fmt.Sprintf("mul %d", n),
			inputs: func() []*tensor.Tensor {
				return []*tensor.Tensor{tensor.RandN(1, n), tensor.RandN(2, n)}
			},
			enc:   twoOperands,
			op:    func(x []*mpc.CrypTensor) *mpc.CrypTensor { return x[0].Mul(x[1]) },
			plain: func(in []*tensor.Tensor) *tensor.Tensor { return in[0].Mul(in[1]) },
		})
		ws = append(ws, unary(fmt.Sprintf("relu %d", n), -1, 1, n, cryptenRef{}, (*mpc.CrypTensor).Relu,
			func(v float64) float64 { return math.Max(v, 0) }))
		m := max(1, int(math.Round(math.Sqrt(float64(n)))))
		ws = append(ws, matmulWorkload(m, cryptenRef{}))
	}
	return ws
}

// parseSizes reads a comma-separated list of positive element counts
// (1000, 1e6, 1_000_000).
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ReplaceAll(strings.TrimSpace(f), "_", "")
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 1 || v > 1<<30 || v != math.Trunc(v) {
			return nil, fmt.Errorf("--sizes: %q is not an element count between 1 and 2^30", f)
		}
		out = append(out, int(v))
	}
	return out, nil
}

// workloadsFor returns the rows a run uses: the standard ones, or the
// growth rows of --sizes (from the flag, or in a party from envBenchSizes).
func workloadsFor(sizes string) ([]mpcWorkload, error) {
	if sizes == "" {
		return mpcWorkloads, nil
	}
	ns, err := parseSizes(sizes)
	if err != nil {
		return nil, err
	}
	return growthWorkloads(ns), nil
}

// envBenchProfile, when set, makes each party write a CPU profile of its
// timed repetitions to <value>.<row>.rank<r> (--cpuprofile).
const envBenchProfile = "GOMPLAB_BENCH_CPUPROFILE"

func init() {
	mpc.RegisterParty("bench-mpc", benchParty)
}

// benchParty runs one workload: encrypt (untimed), a warm-up, then reps
// timed repetitions, each started after a barrier so the parties begin
// together; the error is measured on the last output.
func benchParty(p *mpc.Party) (any, error) {
	ws, err := workloadsFor(os.Getenv(envBenchSizes))
	if err != nil {
		return nil, err
	}
	row, reps, err := benchPartyEnv(len(ws))
	if err != nil {
		return nil, err
	}
	w := ws[row]
	in := w.inputs()
	x := w.enc(p, in)
	var rep partyReport
	var out *mpc.CrypTensor
	// Warm up until the heap is in its steady state: a Go process that has
	// just started grows its heap with fresh pages (a page fault each 4 KiB)
	// until the garbage collector has cycled, after which repetitions reuse
	// memory, as a long-running party does (CrypTen's single warm-up does
	// the same for its allocator). At least one repetition, at most
	// maxWarmup or about two seconds; the parties agree when to stop.
	//
	// With the dealer-free provider the first run records the workload's
	// requests (generating them on the spot); every repetition then
	// preprocesses them first, timed and counted apart (the offline
	// phase), and the repetition itself is the online phase.
	var reqs []provider.Request
	offline := os.Getenv(mpc.EnvProvider) == mpc.ProviderDealerFree
	if offline {
		reqs = mpc.RecordRequests(p, func() { out = w.op(x) })
	} else if err := warmUp(p, func() { out = w.op(x) }); err != nil {
		return nil, err
	}
	for i := 0; i < reps; i++ {
		if err := comm.Barrier(mpc.CommOf(p)); err != nil {
			return nil, err
		}
		if offline {
			if err := preprocessTimed(p, reqs, &rep); err != nil {
				return nil, err
			}
		}
		if i == 0 {
			stop, err := startProfile(row, p.Rank())
			if err != nil {
				return nil, err
			}
			defer stop()
		}
		before := p.Stats().Total()
		cpu0, flt0 := cpuSeconds()
		start := time.Now()
		out = w.op(x)
		el := time.Since(start).Seconds()
		cpu1, flt1 := cpuSeconds()
		cpu := cpu1 - cpu0
		d := p.Stats().Total().Sub(before)
		rep.Seconds = append(rep.Seconds, el)
		rep.CPU = append(rep.CPU, cpu)
		rep.Faults = append(rep.Faults, flt1-flt0)
		rep.Bytes, rep.Rounds = d.BytesSent, d.Rounds
	}
	got, err := out.GetPlainText()
	if err != nil {
		return nil, err
	}
	rep.MaxErr = tensor.MaxAbsDiff(got, w.plain(in))
	return rep, nil
}

// Warm-up: the quiet repetitions that end it, and its bounds (repetitions,
// and time after which no new one starts).
const (
	warmQuiet  = 3
	maxWarmup  = 60
	warmupTime = 3 * time.Second
)

// warmUp runs op until warmQuiet repetitions in a row have not grown this
// process's heap (its memory is being reused, as in a long-running party)
// on every party, or the bounds are reached. The parties decide together
// after each repetition (one round, not timed).
func warmUp(p *mpc.Party, op func()) error {
	start := time.Now()
	quiet := 0
	for i := 1; ; i++ {
		if err := comm.Barrier(mpc.CommOf(p)); err != nil {
			return err
		}
		before := heapMapped()
		op()
		if heapMapped() <= before {
			quiet++
		} else {
			quiet = 0
		}
		warm := quiet >= warmQuiet || i >= maxWarmup || time.Since(start) > warmupTime
		flag := []uint64{0}
		if warm {
			flag[0] = 1
		}
		if err := comm.AllReduce(mpc.CommOf(p), flag); err != nil {
			return err
		}
		if flag[0] == uint64(p.WorldSize()) {
			return nil
		}
	}
}

// heapMapped is the heap memory this process holds from the system.
func heapMapped() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapSys - ms.HeapReleased
}

// startProfile starts the CPU profile asked for by envBenchProfile (if
// any) and returns the function that ends it.
func startProfile(row, rank int) (func(), error) {
	prefix := os.Getenv(envBenchProfile)
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%d.rank%d", prefix, row, rank))
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// mpcResult is one row of the report.
type mpcResult struct {
	Workload string `json:"workload"`
	benchSetting
	LoadAverage float64    `json:"load_average"`
	Parties     int        `json:"parties"`
	Reps        int        `json:"reps"`
	Median      float64    `json:"median_seconds"`
	Min         float64    `json:"min_seconds"`           // the fastest repetition (at the slower party)
	CPU         []float64  `json:"cpu_seconds_per_party"` // median process CPU time of each party
	Faults      []int64    `json:"page_faults_per_party"` // median minor page faults of each party
	Bytes       int64      `json:"bytes_per_party"`
	Rounds      int64      `json:"rounds"`
	MaxErr      float64    `json:"max_abs_error"`
	CrypTen     cryptenRef `json:"crypten"`
	Speedup     float64    `json:"speedup"`
	// Offline phase (dealer-free): median seconds at the slower party and
	// bytes sent per party, to preprocess one repetition's requests.
	Offline      float64 `json:"offline_median_seconds,omitempty"`
	OfflineBytes int64   `json:"offline_bytes_per_party,omitempty"`
	Error        string  `json:"error,omitempty"`
}

func init() {
	var asJSON bool
	var parties, reps int
	var only, profile, sizes string
	var set benchSetting
	cmd := &cobra.Command{
		Use:   "mpc",
		Short: "Benchmark the MPC engine on CrypTen's standard workloads",
		Long: `Runs each standard workload with parties as separate processes over
loopback TCP (16-bit fixed point), as CrypTen's reference figures were
measured: median time at the slower party over the repetitions (triple
generation included), bytes sent and rounds per party in one repetition, and
max abs error against plaintext; beside CrypTen's stored figure (trusted first
party) and the speedup against it.

--provider chooses the correlated randomness: tfp (trusted first party, as
CrypTen's reference), dealer (a trusted third party process), or dealer-free
(two parties, oblivious transfer and homomorphic encryption: the offline
phase, preprocessing each repetition's requests, is timed and counted apart).
--delay adds a one-way delay to every message (e.g. 20ms), as across hosts.
--sizes replaces the standard rows by growth curves (mul, relu, matmul).
A warning is printed when the machine's load average is above 0.5.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			selected, err := onlyMatcher(only)
			if err != nil {
				return err
			}
			if err := checkSetting(set, parties, reps); err != nil {
				return err
			}
			warn, load := loadWarning()
			if warn != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), warn)
			}
			var env []string
			if profile != "" {
				env = append(env, envBenchProfile+"="+profile)
			}
			ws, err := workloadsFor(sizes)
			if err != nil {
				return err
			}
			if sizes != "" {
				env = append(env, envBenchSizes+"="+sizes)
			}
			var results []mpcResult
			for i, w := range ws {
				if !selected(w.name) {
					continue
				}
				r := runMPCWorkload(i, w, set, parties, reps, env)
				r.LoadAverage = load
				results = append(results, r)
				if !asJSON {
					fmt.Fprintf(cmd.ErrOrStderr(), "%-36s %.4fs\n", w.name, r.Median)
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(results)
			}
			printMPCTable(cmd.OutOrStdout(), results)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().IntVar(&parties, "parties", 2, "number of party processes")
	cmd.Flags().IntVar(&reps, "reps", 7, "timed repetitions per workload (after one warm-up)")
	cmd.Flags().StringVar(&only, "only", "", "run only workloads whose name starts with a match of this regular expression (mul, matmul, 'softmax|argmax')")
	settingFlags(cmd, &set)
	cmd.Flags().StringVar(&sizes, "sizes", "", "growth curves instead of the standard rows: mul and relu on each of these element counts and matmul of √n×√n (e.g. 1e3,1e4,1e5,1e6)")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write each party's CPU profile of the timed repetitions to FILE.<row>.rank<r>")
	benchCmd.AddCommand(cmd)
}

// onlyMatcher returns the workload filter of --only: names that start with
// a match of the expression ("mul" selects the mul rows, not "matmul");
// every name when it is empty.
func onlyMatcher(only string) (func(name string) bool, error) {
	if only == "" {
		return func(string) bool { return true }, nil
	}
	re, err := regexp.Compile("^(?:" + only + ")")
	if err != nil {
		return nil, fmt.Errorf("--only: %w", err)
	}
	return re.MatchString, nil
}

func runMPCWorkload(i int, w mpcWorkload, set benchSetting, parties, reps int, env []string) mpcResult {
	r := mpcResult{Workload: w.name, benchSetting: set, Parties: parties, Reps: reps, CrypTen: w.ref}
	reports, err := runBenchParties("bench-mpc", set, parties, i, reps, env)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	for _, rep := range reports {
		cpu := append([]float64(nil), rep.CPU...)
		sort.Float64s(cpu)
		r.CPU = append(r.CPU, cpu[len(cpu)/2])
		flt := append([]int64(nil), rep.Faults...)
		slices.Sort(flt)
		r.Faults = append(r.Faults, flt[len(flt)/2])
	}
	r.Min, r.Median, r.Bytes, r.Rounds, r.MaxErr = slowestParty(reports)
	r.Offline, r.OfflineBytes = offlinePhase(reports)
	if r.Median > 0 {
		r.Speedup = w.ref.Seconds / r.Median
	}
	return r
}

// cpuSeconds is this process's CPU time so far (all threads), a figure
// less sensitive than wall time to other load on a shared machine, and
// its minor page faults so far (fresh memory the kernel had to map).
func cpuSeconds() (float64, int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), ru.Minflt
}

func printMPCTable(out io.Writer, results []mpcResult) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	offline := len(results) > 0 && results[0].Provider == mpc.ProviderDealerFree
	head := "workload\tmedian s\tbytes/party\trounds\tmax abs err\t"
	if offline {
		head += "offline s\toffline bytes/party\t"
	}
	fmt.Fprintln(tw, head+"CrypTen s\tCrypTen bytes\tCrypTen rounds\tCrypTen err\tspeedup vs stored\t")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\tfailed: %s\t\t\t\t\t\t\t\t\t\n", r.Workload, r.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%d\t%d\t%.2g\t", r.Workload, r.Median, r.Bytes, r.Rounds, r.MaxErr)
		if offline {
			fmt.Fprintf(tw, "%.4f\t%d\t", r.Offline, r.OfflineBytes)
		}
		if r.CrypTen.Seconds == 0 {
			fmt.Fprintf(tw, "-\t-\t-\t-\t-\t\n")
			continue
		}
		fmt.Fprintf(tw, "%.4f\t%d\t%d\t%.2g\t%.1fx\t\n",
			r.CrypTen.Seconds, r.CrypTen.Bytes, r.CrypTen.Rounds, r.CrypTen.Error, r.Speedup)
	}
	tw.Flush()
	if len(results) > 0 {
		fmt.Fprintln(out, settingNote(results[0].benchSetting))
	}
}

// preprocessTimed runs the offline phase of a dealer-free repetition:
// preprocessing reqs, timed and counted into rep, then a barrier.
func preprocessTimed(p *mpc.Party, reqs []provider.Request, rep *partyReport) error {
	before := p.Stats().Total()
	start := time.Now()
	if err := p.Preprocess(reqs...); err != nil {
		return err
	}
	rep.OfflineSeconds = append(rep.OfflineSeconds, time.Since(start).Seconds())
	rep.OfflineBytes = p.Stats().Total().Sub(before).BytesSent
	return comm.Barrier(mpc.CommOf(p))
}

// offlinePhase returns the median offline time at the slower party and
// the largest offline bytes any party sent (zero without an offline
// phase).
func offlinePhase(reports []partyReport) (median float64, bytes int64) {
	reps := len(reports[0].OfflineSeconds)
	if reps == 0 {
		return 0, 0
	}
	slowest := make([]float64, reps)
	for _, rep := range reports {
		for k, s := range rep.OfflineSeconds {
			slowest[k] = math.Max(slowest[k], s)
		}
		bytes = max(bytes, rep.OfflineBytes)
	}
	sort.Float64s(slowest)
	return slowest[reps/2], bytes
}
