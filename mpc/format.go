package mpc

import (
	"fmt"
	"io"
)

// Printing. fmt reflects into unexported fields, and code in the jail can
// dereference a *CrypTensor or a *Party (yaegi allows it for host types),
// so a value without its own formatting would print this party's share
// words, or its store and seeds, with %v. Every type here that holds a
// share or reaches one prints its metadata only, through a Format method
// on the value (so the pointer and the dereferenced value both use it),
// for every verb and flag, %#v included.

// String describes x without revealing it: its shape and party.
func (x CrypTensor) String() string {
	return fmt.Sprintf("CrypTensor(shape=%v, %s)", x.shape, partyLabel(x.p))
}

// Format writes x's String for every verb: its shape and party, never its
// share.
func (x CrypTensor) Format(f fmt.State, _ rune) { io.WriteString(f, x.String()) }

// GoString is String: %#v shows no share either.
func (x CrypTensor) GoString() string { return x.String() }

// String describes x without revealing it: its shape and party.
func (x BinTensor) String() string {
	return fmt.Sprintf("BinTensor(shape=%v, %s)", x.shape, partyLabel(x.p))
}

// Format writes x's String for every verb, never its share.
func (x BinTensor) Format(f fmt.State, _ rune) { io.WriteString(f, x.String()) }

// GoString is String.
func (x BinTensor) GoString() string { return x.String() }

// String describes x without revealing it: its shape and party.
func (x WideTensor) String() string {
	return fmt.Sprintf("WideTensor(shape=%v, %s)", x.shape, partyLabel(x.p))
}

// Format writes x's String for every verb, never its share.
func (x WideTensor) Format(f fmt.State, _ rune) { io.WriteString(f, x.String()) }

// GoString is String.
func (x WideTensor) GoString() string { return x.String() }

// String names the party's rank and world size; its communicator, store,
// seeds and provider are never printed.
func (p Party) String() string { return "mpc.Party(" + partyLabel(&p) + ")" }

// Format writes p's String for every verb.
func (p Party) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }

// GoString is String.
func (p Party) GoString() string { return p.String() }

func partyLabel(p *Party) string {
	if p == nil || p.size == 0 {
		return "no party"
	}
	return fmt.Sprintf("party %d of %d", p.rank, p.size)
}
