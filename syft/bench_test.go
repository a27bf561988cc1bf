package syft_test

import (
	"testing"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// benchWorkers returns bob as a virtual worker and as a TLS daemon on
// loopback (bbolt store: every acknowledged write is fsynced).
func benchWorkers(b *testing.B) map[string]syft.Worker {
	bob := syft.NewVirtualWorker("bob")
	b.Cleanup(bob.Shutdown)
	d, tok := startDaemon(b, "bob")
	w, err := syft.Connect(d.Addr(), syft.Options{Token: tok["me"], Fingerprint: d.Fingerprint()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return map[string]syft.Worker{"virtual": bob, "tls": w}
}

// BenchmarkRemoteOpRoundTrip is the latency of one small remote op (add of
// two 5-element tensors, result stored on the worker, pointer returned).
func BenchmarkRemoteOpRoundTrip(b *testing.B) {
	for name, w := range benchWorkers(b) {
		b.Run(name, func(b *testing.B) {
			x, err := syft.Send(tensor.FromSlice([]float64{1, 2, 3, 4, 5}), w)
			if err != nil {
				b.Fatal(err)
			}
			y, _ := syft.Send(tensor.FromSlice([]float64{1, 1, 1, 1, 1}), w)
			b.ResetTimer()
			for b.Loop() {
				z, err := x.Add(y)
				if err != nil {
					b.Fatal(err)
				}
				z.Keep() // no background frees inside the timing
			}
			b.StopTimer()
			w.Clear()
		})
	}
}

// BenchmarkSend10M is the throughput of sending a 10M-element float64
// tensor (80 MB) and having it committed to the worker's store.
func BenchmarkSend10M(b *testing.B) {
	t := tensor.RandN(1, 10_000_000)
	for name, w := range benchWorkers(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(8 * t.Size()))
			for b.Loop() {
				p, err := syft.Send(t, w)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := p.Free(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkGetCopy10M is the throughput of fetching a 10M-element tensor.
func BenchmarkGetCopy10M(b *testing.B) {
	t := tensor.RandN(1, 10_000_000)
	for name, w := range benchWorkers(b) {
		b.Run(name, func(b *testing.B) {
			p, err := syft.Send(t, w)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(8 * t.Size()))
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.GetCopy(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			p.Free()
		})
	}
}

// BenchmarkPingTLS is the bare request round trip over loopback TLS (no
// store write), to separate network cost from the fsync in
// BenchmarkRemoteOpRoundTrip.
func BenchmarkPingTLS(b *testing.B) {
	w := benchWorkers(b)["tls"].(*syft.RemoteWorker)
	for b.Loop() {
		if _, err := w.Ping(); err != nil {
			b.Fatal(err)
		}
	}
}
