package main

import (
	"bytes"
	"math"
	"testing"
)

func TestEncryptedMatchesPlaintext(t *testing.T) {
	var out bytes.Buffer
	h, err := run(&out, config{train: 256, test: 100, hidden: 16, epochs: 3, batch: 64, parties: 2, lr: 0.2, seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	enc, plain := h[0], h[1]
	for i := range plain.Loss {
		if d := math.Abs(enc.Loss[i] - plain.Loss[i]); d > 1e-2 {
			t.Errorf("epoch %d: encrypted loss %.4f, plaintext %.4f", i+1, enc.Loss[i], plain.Loss[i])
		}
	}
	if !(plain.Loss[len(plain.Loss)-1] < plain.Loss[0]) {
		t.Errorf("loss did not fall: %v", plain.Loss)
	}
	if math.Abs(enc.Accuracy-plain.Accuracy) > 0.05 {
		t.Errorf("test accuracy: encrypted-trained %.3f, plaintext-trained %.3f", enc.Accuracy, plain.Accuracy)
	}
	if t.Failed() {
		t.Log(out.String())
	}
}
