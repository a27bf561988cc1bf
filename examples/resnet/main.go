// Command resnet is CrypTen's mpc_imagenet example: torchvision's
// ResNet-18 at ImageNet size (3x224x224 images, 1,000 classes) evaluated
// under encryption on two workers, with the model hidden at alice and the
// images at bob. Alice's owner stores the ONNX file, bob's owner the
// images, both private; a data scientist ships one function to both
// workers, in which alice's party secret-shares the model's weights (the
// other side learns only the architecture) and bob's party the images;
// only bob learns the logits. A third worker, carol, deals the correlated
// randomness (syft.WithDealer, PySyft's crypto_provider): it sees no data,
// and neither owner's worker learns the other's masks.
//
// The model is not downloaded: export_resnet18.py, beside this file,
// builds ResNet-18 with torchvision's initialization from a seed (and
// seeded batch-norm statistics) and exports it with Debian's
// python3-torch, python3-torchvision and python3-onnx, together with
// seeded random images and PyTorch's logits for them. The program then
// compares the encrypted logits with plaintext inference of the same
// ONNX file in Go (itself checked against PyTorch): the max abs logit
// error, and the top-1 label of every image whose plaintext margin
// between its two best logits exceeds twice that error.
//
// Usage:
//
//	go run ./examples/resnet [-images 1] [-batch 1] [-seed 1] [-model DIR] [-gomplab bin/gomplab]
//
// By default alice, bob and carol are worker daemons in this process (TLS
// on loopback); with -gomplab they are `gomplab worker` daemons of that
// binary, each party a child process.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/jobs"
)

type config struct {
	images, batch int
	seed          uint64
	dir           string // holds resnet18.onnx, images.npy and logits.npy; "" exports to a temporary folder
	python        string
	gomplab       string // a gomplab binary: run the workers as daemons of it ("": daemons in this process)
}

// grid is alice and bob as their owners see them (to store the model and
// the images) and as the data scientist does (to run jobs, with no right
// to read either), and carol, the dealer, as the scientist sees her.
type grid struct {
	owners, scientist []syft.Worker
	dealer            syft.Worker
	user              string // the scientist's user name on the workers
	close             func()
}

// peerTimeout is how long a party waits on a silent peer: a party busy
// with one of ResNet-18's large convolutions on a loaded machine can leave
// its peer's messages unread past the default 10 s.
const peerTimeout = 5 * time.Minute

// newGrid starts alice, bob and carol, each with a user "scientist":
// worker daemons in this process (TLS on loopback, parties in process), or
// with bin `gomplab worker` daemons of that binary (each party a child
// process, its address space raised for ResNet-18's activations).
func newGrid(bin string) (*grid, error) {
	var closers []func()
	g := &grid{user: "scientist", close: func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}}
	fail := func(err error) (*grid, error) {
		g.close()
		return nil, err
	}
	for _, id := range []string{"alice", "bob", "carol"} {
		var addr, fingerprint, ownerTok, sciTok string
		if bin == "" {
			parent, err := os.MkdirTemp("", "gomplab-resnet-worker-")
			if err != nil {
				return fail(err)
			}
			closers = append(closers, func() { os.RemoveAll(parent) })
			dir := filepath.Join(parent, id)
			res, err := daemon.InitDataDir(dir, id, nil)
			if err != nil {
				return fail(err)
			}
			users, err := res.Dir.Users()
			if err != nil {
				return fail(err)
			}
			if sciTok, err = users.Add(g.user); err != nil {
				return fail(err)
			}
			d, err := daemon.Start(daemon.Config{Dir: dir, Listen: "127.0.0.1:0"})
			if err != nil {
				return fail(err)
			}
			closers = append(closers, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				d.Shutdown(ctx)
			})
			d.Jobs().Configure(jobs.Options{PeerTimeout: peerTimeout})
			addr, fingerprint, ownerTok = d.Addr(), d.Fingerprint(), res.OwnerToken
		} else {
			d, err := syft.StartLocalDaemon(id, syft.DaemonOptions{Binary: bin, Users: []string{g.user},
				Args: []string{"--party-memory", "32768", "--peer-timeout", peerTimeout.String()}})
			if err != nil {
				return fail(err)
			}
			closers = append(closers, func() { d.Stop() })
			addr, fingerprint, ownerTok, sciTok = d.Addr, d.Fingerprint, d.OwnerToken, d.Tokens[g.user]
		}
		opts := syft.Options{Fingerprint: fingerprint, Timeout: 60 * time.Second}
		opts.Token = ownerTok
		owner, err := syft.Connect(addr, opts)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { owner.Close() })
		opts.Token = sciTok
		sci, err := syft.Connect(addr, opts)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { sci.Close() })
		if id == "carol" {
			g.dealer = sci
			continue
		}
		g.owners = append(g.owners, owner)
		g.scientist = append(g.scientist, sci)
	}
	return g, nil
}

