package syft_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/store"
)

// recorder keeps every byte each process receives: what a worker's server
// reads (requests from the orchestrator and from other workers) and what
// it writes (replies, received by the orchestrator or a peer worker).
type recorder struct {
	on   atomic.Bool
	mu   sync.Mutex
	recv map[string]*bytes.Buffer // by receiver
}

func (r *recorder) add(who string, p []byte) {
	if !r.on.Load() || len(p) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.recv[who]
	if b == nil {
		b = &bytes.Buffer{}
		r.recv[who] = b
	}
	b.Write(p)
}

type recListener struct {
	net.Listener
	rec    *recorder
	worker string
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c, rec: l.rec, worker: l.worker}, nil
}

type recConn struct {
	net.Conn
	rec    *recorder
	worker string
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.rec.add(c.worker, p[:n])
	return n, err
}

func (c *recConn) Write(p []byte) (int, error) {
	c.rec.add("clients of "+c.worker, p)
	return c.Conn.Write(p)
}

// recordedWorker serves a fresh in-process worker on loopback through a
// recording listener and connects to it.
func recordedWorker(t *testing.T, id string, rec *recorder) syft.Worker {
	t.Helper()
	users := workers.NewUsers()
	tok, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	core, err := daemon.NewWorker(workers.Config{WorkerID: id, Store: store.NewMemStore(), Users: users, Dial: workers.PeerDialer(nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv := workers.NewServer(workers.ServerConfig{Handler: core.Handler})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(&recListener{Listener: ln, rec: rec, worker: id})
	w, err := syft.Connect(ln.Addr().String(), syft.Options{Token: tok, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Close()
		srv.Shutdown(t.Context())
		core.Close()
	})
	return w
}

// encodings returns byte patterns that would betray v: windows of two
// consecutive elements as float64 and float32 (little and big endian, raw
// tensors and msgpack floats) and as 64-bit fixed point (both byte orders).
func encodings(v []float64, fracBits int) [][]byte {
	var out [][]byte
	fx, _ := fl.EncodeFixed(v, fracBits)
	for i := 0; i+1 < len(v); i++ {
		if v[i] == 0 && v[i+1] == 0 {
			continue
		}
		var b [6][16]byte
		binary.LittleEndian.PutUint64(b[0][:], math.Float64bits(v[i]))
		binary.LittleEndian.PutUint64(b[0][8:], math.Float64bits(v[i+1]))
		binary.BigEndian.PutUint64(b[1][:], math.Float64bits(v[i]))
		binary.BigEndian.PutUint64(b[1][8:], math.Float64bits(v[i+1]))
		binary.LittleEndian.PutUint64(b[2][:], fx[i])
		binary.LittleEndian.PutUint64(b[2][8:], fx[i+1])
		binary.BigEndian.PutUint64(b[3][:], fx[i])
		binary.BigEndian.PutUint64(b[3][8:], fx[i+1])
		binary.LittleEndian.PutUint32(b[4][:], math.Float32bits(float32(v[i])))
		binary.LittleEndian.PutUint32(b[4][4:], math.Float32bits(float32(v[i+1])))
		binary.BigEndian.PutUint32(b[5][:], math.Float32bits(float32(v[i])))
		binary.BigEndian.PutUint32(b[5][4:], math.Float32bits(float32(v[i+1])))
		out = append(out, b[0][:], b[1][:], b[2][:], b[3][:], b[4][:8], b[5][:8])
	}
	return out
}

func flat(t *testing.T, m *nn.Model) []float64 {
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	var v []float64
	for _, p := range m.Params() {
		v = append(v, sd[p.Name].Data()...)
	}
	return v
}

// leaks counts the patterns of v found in what each process received.
func leaks(rec *recorder, v []float64, fracBits int) map[string]int {
	pats := encodings(v, fracBits)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	found := map[string]int{}
	for who, b := range rec.recv {
		for _, p := range pats {
			if bytes.Contains(b.Bytes(), p) {
				found[who]++
			}
		}
	}
	return found
}

// Secure aggregation over real connections, every received byte recorded:
// the average equals the plaintext one, and no process ever received a
// worker's trained model or its update in any encoding, while the global
// model the orchestrator sent is found (the scan works).
func TestSecureAggregationRecordedTransport(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(map[int]string{2: "2workers", 3: "3workers"}[n], func(t *testing.T) {
			rec := &recorder{recv: map[string]*bytes.Buffer{}}
			var ws []syft.Worker
			for _, id := range []string{"bob", "alice", "carol"}[:n] {
				ws = append(ws, recordedWorker(t, id, rec))
			}
			x := tensor.RandN(1, 30*n, 4)
			y := tensor.RandN(2, 30*n, 2)
			fd, err := syft.Federate(x, y, ws...)
			if err != nil {
				t.Fatal(err)
			}
			global := mlp(4, 6, 2, 9)
			rec.on.Store(true)
			cfg := syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.2}}
			var mps []*syft.ModelPointer
			for _, p := range fd.Parts() {
				mp, err := syft.SendModel(global, p.Worker)
				if err != nil {
					t.Fatal(err)
				}
				for k := 0; k < 3; k++ {
					if _, err := mp.Train(p.Data, p.Targets, cfg); err != nil {
						t.Fatal(err)
					}
				}
				mps = append(mps, mp)
			}
			res, err := syft.SecureAggregate(mps, syft.SecureAggOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec.on.Store(false)

			// Now (not recorded) fetch the individual models to know what
			// to look for.
			g := flat(t, global)
			var locals []*nn.Model
			for i, mp := range mps {
				m, err := mp.GetCopy()
				if err != nil {
					t.Fatal(err)
				}
				locals = append(locals, m)
				v := flat(t, m)
				delta := make([]float64, len(v))
				for k := range v {
					delta[k] = v[k] - g[k]
				}
				for name, vec := range map[string][]float64{"model": v, "update": delta} {
					if f := leaks(rec, vec, fl.DefaultFracBits); len(f) > 0 {
						t.Errorf("worker %d's %s was received in the clear: %v", i, name, f)
					}
				}
			}
			if f := leaks(rec, g, fl.DefaultFracBits); len(f) == 0 {
				t.Fatal("the scan does not find the global model the orchestrator sent: it cannot see leaks either")
			}
			// The contrast: moving a model (what AverageOn does) is seen.
			rec.on.Store(true)
			if _, err := mps[0].Move(ws[1]); err != nil {
				t.Fatal(err)
			}
			rec.on.Store(false)
			if f := leaks(rec, flat(t, locals[0]), fl.DefaultFracBits); f[ws[1].ID()] == 0 {
				t.Fatalf("a moved model was not found in what %s received: %v", ws[1].ID(), f)
			}
			w := make([]float64, n)
			for i := range w {
				w[i] = 1
			}
			want := plainAverage(t, locals, w)
			got, _ := res.Model.StateDict()
			for k, v := range want {
				if d := tensor.MaxAbsDiff(v, got[k]); d > math.Ldexp(1, -fl.DefaultFracBits-1) {
					t.Errorf("%s off by %g", k, d)
				}
			}
		})
	}
}
