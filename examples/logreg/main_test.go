package main

import (
	"bytes"
	"math"
	"testing"
)

// TestEncryptedMatchesPlaintext: from the same initialization, encrypted
// training follows the plaintext loss curve within fixed-point tolerance.
func TestEncryptedMatchesPlaintext(t *testing.T) {
	// The tolerance covers the mpc package's log and exp, whose error grows
	// with the number of parties (truncation with three or more).
	tolerance := map[int]float64{2: 2e-3, 3: 1e-2}
	for _, parties := range []int{2, 3} {
		var out bytes.Buffer
		h, err := run(&out, config{samples: 200, features: 20, batch: 50, epochs: 4, parties: parties, lr: 1, seed: 5})
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
