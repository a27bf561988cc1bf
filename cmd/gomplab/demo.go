package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/spf13/cobra"
)

// demoModel is the digit classifier alice holds: a 784-128-128-10 network
// trained and exported by PyTorch (mpc/nn/testdata/make_fixtures.py, which
// writes it both there, as digits_mlp.onnx, and here).
//
//go:embed demo_model.onnx
var demoModel []byte

// demoJob is the function the orchestrator ships to both workers (seed
// 001's run_encrypted_inference). It is source text because a binary
// carries no source of its own functions (programs use RunMultiWorkers
// with the function itself).
const demoJob = `package main

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

func infer(n int) (*tensor.Tensor, error) {
	data, err := mpc.Load("crypten_data", 1) // bob's images, as shares
	if err != nil {
		return nil, err
	}
	model, err := nn.LoadModel("crypten_model", 0) // alice's model: architecture + shared weights
	if err != nil {
		return nil, err
	}
	x := data.Slice(0, 0, n, 1).FlattenFrom(1)
	logits, err := model.Forward(nn.NewEncrypted(x))
	if err != nil {
		return nil, err
	}
	return logits.CrypTensor().Argmax(1, false).GetPlainText() // only the labels are revealed
}
`

// demoConfig sizes the demo.
type demoConfig struct {
	images, infer int
	seed          uint64
	binary        string // gomplab for the worker daemons ("": this executable)
	// scratch is where the demo writes the files its printed commands use
	// (emptied on each run); outside the repository.
	scratch string
}

