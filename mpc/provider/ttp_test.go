package provider

import (
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
)

func TestTrustedThirdParty(t *testing.T) {
	for _, n := range []int{2, 3} {
		cs := comm.NewMemWorld(n, true)
		var serveErr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveErr = ServeTrustedThirdParty(cs[n])
		}()
		ps := make([]Provider, n)
		var mu sync.Mutex
		var setup sync.WaitGroup
		for r := 0; r < n; r++ {
			setup.Add(1)
			go func(r int) {
				defer setup.Done()
				p, err := NewTrustedThirdParty(cs[r])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ps[r] = p
				mu.Unlock()
			}(r)
		}
		setup.Wait()
		checkLazy(t, ps)
		checkRequests(t, ps)
		for _, p := range ps {
			p.Close()
		}
		wg.Wait()
		if serveErr != nil {
			t.Fatal(serveErr)
		}
		if st := cs[0].Stats().Total(); st.Rounds == 0 || st.BytesReceived == 0 {
			t.Errorf("rank 0's traffic with the dealer not counted: %+v", st)
		}
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	good := encodeRequest(Request{Kind: Mul, N: 10})
	if r, err := decodeRequest(good); err != nil || r.Kind != Mul || r.N != 10 {
		t.Fatalf("round trip: %+v %v", r, err)
	}
	tr := encodeRequest(Request{Kind: Trunc, N: 7, Div: 1 << 40})
	if r, err := decodeRequest(tr); err != nil || r.Kind != Trunc || r.N != 7 || r.Div != 1<<40 {
		t.Fatalf("trunc round trip: %+v %v", r, err)
	}
	if _, err := decodeRequest(encodeRequest(Request{Kind: Trunc, N: 7})); err == nil {
		t.Error("trunc request without a divisor accepted")
	}
	bad := append([]byte(nil), good...)
	bad[1] = 99 // unknown kind
	if _, err := decodeRequest(bad); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := decodeRequest(good[:10]); err == nil {
		t.Error("short message accepted")
	}
	huge := encodeRequest(Request{Kind: MatMul, Batch: 1 << 20, M: 1 << 20, K: 1 << 20, Cols: 1})
	if _, err := decodeRequest(huge); err == nil {
		t.Error("oversized request accepted")
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(encodeRequest(Request{Kind: Mul, N: 3}))
	f.Add(encodeRequest(Request{Kind: Conv, Conv: ConvSpec{N: 1, C: 1, H: 3, W: 3, Cout: 1, KH: 2, KW: 2, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1}}))
	f.Add([]byte{tagClose})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			return
		}
		// A request that decodes must have a valid layout within bounds.
		rnd, der, err := r.layout()
		if err != nil {
			t.Fatalf("decoded request %+v has no layout: %v", r, err)
		}
		for _, p := range append(rnd, der...) {
			if p.n < 0 || p.n > maxPartElements {
				t.Fatalf("part of %d elements", p.n)
			}
		}
	})
}

// Preprocessed requests cost no round even the first time, and the
// shares are right.
func TestTrustedThirdPartyPreprocess(t *testing.T) {
	cs := comm.NewMemWorld(2, true)
	done := make(chan error, 1)
	go func() { done <- ServeTrustedThirdParty(cs[2]) }()
	ps := make([]*TrustedThirdParty, 2)
	var wg sync.WaitGroup
	for r := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := NewTrustedThirdParty(cs[r])
			if err != nil {
				t.Error(err)
			}
			ps[r] = p
		}()
	}
	wg.Wait()
	reqs := []Request{{Kind: MatMul, Batch: 1, M: 5, K: 6, Cols: 7}, {Kind: Mul, N: 50000}, {Kind: Trunc, N: 10, Div: 1 << 16}}
	for _, p := range ps {
		if err := p.Preprocess(reqs...); err != nil {
			t.Fatal(err)
		}
	}
	before := cs[0].Stats().Total().Rounds
	all := make([]*Shares, 2)
	for _, r := range reqs {
		for i, p := range ps {
			all[i] = p.Get(r)
		}
		for _, s := range all {
			if err := s.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		checkTriple(t, r, all[0], all[1])
	}
	if got := cs[0].Stats().Total().Rounds - before; got != 0 {
		t.Errorf("preprocessed requests cost %d rounds", got)
	}
	for _, p := range ps {
		p.Close()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeControl(f *testing.F) {
	f.Add(encodeOpen(5, Request{Kind: MatMul, Batch: 1, M: 2, K: 3, Cols: 4}), 5)
	f.Add(encodeTarget(1, 1000), 3)
	f.Add([]byte{tagClose}, 0)
	f.Add([]byte{tagData, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7}, 1)
	f.Fuzz(func(t *testing.T, b []byte, nch int) {
		if nch < 0 || nch > 1000 {
			return
		}
		if tag, id, r, target, err := decodeControl(b, nch); err == nil {
			if tag == tagOpen {
				if _, _, err := r.layout(); err != nil || id != nch {
					t.Fatalf("open decoded to %+v (id %d)", r, id)
				}
			}
			if tag == tagTarget && (id >= nch || target > maxUnits) {
				t.Fatalf("target %d for channel %d of %d", target, id, nch)
			}
		}
		if id, _, _, data, err := decodeData(b, nch); err == nil && (id >= nch || len(data) != (len(b)-21)/8) {
			t.Fatalf("push for channel %d of %d with %d words", id, nch, len(data))
		}
	})
}
