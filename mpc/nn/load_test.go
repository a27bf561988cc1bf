package nn

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// modelStore is a party's store holding models (and no tensors), as a
// worker's store is for nn.LoadModel.
type modelStore map[string]*Model

func (s modelStore) Load(tag string) (*tensor.Tensor, error) {
	return nil, fmt.Errorf("no tensor tagged %q", tag)
}

func (s modelStore) Save(string, *tensor.Tensor) error { return errors.New("read-only") }

func (s modelStore) LoadModel(tag string) (*Model, error) {
	m, ok := s[tag]
	if !ok {
		return nil, fmt.Errorf("no model tagged %q", tag)
	}
	return m, nil
}

// tensorStore holds tensors only.
type tensorStore struct{}

func (tensorStore) Load(string) (*tensor.Tensor, error) { return nil, errors.New("empty") }
func (tensorStore) Save(string, *tensor.Tensor) error   { return nil }

func TestLoadEncryptedModel(t *testing.T) {
	r := tensor.NewRNG(5)
	owned := NewModel(NewSequential(NewLinear(3, 4, r), NewReLU(), NewLinear(4, 2, r)))
	x := tensor.FromSlice([]float64{0.5, -1, 2}).Reshape(1, 3)
	owned.Eval()
	want, err := owned.Forward(NewVariable(x))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		src   int
		tag   string
		store func(rank int) mpc.Store // nil store: none
		err   string                   // "" for success
	}{
		{"from rank 0", 0, "m", func(int) mpc.Store { return modelStore{"m": owned} }, ""},
		{"from rank 1", 1, "m", func(rank int) mpc.Store {
			if rank == 1 {
				return modelStore{"m": owned}
			}
			return nil // only the owner needs a store
		}, ""},
		{"unknown tag", 0, "other", func(int) mpc.Store { return modelStore{"m": owned} }, `load model "other": no model tagged "other"`},
		{"tensors only", 0, "m", func(int) mpc.Store { return tensorStore{} }, "this party's store holds no models"},
		{"no store", 0, "m", func(int) mpc.Store { return nil }, "this party has no store"},
		{"source out of range", 2, "m", func(int) mpc.Store { return modelStore{"m": owned} }, "source rank 2 outside [0, 2)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
				if s := c.store(p.Rank()); s != nil {
					mpc.SetStore(p, s)
				}
				m, err := LoadEncryptedModel(p, c.tag, c.src)
				if err != nil {
					return nil, err
				}
				if !m.Encrypted() {
					return nil, errors.New("the loaded model is not encrypted")
				}
				out, err := m.Forward(NewVariable(x))
				if err != nil {
					return nil, err
				}
				return out.PlainText()
			})
			if c.err != "" {
				// Every rank fails with the source's reason, none hangs.
				for _, rr := range res {
					if rr.Err == nil || !strings.Contains(rr.Err.Error(), c.err) {
						t.Errorf("rank %d: error %v, want one containing %q", rr.Rank, rr.Err, c.err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, rr := range res {
				if got := rr.Value.(*tensor.Tensor); !tensor.AllClose(got, want.Tensor(), 0, 1e-3) {
					t.Errorf("rank %d: %v, want %v", rr.Rank, got, want.Tensor())
				}
			}
		})
	}
}

