package mpc

import (
	"errors"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/tensor"
)

// TestCommFailureIsSticky: when a peer vanishes mid-computation, no
// operation panics. The party's Err names the operation that failed and
// the rank; later operations skip their communication and run to their
// end, so the fluent API goes on; every reveal returns the failure; and
// misuse still panics.
func TestCommFailureIsSticky(t *testing.T) {
	cs := comm.NewMemWorld(2, false)
	gone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p, err := NewParty(cs[1])
		if err != nil {
			t.Error(err)
		}
		p.Close()
		close(gone)
	}()
	p, err := NewParty(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	<-gone
	wg.Wait()

	x := p.Encrypt(tensor.FromSlice([]float64{1, 2, 3}), 0)
	if p.Err() != nil {
		t.Fatalf("Err before any communication: %v", p.Err())
	}
	y := x.Mul(x)
	var e *Error
	if !errors.As(p.Err(), &e) || e.Rank != 0 || e.Op != "Mul" {
		t.Fatalf("Err after the peer vanished = %v, want an *Error of rank 0 in Mul", p.Err())
	}
	first := p.Err()
	z := y.Add(1).Mul(y).Relu().Sum(0, false)
	if got := z.Shape(); len(got) != 0 {
		t.Errorf("placeholder result has shape %v, want a scalar", got)
	}
	if p.Err() != first {
		t.Errorf("Err changed from %v to %v: the first failure must stick", first, p.Err())
	}
	for name, reveal := range map[string]func() error{
		"GetPlainText":   func() error { _, err := z.GetPlainText(); return err },
		"GetPlainTextTo": func() error { _, err := z.GetPlainTextTo(1); return err },
	} {
		if err := reveal(); err != first {
			t.Errorf("%s returned %v, want the party's failure %v", name, err, first)
		}
	}
	defer func() {
		if _, ok := recover().(*Error); !ok {
			t.Error("misuse (mismatched shapes) did not panic with an *Error on a failed party")
		}
	}()
	x.Add(tensor.Zeros(4))
}

// TestLaunchReportsUncheckedFailure: a party function that goes on past
// a failure to communicate without checking still fails its rank.
func TestLaunchReportsUncheckedFailure(t *testing.T) {
	res, err := RunLocal(2, func(p *Party) (any, error) {
		if p.Rank() == 1 {
			return nil, errors.New("rank 1 leaves")
		}
		x := p.Encrypt(tensor.Ones(2), 0)
		for i := 0; i < 3; i++ {
			x = x.Mul(x)
		}
		return "ignored", nil
	})
	if err == nil || res[0].Err == nil || res[0].Value != nil {
		t.Fatalf("rank 0: value %v, error %v; want its failure to communicate", res[0].Value, res[0].Err)
	}
	var e *Error
	if !errors.As(res[0].Err, &e) || e.Op != "Mul" {
		t.Fatalf("rank 0 error %v, want an *Error in Mul", res[0].Err)
	}
}
