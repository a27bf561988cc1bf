package nn

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc"
)

// ModelStore is a party's store (mpc.Store) that also holds models by tag.
// A worker's store is one: a model stored there (syft.SendModel, or an
// ONNX file loaded with `gomplab worker load`) is decoded by the worker
// and handed to LoadModel on the party that owns it.
type ModelStore interface {
	// LoadModel returns the plaintext model stored under tag.
	LoadModel(tag string) (*Model, error)
}

// TaggedModelStore is a ModelStore that also says whether a model is
// restricted: private data the job's requester may not read (see
// mpc.TaggedStore). A worker's job store implements it.
type TaggedModelStore interface {
	ModelStore
	// LoadModelTagged is LoadModel that also reports whether the model is
	// restricted.
	LoadModelTagged(tag string) (m *Model, restricted bool, err error)
}

// LoadEncryptedModel gives every party an encrypted copy of the model
// party src holds under tag in its store (which must implement
// ModelStore): src reads it and shares it as ShareModel does, so the other
// parties learn its architecture but never its weights. Every party must
// call it. A failure at src (no store, unknown tag, a model that cannot be
// described) is reported on every rank, in the same message that would
// have carried the architecture. The model is in evaluation mode. A
// restricted model (TaggedModelStore) makes every party restricted, as
// mpc.Party.Load does for tensors.
func LoadEncryptedModel(p *mpc.Party, tag string, src int) (*Model, error) {
	if p == nil {
		return nil, fmt.Errorf("nn: LoadModel(%q, %d): nil party", tag, src)
	}
	var m *Model
	var srcErr error
	var restricted bool
	if p.Rank() == src {
		m, restricted, srcErr = loadFromStore(p, tag)
		if srcErr != nil {
			srcErr = fmt.Errorf("load model %q: %w", tag, srcErr)
		}
	}
	out, err := shareModel(p, fmt.Sprintf("LoadModel(%q, %d)", tag, src), m, restricted, srcErr, src)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// loadFromStore reads the model tagged tag from p's store, saying
// whether it is restricted. A store that cannot say is trusted unless p
// runs under a reveal policy (see mpc.WithRevealPolicy) or the store tags
// its tensors (mpc.TaggedStore): then its models count as restricted.
func loadFromStore(p *mpc.Party, tag string) (*Model, bool, error) {
	s := mpc.StoreOf(p)
	if s == nil {
		return nil, false, errors.New("this party has no store")
	}
	var m *Model
	var restricted bool
	var err error
	switch ms := s.(type) {
	case TaggedModelStore:
		m, restricted, err = ms.LoadModelTagged(tag)
	case ModelStore:
		m, err = ms.LoadModel(tag)
		// A store that tags its tensors but not its models, or any
		// store of a governed job, cannot vouch for a model.
		_, tagsTensors := s.(mpc.TaggedStore)
		restricted = tagsTensors || mpc.HasRevealPolicy(p)
	default:
		return nil, false, errors.New("this party's store holds no models")
	}
	if err == nil && m == nil {
		err = errors.New("the store returned no model")
	}
	return m, restricted, err
}

// LoadModel is LoadEncryptedModel on the default party (mpc.Default), the
// form code shipped to workers uses, as it uses mpc.Load for tensors:
//
//	model, err := nn.LoadModel("crypten_model", 0) // rank 0's model, encrypted
//
// It fails when no default party is set.
func LoadModel(tag string, src int) (*Model, error) {
	p := mpc.Default()
	if p == nil {
		return nil, fmt.Errorf("nn: LoadModel(%q, %d): no default party (call mpc.SetDefault; inside a job it is set for you)", tag, src)
	}
	return LoadEncryptedModel(p, tag, src)
}
