package mpc

import (
	"fmt"
	"sync"

	"github.com/gomplab/gomplab/tensor"
)

// The default party backs the package-level functions that code written
// in notebooks and shipped to workers calls (mpc.Encrypt, mpc.Rank, ...).
// The sandbox binds one party per interpreter; programs using this
// package directly call SetDefault once per party goroutine's world.
var (
	defaultMu    sync.RWMutex
	defaultParty *Party
)

// SetDefault makes p the party of the package-level functions (nil
// clears it).
func SetDefault(p *Party) {
	defaultMu.Lock()
	defaultParty = p
	defaultMu.Unlock()
}

// Default returns the default party, or nil.
func Default() *Party {
	defaultMu.RLock()
	defer defaultMu.RUnlock()
	return defaultParty
}

func mustDefault(op string) *Party {
	p := Default()
	if p == nil {
		panic(&Error{Rank: -1, Op: op, Err: fmt.Errorf("no default party: call mpc.SetDefault (inside a launched job it is set for you)")})
	}
	return p
}

// Encrypt secret-shares x from rank src on the default party (see
// Party.Encrypt).
func Encrypt(x *tensor.Tensor, src int) *CrypTensor { return mustDefault("Encrypt").Encrypt(x, src) }

// Input secret-shares x from rank src when only src knows its shape.
func Input(x *tensor.Tensor, src int) (*CrypTensor, error) {
	return mustDefault("Input").Input(x, src)
}

// Load secret-shares the tensor rank src holds under tag (see Party.Load).
func Load(tag string, src int) (*CrypTensor, error) { return mustDefault("Load").Load(tag, src) }

// Zeros returns an encryption of zeros on the default party.
func Zeros(shape ...int) *CrypTensor { return mustDefault("Zeros").Zeros(shape...) }

// Rank returns the default party's rank.
func Rank() int { return mustDefault("Rank").Rank() }

// WorldSize returns the number of parties of the default party's world.
func WorldSize() int { return mustDefault("WorldSize").WorldSize() }
