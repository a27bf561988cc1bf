package syft_test

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// fedWorkers returns n workers of one kind: virtual, or TLS daemons on
// loopback with bbolt stores (every share stored is fsynced).
func fedWorkers(b *testing.B, kind string, n int) []syft.Worker {
	ids := []string{"bob", "alice", "carol"}[:n]
	var ws []syft.Worker
	for _, id := range ids {
		switch kind {
		case "virtual":
			w := syft.NewVirtualWorker(id)
			b.Cleanup(w.Shutdown)
			ws = append(ws, w)
		case "tls":
			d, tok := startDaemon(b, id)
			w, err := syft.Connect(d.Addr(), syft.Options{Token: tok["me"], Fingerprint: d.Fingerprint()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { w.Close() })
			ws = append(ws, w)
		}
	}
	return ws
}

// BenchmarkSecureAggregate is one round of secure aggregation of a
// 100,100-parameter model (Linear(1000, 100)) held by 2 and 3 workers:
// grants, fixed-point shares sent worker to worker, sums, decoding.
func BenchmarkSecureAggregate(b *testing.B) {
	for _, kind := range []string{"virtual", "tls"} {
		for _, n := range []int{2, 3} {
			b.Run(fmt.Sprintf("%s/%dworkers", kind, n), func(b *testing.B) {
				ws := fedWorkers(b, kind, n)
				var mps []*syft.ModelPointer
				for i, w := range ws {
					m := nn.NewModel(nn.NewLinear(1000, 100, tensor.NewRNG(uint64(i))))
					mp, err := syft.SendModel(m, w)
					if err != nil {
						b.Fatal(err)
					}
					mps = append(mps, mp)
				}
				b.SetBytes(int64(8 * 100100 * n))
				b.ResetTimer()
				for b.Loop() {
					if _, err := syft.SecureAggregate(mps, syft.SecureAggOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFederatedRound is one FedAvg round on synthetic digits: every
// worker gets the global 784-32-10 classifier (25,450 parameters), trains
// 2 local steps of 20 samples, and the models are averaged, securely or
// on a secure worker.
func BenchmarkFederatedRound(b *testing.B) {
	x, y := digits(600, 1)
	for _, n := range []int{2, 3} {
		for _, agg := range []syft.Aggregation{syft.Secure, syft.OnSecureWorker} {
			name := map[syft.Aggregation]string{syft.Secure: "secure", syft.OnSecureWorker: "secure-worker"}[agg]
			b.Run(fmt.Sprintf("virtual/%dworkers/%s", n, name), func(b *testing.B) {
				ws := fedWorkers(b, "virtual", n)
				sw := syft.NewVirtualWorker("secure")
				b.Cleanup(sw.Shutdown)
				fd, err := syft.Federate(x, y, ws...)
				if err != nil {
					b.Fatal(err)
				}
				loader, _ := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: 20, Shuffle: true, DropLast: true})
				fa, err := syft.NewFedAvg(classifier(1), syft.FedAvgConfig{Loader: loader, LocalSteps: 2,
					Aggregation: agg, SecureWorker: sw,
					Train: syft.TrainConfig{Loss: "cross_entropy", Optimizer: syft.Optimizer{LR: 0.1}}})
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := fa.Round(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
