package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncryptedInferenceAgrees(t *testing.T) {
	var out bytes.Buffer
	o, err := run(&out, config{train: 128, epochs: 1, batch: 64, test: 8, parties: 2, lr: 0.005, seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if o.Agree != 8 || o.MaxLogitError > 1e-2 {
		t.Errorf("agreement %d/8, max logit error %g\n%s", o.Agree, o.MaxLogitError, out.String())
	}
	if !strings.Contains(out.String(), "epoch 1") {
		t.Errorf("no training progress:\n%s", out.String())
	}
}

func TestONNXModel(t *testing.T) {
	var out bytes.Buffer
	o, err := run(&out, config{test: 4, parties: 3, seed: 2,
		model: filepath.Join("..", "..", "mpc", "nn", "testdata", "lenet.onnx")})
	if err != nil {
		t.Fatal(err)
	}
	if o.Agree != 4 || o.MaxLogitError > 1e-2 {
		t.Errorf("agreement %d/4, max logit error %g\n%s", o.Agree, o.MaxLogitError, out.String())
	}
}
