package mpc

import (
	"fmt"

	"github.com/gomplab/gomplab/tensor"
)

// Save stores the plaintext tensor x under tag in this party's own Store
// (on a worker: a new object in that worker's store, owned by the job's
// user). It is local: no other party takes part, so each party saves what
// it alone decided to keep, typically a result it decrypted. It fails when
// the party has no store, x is nil, or the party's save quota
// (WithSaveQuota) would be exceeded. A restricted party (see Restricted)
// saves only into a TaggedStore, telling it the result derives from
// restricted data.
func (p *Party) Save(tag string, x *tensor.Tensor) error { return p.save(tag, x, false) }

// save is Save, of a share's words (SaveShare) when share is set: those
// go only into a ShareStore.
func (p *Party) save(tag string, x *tensor.Tensor, share bool) error {
	if p.g.stopped != nil {
		return fmt.Errorf("mpc: save %q: %w", tag, p.g.stopped)
	}
	if p.store == nil {
		return fmt.Errorf("mpc: save %q: party %d has no store", tag, p.rank)
	}
	if x == nil {
		return fmt.Errorf("mpc: save %q: nil tensor", tag)
	}
	size := 8 * int64(x.Size())
	if q := p.g.quota; q != nil && (q.Count > 0 && p.g.saved.Count+1 > q.Count || q.Bytes > 0 && p.g.saved.Bytes+size > q.Bytes) {
		return fmt.Errorf("mpc: save %q (%d bytes): the job's save quota of %d saves and %d bytes is exhausted (%d saves and %d bytes used); save fewer or smaller results, or ask the worker's owner for a larger quota",
			tag, size, q.Count, q.Bytes, p.g.saved.Count, p.g.saved.Bytes)
	}
	var err error
	if share {
		s, ok := p.store.(ShareStore)
		if !ok {
			return fmt.Errorf("mpc: save %q: party %d's store cannot keep shares", tag, p.rank)
		}
		err = s.SaveShareTagged(tag, x, p.g.restricted)
	} else {
		switch s := p.store.(type) {
		case TaggedStore:
			err = s.SaveTagged(tag, x, p.g.restricted)
		default:
			if p.g.restricted {
				return fmt.Errorf("mpc: save %q: this party computed on private data, and its store cannot record a result as private; not saved", tag)
			}
			err = s.Save(tag, x)
		}
	}
	if err != nil {
		return fmt.Errorf("mpc: save %q: %w", tag, err)
	}
	p.g.saved.Count++
	p.g.saved.Bytes += size
	return nil
}

// SaveQuota bounds what a party may Save over its life (a job): a number
// of saves and their total size. A field that is zero (or negative) does
// not bound; a store that must refuse every save refuses it itself.
type SaveQuota struct {
	Count int   // saves
	Bytes int64 // total size, 8 bytes per element
}

// WithSaveQuota bounds the party's saves to q; a save beyond it fails
// with an error saying so (the job sees it as Save's error). Workers set
// it per job.
func WithSaveQuota(q SaveQuota) Option {
	return func(o *partyOptions) { o.quota = &q }
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
