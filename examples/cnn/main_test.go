package main

import (
	"bytes"
	"math"
	"testing"
)

// TestAdamDefaults is the acceptance check of encrypted Adam on a CNN: at
// the example's defaults (50 steps at PyTorch's default learning rate),
// the encrypted weights end within 1e-2 of plaintext Adam's from the same
// initialization and data.
func TestAdamDefaults(t *testing.T) {
	var out bytes.Buffer
	h, err := run(&out, defaults)
	if err != nil {
		t.Fatal(err)
	}
	enc, plain := h[0], h[1]
	if d := maxDiff(enc, plain); d > 1e-2 {
		t.Errorf("encrypted weights differ from plaintext by %.3g", d)
	} else {
		t.Logf("weights within %.2e of plaintext", d)
	}
	for i := range plain.Loss {
		if d := math.Abs(enc.Loss[i] - plain.Loss[i]); d > 1e-2 {
			t.Errorf("epoch %d: encrypted loss %.4f, plaintext %.4f", i+1, enc.Loss[i], plain.Loss[i])
		}
	}
	if !(plain.Loss[len(plain.Loss)-1] < plain.Loss[0]) {
		t.Errorf("loss did not fall: %v", plain.Loss)
	}
	if t.Failed() {
		t.Log(out.String())
	}
}
