package mpc

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor"
)

// Save stores the plaintext tensor x under tag in this party's own Store
// (on a worker: a new object in that worker's store, owned by the job's
// user). It is local: no other party takes part, so each party saves what
// it alone decided to keep, typically a result it decrypted. It fails when
// the party has no store or x is nil.
func (p *Party) Save(tag string, x *tensor.Tensor) error {
	if p.store == nil {
		return fmt.Errorf("mpc: save %q: party %d has no store", tag, p.rank)
	}
	if x == nil {
		return fmt.Errorf("mpc: save %q: nil tensor", tag)
	}
	if err := p.store.Save(tag, x); err != nil {
		return fmt.Errorf("mpc: save %q: %w", tag, err)
	}
	return nil
}

// StoreOf returns the store p's Load and Save use (nil if none).
// Trusted packages that keep other kinds of objects by tag reach them
// through it: nn.LoadModel asks it for a model when it also implements
// nn.ModelStore. Host code only (denied in the jail): job code reaches
// stored data only through Load, encrypted.
func StoreOf(p *Party) Store { return p.store }

// Save stores x under tag in the default party's own store (see
// Party.Save).
func Save(tag string, x *tensor.Tensor) error { return mustDefault("Save").Save(tag, x) }
