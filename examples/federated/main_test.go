package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/internal/race"
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
			if tc.c.private && (strings.Count(out.String(), "is pending") != tc.c.workers || strings.Count(out.String(), "reviewed request") != tc.c.workers ||
				!strings.Contains(out.String(), "at most 150 rounds")) {
				t.Errorf("the private run does not show each owner's refusal and approval:\n%s", out.String())
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

// TestMNIST is the seed's federated MNIST demo on the real digits: 6,000
// MNIST training images split between bob and alice, a FederatedDataLoader
// over both, 200 rounds of federated averaging; the federated model ends
// within 2 points of the centralized one on 2,000 MNIST test images, and
// the accuracy of both is printed every 50 rounds.
func TestMNIST(t *testing.T) {
	if testing.Short() || race.Enabled {
		t.Skip("trains on 6,000 MNIST images: skipped under -short and -race")
	}
	var out bytes.Buffer
	res, err := run(&out, config{data: "mnist", every: 50, workers: 2, train: 6000, test: 2000, rounds: 200, local: 2, batch: 32, hidden: 32, lr: 0.1, seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "2 workers, 3000 samples each") || len(res.Checkpoints) != 4 {
		t.Errorf("%d checkpoints, output:\n%s", len(res.Checkpoints), out.String())
	}
	if res.Centralized < 0.85 || math.Abs(res.Accuracy-res.Centralized) > 0.02 {
		t.Errorf("federated %.3f vs centralized %.3f", res.Accuracy, res.Centralized)
	}
	for _, cp := range res.Checkpoints {
		if cp.Federated < 0.5 || cp.Centralized < 0.5 {
			t.Errorf("round %d: federated %.3f, centralized %.3f", cp.Round, cp.Federated, cp.Centralized)
		}
	}
}
