package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/internal/race"
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

// TestMNIST trains the perceptron under encryption on 2,000 real MNIST
// digits (the data owner's, secret-shared) and in plaintext from the same
// initialization: the loss curves agree within 5e-3, and on 1,000 MNIST
// test images the two models' accuracies are within one point.
func TestMNIST(t *testing.T) {
	if race.Enabled {
		t.Skip("trains on 2,000 images under encryption: too slow under -race")
	}
	var out bytes.Buffer
	h, err := run(&out, config{data: "mnist", train: 2000, test: 1000, hidden: 32, epochs: 3, batch: 64, parties: 2, lr: 0.1, seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	enc, plain := h[0], h[1]
	for i := range plain.Loss {
		if d := math.Abs(enc.Loss[i] - plain.Loss[i]); d > 5e-3 {
			t.Errorf("epoch %d: encrypted loss %.4f, plaintext %.4f", i+1, enc.Loss[i], plain.Loss[i])
		}
	}
	if plain.Accuracy < 0.8 || math.Abs(enc.Accuracy-plain.Accuracy) > 0.01 {
		t.Errorf("MNIST test accuracy: encrypted-trained %.3f, plaintext-trained %.3f", enc.Accuracy, plain.Accuracy)
	}
	t.Log("\n" + out.String())
	if _, err := run(&bytes.Buffer{}, config{data: "cifar"}); err == nil || !strings.Contains(err.Error(), "mnist") {
		t.Errorf("unknown data: %v", err)
	}
}
