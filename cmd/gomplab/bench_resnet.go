package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/tensor"
)

// envBenchResNet names, for the ResNet-18 rows' parties, the folder that
// examples/resnet/export_resnet18.py wrote (resnet18.onnx, images.npy).
const envBenchResNet = "GOMPLAB_BENCH_RESNET"

// resnetHowTo says how to make the ResNet-18 rows' files.
const resnetHowTo = "make them with `python3 examples/resnet/export_resnet18.py DIR --images 8` (Debian's python3-torch, python3-torchvision, python3-onnx) and pass --resnet DIR"

// checkResNetDir checks that dir holds the model and at least n images.
func checkResNetDir(dir string, n int) error {
	if dir == "" {
		return fmt.Errorf("no ResNet-18 files: %s", resnetHowTo)
	}
	if _, err := os.Stat(filepath.Join(dir, "resnet18.onnx")); err != nil {
		return fmt.Errorf("%v: %s", err, resnetHowTo)
	}
	x, err := tensor.LoadNPY(filepath.Join(dir, "images.npy"))
	if err != nil {
		return fmt.Errorf("%v: %s", err, resnetHowTo)
	}
	if s := x.Shape(); len(s) != 4 || s[0] < n || s[1] != 3 || s[2] != 224 || s[3] != 224 {
		return fmt.Errorf("%s/images.npy has shape %v, want at least (%d, 3, 224, 224): %s", dir, s, n, resnetHowTo)
	}
	return nil
}

// resnetInference is the ResNet-18 row at batch n: party 0 (alice) holds
// the model and shares it (architecture plus secret-shared weights), party
// 1 (bob) encrypts its first n images; the step is the encrypted forward
// pass, the error the logits' against the same ONNX model in plaintext.
func resnetInference(n int) func(p *mpc.Party) (func() error, func() (float64, error), error) {
	return func(p *mpc.Party) (func() error, func() (float64, error), error) {
		dir := os.Getenv(envBenchResNet)
		if err := checkResNetDir(dir, n); err != nil {
			return nil, nil, err
		}
		model, err := onnx.Load(filepath.Join(dir, "resnet18.onnx"))
		if err != nil {
			return nil, nil, err
		}
		all, err := tensor.LoadNPY(filepath.Join(dir, "images.npy"))
		if err != nil {
			return nil, nil, err
		}
		x := all.Slice(0, 0, n, 1)
		// The plaintext reference, at party 0 alone (both would only
		// compete for the cores).
		var want *nn.Variable
		if p.Rank() == 0 {
			if want, err = model.Forward(nn.NewVariable(x)); err != nil {
				return nil, nil, err
			}
		}
		var mine *nn.Model
		in := tensor.ZerosLike(x)
		if p.Rank() == 0 {
			mine = model
		}
		if p.Rank() == 1%p.WorldSize() {
			in = x
		}
		shared, err := nn.ShareModel(p, mine, 0)
		if err != nil {
			return nil, nil, err
		}
		xe := nn.NewVariable(in).Encrypt(p, 1%p.WorldSize())
		var out *nn.Variable
		step := func() (err error) {
			out, err = shared.Forward(xe)
			return err
		}
		check := func() (float64, error) {
			got, err := out.PlainText()
			if err != nil || want == nil {
				return 0, err
			}
			return tensor.MaxAbsDiff(got, want.Tensor()), nil
		}
		return step, check, nil
	}
}

// resetPeakRSS restarts the kernel's count of this process's peak resident
// set (VmHWM), so that peakRSS measures the timed steps alone (Linux 4.0
// and later; elsewhere peakRSS covers the whole process).
func resetPeakRSS() {
	debug.FreeOSMemory() // what setup left behind is not the steps' memory
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns the process's peak resident set in bytes (VmHWM), or 0
// where /proc does not say.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
