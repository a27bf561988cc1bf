package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/tensor"
)

// TestEncryptedMatchesPlaintext is the acceptance check of encrypted
// training: from the same initialization, the encrypted run's loss curve
// follows the plaintext one within fixed-point tolerance.
func TestEncryptedMatchesPlaintext(t *testing.T) {
	for _, parties := range []int{2, 3} {
		var out bytes.Buffer
		h, err := run(&out, config{samples: 60, features: 10, epochs: 12, parties: parties, lr: 0.5, weightDecay: 0.01, margin: 1, seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		enc, plain := h[0], h[1]
		for i := range plain.Loss {
			if d := math.Abs(enc.Loss[i] - plain.Loss[i]); d > 5e-3 {
				t.Errorf("%d parties, epoch %d: encrypted loss %.5f, plaintext %.5f", parties, i+1, enc.Loss[i], plain.Loss[i])
			}
		}
		if last := plain.Loss[len(plain.Loss)-1]; !(last < plain.Loss[0]/2) {
			t.Errorf("plaintext loss did not fall: %v", plain.Loss)
		}
		if acc := enc.Accuracy[len(enc.Accuracy)-1]; acc < 0.9 {
			t.Errorf("%d parties: final encrypted accuracy %.3f", parties, acc)
		}
		if !strings.Contains(out.String(), "epoch  12") {
			t.Errorf("no progress output:\n%s", out.String())
		}
	}
}

// TestDefaultWeights runs the example's default configuration (CrypTen's
// mpc_linear_svm) and checks that the encrypted weights end within 5e-3 of
// the plaintext ones at 2, 3 and 4 parties.
func TestDefaultWeights(t *testing.T) {
	for _, parties := range []int{2, 3, 4} {
		c := defaults
		c.parties = parties
		var out bytes.Buffer
		h, err := run(&out, c)
		if err != nil {
			t.Fatal(err)
		}
		d := tensor.MaxAbsDiff(h[0].Weight, h[1].Weight)
		if d > 5e-3 {
			t.Errorf("%d parties: encrypted weights differ from plaintext by %.3g\n%s", parties, d, out.String())
		} else {
			t.Logf("%d parties: weights within %.2e of plaintext", parties, d)
		}
		if acc := h[0].Accuracy[len(h[0].Accuracy)-1]; acc < 0.95 {
			t.Errorf("%d parties: final encrypted accuracy %.3f", parties, acc)
		}
	}
}

// TestBreastCancer trains the textbook SVM (hinge at margin 1, L2 0.01)
// on real data, scikit-learn's breast cancer set from Debian's
// python3-sklearn, at 2 and 3 parties: both models reach the same
// held-out accuracy, above 95%, and the encrypted weights end close to
// plaintext's. They usually agree within 2e-4; but a training sample that
// comes to rest within the fixed-point error of the hinge (see the package
// comment) lands on the other side in some runs and moves the weights by
// up to 1.2e-2 (seen over 40 runs): the bound is 3e-2. CrypTen's rule
// (margin 0, the update by misclassified samples alone) is left out here:
// with it, such a flip moves one or two held-out tumours across the
// boundary in about one run in ten at 3 parties.
func TestBreastCancer(t *testing.T) {
	if _, _, err := dataset.BreastCancer(); err != nil {
		t.Skipf("scikit-learn's breast cancer data is missing (CI installs python3-sklearn): %v", err)
	}
	for _, margin := range []float64{1} {
		for _, parties := range []int{2, 3} {
			c := defaults
			c.data, c.margin, c.weightDecay, c.parties = "breast-cancer", margin, 0.01, parties
			var out bytes.Buffer
			h, err := run(&out, c)
			if err != nil {
				t.Fatal(err)
			}
			enc, plain := h[0], h[1]
			d := tensor.MaxAbsDiff(enc.Weight, plain.Weight)
			if d > 3e-2 {
				t.Errorf("margin %g, %d parties: weights differ by %.3g\n%s", margin, parties, d, out.String())
			}
			if plain.Test < 0.95 || enc.Test != plain.Test {
				t.Errorf("margin %g, %d parties: held-out accuracy encrypted %.3f, plaintext %.3f\n%s", margin, parties, enc.Test, plain.Test, out.String())
			}
			t.Logf("margin %g, %d parties: held-out accuracy encrypted %.3f, plaintext %.3f; weights within %.2e", margin, parties, enc.Test, plain.Test, d)
		}
	}
}
