package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/spf13/cobra"
)

// benchCmd groups the benchmarks; each area adds its subcommand from its
// own file (bench_mpc.go: `bench mpc`).
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Run gomplab's standard benchmarks (time, bytes, rounds, error)",
}

func init() {
	rootCmd.AddCommand(benchCmd)
	// Benchmarks that run parties as processes re-execute this binary as
	// `gomplab bench child`; the party function comes from the environment.
	benchCmd.AddCommand(&cobra.Command{
		Use:    "child",
		Short:  "Internal: run one benchmark party (started by a benchmark)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			mpc.RunChildIfRequested()
			return errNotAChild
		},
	})
}

var errNotAChild = errors.New("bench child: not started by a benchmark (no party function in the environment)")

// benchChildArgs are the arguments that make a re-executed gomplab a
// benchmark party.
var benchChildArgs = []string{"bench", "child"}

// Environment of a benchmark party: which workload row, how many timed
// repetitions.
const (
	envBenchRow  = "GOMPLAB_BENCH_ROW"
	envBenchReps = "GOMPLAB_BENCH_REPS"
)

// partyReport is what each benchmark party returns.
type partyReport struct {
	Seconds []float64 `json:"seconds"`               // one per timed repetition
	CPU     []float64 `json:"cpu_seconds,omitempty"` // process CPU time (user+system) per repetition
	Faults  []int64   `json:"page_faults,omitempty"` // minor page faults per repetition
	Bytes   int64     `json:"bytes"`                 // sent during one repetition
	Rounds  int64     `json:"rounds"`
	MaxErr  float64   `json:"max_abs_error"`
	PeakRSS int64     `json:"peak_rss_bytes,omitempty"` // peak resident memory during the timed repetitions (bench nn)
	// Offline phase (dealer-free provider): preprocessing the requests of
	// one repetition, timed and counted apart from it.
	OfflineSeconds []float64 `json:"offline_seconds,omitempty"`
	OfflineBytes   int64     `json:"offline_bytes,omitempty"`
}

// benchPartyEnv reads, in a benchmark party, its workload row (one of
// rows) and repetition count.
func benchPartyEnv(rows int) (row, reps int, err error) {
	row, err = strconv.Atoi(os.Getenv(envBenchRow))
	if err != nil || row < 0 || row >= rows {
		return 0, 0, fmt.Errorf("bench: bad workload index %q", os.Getenv(envBenchRow))
	}
	reps, err = strconv.Atoi(os.Getenv(envBenchReps))
	if err != nil || reps < 1 {
		return 0, 0, fmt.Errorf("bench: bad repetition count %q", os.Getenv(envBenchReps))
	}
	return row, reps, nil
}

// benchSetting is how a benchmark's parties run: their provider and the
// one-way delay added to every message.
type benchSetting struct {
	Provider string        `json:"provider"`
	Delay    time.Duration `json:"delay_ns"`
}

// runBenchParties runs workload row of the party function registered as
// name in parties processes, and returns every party's report.
func runBenchParties(name string, set benchSetting, parties, row, reps int, env []string) ([]partyReport, error) {
	res, err := mpc.RunProcesses(parties, name, mpc.ProcessOptions{
		Provider: set.Provider,
		Delay:    set.Delay,
		Args:     benchChildArgs,
		Env:      append([]string{envBenchRow + "=" + strconv.Itoa(row), envBenchReps + "=" + strconv.Itoa(reps)}, env...),
		Timeout:  10 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	reports := make([]partyReport, len(res))
	for i, pr := range res {
		b, _ := json.Marshal(pr.Value)
		if err := json.Unmarshal(b, &reports[i]); err != nil || len(reports[i].Seconds) != reps {
			return nil, fmt.Errorf("party %d sent a malformed report", pr.Rank)
		}
	}
	return reports, nil
}

// slowestParty returns, over the repetitions, the minimum and the median
// of the slower party's time (how CrypTen's reference was measured), and
// the largest bytes, rounds and error any party reported.
func slowestParty(reports []partyReport) (minSec, median float64, bytes, rounds int64, maxErr float64) {
	reps := len(reports[0].Seconds)
	slowest := make([]float64, reps)
	for _, rep := range reports {
		for k, s := range rep.Seconds {
			slowest[k] = math.Max(slowest[k], s)
		}
		bytes, rounds = max(bytes, rep.Bytes), max(rounds, rep.Rounds)
		maxErr = math.Max(maxErr, rep.MaxErr)
	}
	sort.Float64s(slowest)
	median = slowest[reps/2]
	if reps%2 == 0 {
		median = (slowest[reps/2-1] + slowest[reps/2]) / 2
	}
	return slowest[0], median, bytes, rounds, maxErr
}

// loadWarning returns a warning when the machine's one-minute load average
// is above 0.5 (other work shares the cores: times will be inflated, bytes
// and rounds will not), and the load average itself (−1 if unknown).
func loadWarning() (string, float64) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "", -1
	}
	var load float64
	if _, err := fmt.Sscanf(string(b), "%g", &load); err != nil {
		return "", -1
	}
	if load > 0.5 {
		return fmt.Sprintf("warning: load average %.2f before the run (above 0.5): other work shares the %d cores, so times will be inflated; bytes and rounds are not affected", load, runtime.NumCPU()), load
	}
	return "", load
}

// settingFlags adds --provider and --delay to a benchmark command.
func settingFlags(cmd *cobra.Command, set *benchSetting) {
	cmd.Flags().StringVar(&set.Provider, "provider", mpc.ProviderTFP, "correlated randomness: tfp (trusted first party), dealer (trusted third party) or dealer-free")
	cmd.Flags().DurationVar(&set.Delay, "delay", 0, "one-way delay added to every message (e.g. 20ms)")
}

// checkSetting validates a benchmark's flags.
func checkSetting(set benchSetting, parties, reps int) error {
	if parties < 2 || reps < 1 {
		return fmt.Errorf("need --parties >= 2 and --reps >= 1")
	}
	if _, err := mpc.ProviderOption(set.Provider); err != nil {
		return fmt.Errorf("--provider: %w", err)
	}
	if set.Provider == mpc.ProviderDealerFree && parties != 2 {
		return fmt.Errorf("--provider dealer-free runs between exactly 2 parties, not %d", parties)
	}
	if set.Delay < 0 {
		return fmt.Errorf("--delay %v is negative", set.Delay)
	}
	return nil
}

// settingNote is the line under a benchmark table saying how it ran and
// what the CrypTen column is.
func settingNote(set benchSetting) string {
	return fmt.Sprintf("provider %s, one-way delay %v; CrypTen's figures are stored references (trusted first party, no delay), not a run beside this one",
		set.Provider, set.Delay)
}
