package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestEncryptedMatchesPlaintext runs the bandit on encrypted contexts and
// rewards with each policy at two and three parties and compares it with
// plaintext: no
// greedy choice differs from plaintext's (fed the same history) where the
// score margin exceeds the error bound, at most 2% differ at all, the
// weights stay within 5e-2, and the reward collected is within 3% of the
// plaintext learner's, which itself learns (above 80% of always playing
// the best arm).
func TestEncryptedMatchesPlaintext(t *testing.T) {
	linucb := defaults
	linucb.policy = "linucb"
	for _, c := range []config{
		defaults,
		{policy: "epsilon-greedy", steps: 200, arms: 4, features: 6, parties: 3, epsilon: 0.1, lambda: 1, noise: 0.1, seed: 2},
		linucb,
		{policy: "linucb", steps: 200, arms: 4, features: 6, parties: 3, alpha: 0.5, lambda: 1, noise: 0.1, seed: 3},
	} {
		var out bytes.Buffer
		o, err := run(&out, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + out.String())
		if o.DifferWide != 0 || float64(o.Differ) > 0.02*float64(o.Greedy) {
			t.Errorf("%s, %d parties: %d of %d choices differ from plaintext, %d beyond the error bound", c.policy, c.parties, o.Differ, o.Greedy, o.DifferWide)
		}
		if o.WeightError > 5e-2 {
			t.Errorf("%d parties: weights differ by %.3g", c.parties, o.WeightError)
		}
		if o.Enc.Reward < 0.97*o.Plain.Reward || o.Plain.Reward < 0.8*o.Oracle {
			t.Errorf("%d parties: reward encrypted %.2f, plaintext %.2f, oracle %.2f", c.parties, o.Enc.Reward, o.Plain.Reward, o.Oracle)
		}
		if len(o.Enc.Actions) != c.steps {
			t.Errorf("%d actions for %d steps", len(o.Enc.Actions), c.steps)
		}
	}
	for _, bad := range []config{
		{policy: "linucb", steps: 10, arms: 1, features: 2, parties: 2, lambda: 1},
		{policy: "linucb", steps: 10, arms: 2, features: 2, parties: 2, lambda: 0.1},
		{policy: "thompson", steps: 10, arms: 2, features: 2, parties: 2, lambda: 1},
	} {
		if _, err := run(&bytes.Buffer{}, bad); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
