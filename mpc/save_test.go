package mpc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// saveStore is a Store over a map, as a worker's store is over its objects.
type saveStore struct {
	mu   sync.Mutex
	m    map[string]*tensor.Tensor
	fail error // returned by Save when set
}

func (s *saveStore) Load(tag string) (*tensor.Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[tag]
	if !ok {
		return nil, fmt.Errorf("no tensor tagged %q", tag)
	}
	return t, nil
}

func (s *saveStore) Save(tag string, t *tensor.Tensor) error {
	if s.fail != nil {
		return s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*tensor.Tensor{}
	}
	s.m[tag] = t
	return nil
}

func TestPartySave(t *testing.T) {
	x := tensor.FromSlice([]float64{1.5, -2})
	cases := []struct {
		name  string
		store *saveStore // nil: the party has none
		x     *tensor.Tensor
		want  string // error substring; "" for success
	}{
		{"saved", &saveStore{}, x, ""},
		{"no store", nil, x, `save "out": party 0 has no store`},
		{"nil tensor", &saveStore{}, nil, `save "out": nil tensor`},
		{"store fails", &saveStore{fail: errors.New("disk full")}, x, `save "out": disk full`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := RunLocal(1, func(p *Party) (any, error) {
				if c.store != nil {
					SetStore(p, c.store)
				}
				return nil, p.Save("out", c.x)
			})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.store.m["out"]; got != c.x {
					t.Fatalf("stored %v, want %v", got, c.x)
				}
				return
			}
			if err == nil || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestSaveDefault: the package-level Save acts on the default party, and
// Store returns what the party loads from and saves to.
func TestSaveDefault(t *testing.T) {
	s := &saveStore{}
	_, err := RunLocal(1, func(p *Party) (any, error) {
		SetStore(p, s)
		if StoreOf(p) != Store(s) {
			return nil, errors.New("Store does not return the party's store")
		}
		SetDefault(p)
		defer SetDefault(nil)
		return nil, Save("y", tensor.FromSlice([]float64{3}))
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.m["y"] == nil {
		t.Fatal("nothing saved")
	}
}

// Each party keeps what it decrypted in its own store; the other parties'
// stores are untouched.
func ExampleParty_Save() {
	stores := []*saveStore{{}, {}}
	_, err := RunLocal(2, func(p *Party) (any, error) {
		SetStore(p, stores[p.Rank()])
		x := p.Encrypt(tensor.FromSlice([]float64{1, 2, 3}), 0)
		sum, err := x.SumAll().GetPlainTextTo(1) // only rank 1 learns it
		if err != nil || sum == nil {
			return nil, err
		}
		return nil, p.Save("sum", sum)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(stores[0].m), stores[1].m["sum"].Item())
	// Output: 0 6
}
