package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/tensor"
	"github.com/spf13/cobra"
)

// nnRef is CrypTen's figure for a workload (shared/anchors/crypten-cpu.md).
type nnRef struct {
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	Rounds  int64   `json:"rounds"`
	Error   float64 `json:"max_abs_error"`
}

// nnWorkload is one row of `gomplab bench nn`. setup builds what a
// repetition needs (untimed; encryption costs no communication), step is
// the timed part, and check decrypts the result of the last step and
// returns its max abs error against the same computation in plaintext.
type nnWorkload struct {
	name  string
	ref   nnRef // zero: CrypTen has no stored figure
	setup func(p *mpc.Party) (step func() error, check func() (float64, error), err error)
	// resnet marks the rows that need --resnet's files; they run one
	// timed repetition, without a warm-up (minutes each on two cores).
	resnet int // batch size, 0 for the other rows
	tol    float64
}

var nnWorkloads = []nnWorkload{
	{name: "LeNet inference, batch 64", ref: nnRef{3.92, 640_525_248, 123, 1.7e-4}, setup: lenetInference, tol: 1e-3},
	{name: "logistic regression 100->1 as CrypTen's (Linear+Sigmoid, BCELoss, lr 0.5), 1 epoch, batch 100", ref: nnRef{2.41, 3_456_080, 930, 1.2e-3}, setup: logregEpoch, tol: 2e-3},
	{name: "ResNet-18 inference, 3x224x224, batch 1", setup: resnetInference(1), resnet: 1, tol: 0.05},
	{name: "ResNet-18 inference, 3x224x224, batch 8", setup: resnetInference(8), resnet: 8, tol: 0.05},
}

// benchLeNet is the network of the LeNet row: CrypTen's TFE network B.
func benchLeNet() *nn.Model {
	r := tensor.NewRNG(42)
	pool := tensor.PoolOpts{Kernel: [2]int{2, 2}}
	m := nn.NewModel(nn.NewSequential(
		nn.NewConv2d(1, 16, 5, tensor.ConvOpts{}, r), nn.NewReLU(), nn.NewMaxPool2d(pool),
		nn.NewConv2d(16, 16, 5, tensor.ConvOpts{}, r), nn.NewReLU(), nn.NewMaxPool2d(pool),
		nn.NewFlatten(1), nn.NewLinear(256, 100, r), nn.NewReLU(), nn.NewLinear(100, 10, r)))
	m.Eval()
	return m
}

// lenetInference classifies 64 encrypted images (party 0's) with an
// encrypted model (party 1's).
func lenetInference(p *mpc.Party) (func() error, func() (float64, error), error) {
	m := benchLeNet()
	x, _ := dataset.Digits(64, 7)
	want, err := m.Forward(nn.NewVariable(x))
	if err != nil {
		return nil, nil, err
	}
	if err := m.Encrypt(p, 1%p.WorldSize()); err != nil {
		return nil, nil, err
	}
	xe := nn.NewVariable(x).Encrypt(p, 0)
	var out *nn.Variable
	step := func() (err error) {
		out, err = m.Forward(xe)
		return err
	}
	check := func() (float64, error) {
		got, err := out.PlainText()
		if err != nil {
			return 0, err
		}
		return tensor.MaxAbsDiff(got, want.Tensor()), nil
	}
	return step, check, nil
}

// logregSetup is the logistic regression row's data and model, built as
// CrypTen's reference builds it: a Linear(100→1) layer then a Sigmoid
// layer.
func logregSetup() (x, y *tensor.Tensor, m *nn.Model) {
	x, pm, _, _ := dataset.Hyperplane(1000, 100, 3)
	return x, dataset.ZeroOne(pm), nn.NewModel(nn.NewSequential(nn.NewLinear(100, 1, tensor.NewRNG(4)), nn.NewSigmoid()))
}

// logregTrainEpoch runs one epoch of minibatch SGD (batch 100, learning
// rate 0.5) with the binary cross-entropy of the sigmoid's output
// (BCELoss), as CrypTen's reference does.
func logregTrainEpoch(m *nn.Model, x, y *nn.Variable) error {
	opt := nn.NewSGD(m.Parameters(), 0.5, 0, 0)
	n := x.Shape()[0]
	for i := 0; i < n; i += 100 {
		opt.ZeroGrad()
		out, err := m.Forward(x.Slice(0, i, min(i+100, n), 1))
		if err != nil {
			return err
		}
		if err := nn.BCELoss(out, y.Slice(0, i, min(i+100, n), 1)).Backward(); err != nil {
			return err
		}
		if err := opt.Step(); err != nil {
			return err
		}
	}
	return nil
}

