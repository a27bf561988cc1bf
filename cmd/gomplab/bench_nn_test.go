package main

import (
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
)

// TestNNWorkloads runs each `bench nn` workload once with goroutine
// parties and checks its error against plaintext (the benchmark itself
// measures time, bytes and rounds with party processes).
func TestNNWorkloads(t *testing.T) {
	for _, w := range nnWorkloads {
		if w.resnet > 0 {
			continue // TestResNetRows
		}
		res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
			step, check, err := w.setup(p)
			if err != nil {
				return nil, err
			}
			if err := step(); err != nil {
				return nil, err
			}
			return check()
		})
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if e := res[0].Value.(float64); e > w.tol {
			t.Errorf("%s: max abs error %g against plaintext", w.name, e)
		}
	}
}

// TestResNetRowsNeedFiles: the ResNet-18 rows say how to make their files
// when --resnet is missing or wrong, before starting any party; without
// --only they are left out.
func TestResNetRowsNeedFiles(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "nn", "--only", "ResNet"}, "export_resnet18.py"},
		{[]string{"bench", "nn", "--only", "ResNet", "--resnet", t.TempDir()}, "resnet18.onnx"},
	} {
		out, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error naming %s\n%s", c.args, err, c.want, out)
		}
	}
	if err := checkResNetDir("", 1); err == nil || !strings.Contains(err.Error(), "python3-torchvision") {
		t.Errorf("no folder: %v", err)
	}
	if peakRSS() <= 0 {
		t.Error("no peak resident memory read from /proc/self/status")
	}
}
