package syft

import (
	"github.com/gomplab/gomplab/mpc"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// stage puts a private tensor tagged tag on w, as its data owner.
func stage(t *testing.T, w *VirtualWorker, tag string, x *tensor.Tensor) {
	t.Helper()
	p, err := Send(x, w.Owner(), WithTags(tag), AsPrivate(DefaultUser)) // readable by "me": see stageTensor
	if err != nil {
		t.Fatal(err)
	}
	p.Keep()
}

func newPair(t *testing.T) (*VirtualWorker, *VirtualWorker) {
	t.Helper()
	alice, bob := NewVirtualWorker("alice"), NewVirtualWorker("bob")
	t.Cleanup(func() { alice.Shutdown(); bob.Shutdown() })
	stage(t, alice, "crypten_data", tensor.FromSlice([]float64{42, 53, 3, 2}))
	stage(t, bob, "crypten_data", tensor.FromSlice([]float64{101, 32, 29, 2}))
	return alice, bob
}

// product is the example, shipped from this file's source.
func product() (any, error) {
	a, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("crypten_data", 1)
	if err != nil {
		return nil, err
	}
	return a.Mul(b).GetPlainText()
}

func TestRunMultiWorkersProduct(t *testing.T) {
	alice, bob := newPair(t)
	res, err := RunMultiWorkers([]Worker{alice, bob}, "127.0.0.1", product)
	if err != nil {
		t.Fatal(err)
	}
	want := tensor.FromSlice([]float64{42 * 101, 53 * 32, 3 * 29, 4})
	for r := 0; r < 2; r++ {
		if got := res.Tensor(r); got == nil || !tensor.AllClose(got, want, 0, 1e-2) {
			t.Fatalf("rank %d: %v, want %v", r, res.Value(r), want)
		}
		if res.Ranks[r].Stats.Rounds == 0 {
			t.Errorf("rank %d: no rounds counted", r)
		}
	}
	if res.Ranks[0].Worker != "alice" || res.Ranks[1].Worker != "bob" {
		t.Errorf("ranks follow the workers list: %+v", res.Ranks)
	}
	if s := res.String(); !strings.Contains(s, "rank 1 (bob)") {
		t.Errorf("String: %s", s)
	}
	if h := res.HTML(); !strings.Contains(h, "<table") || !strings.Contains(h, "bob") {
		t.Errorf("HTML: %s", h)
	}
}