func TestLoadModelDefaultParty(t *testing.T) {
	if mpc.Default() != nil {
		t.Skip("a default party is set")
	}
	if _, err := LoadModel("m", 0); err == nil || !strings.Contains(err.Error(), "no default party") {
		t.Fatalf("without a default party: %v", err)
	}
	owned := NewModel(NewSequential(NewLinear(2, 1, tensor.NewRNG(1))))
	res, err := mpc.RunLocal(1, func(p *mpc.Party) (any, error) {
		mpc.SetStore(p, modelStore{"m": owned})
		mpc.SetDefault(p)
		defer mpc.SetDefault(nil)
		m, err := LoadModel("m", 0)
		if err != nil {
			return nil, err
		}
		return m.NumParams(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Value != owned.NumParams() {
		t.Fatalf("loaded %v parameters, want %d", res[0].Value, owned.NumParams())
	}
}

// Party 0 holds a model in its store; party 1 gets an encrypted copy of
// it (the architecture, never the weights) and both run it on party 1's
// encrypted input. Only party 1 learns the output.
func ExampleLoadEncryptedModel() {
	w := tensor.FromSlice([]float64{2, -1}).Reshape(1, 2)
	lin := NewLinear(2, 1, tensor.NewRNG(1))
	lin.Weight = NewVariable(w).SetRequiresGrad(true)
	lin.Bias = NewVariable(tensor.FromSlice([]float64{0.5})).SetRequiresGrad(true)
	owned := NewModel(lin)

	res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		var x *tensor.Tensor
		if p.Rank() == 0 {
			mpc.SetStore(p, modelStore{"scorer": owned})
		} else {
			x = tensor.FromSlice([]float64{3, 4}).Reshape(1, 2)
		}
		m, err := LoadEncryptedModel(p, "scorer", 0)
		if err != nil {
			return nil, err
		}
		in, err := p.Input(x, 1)
		if err != nil {
			return nil, err
		}
		out, err := m.Forward(NewEncrypted(in))
		if err != nil {
			return nil, err
		}
		return out.PlainTextTo(1)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res[0].Value == (*tensor.Tensor)(nil), res[1].Value.(*tensor.Tensor).Data())
	// Output: true [2.5]
}

// taggedModelStore is a TaggedModelStore whose models are restricted.
type taggedModelStore struct{ modelStore }

func (s taggedModelStore) LoadModelTagged(tag string) (*Model, bool, error) {
	m, err := s.LoadModel(tag)
	return m, true, err
}

// TestLoadRestrictedModel: a restricted model makes every party
// restricted, and every way of revealing what it computes or holds (the
// output's PlainText and PlainTextTo, the model's Decrypt and DecryptTo)
// then follows the reveal policy: refused under "requester" only, allowed
// under "all-parties".
func TestLoadRestrictedModel(t *testing.T) {
	r := tensor.NewRNG(7)
	owned := NewModel(NewLinear(3, 2, r))
	x := NewVariable(tensor.FromSlice([]float64{0.5, -1, 2}).Reshape(1, 3))
	reveals := map[string]func(m *Model) error{
		"PlainText": func(m *Model) error {
			out, err := m.Forward(x)
			if err == nil {
				_, err = out.PlainText()
			}
			return err
		},
		"PlainTextTo": func(m *Model) error {
			out, err := m.Forward(x)
			if err == nil {
				_, err = out.PlainTextTo(1)
			}
			return err
		},
		"Decrypt":   func(m *Model) error { return m.Decrypt() },
		"DecryptTo": func(m *Model) error { return m.DecryptTo(0) },
	}
	for _, recipients := range [][]string{{"requester"}, {"all-parties"}} {
		for how, reveal := range reveals {
			t.Run(recipients[0]+"/"+how, func(t *testing.T) {
				res, _ := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
					if p.Rank() == 0 {
						mpc.SetStore(p, taggedModelStore{modelStore{"m": owned}})
					}
					m, err := LoadEncryptedModel(p, "m", 0)
					if err != nil {
						return nil, err
					}
					if !mpc.Restricted(p) {
						return nil, errors.New("not restricted after loading a restricted model")
					}
					return nil, reveal(m)
				}, mpc.WithRevealPolicy(mpc.RevealPolicy{Request: "r-m", Recipients: recipients}))
				for _, rr := range res {
					if recipients[0] == "all-parties" {
						if rr.Err != nil {
							t.Errorf("rank %d: %v", rr.Rank, rr.Err)
						}
					} else if !errors.Is(rr.Err, mpc.ErrNotApproved) {
						t.Errorf("rank %d: want a refusal, got %v", rr.Rank, rr.Err)
					}
				}
			})
		}
	}
}

// halfTagged tags its tensors (mpc.TaggedStore) but not its models.
type halfTagged struct{ modelStore }

func (s halfTagged) LoadTagged(tag string) (*tensor.Tensor, bool, error) {
	t, err := s.Load(tag)
	return t, false, err
}

func (s halfTagged) SaveTagged(tag string, t *tensor.Tensor, _ bool) error { return s.Save(tag, t) }

// TestModelRestrictionDefaults: without a policy, a plain model store is
// trusted, but a store that tags tensors and not models restricts every
// model it gives.
func TestModelRestrictionDefaults(t *testing.T) {
	owned := NewModel(NewLinear(2, 1, tensor.NewRNG(1)))
	for _, c := range []struct {
		name       string
		store      mpc.Store
		restricted bool
	}{
		{"plain model store", modelStore{"m": owned}, false},
		{"tags tensors only", halfTagged{modelStore{"m": owned}}, true},
		{"tags models", taggedModelStore{modelStore{"m": owned}}, true},
	} {
		res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
			if p.Rank() == 0 {
				mpc.SetStore(p, c.store)
			}
			if _, err := LoadEncryptedModel(p, "m", 0); err != nil {
				return nil, err
			}
			return mpc.Restricted(p), nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, r := range res {
			if r.Value != c.restricted {
				t.Errorf("%s rank %d: restricted %v", c.name, r.Rank, r.Value)
			}
		}
	}
}
