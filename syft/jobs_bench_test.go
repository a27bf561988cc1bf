package syft_test

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// benchN is the side of the matrices of the benchmark workload.
const benchN = 256

// benchWorkload is the MPC workload run natively and through workers:
// rank 0's and rank 1's matrices, multiplied, rectified and summed.
func benchWorkload() (any, error) {
	a := mpc.Encrypt(tensor.RandN(1, benchN, benchN), 0)
	b := mpc.Encrypt(tensor.RandN(2, benchN, benchN), 1)
	return a.MatMul(b).Relu().SumAll().GetPlainText()
}

// nativeWorkload is benchWorkload on an explicit party, for the native
// launchers.
func nativeWorkload(p *mpc.Party) (any, error) {
	a := p.Encrypt(tensor.RandN(1, benchN, benchN), 0)
	b := p.Encrypt(tensor.RandN(2, benchN, benchN), 1)
	return a.MatMul(b).Relu().SumAll().GetPlainText()
}

func init() { mpc.RegisterParty("syft-bench-workload", nativeWorkload) }

// BenchmarkRunMultiWorkersEmpty is the overhead of a job: submit an empty
// function to 2 and 3 workers and collect the results.
func BenchmarkRunMultiWorkersEmpty(b *testing.B) {
	for _, gr := range jobGrids {
		for _, n := range []int{2, 3} {
			b.Run(fmt.Sprintf("%s/%d", gr.name, n), func(b *testing.B) {
				g := gr.mk(b, n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := syft.RunMultiWorkers(g.ws, "127.0.0.1", jobEmpty); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWorkload compares the same 2-party MPC workload (256x256
// matmul, ReLU, sum) run natively (mpc.RunLocal: goroutines over the
// in-memory transport; mpc.RunProcesses: two processes over loopback TCP)
// and through workers (RunMultiWorkers on virtual workers, and on daemons
// running parties as child processes).
func BenchmarkWorkload(b *testing.B) {
	b.Run("native/RunLocal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := mpc.RunLocal(2, nativeWorkload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("native/RunProcesses", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := mpc.RunProcesses(2, "syft-bench-workload", mpc.ProcessOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, gr := range []int{0, 2} {
		grid := jobGrids[gr]
		b.Run("workers/"+grid.name, func(b *testing.B) {
			g := grid.mk(b, 2)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := syft.RunMultiWorkers(g.ws, "127.0.0.1", benchWorkload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
