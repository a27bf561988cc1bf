package main

import (
	"bytes"
	"github.com/gomplab/gomplab/tensor"
	"math"
	"strings"
	"testing"
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
