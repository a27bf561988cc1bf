package syft_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/store"
)

// grid is what every suite case runs against: two workers as the ordinary
// user "me", bob as its data owner, bob as "carol", who may read private
// values, and alice as "eve", another ordinary user.
type grid struct {
	bob, alice syft.Worker
	bobOwner   syft.Worker
	bobCarol   syft.Worker
	aliceEve   syft.Worker
}

type gridFactory func(t *testing.T) grid

func virtualGrid(t *testing.T) grid {
	bob := syft.NewVirtualWorker("bob")
	alice := syft.NewVirtualWorker("alice")
	carol, err := bob.AddUser("carol", workers.PermReadPrivate)
	if err != nil {
		t.Fatal(err)
	}
	eve, err := alice.AddUser("eve")
	if err != nil {
		t.Fatal(err)
	}
	owner := bob.Owner()
	t.Cleanup(func() {
		carol.Close()
		eve.Close()
		owner.Close()
		bob.Shutdown()
		alice.Shutdown()
	})
	return grid{bob: bob, alice: alice, bobOwner: owner, bobCarol: carol, aliceEve: eve}
}

// startDaemon initialises a data directory with users "me" and "carol"
// (read-private) and starts a TLS daemon on a free loopback port.
func startDaemon(t testing.TB, id string) (*daemon.Daemon, map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	res, err := daemon.InitDataDir(dir, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	users, err := res.Dir.Users()
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{workers.OwnerUser: res.OwnerToken}
	if tokens["me"], err = users.Add("me"); err != nil {
		t.Fatal(err)
	}
	if tokens["carol"], err = users.Add("carol", workers.PermReadPrivate); err != nil {
		t.Fatal(err)
	}
	if tokens["eve"], err = users.Add("eve"); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(daemon.Config{Dir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return d, tokens
}

func connect(t *testing.T, d *daemon.Daemon, token string) *syft.RemoteWorker {
	t.Helper()
	w, err := syft.Connect(d.Addr(), syft.Options{Token: token, Fingerprint: d.Fingerprint(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func remoteGrid(t *testing.T) grid {
	bd, btok := startDaemon(t, "bob")
	ad, atok := startDaemon(t, "alice")
	return grid{
		bob:      connect(t, bd, btok["me"]),
		alice:    connect(t, ad, atok["me"]),
		bobOwner: connect(t, bd, btok[workers.OwnerUser]),
		bobCarol: connect(t, bd, btok["carol"]),
		aliceEve: connect(t, ad, atok["eve"]),
	}
}

var factories = map[string]gridFactory{"virtual": virtualGrid, "remote": remoteGrid}

// runSuite runs one case against every Worker implementation.
func runSuite(t *testing.T, name string, fn func(t *testing.T, g grid)) {
	for impl, mk := range factories {
		t.Run(name+"/"+impl, func(t *testing.T) { fn(t, mk(t)) })
	}
}

func vec(v ...float64) *tensor.Tensor { return tensor.FromSlice(v) }

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func holds(t *testing.T, w syft.Worker, id string) bool {
	t.Helper()
	infos, err := w.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.ID == id {
			return true
		}
	}
	return false
}

func wantTensor(t *testing.T, got *tensor.Tensor, err error, want *tensor.Tensor) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(got, want) {
		t.Fatalf("got %v, want %v", got.Data(), want.Data())
	}
}

// TestWalkthrough is the seed tutorial: send, compute remotely, get,
// move, and a pointer held by another worker.
func TestWalkthrough(t *testing.T) {
	runSuite(t, "walkthrough", func(t *testing.T, g grid) {
		p := must[*syft.Pointer](t)
		x := p(syft.Send(vec(1, 2, 3, 4, 5), g.bob))
		y := p(syft.Send(vec(1, 1, 1, 1, 1), g.bob))
		if x.Location().ID() != "bob" || !slices.Equal(x.Shape(), []int{5}) {
			t.Fatalf("x = %v", x)
		}
		z := p(x.Add(y))
		if !holds(t, g.bob, z.ID()) {
			t.Fatal("bob does not hold z after the remote add")
		}
		got, err := z.Get()
		wantTensor(t, got, err, vec(2, 3, 4, 5, 6))
		if holds(t, g.bob, z.ID()) {
			t.Fatal("bob still holds z after Get")
		}
		if _, err := z.Get(); err == nil || !strings.Contains(err.Error(), "no longer valid") {
			t.Fatalf("second Get: %v", err)
		}
		// x.get() removes x, y stays (the seed's bob._objects).
		got, err = x.Get()
		wantTensor(t, got, err, vec(1, 2, 3, 4, 5))
		if holds(t, g.bob, x.ID()) || !holds(t, g.bob, y.ID()) {
			t.Fatal("after x.Get bob should hold y only")
		}

		// Move bob -> alice, worker to worker; the id is kept.
		m := p(syft.Send(vec(1, 2, 3, 4, 5), g.bob))
		id := m.ID()
		p(m.Move(g.alice))
		if m.Location().ID() != "alice" || m.ID() != id {
			t.Fatalf("after Move: %v", m)
		}
		if holds(t, g.bob, id) || !holds(t, g.alice, id) {
			t.Fatal("Move: object should be on alice only")
		}
		got, err = m.GetCopy()
		wantTensor(t, got, err, vec(1, 2, 3, 4, 5))

		// alice holds a pointer to bob's tensor; ops through it run on bob.
		b := p(syft.Send(vec(1, 2, 3, 4), g.bob))
		pp := p(b.Send(g.alice))
		if pp.Location().ID() != "alice" || pp.Info().Kind != store.KindPointer || pp.Info().Target != "bob:"+b.ID() {
			t.Fatalf("pointer to pointer: %v", pp)
		}
		doubled := p(pp.Add(pp))
		if doubled.Location().ID() != "alice" {
			t.Fatalf("result pointer should live on alice: %v", doubled)
		}
		scaled := p(pp.Mul(10))
		got, err = doubled.Get()
		wantTensor(t, got, err, vec(2, 4, 6, 8))
		got, err = scaled.Get()
		wantTensor(t, got, err, vec(10, 20, 30, 40))
		// Get through the chain brings bob's value back and removes both links.
		got, err = pp.Get()
		wantTensor(t, got, err, vec(1, 2, 3, 4))
		if holds(t, g.bob, b.ID()) || holds(t, g.alice, pp.ID()) {
			t.Fatal("Get through a pointer chain should remove both links")
		}
	})
}

func TestRemoteOps(t *testing.T) {
	runSuite(t, "ops", func(t *testing.T, g grid) {
		p := must[*syft.Pointer](t)
		a := p(syft.Send(tensor.MustNew([]float64{1, 2, 3, 4, 5, 6}, 2, 3), g.bob))
		b := p(syft.Send(tensor.MustNew([]float64{1, 0, 0, 1, 1, 1}, 3, 2), g.bob))
		cases := []struct {
			name string
			f    func() (*syft.Pointer, error)
			want *tensor.Tensor
		}{
			{"matmul", func() (*syft.Pointer, error) { return a.MatMul(b) }, tensor.MustNew([]float64{4, 5, 10, 11}, 2, 2)},
			{"sub scalar", func() (*syft.Pointer, error) { return a.Sub(1) }, tensor.MustNew([]float64{0, 1, 2, 3, 4, 5}, 2, 3)},
			{"sum all", func() (*syft.Pointer, error) { return a.Sum(false) }, tensor.Scalar(21)},
			{"sum dim", func() (*syft.Pointer, error) { return a.Sum(false, 1) }, vec(6, 15)},
			{"mean keepdim", func() (*syft.Pointer, error) { return a.Mean(true, 0) }, tensor.MustNew([]float64{2.5, 3.5, 4.5}, 1, 3)},
			{"reshape", func() (*syft.Pointer, error) { return a.Reshape(3, -1) }, tensor.MustNew([]float64{1, 2, 3, 4, 5, 6}, 3, 2)},
			{"transpose", func() (*syft.Pointer, error) { return a.Transpose() }, tensor.MustNew([]float64{1, 4, 2, 5, 3, 6}, 3, 2)},
			{"gt", func() (*syft.Pointer, error) { return a.Gt(3) }, tensor.MustNew([]float64{0, 0, 0, 1, 1, 1}, 2, 3)},
			{"max", func() (*syft.Pointer, error) { return a.Max(false) }, tensor.Scalar(6)},
			{"argmax dim", func() (*syft.Pointer, error) { return a.Argmax(false, 1) }, vec(2, 2)},
			{"neg", func() (*syft.Pointer, error) { return a.Neg() }, tensor.MustNew([]float64{-1, -2, -3, -4, -5, -6}, 2, 3)},
		}
		for _, c := range cases {
			r, err := c.f()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got, err := r.Get()
			if err != nil {
				t.Fatalf("%s: get: %v", c.name, err)
			}
			if !tensor.AllClose(got, c.want, 1e-12, 1e-12) || !slices.Equal(got.Shape(), c.want.Shape()) {
				t.Errorf("%s = %v %v, want %v %v", c.name, got.Shape(), got.Data(), c.want.Shape(), c.want.Data())
			}
		}
		// Refusals are clear errors, and the worker keeps serving.
		if _, err := a.Add(b); !errors.Is(err, workers.ErrBadRequest) || !strings.Contains(err.Error(), "[2 3]") {
			t.Errorf("shape mismatch: %v", err)
		}
		if _, err := a.Op("__getattribute__", workers.OpParams{}); !errors.Is(err, workers.ErrBadRequest) || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("unlisted op: %v", err)
		}
		c := p(syft.Send(vec(1), g.alice))
		if _, err := a.Add(c); err == nil || !strings.Contains(err.Error(), "Move") {
			t.Errorf("operands on two workers: %v", err)
		}
		if _, err := a.Reshape(7); !errors.Is(err, workers.ErrBadRequest) {
			t.Errorf("bad reshape: %v", err)
		}
		if got, err := a.GetCopy(); err != nil || got.Size() != 6 {
			t.Fatalf("worker stopped serving: %v", err)
		}
	})
}

func TestSearchAndList(t *testing.T) {
	runSuite(t, "search", func(t *testing.T, g grid) {
		p := must[*syft.Pointer](t)
		// Keep: these pointers are dropped at once, and owning pointers
		// free their objects when collected.
		p(syft.Send(vec(1), g.bob, syft.WithTags("#fun", "#boston"), syft.WithDescription("one"))).Keep()
		p(syft.Send(vec(2), g.bob, syft.WithTags("#fun"))).Keep()
		p(syft.Send(vec(3), g.alice, syft.WithTags("#fun", "#boston"))).Keep()
		for _, c := range []struct {
			ws   []syft.Worker
			tags []string
			want int
		}{
			{[]syft.Worker{g.bob}, []string{"#fun"}, 2},
			{[]syft.Worker{g.bob}, []string{"#fun", "#boston"}, 1},
			{[]syft.Worker{g.bob}, []string{"#nope"}, 0},
			{[]syft.Worker{g.bob, g.alice}, []string{"#boston"}, 2},
			{[]syft.Worker{g.bob, g.alice}, []string{"#fun"}, 3},
		} {
			got, err := syft.Search(c.ws, c.tags...)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("Search(%v) found %d, want %d", c.tags, len(got), c.want)
			}
			for _, ptr := range got {
				if ptr.Owns() {
					t.Errorf("search pointer %v owns its object", ptr)
				}
			}
		}
		// By id, as PySyft's search: alone, with the object's tags, and
		// never another user's object (only what the user may use).
		byID := p(syft.Send(vec(4), g.bob, syft.WithTags("#fun", "#id")))
		other := p(syft.Send(vec(5), g.alice, syft.WithTags("#id")))
		owners := p(syft.Send(vec(6), g.bobOwner, syft.WithTags("#owned")))
		for _, c := range []struct {
			name  string
			w     syft.Worker
			terms []string
			want  []string
		}{
			{"id", g.bob, []string{byID.ID()}, []string{byID.ID()}},
			{"id and its tags", g.bob, []string{"#fun", byID.ID(), "#id"}, []string{byID.ID()}},
			{"id and a tag it lacks", g.bob, []string{byID.ID(), "#boston"}, nil},
			{"id on another worker", g.bob, []string{other.ID()}, nil},
			{"the worker owner's object", g.bob, []string{owners.ID()}, []string{owners.ID()}},
			{"another user's object", g.aliceEve, []string{other.ID()}, nil},
			{"another user's tag", g.aliceEve, []string{"#id"}, nil},
			{"unknown id", g.bob, []string{"0123456789abcdef"}, nil},
		} {
			got, err := c.w.Search(c.terms...)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var ids []string
			for _, q := range got {
				ids = append(ids, q.ID())
				if q.Owns() {
					t.Errorf("%s: search pointer %v owns its object", c.name, q)
				}
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("%s: Search(%v) found %v, want %v", c.name, c.terms, ids, c.want)
			}
		}
		found := must[[]*syft.Pointer](t)(syft.Search([]syft.Worker{g.bob, g.alice}, other.ID()))
		if len(found) != 1 || found[0].Location().ID() != "alice" {
			t.Errorf("grid search by id found %v, want alice's object", found)
		}
		got4, err := found[0].GetCopy()
		wantTensor(t, got4, err, vec(5))
		runtime.KeepAlive(byID)
		runtime.KeepAlive(owners)
		res := must[[]*syft.Pointer](t)(g.bob.Search("#boston"))
		if in := res[0].Info(); in.Description != "one" || !slices.Equal(in.Tags, []string{"#fun", "#boston"}) {
			t.Errorf("search info = %+v", in)
		}
		got, err := res[0].GetCopy()
		wantTensor(t, got, err, vec(1))
	})
}

func TestPrivacy(t *testing.T) {
	runSuite(t, "privacy", func(t *testing.T, g grid) {
		p := must[*syft.Pointer](t)
		// The data owner loads a private dataset.
		secret := vec(3.25, 7.5, 11.125)
		// Keep: the owner's pointer is dropped, but the data must stay.
		p(syft.Send(secret, g.bobOwner, syft.WithTags("#salaries"), syft.AsPrivate(), syft.WithDescription("private"))).Keep()

		// The scientist finds it, computes on it, but cannot take values.
		found := must[[]*syft.Pointer](t)(g.bob.Search("#salaries"))
		if len(found) != 1 || !found[0].Private() {
			t.Fatalf("search = %v", found)
		}
		data := found[0]
		mean := p(data.Mean(false))
		if !mean.Private() {
			t.Fatal("a result computed from private data must be private")
		}
		scaled := p(data.Mul(2))
		for name, ptr := range map[string]*syft.Pointer{"data": data, "mean": mean, "scaled": scaled} {
			_, err := ptr.GetCopy()
			if !errors.Is(err, workers.ErrPermission) {
				t.Fatalf("get %s: %v, want permission error", name, err)
			}
			for _, leak := range []string{"3.25", "7.5", "11.125", "7.29", "21.875"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("error leaks a value: %v", err)
				}
			}
		}
		if _, err := mean.Get(); !errors.Is(err, workers.ErrPermission) {
			t.Fatalf("Get of derived private value: %v", err)
		}
		// Moving a private object off the worker is refused too.
		if _, err := data.Move(g.alice); !errors.Is(err, workers.ErrPermission) {
			t.Fatalf("move private: %v", err)
		}
		// ...and so is reading it through a pointer on another worker.
		pp := p(mean.Send(g.alice))
		if _, err := pp.GetCopy(); !errors.Is(err, workers.ErrPermission) {
			t.Fatalf("get private through a pointer chain: %v", err)
		}
		// Listings show private objects without values.
		infos := must[[]syft.ObjectInfo](t)(g.bob.List())
		nPrivate := 0
		for _, in := range infos {
			if in.Private {
				nPrivate++
			}
			if strings.Contains(in.String(), "3.25") {
				t.Fatalf("listing leaks a value: %v", in)
			}
		}
		if nPrivate < 3 {
			t.Fatalf("listing shows %d private objects, want >= 3", nPrivate)
		}
		// A user with read-private may read the derived mean.
		own := must[[]*syft.Pointer](t)(g.bobCarol.Search())
		for _, ptr := range own {
			if ptr.ID() == mean.ID() {
				got, err := ptr.GetCopy()
				wantTensor(t, got, err, tensor.Scalar(21.875/3))
			}
		}
		// Even a user allowed to read it cannot release a private value
		// to another worker through a pointer there.
		carolsMean := must[*syft.Pointer](t)(func() (*syft.Pointer, error) {
			ps, err := g.bobCarol.Search()
			for _, ptr := range ps {
				if ptr.ID() == mean.ID() {
					return ptr, err
				}
			}
			return nil, errors.New("mean not found")
		}())
		viaAlice := p(carolsMean.Send(g.alice))
		if _, err := viaAlice.GetCopy(); !errors.Is(err, workers.ErrPermission) || !strings.Contains(err.Error(), "another worker") {
			t.Fatalf("private value through a grant: %v", err)
		}
		// The scientist may not delete the owner's data.
		if err := data.Free(); !errors.Is(err, workers.ErrPermission) {
			t.Fatalf("free owner's data: %v", err)
		}
		// Clear by the scientist removes only the scientist's objects.
		if _, err := g.bob.Clear(); err != nil {
			t.Fatal(err)
		}
		left := must[[]syft.ObjectInfo](t)(g.bob.List())
		if len(left) != 1 || left[0].Owner != workers.OwnerUser {
			t.Fatalf("after the scientist's Clear: %v", left)
		}
		// Owning pointers free their objects when collected; these must
		// live to the end of the test.
		runtime.KeepAlive([]*syft.Pointer{scaled, pp, viaAlice})
	})
}

func TestOwnershipAndErrors(t *testing.T) {
	runSuite(t, "ownership", func(t *testing.T, g grid) {
		p := must[*syft.Pointer](t)
		pub := p(syft.Send(vec(1, 2), g.bobOwner, syft.WithTags("#public"))).Keep()
		mine := must[[]*syft.Pointer](t)(g.bob.Search("#public"))[0]
		if _, err := mine.Get(); !errors.Is(err, workers.ErrPermission) {
			t.Fatalf("taking another user's object: %v", err)
		}
		got, err := mine.GetCopy()
		wantTensor(t, got, err, vec(1, 2))
		if !holds(t, g.bob, pub.ID()) {
			t.Fatal("GetCopy removed the object")
		}
		// Unknown ids and duplicate ids.
		if err := pub.Free(); err != nil {
			t.Fatal(err)
		}
		if _, err := mine.GetCopy(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get of a freed object: %v", err)
		}
		p(syft.Send(vec(1), g.bob, syft.WithID("fixed-id"))).Keep()
		if _, err := syft.Send(vec(1), g.bob, syft.WithID("fixed-id")); !errors.Is(err, store.ErrExists) {
			t.Fatalf("duplicate id: %v", err)
		}
		if _, err := syft.Send(vec(1), g.bob, syft.WithID("bad id!")); !errors.Is(err, workers.ErrBadRequest) {
			t.Fatalf("bad id: %v", err)
		}
		// Copy is independent of the original.
		orig := p(syft.Send(vec(5, 6), g.bob))
		cp := p(orig.Copy())
		got, err = cp.Get()
		wantTensor(t, got, err, vec(5, 6))
		got, err = orig.Get()
		wantTensor(t, got, err, vec(5, 6))
	})
}

// A pointer object acts, where it points, with its owner's grants: only
// its owner may read through it, compute with it, copy or move it.
func TestPointerObjectOwnership(t *testing.T) {
	runSuite(t, "pointer-ownership", func(t *testing.T, g grid) {
		p := must[*syft.Pointer](t)
		x := p(syft.Send(vec(4.5, 6.25), g.bob))
		px := p(x.Send(g.alice)) // alice holds me's pointer object, with me's grant on bob
		var evePtr *syft.Pointer
		for _, q := range must[[]*syft.Pointer](t)(g.aliceEve.Search()) {
			if q.ID() == px.ID() {
				evePtr = q
			}
		}
		if evePtr == nil {
			t.Fatal("eve does not see the pointer object in the listing")
		}
		for what, try := range map[string]func() error{
			"get":  func() error { _, err := evePtr.GetCopy(); return err },
			"op":   func() error { _, err := evePtr.Mul(2); return err },
			"copy": func() error { _, err := evePtr.Copy(); return err },
			"move": func() error { _, err := evePtr.Move(g.bob); return err },
			"free": func() error { return evePtr.Free() },
		} {
			err := try()
			if !errors.Is(err, workers.ErrPermission) {
				t.Errorf("eve's %s through me's pointer object: %v", what, err)
			} else if strings.Contains(err.Error(), "4.5") {
				t.Errorf("%s: error shows a value: %v", what, err)
			}
		}
		// No one moves it: its grant was given to alice alone.
		if _, err := px.Move(g.bob); !errors.Is(err, workers.ErrBadRequest) || !strings.Contains(err.Error(), "cannot move") {
			t.Errorf("moving a pointer object: %v", err)
		}
		// Its owner reads through it, and copies it.
		got, err := px.GetCopy()
		wantTensor(t, got, err, vec(4.5, 6.25))
		cp := p(px.Copy())
		got, err = cp.GetCopy()
		wantTensor(t, got, err, vec(4.5, 6.25))
		runtime.KeepAlive(x)
	})
}

func TestReclaim(t *testing.T) {
	runSuite(t, "reclaim", func(t *testing.T, g grid) {
		p := must[*syft.Pointer](t)
		kept := p(syft.Send(vec(1), g.bob, syft.WithTags("#kept")))
		id := func() string {
			// An owning pointer that becomes unreachable.
			q := p(syft.Send(vec(2), g.bob))
			return q.ID()
		}()
		// Search pointers do not own: dropping them frees nothing.
		func() { must[[]*syft.Pointer](t)(g.bob.Search("#kept")) }()
		deadline := time.Now().Add(10 * time.Second)
		for holds(t, g.bob, id) {
			if time.Now().After(deadline) {
				t.Fatal("dropped owning pointer's object was not reclaimed")
			}
			runtime.GC()
			if err := syft.FlushFrees(g.bob); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !holds(t, g.bob, kept.ID()) {
			t.Fatal("an object whose search pointer was dropped was freed")
		}
		runtime.KeepAlive(kept)
		// Freeing a pointer to a pointer frees the chain it owns.
		b := p(syft.Send(vec(3), g.bob))
		pp := p(b.Send(g.alice))
		if b.Owns() || !pp.Owns() {
			t.Fatal("ownership should pass to the newest pointer")
		}
		if err := pp.Free(); err != nil {
			t.Fatal(err)
		}
		if holds(t, g.alice, pp.ID()) || holds(t, g.bob, b.ID()) {
			t.Fatal("Free of an owning pointer chain left objects behind")
		}
	})
}

// TestMultiPointer: one tensor sent to two workers, an operation on every
// copy, the results gathered and summed (PySyft's MultiPointerTensor).
func TestMultiPointer(t *testing.T) {
	runSuite(t, "multipointer", func(t *testing.T, g grid) {
		x, y := vec(1, 2), vec(10, 20)
		mx, err := syft.SendAll(x, []syft.Worker{g.bob, g.alice})
		if err != nil {
			t.Fatal(err)
		}
		my, err := syft.SendAll(y, []syft.Worker{g.alice, g.bob}) // order does not matter
		if err != nil {
			t.Fatal(err)
		}
		ps := mx.Pointers()
		if len(ps) != 2 || ps[0].Location().ID() != "bob" || ps[1].Location().ID() != "alice" {
			t.Fatalf("pointers %v", mx)
		}
		s, err := mx.Add(my)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCopy()
		if err != nil || len(got) != 2 || !tensor.Equal(got[0], vec(11, 22)) || !tensor.Equal(got[1], vec(11, 22)) {
			t.Fatalf("gathered %v, %v", got, err)
		}
		p, err := s.Mul(mx)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := p.Sum()
		wantTensor(t, sum, err, vec(22, 88))
		if holds(t, g.bob, p.Pointers()[0].ID()) {
			t.Error("Sum left the results on the workers")
		}
		one, err := syft.SendAll(x, []syft.Worker{g.bob})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mx.Add(one); err == nil || !strings.Contains(err.Error(), "same workers") {
			t.Errorf("operands on different workers: %v", err)
		}
		if _, err := syft.NewMultiPointer(ps[0], ps[0]); err == nil || !strings.Contains(err.Error(), "one per worker") {
			t.Errorf("two pointers on one worker: %v", err)
		}
		// A private tensor on one worker: gathering it is refused.
		priv := must[*syft.Pointer](t)(syft.Send(vec(5), g.bobOwner, syft.AsPrivate()))
		found := must[[]*syft.Pointer](t)(g.bob.Search(priv.ID()))
		mp, err := syft.NewMultiPointer(found[0], ps[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mp.GetCopy(); !errors.Is(err, workers.ErrPermission) {
			t.Errorf("gathering a private tensor: %v", err)
		}
		runtime.KeepAlive(priv)
	})
}
