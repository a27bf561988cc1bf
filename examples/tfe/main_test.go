package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/internal/race"
)

// TestNetworks trains networks A, B and C in plaintext on 1,000 MNIST
// images and classifies 100 MNIST test images under encryption at two
// parties: every image whose plaintext top-2 margin exceeds twice the max
// logit error gets plaintext's label (infer.Compare fails otherwise), at
// least 98% of all images do, and the accuracies are within 2 points.
// Network B runs again at three parties.
func TestNetworks(t *testing.T) {
	if race.Enabled {
		t.Skip("trains three networks: too slow under -race")
	}
	for _, c := range []config{
		{network: "all", train: 1000, epochs: 1, batch: 64, test: 100, chunk: 50, parties: 2, lr: 0.003, seed: 1},
		{network: "B", train: 500, epochs: 1, batch: 64, test: 20, chunk: 20, parties: 3, lr: 0.003, seed: 2},
	} {
		var out bytes.Buffer
		res, err := run(&out, c)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		for name, o := range res {
			if o.Agreement() < 0.98 || o.EncAccuracy() < o.PlainAccuracy()-0.02 || o.MaxLogitError > 0.05 {
				t.Errorf("network %s, %d parties: agreement %.3f, accuracy encrypted %.3f plaintext %.3f, logit error %.3g",
					name, c.parties, o.Agreement(), o.EncAccuracy(), o.PlainAccuracy(), o.MaxLogitError)
			}
		}
		if c.network == "all" && len(res) != 3 {
			t.Errorf("%d networks ran", len(res))
		}
		t.Log("\n" + out.String())
	}
	if _, err := run(&bytes.Buffer{}, config{network: "D"}); err == nil || !strings.Contains(err.Error(), "A, B, C") {
		t.Errorf("network D: %v", err)
	}
}