var defaults = config{images: 1, batch: 1, seed: 1, python: "/usr/bin/python3"}

func main() {
	c := defaults
	flag.IntVar(&c.images, "images", c.images, "images bob classifies")
	flag.IntVar(&c.batch, "batch", c.batch, "images per encrypted forward pass (one job each)")
	flag.Uint64Var(&c.seed, "seed", c.seed, "seed of the weights and images")
	flag.StringVar(&c.dir, "model", "", "folder with resnet18.onnx, images.npy and logits.npy from export_resnet18.py (default: export them now)")
	flag.StringVar(&c.python, "python", c.python, "Python with torch, torchvision and onnx")
	flag.StringVar(&c.gomplab, "gomplab", "", "run alice, bob and carol as daemons of this gomplab binary, parties as child processes (default: daemons in this process)")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "resnet:", err)
		os.Exit(1)
	}
}

// ErrNoTorch reports that the Python side cannot run.
var ErrNoTorch = errors.New("python3-torch, python3-torchvision and python3-onnx are needed to export ResNet-18 (apt-get install python3-torch python3-torchvision python3-onnx)")

// exportScript is export_resnet18.py beside this file.
func exportScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "export_resnet18.py")
}

// CheckPython returns ErrNoTorch (wrapped) when python cannot import torch,
// torchvision and onnx.
func CheckPython(python string) error {
	if out, err := exec.Command(python, "-c", "import torch, torchvision, onnx").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s: %v %s", ErrNoTorch, python, err, out)
	}
	return nil
}

// Export writes resnet18.onnx, images.npy and logits.npy for seed and n
// images into dir.
func Export(python, dir string, seed uint64, n int) error {
	if err := CheckPython(python); err != nil {
		return err
	}
	cmd := exec.Command(python, exportScript(), dir, "--seed", fmt.Sprint(seed), "--images", fmt.Sprint(n))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("exporting ResNet-18: %v\n%s", err, out)
	}
	return nil
}

// outcome is what a run measured.
type outcome struct {
	Images          int
	MaxLogitError   float64 // encrypted against plaintext (Go)
	TorchError      float64 // plaintext Go against PyTorch
	Checked, Agreed int     // images whose margin exceeds twice the error; of those, equal top-1
	AllAgreed       int     // images with equal top-1 overall
	Bytes, Rounds   int64   // per party and job, the largest
	Elapsed         time.Duration
}

