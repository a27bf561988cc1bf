package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gomplab/gomplab/internal/race"
)

// TestResNet18 is CrypTen's mpc_imagenet as CI runs it: ResNet-18 with
// seeded random weights exported by PyTorch at 224x224, alice holding the
// model and bob one image, both private on two workers; encrypted
// inference matches plaintext (Go's import, itself within 1e-3 of
// PyTorch's logits) within 0.05 on every logit, and the top-1 label
// equals plaintext's for each image whose margin exceeds twice the error
// (run fails otherwise; here the one image has a margin of about 0.5).
// The workers are daemons over TLS; carol, a third, deals the randomness;
// each owner approves the scientist's request before it runs.
func TestResNet18(t *testing.T) {
	if race.Enabled {
		t.Skip("ResNet-18 under encryption: too slow under -race")
	}
	if err := CheckPython(defaults.python); err != nil {
		if errors.Is(err, ErrNoTorch) {
			t.Skipf("skipping: %v", err)
		}
		t.Fatal(err)
	}
	var out bytes.Buffer
	o, err := run(&out, defaults)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if o.TorchError > 1e-3 {
		t.Errorf("the Go import differs from PyTorch by %.3g", o.TorchError)
	}
	if o.MaxLogitError > 0.05 {
		t.Errorf("max abs logit error %.3g", o.MaxLogitError)
	}
	if o.Checked != 1 || o.AllAgreed != 1 {
		t.Errorf("%d of 1 images checked by margin, %d agreed", o.Checked, o.AllAgreed)
	}
}

func TestBadConfig(t *testing.T) {
	c := defaults
	c.batch = 0
	if _, err := run(&bytes.Buffer{}, c); err == nil {
		t.Error("batch 0 ran")
	}
}
