package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn/dataset"

	"github.com/gomplab/gomplab/tensor"
)

// TestEncryptedMatchesPlaintext: from the same initialization, encrypted
// training follows the plaintext loss curve within fixed-point tolerance.
func TestEncryptedMatchesPlaintext(t *testing.T) {
	// The tolerance covers the mpc package's log and exp, whose error grows
	// with the number of parties (truncation with three or more).
	tolerance := map[int]float64{2: 2e-3, 3: 1e-2}
	for _, parties := range []int{2, 3} {
		var out bytes.Buffer
		h, err := run(&out, config{samples: 200, features: 20, batch: 50, epochs: 4, parties: parties, optim: "sgd", lr: 1, seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		enc, plain := h[0], h[1]
		for i := range plain.Loss {
			if d := math.Abs(enc.Loss[i] - plain.Loss[i]); d > tolerance[parties] {
				t.Errorf("%d parties, epoch %d: encrypted loss %.5f, plaintext %.5f", parties, i+1, enc.Loss[i], plain.Loss[i])
			}
		}
		if !(plain.Loss[len(plain.Loss)-1] < plain.Loss[0]) {
			t.Errorf("loss did not fall: %v", plain.Loss)
		}
		if enc.Accuracy < 0.9 || math.Abs(enc.Accuracy-plain.Accuracy) > 0.02 {
			t.Errorf("accuracy: encrypted %.3f, plaintext %.3f", enc.Accuracy, plain.Accuracy)
		}
		if t.Failed() {
			t.Log(out.String())
		}
	}
}

// TestAdamDefaults trains with Adam at the example's defaults (50 steps)
// and at PyTorch's default learning rate: the encrypted weights end within
// 1e-2 of plaintext Adam's from the same initialization and data.
func TestAdamDefaults(t *testing.T) {
	for _, lr := range []float64{defaultLR["adam"], 0.001} {
		for _, parties := range []int{2, 3} {
			c := defaults
			c.optim, c.lr, c.parties = "adam", lr, parties
			var out bytes.Buffer
			h, err := run(&out, c)
			if err != nil {
				t.Fatal(err)
			}
			d := tensor.MaxAbsDiff(h[0].Weight, h[1].Weight)
			if d > 1e-2 {
				t.Errorf("Adam lr %g, %d parties: encrypted weights differ from plaintext by %.3g\n%s", lr, parties, d, out.String())
			} else {
				t.Logf("Adam lr %g, %d parties: weights within %.2e of plaintext", lr, parties, d)
			}
			if !(h[1].Loss[len(h[1].Loss)-1] < h[1].Loss[0]) {
				t.Errorf("Adam lr %g: plaintext loss did not fall: %v", lr, h[1].Loss)
			}
		}
	}
}

// TestBreastCancer trains on real data (scikit-learn's breast cancer set,
// from Debian's python3-sklearn) with SGD and Adam at 2 and 3 parties: the
// encrypted weights end within 1e-2 of plaintext's and both models have
// the same held-out accuracy, above 90%.
func TestBreastCancer(t *testing.T) {
	if _, _, err := dataset.BreastCancer(); err != nil {
		t.Skipf("scikit-learn's breast cancer data is missing (CI installs python3-sklearn): %v", err)
	}
	for _, optim := range []string{"sgd", "adam"} {
		for _, parties := range []int{2, 3} {
			c := defaults
			c.data, c.optim, c.lr, c.parties = "breast-cancer", optim, defaultLR[optim], parties
			var out bytes.Buffer
			h, err := run(&out, c)
			if err != nil {
				t.Fatal(err)
			}
			enc, plain := h[0], h[1]
			if d := tensor.MaxAbsDiff(enc.Weight, plain.Weight); d > 1e-2 {
				t.Errorf("%s, %d parties: weights differ by %.3g\n%s", optim, parties, d, out.String())
			}
			if plain.Test < 0.9 || enc.Test != plain.Test {
				t.Errorf("%s, %d parties: held-out accuracy encrypted %.3f, plaintext %.3f\n%s", optim, parties, enc.Test, plain.Test, out.String())
			}
			t.Logf("%s, %d parties: held-out accuracy encrypted %.3f, plaintext %.3f", optim, parties, enc.Test, plain.Test)
		}
	}
	c := defaults
	c.data = "iris"
	if _, err := run(&bytes.Buffer{}, c); err == nil || !strings.Contains(err.Error(), "breast-cancer") {
		t.Errorf("unknown data set: %v", err)
	}
}
