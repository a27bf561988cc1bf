package main

import (
	"bytes"
	"testing"

	"github.com/gomplab/gomplab/internal/race"
)

// TestEncryptedInference trains the CIFAR LeNet in plaintext and
// classifies CIFAR-shaped images under encryption at two and three
// parties: images whose plaintext top-2 margin exceeds twice the max logit
// error get plaintext's label (infer.Compare fails otherwise), at least 98%
// of all images do, and the accuracies are within 2 points.
func TestEncryptedInference(t *testing.T) {
	if race.Enabled {
		t.Skip("trains a network: too slow under -race")
	}
	for _, c := range []config{
		{train: 2000, epochs: 2, batch: 64, test: 100, chunk: 50, parties: 2, lr: 0.005, seed: 1},
		{train: 500, epochs: 2, batch: 64, test: 20, chunk: 20, parties: 3, lr: 0.005, seed: 2},
	} {
		var out bytes.Buffer
		o, err := run(&out, c)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if o.Agreement() < 0.98 || o.EncAccuracy() < o.PlainAccuracy()-0.02 || o.MaxLogitError > 0.05 {
			t.Errorf("%d parties: agreement %.3f, accuracy encrypted %.3f plaintext %.3f, logit error %.3g\n%s",
				c.parties, o.Agreement(), o.EncAccuracy(), o.PlainAccuracy(), o.MaxLogitError, out.String())
		}
		if c.parties == 2 && o.PlainAccuracy() < 0.6 {
			t.Errorf("the plaintext model reaches only %.3f\n%s", o.PlainAccuracy(), out.String())
		}
		t.Log("\n" + out.String())
	}
	if _, err := run(&bytes.Buffer{}, config{}); err == nil {
		t.Error("ran with no images")
	}
}