// logregEpoch trains on party 0's encrypted data; every repetition starts
// again from the same initialization, and the error is the trained
// weights' against plaintext training.
func logregEpoch(p *mpc.Party) (func() error, func() (float64, error), error) {
	x, y, ref := logregSetup()
	if err := logregTrainEpoch(ref, nn.NewVariable(x), nn.NewVariable(y)); err != nil {
		return nil, nil, err
	}
	xe, ye := nn.NewVariable(x).Encrypt(p, 0), nn.NewVariable(y).Encrypt(p, 0)
	var m *nn.Model
	step := func() error {
		_, _, m = logregSetup()
		if err := m.Encrypt(p, 0); err != nil {
			return err
		}
		return logregTrainEpoch(m, xe, ye)
	}
	check := func() (float64, error) {
		if err := m.Decrypt(); err != nil {
			return 0, err
		}
		var d float64
		for i, q := range m.Params() {
			d = math.Max(d, tensor.MaxAbsDiff(q.Var.Tensor(), ref.Params()[i].Var.Tensor()))
		}
		return d, nil
	}
	return step, check, nil
}

func init() {
	mpc.RegisterParty("bench-nn", benchNNParty)
}

// benchNNParty runs one workload: setup, a warm-up, then reps timed
// repetitions, each after a barrier so the parties start together.
func benchNNParty(p *mpc.Party) (any, error) {
	row, reps, err := benchPartyEnv(len(nnWorkloads))
	if err != nil {
		return nil, err
	}
	step, check, err := nnWorkloads[row].setup(p)
	if err != nil {
		return nil, err
	}
	var rep partyReport
	// With the dealer-free provider the warm-up records the requests and
	// each timed repetition preprocesses them first, timed apart (the
	// offline phase).
	offline := os.Getenv(mpc.EnvProvider) == mpc.ProviderDealerFree
	var reqs []provider.Request
	first := -1 // the warm-up, which the dealer-free provider needs to record its requests
	if nnWorkloads[row].resnet > 0 && !offline {
		first = 0
	}
	resetPeakRSS()
	for i := first; i < reps; i++ {
		if err := comm.Barrier(mpc.CommOf(p)); err != nil {
			return nil, err
		}
		if offline && i >= 0 {
			if err := preprocessTimed(p, reqs, &rep); err != nil {
				return nil, err
			}
		}
		before := p.Stats().Total()
		start := time.Now()
		if offline && i < 0 {
			reqs = mpc.RecordRequests(p, func() { err = step() })
		} else {
			err = step()
		}
		if err != nil {
			return nil, err
		}
		el := time.Since(start).Seconds()
		d := p.Stats().Total().Sub(before)
		if i >= 0 {
			rep.Seconds = append(rep.Seconds, el)
			rep.Bytes, rep.Rounds = d.BytesSent, d.Rounds
		}
	}
	rep.PeakRSS = peakRSS()
	if rep.MaxErr, err = check(); err != nil {
		return nil, err
	}
	return rep, nil
}

// nnResult is one row of the report.
type nnResult struct {
	Workload string `json:"workload"`
	benchSetting
	LoadAverage  float64 `json:"load_average"`
	Offline      float64 `json:"offline_median_seconds,omitempty"`
	OfflineBytes int64   `json:"offline_bytes_per_party,omitempty"`
	Parties      int     `json:"parties"`
	Reps         int     `json:"reps"`
	Median       float64 `json:"median_seconds"`
	Bytes        int64   `json:"bytes_per_party"`
	Rounds       int64   `json:"rounds"`
	MaxErr       float64 `json:"max_abs_error"`
	PeakRSS      []int64 `json:"peak_rss_bytes_per_party,omitempty"`
	CrypTen      nnRef   `json:"crypten"`
	Speedup      float64 `json:"speedup"`
	Error        string  `json:"error,omitempty"`
}