func run(w io.Writer, c config) (*outcome, error) {
	if c.images < 1 || c.batch < 1 {
		return nil, fmt.Errorf("-images %d, -batch %d: want positive counts", c.images, c.batch)
	}
	dir := c.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "gomplab-resnet-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
		fmt.Fprintf(w, "exporting ResNet-18 (seed %d, torchvision's initialization) and %d images with PyTorch\n", c.seed, c.images)
		start := time.Now()
		if err := Export(c.python, dir, c.seed, c.images); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "  exported in %v\n", time.Since(start).Round(time.Millisecond))
	}
	modelFile, err := os.ReadFile(filepath.Join(dir, "resnet18.onnx"))
	if err != nil {
		return nil, err
	}
	images, err := tensor.LoadNPY(filepath.Join(dir, "images.npy"))
	if err != nil {
		return nil, err
	}
	torchLogits, err := tensor.LoadNPY(filepath.Join(dir, "logits.npy"))
	if err != nil {
		return nil, err
	}
	if images.Shape()[0] < c.images {
		return nil, fmt.Errorf("%s holds %d images, %d asked for", dir, images.Shape()[0], c.images)
	}
	images = images.Slice(0, 0, c.images, 1)
	torchLogits = torchLogits.Slice(0, 0, c.images, 1)

	// The reference: the same ONNX file in plaintext, which only this
	// program, holding both the model and the images, can compute.
	model, err := onnx.Read(bytes.NewReader(modelFile))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "ResNet-18: %d parameters, %.1f MB of ONNX\n", model.NumParams(), float64(len(modelFile))/1e6)
	start := time.Now()
	plainOut, err := model.Forward(nn.NewVariable(images))
	if err != nil {
		return nil, err
	}
	plain := plainOut.Tensor()
	o := &outcome{Images: c.images, TorchError: tensor.MaxAbsDiff(plain, torchLogits)}
	fmt.Fprintf(w, "plaintext inference in Go: %v; max abs difference from PyTorch's logits %.2e\n", time.Since(start).Round(time.Millisecond), o.TorchError)

	// The workers, their owners' data, and the scientist's jobs.
	g, err := newGrid(c.gomplab)
	if err != nil {
		return nil, err
	}
	defer g.close()
	fn, err := syft.FuncOf(classify)
	if err != nil {
		return nil, err
	}
	mp, err := syft.SendONNX(modelFile, g.owners[alice], syft.WithTags(tagModel), syft.AsPrivate())
	if err != nil {
		return nil, fmt.Errorf("alice's owner stores the model: %w", err)
	}
	mp.Pointer().Keep()
	ip, err := syft.Send(images, g.owners[bob], syft.WithTags(tagImages), syft.AsPrivate())
	if err != nil {
		return nil, fmt.Errorf("bob's owner stores the images: %w", err)
	}
	ip.Keep()
	fmt.Fprintf(w, "alice holds the model (%s), bob %d images, carol deals; encrypted inference, %d image(s) per job\n", tagModel, c.images, c.batch)
	var parts []*tensor.Tensor
	start = time.Now()
	for from := 0; from < c.images; from += c.batch {
		n := min(c.batch, c.images-from)
		// A job of 8 images takes minutes on a loaded 2-core machine: past
		// the default deadline of 5.
		job := &syft.Job{Workers: g.scientist, MasterAddr: "127.0.0.1", Func: fn, Args: []any{from, n},
			Timeout: 10*time.Minute + time.Duration(n)*2*time.Minute, Provider: mpc.ProviderDealer, Dealer: g.dealer}
		res, err := g.approvedRun(w, job)
		if err != nil {
			return nil, fmt.Errorf("images %d..%d: %w", from, from+n, err)
		}
		if res.Value(alice) != nil {
			return nil, fmt.Errorf("alice learned %T", res.Value(alice))
		}
		got := res.Tensor(bob)
		if got == nil {
			return nil, fmt.Errorf("bob's party returned %T", res.Value(bob))
		}
		parts = append(parts, got)
		for _, r := range res.Ranks {
			o.Bytes = max(o.Bytes, r.Stats.BytesSent)
			o.Rounds = max(o.Rounds, r.Stats.Rounds)
		}
		fmt.Fprintf(w, "  images %d..%d: %v\n", from, from+n-1, res.Elapsed.Round(time.Millisecond))
	}
	o.Elapsed = time.Since(start)
	enc := tensor.Concat(0, parts...)
	o.MaxLogitError = tensor.MaxAbsDiff(enc, plain)
	if math.IsNaN(o.MaxLogitError) {
		return o, errors.New("NaN logits")
	}
	k := plain.Shape()[1]
	pe, pp := enc.Argmax(1, false).Data(), plain.Argmax(1, false).Data()
	for i := 0; i < c.images; i++ {
		if pe[i] == pp[i] {
			o.AllAgreed++
		}
		if margin(plain.Data()[i*k:(i+1)*k]) > 2*o.MaxLogitError {
			o.Checked++
			if pe[i] == pp[i] {
				o.Agreed++
			}
		}
	}
	fmt.Fprintf(w, "encrypted inference: %v for %d images; up to %d bytes and %d rounds per party and job\n",
		o.Elapsed.Round(time.Millisecond), c.images, o.Bytes, o.Rounds)
	fmt.Fprintf(w, "max abs logit error against plaintext: %.2e (logits span %.1f..%.1f)\n", o.MaxLogitError, plain.MinAll(), plain.MaxAll())
	fmt.Fprintf(w, "top-1 equal to plaintext on %d of %d images; on %d of the %d whose top-2 margin exceeds twice the error\n",
		o.AllAgreed, c.images, o.Agreed, o.Checked)
	if o.Agreed != o.Checked {
		return o, fmt.Errorf("the top-1 label differs from plaintext's on %d images whose margin exceeds twice the max logit error", o.Checked-o.Agreed)
	}
	return o, nil
}

// approvedRun runs job as the data scientist once the owners have
// approved it: the scientist submits the job's code request, each owner
// whose private data it loads reviews it on their own worker (the exact
// source, what it loads there, who learns what: syft.ShowRequest) and
// approves one run (syft.Approve), and the job runs.
func (g *grid) approvedRun(w io.Writer, job *syft.Job) (*syft.Results, error) {
	st, err := syft.Submit(job)
	if err != nil {
		return nil, err
	}
	for i, o := range g.owners {
		if st.Verdicts[i].OK() {
			continue // nothing of this owner's that the scientist may not read
		}
		rv, err := syft.ShowRequest(o, st.ID)
		if err != nil {
			return nil, err
		}
		if _, err := syft.Approve(o, st.ID, g.user, syft.Limits{Runs: 1}); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "  %s's owner reviews request %s (%d lines) and approves one run\n", st.Verdicts[i].Worker, st.ID, strings.Count(rv.Review, "\n"))
	}
	return job.Run(context.Background())
}

// margin is the gap between the two largest values of v.
func margin(v []float64) float64 {
	a, b := math.Inf(-1), math.Inf(-1)
	for _, x := range v {
		if x > a {
			a, b = x, a
		} else if x > b {
			b = x
		}
	}
	return a - b
}
