package sandbox

import (
	"errors"
	"reflect"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// ErrNoParty is the panic value of a party function (mpc.Load,
// mpc.Rank...) called outside an MPC job, e.g. when a notebook calls the
// job function directly instead of through syft.RunMultiWorkers.
var ErrNoParty = errors.New("this function runs only inside an MPC job (pass the function to syft.RunMultiWorkers)")

// PartyFuncs returns the package-level functions of mpc that act on the
// default party (mpc.Load, mpc.Save, mpc.Encrypt, mpc.Rank...), bound to
// p; s, if p has no store of its own, becomes its store (the worker's).
// They are the Party methods of the same names, so jobs and natively
// compiled programs agree. The jail gives each interpreter its own copy (yaegi's
// Use copies symbol maps), so shipped code reads as it would natively,
// with the same signatures as package mpc:
//
//	a, err := mpc.Load("crypten_data", 0)
//
// Encrypt and Zeros panic with an *mpc.Error on misuse, as every
// CrypTensor operation does; the jail reports the panic with the rank and
// line. (A failure to communicate is the party's sticky error instead:
// mpc.Party.Err.) With p nil every function panics with ErrNoParty.
func PartyFuncs(p *mpc.Party, s Store) map[string]reflect.Value {
	return partyFuncs(func() *mpc.Party { return p }, s)
}

// partyFuncs binds the functions to whatever party get returns when they
// are called.
func partyFuncs(get func() *mpc.Party, s Store) map[string]reflect.Value {
	need := boundParty(get, s)
	return map[string]reflect.Value{
		// Load secret-shares the tensor that party src holds under tag in
		// its worker's store; the other parties receive only shares.
		"Load": reflect.ValueOf(func(tag string, src int) (*mpc.CrypTensor, error) {
			return need().Load(tag, src)
		}),
		// Encrypt secret-shares x, held by party src (every party passes
		// a tensor of the same shape).
		"Encrypt": reflect.ValueOf(func(x *tensor.Tensor, src int) *mpc.CrypTensor {
			return need().Encrypt(x, src)
		}),
		// Input secret-shares x from src when the others do not know
		// its shape (they pass nil).
		"Input": reflect.ValueOf(func(x *tensor.Tensor, src int) (*mpc.CrypTensor, error) {
			return need().Input(x, src)
		}),
		// Zeros is an encryption of zeros.
		"Zeros": reflect.ValueOf(func(shape ...int) *mpc.CrypTensor { return need().Zeros(shape...) }),
		// Rank is this party's rank (the index of its worker in the list
		// given to RunMultiWorkers).
		"Rank": reflect.ValueOf(func() int { return need().Rank() }),
		// WorldSize is the number of parties.
		"WorldSize": reflect.ValueOf(func() int { return need().WorldSize() }),
		// Save stores a plaintext tensor under tag in this party's own
		// worker store.
		"Save": reflect.ValueOf(func(tag string, x *tensor.Tensor) error {
			return need().Save(tag, x)
		}),
		// LoadShare reads this party's share stored under tag in its own
		// worker (a shared pointer's, syft.Share) as a CrypTensor.
		"LoadShare": reflect.ValueOf(func(tag string) (*mpc.CrypTensor, error) {
			return need().LoadShare(tag)
		}),
		// SaveShare stores this party's share of x under tag in its own
		// worker, private (syft's shared pointers).
		"SaveShare": reflect.ValueOf(func(tag string, x *mpc.CrypTensor) error {
			return need().SaveShare(tag, x)
		}),
		// Default returns the party itself, for APIs that take one
		// (nn's Model.Encrypt).
		"Default": reflect.ValueOf(func() *mpc.Party { return need() }),
		// SetDefault is the host's business.
		"SetDefault": reflect.ValueOf(func(*mpc.Party) {
			panic(errors.New("mpc.SetDefault is not available in a job: the worker sets the party"))
		}),
	}
}

// boundParty returns a function giving the run's party, with s as its
// store if it has none; it panics with ErrNoParty outside a job.
func boundParty(get func() *mpc.Party, s Store) func() *mpc.Party {
	return func() *mpc.Party {
		p := get()
		if p == nil {
			panic(ErrNoParty)
		}
		if s != nil && mpc.StoreOf(p) == nil {
			mpc.SetStore(p, s)
		}
		return p
	}
}

// partyBindings overlays PartyFuncs on a copy of the mpc table.
func partyBindings(table map[string]reflect.Value, p func() *mpc.Party, s Store) map[string]reflect.Value {
	out := make(map[string]reflect.Value, len(table)+10)
	for k, v := range table {
		out[k] = v
	}
	for k, v := range partyFuncs(p, s) {
		out[k] = v
	}
	return out
}
