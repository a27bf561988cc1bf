package syft_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomplab/gomplab/internal/recording"
	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/jobs"
)

// encodings lists byte strings that would betray the values: float64 and
// float32 bits, the 16-bit fixed-point encoding MPC shares, and the
// decimal text logs would use.
func jobEncodings(vals []float64) map[string][]byte {
	out := map[string][]byte{}
	for _, v := range vals {
		var b8 [8]byte
		binary.LittleEndian.PutUint64(b8[:], math.Float64bits(v))
		out["float64 "+strconv.FormatFloat(v, 'g', -1, 64)] = bytes.Clone(b8[:])
		binary.BigEndian.PutUint64(b8[:], math.Float64bits(v))
		out["float64 BE "+strconv.FormatFloat(v, 'g', -1, 64)] = bytes.Clone(b8[:])
		var b4 [4]byte
		binary.LittleEndian.PutUint32(b4[:], math.Float32bits(float32(v)))
		out["float32 "+strconv.FormatFloat(v, 'g', -1, 64)] = bytes.Clone(b4[:])
		binary.LittleEndian.PutUint64(b8[:], uint64(int64(math.Round(v*65536))))
		out["fixed "+strconv.FormatFloat(v, 'g', -1, 64)] = bytes.Clone(b8[:])
		out["text "+strconv.FormatFloat(v, 'g', -1, 64)] = []byte(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return out
}

// TestJobPrivacy: after the product job, neither worker's
// received messages (worker protocol and MPC traffic), logs (operational
// and access) or store file contain the other's plaintext, while each
// holds its own (which shows the scan can find them).
func TestJobPrivacy(t *testing.T) {
	// Products stay below 2^11: a two-party truncation of a product x
	// fails with probability about |x|/2^31 (docs/mpc.md), 1% at the
	// 1.8e7 these values once multiplied to.
	vals := [][]float64{{12.345678, -23.456789, 34.567891, 9.87654321}, {87.654321, -76.543219, 65.432198, 1.23456789}}
	names := []string{"alice", "bob"}
	type worker struct {
		dir      string
		log, rec *recording.Buffer
		w        syft.Worker
		d        *daemon.Daemon
	}
	ws := make([]*worker, 2)
	for i, id := range names {
		x := &worker{dir: filepath.Join(t.TempDir(), id), log: &recording.Buffer{}, rec: &recording.Buffer{}}
		res, err := daemon.InitDataDir(x.dir, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		users, err := res.Dir.Users()
		if err != nil {
			t.Fatal(err)
		}
		meTok, err := users.Add("me")
		if err != nil {
			t.Fatal(err)
		}
		x.d, err = daemon.Start(daemon.Config{Dir: x.dir, Listen: "127.0.0.1:0", InsecureLoopback: true,
			Log: slog.New(slog.NewTextHandler(x.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		rec := x.rec
		x.d.Jobs().Configure(jobs.Options{
			Observe: func(_ string, _ int, c comm.Comm) comm.Comm { return &recording.Comm{Comm: c, W: rec} }})
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			x.d.Shutdown(ctx)
		})
		// The owner stages the data directly; the data scientist goes
		// through the recording proxy.
		owner, err := syft.Connect(x.d.Addr(), syft.Options{Token: res.OwnerToken, Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		stageTensor(t, owner, "crypten_data", tensor.FromSlice(vals[i]))
		owner.Close()
		x.w, err = syft.Connect(recording.Proxy(t, x.d.Addr(), x.rec), syft.Options{Token: meTok, Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.w.Close() })
		ws[i] = x
	}

	res, err := syft.RunMultiWorkers([]syft.Worker{ws[0].w, ws[1].w}, "127.0.0.1", jobProduct)
	if err != nil {
		t.Fatal(err)
	}
	want := tensor.FromSlice(vals[0]).Mul(tensor.FromSlice(vals[1]))
	if got := res.Tensor(0); got == nil || !tensor.AllClose(got, want, 1e-4, 1) {
		t.Fatalf("product %v, want %v", res.Value(0), want)
	}
	for _, x := range ws {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		x.d.Shutdown(ctx) // flushes the access log and closes the store
		cancel()
	}

	for i, x := range ws {
		store, err := os.ReadFile(filepath.Join(x.dir, "store.db"))
		if err != nil {
			entries, _ := os.ReadDir(x.dir)
			t.Fatalf("%s: store file: %v (data dir holds %v)", names[i], err, entries)
		}
		access, err := os.ReadFile(filepath.Join(x.dir, "access.log"))
		if err != nil {
			t.Fatalf("%s: access log: %v", names[i], err)
		}
		received := x.rec.Bytes()
		if len(received) == 0 || len(access) == 0 {
			t.Fatalf("%s: nothing recorded", names[i])
		}
		places := map[string][]byte{"received messages": received, "log": x.log.Bytes(), "access log": access, "store": store}
		other := 1 - i
		for what, enc := range jobEncodings(vals[other]) {
			for where, b := range places {
				if bytes.Contains(b, enc) {
					t.Errorf("%s's %s contain %s's %s", names[i], where, names[other], what)
				}
			}
		}
		// The scan works: each worker's store holds its own values.
		own := jobEncodings(vals[i])
		if !bytes.Contains(store, own["float64 "+strconv.FormatFloat(vals[i][0], 'g', -1, 64)]) {
			t.Errorf("%s's store does not hold its own value: the scan would not see one", names[i])
		}
	}
}
