package main

import (
	"testing"

	"github.com/gomplab/gomplab/mpc"
)

// TestNNWorkloads runs each `bench nn` workload once with goroutine
// parties and checks its error against plaintext (the benchmark itself
// measures time, bytes and rounds with party processes).
func TestNNWorkloads(t *testing.T) {
	limits := []float64{1e-3, 2e-3} // LeNet logits, trained weights
	for i, w := range nnWorkloads {
		res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
			step, check, err := w.setup(p)
			if err != nil {
				return nil, err
			}
			if err := step(); err != nil {
				return nil, err
			}
			return check()
		})
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if e := res[0].Value.(float64); e > limits[i] {
			t.Errorf("%s: max abs error %g against plaintext", w.name, e)
		}
	}
}
