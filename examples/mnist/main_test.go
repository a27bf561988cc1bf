package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/internal/race"
)

// TestMNISTEncryptedInference is Tutorial 4 on real MNIST as CI runs it:
// LeNet trained in the clear on 10,000 training images, then encrypted
// inference on the first 1,000 test images at two parties; run checks top-1
// agreement with plaintext (at least 99.5%) and the accuracy difference (at
// most 0.3 points) and fails otherwise. `make accuracy` runs the program on
// all 60,000 training and 10,000 test images.
func TestMNISTEncryptedInference(t *testing.T) {
	if race.Enabled || testing.Short() {
		t.Skip("trains LeNet on 10,000 MNIST images and classifies 1,000 under encryption: too slow under -race or -short")
	}
	var out bytes.Buffer
	c := defaults
	c.train, c.test = 10000, 1000
	o, err := run(&out, c)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if o.PlainAccuracy() < 0.93 {
		t.Errorf("plaintext LeNet reaches only %.2f%% on MNIST", 100*o.PlainAccuracy())
	}
	if o.MaxLogitError > 0.05 {
		t.Errorf("max logit error %.3g", o.MaxLogitError)
	}
}

// TestThreeParties: the same on a few images at three parties.
func TestThreeParties(t *testing.T) {
	if race.Enabled {
		t.Skip("trains LeNet: too slow under -race")
	}
	var out bytes.Buffer
	o, err := run(&out, config{train: 640, epochs: 1, batch: 64, test: 40, chunk: 16, parties: 3, lr: 0.005, seed: 3})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if o.Agree != 40 {
		t.Errorf("agreement %d/40\n%s", o.Agree, out.String())
	}
	if !strings.Contains(out.String(), "epoch 1") {
		t.Errorf("no training progress:\n%s", out.String())
	}
}

func TestBadConfig(t *testing.T) {
	c := defaults
	c.chunk = 0
	if _, err := run(&bytes.Buffer{}, c); err == nil || !strings.Contains(err.Error(), "-chunk") {
		t.Errorf("chunk 0: %v", err)
	}
}