func init() {
	c := demoConfig{images: 200, infer: 100, seed: 1, scratch: filepath.Join(os.TempDir(), "gomplab-demo")}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the model-hiding demo: encrypted inference across two local workers",
		Long: `Run the main demo, which needs nothing but this binary (seed 001's CrypTen
demo, model hiding): it starts two worker daemons on loopback in a temporary
directory. Alice's owner loads a digit classifier exported by PyTorch
(ONNX) under the tag crypten_model, bob's owner loads synthetic 28x28
digits under crypten_data, both private. An orchestrator that may read
neither ships a Go function to both workers (syft.RunSource, the form of
syft.RunMultiWorkers for source text): alice's
party shares the model's architecture and secret-shares its weights, bob's
party secret-shares the images, and the two classify the first images
under encryption, revealing only the labels. The job is a code request:
both owners review and approve it (as gomplab worker requests approve does)
before any party starts. The demo prints the labels, checks
them against plaintext inference, reports time, bytes and rounds, and
stops the workers.

It also writes the model and the images to --dir and prints the commands
that load them into workers of your own, ready to copy and paste.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Ctrl-C or SIGTERM ends the demo through its context, so
			// that it stops its worker daemons and removes their
			// directories instead of dying with them left behind.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, cmd.OutOrStdout(), c)
		},
	}
	cmd.Flags().IntVar(&c.images, "images", c.images, "images bob holds")
	cmd.Flags().IntVar(&c.infer, "infer", c.infer, "how many of bob's first images to classify")
	cmd.Flags().StringVar(&c.scratch, "dir", c.scratch, "scratch directory for the files the printed commands use (emptied first)")
	rootCmd.AddCommand(cmd)
}

// demoStarted, when set, runs once the workers are up. Tests set it to
// hold the demo there until they interrupt it.
var demoStarted func(ctx context.Context)

// runDemo runs the model-hiding demo, writing its report to w. When ctx
// ends (an interrupt), it stops at the next step or inside the job, stops
// the workers and removes their temporary directories.
func runDemo(ctx context.Context, w io.Writer, c demoConfig) (err error) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	if c.infer < 1 || c.infer > c.images {
		return fmt.Errorf("demo: cannot classify %d of %d images", c.infer, c.images)
	}
	p("gomplab demo: model hiding. Alice holds a model, bob holds data, the orchestrator knows neither.\n\n")

	// Two worker daemons, each a `gomplab worker` process with its own
	// data directory, certificate and store; their MPC parties run as
	// `gomplab party` child processes.
	start := time.Now()
	var ds []*syft.LocalDaemon
	defer func() {
		if err != nil && ctx.Err() != nil {
			// Whatever failed, it failed because of the interrupt.
			err = fmt.Errorf("demo interrupted: %w", ctx.Err())
		}
		stopped := true
		for _, d := range ds {
			if e := d.Stop(); e != nil {
				stopped = false
				if err == nil {
					err = fmt.Errorf("stopping %s: %w", d.ID, e)
				}
			}
		}
		if len(ds) > 0 && stopped {
			p("alice and bob stopped; their temporary directories are removed\n")
		}
	}()
	for _, id := range []string{"alice", "bob"} {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := syft.StartLocalDaemon(id, syft.DaemonOptions{Binary: c.binary, Users: []string{"scientist"}})
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	alice, bob := ds[0], ds[1]
	p("started alice at %s and bob at %s (%v)\n", alice.Addr, bob.Addr, time.Since(start).Round(time.Millisecond))
	if demoStarted != nil {
		demoStarted(ctx)
	}

	// The owners load their private data, as `gomplab worker load` does
	// (through the running daemon, with the owner's token).
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	info, _, err := daemon.LoadONNXInto(lctx, alice.Dir, demoModel, daemon.LoadSpec{
		Tags: []string{"crypten_model"}, Private: true, File: "model.onnx",
		Description: "digit classifier exported by PyTorch"})
	if err != nil {
		return fmt.Errorf("alice loads the model: %w", err)
	}
	modelInfo := info
	images, truth := dataset.Digits(c.images, c.seed)
	info, _, err = daemon.LoadInto(lctx, bob.Dir, images, daemon.LoadSpec{
		Tags: []string{"crypten_data"}, Private: true, File: "digits.npy",
		Description: "synthetic 28x28 digits"})
	if err != nil {
		return fmt.Errorf("bob loads the data: %w", err)
	}
	cmds, err := demoCommands(c.scratch, images)
	if err != nil {
		return err
	}
	p("the owners load their data, private, as these commands do on workers of your own\n(copy and paste them; the files are in %s, which each demo run empties):\n", c.scratch)
	p("  %s\n  %s\n    %s\n", cmds[0], cmds[1], modelInfo)
	p("  %s\n  %s\n    %s\n\n", cmds[2], cmds[3], info)

	// The orchestrator: an ordinary user on both workers.
	var ws []syft.Worker
	for _, d := range ds {
		sw, err := d.Connect(d.Tokens["scientist"])
		if err != nil {
			return err
		}
		defer sw.Close()
		ws = append(ws, sw)
	}
	p("the orchestrator (user %q on both) finds the data by tag but cannot read it:\n", "scientist")
	ptrs, err := ws[1].Search("crypten_data")
	if err != nil || len(ptrs) != 1 {
		return fmt.Errorf("searching bob for crypten_data: %d found, %v", len(ptrs), err)
	}
	_, gerr := ptrs[0].GetCopy()
	if gerr == nil {
		return errors.New("the orchestrator could read bob's private data")
	}
	p("  bob: %s\n  GetCopy: %v\n\n", ptrs[0], firstLine(gerr))

	p("it ships this function to both (alice is rank 0, bob rank 1) with syft.RunSource\n(syft.RunMultiWorkers takes the function itself, from a Go file or a notebook cell):\n\n%s\n", indentLines(demoJob[strings.Index(demoJob, "func infer"):], "    "))
	job := &syft.Job{Workers: ws, MasterAddr: "127.0.0.1", Func: syft.SourceFunc(demoJob, "infer"), Args: []any{c.infer},
		Note: "classify bob's first images with alice's model; only the labels are revealed"}

	// The job computes on data the orchestrator may not read: it is a
	// code request that both owners must approve before any party starts.
	req, err := syft.Submit(job)
	if err != nil {
		return err
	}
	p("the job is a code request that both owners must approve before any party starts:\n  request %s: alice %s, bob %s\n",
		req.ID, req.Verdicts[0].Status, req.Verdicts[1].Status)
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return err
		}
		owner, err := d.Connect(d.OwnerToken)
		if err != nil {
			return err
		}
		defer owner.Close()
		rv, err := syft.ShowRequest(owner, req.ID)
		if err != nil {
			return err
		}
		sum, err := syft.Approve(owner, req.ID, "scientist", syft.Limits{Runs: 1})
		if err != nil {
			return fmt.Errorf("%s's owner approves: %w", d.ID, err)
		}
		p("  %s's owner reviews it (%d lines: the source, what it loads, who learns what) and approves one run,\n"+
			"    as `gomplab worker requests approve %s --data DIR --runs 1` does on %s's machine: %s\n",
			d.ID, strings.Count(rv.Review, "\n"), req.ID, d.ID, sum.Status)
	}
	p("\n")
	res, err := job.Run(ctx) // RunSource, cancelled by an interrupt
	if err != nil {
		return err
	}
	got := res.Tensor(1)
	if got == nil || got.Size() != c.infer {
		return fmt.Errorf("bob's party returned %v", res.Value(1))
	}
	labels := make([]int, c.infer)
	for i, v := range got.Data() {
		labels[i] = int(v + 0.5)
	}
	p("labels of bob's first %d images:\n%s\n", c.infer, formatLabels(labels, 25))

	// The check: plaintext inference, which only someone holding both the
	// model and the data could run (this demo plays both owners).
	plain, err := plaintextLabels(demoModel, images.Slice(0, 0, c.infer, 1))
	if err != nil {
		return err
	}
	same, correct := 0, 0
	for i := range labels {
		if labels[i] == plain[i] {
			same++
		}
		if labels[i] == int(truth.Data()[i]) {
			correct++
		}
	}
	p("equal to plaintext inference: %v (%d of %d); correct: %d of %d\n", same == c.infer, same, c.infer, correct, c.infer)
	// Bytes and messages summed over the parties; rounds are the
	// sequential exchanges each party waited for (the same on both).
	st := res.Stats()
	var slowest time.Duration
	var rounds int64
	for _, r := range res.Ranks {
		slowest, rounds = max(slowest, r.Elapsed), max(rounds, r.Stats.Rounds)
	}
	p("encrypted inference: %v in the parties, %v from submission to results; %s sent in all, %d messages, %d rounds\n",
		slowest.Round(time.Millisecond), res.Elapsed.Round(time.Millisecond), megabytes(st.BytesSent), st.Messages, rounds)
	p("provider: %s (two owners and no dealer named: neither worker learns the other's masks, so neither can recover\nthe other's inputs from what its party receives; docs/privacy.md)\n\n", res.Provider)
	if same != c.infer {
		return fmt.Errorf("encrypted labels differ from plaintext inference on %d images", c.infer-same)
	}
	return nil
}

// demoCommands empties dir, writes the demo's model and images there, and
// returns the commands that set up alice's and bob's workers with them:
// init and load for each, runnable as printed.
func demoCommands(dir string, images *tensor.Tensor) ([]string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("demo: empty %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	model, data := filepath.Join(dir, "model.onnx"), filepath.Join(dir, "digits.npy")
	if err := os.WriteFile(model, demoModel, 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := tensor.SaveNPY(data, images); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	self := selfCommand()
	q := shellQuote
	return []string{
		fmt.Sprintf("%s worker init --id alice --data %s", self, q(filepath.Join(dir, "alice"))),
		fmt.Sprintf("%s worker load --data %s --tag crypten_model --file %s --private", self, q(filepath.Join(dir, "alice")), q(model)),
		fmt.Sprintf("%s worker init --id bob --data %s", self, q(filepath.Join(dir, "bob"))),
		fmt.Sprintf("%s worker load --data %s --tag crypten_data --file %s --private", self, q(filepath.Join(dir, "bob")), q(data)),
	}, nil
}

// selfCommand is how the user can run this binary from the current
// directory: relative when it is below it (bin/gomplab), else absolute.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "gomplab"
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			if !strings.Contains(rel, string(filepath.Separator)) {
				rel = "." + string(filepath.Separator) + rel
			}
			return shellQuote(rel)
		}
	}
	return shellQuote(exe)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// plaintextLabels classifies images (n, 1, 28, 28) with the ONNX model.
func plaintextLabels(model []byte, images *tensor.Tensor) ([]int, error) {
	om, err := onnx.Decode(model)
	if err != nil {
		return nil, err
	}
	m, err := onnx.Import(om)
	if err != nil {
		return nil, err
	}
	n := images.Shape()[0]
	out, err := m.Forward(nn.NewVariable(images.Reshape(n, -1)))
	if err != nil {
		return nil, err
	}
	am := out.Tensor().Argmax(1, false).Data()
	labels := make([]int, n)
	for i, v := range am {
		labels[i] = int(v)
	}
	return labels, nil
}

// formatLabels prints labels perLine to a line.
func formatLabels(labels []int, perLine int) string {
	var b strings.Builder
	for i, l := range labels {
		if i%perLine == 0 {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("  ")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprint(&b, l)
	}
	return b.String()
}

func indentLines(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + strings.ReplaceAll(l, "\t", "    ")
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
