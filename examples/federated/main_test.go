package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestFederatedMatchesCentralized: the program's federated model ends
// within 2 points of the centralized one, privately or not.
func TestFederatedMatchesCentralized(t *testing.T) {
	if testing.Short() {
		t.Skip("trains classifiers")
	}
	for _, tc := range []struct {
		name string
		c    config
	}{
		{"secure aggregation, private data", config{workers: 3, train: 900, test: 300, rounds: 150, local: 2, batch: 20, hidden: 16, lr: 0.25, private: true, seed: 2}},
		{"secure worker", config{workers: 2, train: 600, test: 300, rounds: 150, local: 2, batch: 20, hidden: 16, lr: 0.25, secureWorker: true, seed: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := run(&out, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			t.Log("\n" + out.String())
			if !strings.Contains(out.String(), "round 150") {
				t.Errorf("no progress printed:\n%s", out.String())
			}
			if res.Centralized < 0.9 || math.Abs(res.Accuracy-res.Centralized) > 0.02 {
				t.Errorf("federated %.3f vs centralized %.3f", res.Accuracy, res.Centralized)
			}
			if !(res.Loss[len(res.Loss)-1] < res.Loss[0]) {
				t.Errorf("loss did not fall: %v", res.Loss)
			}
		})
	}
	if _, err := run(&bytes.Buffer{}, config{workers: 1}); err == nil {
		t.Error("ran secure aggregation with one worker")
	}
}