func init() {
	var asJSON bool
	var parties, reps int
	var set benchSetting
	var resnetDir, only string
	cmd := &cobra.Command{
		Use:   "nn",
		Short: "Benchmark encrypted neural networks: LeNet and ResNet-18 inference, logistic-regression training",
		Long: `Runs the two neural-network workloads of CrypTen's reference figures with
parties as separate processes over loopback TCP (trusted-first-party
provider, 16-bit fixed point): LeNet inference on a batch of 64 encrypted
28x28 images with an encrypted model, and one epoch of logistic-regression
training (1000 encrypted samples of 100 features, batch 100, SGD). It prints
the median time at the slower party (triple generation included), bytes sent
and rounds per party in one repetition, and the max abs error against the
same computation in plaintext (logits; trained weights), beside CrypTen's
stored figures (trusted first party) and the speedup against them.
--provider and --delay as for bench mpc.

With --resnet DIR it also runs torchvision's ResNet-18 at ImageNet size
(3x224x224) at batch 1 and 8, the model shared by party 0 and the images
encrypted by party 1, one timed repetition each (no warm-up). DIR is what
examples/resnet/export_resnet18.py writes (seeded random weights, exported
by PyTorch; nothing is downloaded). Every row also reports each party's
peak resident memory during its timed repetitions. --only runs the rows
whose name contains a string (--only ResNet).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkSetting(set, parties, reps); err != nil {
				return err
			}
			warn, load := loadWarning()
			if warn != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), warn)
			}
			var results []nnResult
			for i, w := range nnWorkloads {
				if !strings.Contains(w.name, only) {
					continue
				}
				if w.resnet > 0 {
					if resnetDir == "" {
						if only != "" {
							return fmt.Errorf("--only %q: the ResNet-18 rows need --resnet DIR: %s", only, resnetHowTo)
						}
						continue
					}
					if err := checkResNetDir(resnetDir, w.resnet); err != nil {
						return err
					}
				}
				r := runNNWorkload(i, w, set, parties, reps, resnetDir)
				r.LoadAverage = load
				results = append(results, r)
				if !asJSON {
					fmt.Fprintf(cmd.ErrOrStderr(), "%-62s %.4fs\n", w.name, r.Median)
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(results)
			}
			printNNTable(cmd.OutOrStdout(), results)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().IntVar(&parties, "parties", 2, "number of party processes")
	cmd.Flags().IntVar(&reps, "reps", 5, "timed repetitions per workload (after one warm-up; the ResNet-18 rows run one)")
	cmd.Flags().StringVar(&resnetDir, "resnet", "", "folder from examples/resnet/export_resnet18.py: also run the ResNet-18 rows")
	cmd.Flags().StringVar(&only, "only", "", "run only the rows whose name contains this")
	settingFlags(cmd, &set)
	benchCmd.AddCommand(cmd)
}

func runNNWorkload(i int, w nnWorkload, set benchSetting, parties, reps int, resnetDir string) nnResult {
	var env []string
	if w.resnet > 0 {
		reps = 1
		abs, err := filepath.Abs(resnetDir)
		if err != nil {
			return nnResult{Workload: w.name, Error: err.Error()}
		}
		// A party's local work on a batch of 8 (a convolution over 8 x
		// 64 x 112 x 112 outputs) can keep it from reading for longer
		// than the default 10 s on a loaded machine, which its peer
		// would report as frozen.
		env = append(env, envBenchResNet+"="+abs, comm.EnvPeerTimeout+"=5m")
	}
	r := nnResult{Workload: w.name, benchSetting: set, Parties: parties, Reps: reps, CrypTen: w.ref}
	reports, err := runBenchParties("bench-nn", set, parties, i, reps, env)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	_, r.Median, r.Bytes, r.Rounds, r.MaxErr = slowestParty(reports)
	for _, rep := range reports {
		r.PeakRSS = append(r.PeakRSS, rep.PeakRSS)
	}
	r.Offline, r.OfflineBytes = offlinePhase(reports)
	if r.Median > 0 && w.ref.Seconds > 0 {
		r.Speedup = w.ref.Seconds / r.Median
	}
	return r
}

func printNNTable(out io.Writer, results []nnResult) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	offline := len(results) > 0 && results[0].Provider == mpc.ProviderDealerFree
	head := "workload\tmedian s\tbytes/party\trounds\tmax abs err\tpeak MB/party\t"
	if offline {
		head += "offline s\toffline bytes/party\t"
	}
	fmt.Fprintln(tw, head+"CrypTen s\tCrypTen bytes\tCrypTen rounds\tCrypTen err\tspeedup vs stored\t")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\tfailed: %s\t\t\t\t\t\t\t\t\t\n", r.Workload, r.Error)
			continue
		}
		var peaks []string
		for _, b := range r.PeakRSS {
			peaks = append(peaks, fmt.Sprintf("%.0f", float64(b)/(1<<20)))
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%d\t%d\t%.2g\t%s\t", r.Workload, r.Median, r.Bytes, r.Rounds, r.MaxErr, strings.Join(peaks, " / "))
		if offline {
			fmt.Fprintf(tw, "%.4f\t%d\t", r.Offline, r.OfflineBytes)
		}
		if r.CrypTen.Seconds == 0 {
			fmt.Fprintf(tw, "-\t-\t-\t-\t-\t\n")
			continue
		}
		fmt.Fprintf(tw, "%.2f\t%d\t%d\t%.2g\t%.1fx\t\n",
			r.CrypTen.Seconds, r.CrypTen.Bytes, r.CrypTen.Rounds, r.CrypTen.Error, r.Speedup)
	}
	tw.Flush()
	if len(results) > 0 {
		fmt.Fprintln(out, settingNote(results[0].benchSetting))
	}
}
