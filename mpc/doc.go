// Package mpc is gomplab's engine for secure multi-party computation: an
// encrypted tensor, CrypTensor, that looks like an ordinary tensor while
// every party holds only a random-looking share of it, after CrypTen.
//
// # Model
//
// N ≥ 2 parties (ranks 0..N-1) run the same program in lock step, each in
// its own process or goroutine, connected by a comm.Comm. A value x is
// secret-shared additively over the ring Z_2^64: party i holds x_i with
// Σ x_i = encode(x), where encode is fixed point with Config.Precision
// fractional bits (16 by default). Parties are semi-honest (they follow the
// protocol but may try to learn from what they see) and correlated
// randomness (Beaver triples and friends) comes from a trusted dealer: rank
// 0 itself (the trusted first party, the default, as CrypTen's benchmarks
// use) or a separate trusted third party. See docs/mpc.md for the threat
// model, every protocol, and the range and measured error of each
// approximation.
//
// # Use
//
// Everything starts from a *Party, which binds a rank, a communicator and
// a provider:
//
//	p, err := mpc.NewParty(c)          // c is this party's comm.Comm
//	x := p.Encrypt(data, 0)            // rank 0's data, secret-shared
//	y := p.Encrypt(weights, 1)         // rank 1's
//	z := x.MatMul(y).Relu()            // computed on shares
//	out, err := z.GetPlainText()       // every rank learns z
//
// Operations take operands of type any: another *CrypTensor, a public
// *tensor.Tensor, or a scalar (float64, int...), on either side: the
// package-level mpc.Add(public, enc) equals enc.Add(public). They panic
// on programmer errors (mismatched shapes) with an *Error naming the rank
// and operation; the launchers recover the panic and report it per rank.
// A communication failure (a peer that died, a lost link) is not a panic
// but the party's sticky error, read like bufio.Scanner's: the operation
// returns a placeholder of the right shape, later operations stop
// communicating, every reveal (GetPlainText...) returns the failure, and
// Party.Err says what it was.
//
// The package-level functions (Encrypt, Rank, WorldSize, Load, Add, ...)
// act on the default party set with SetDefault, for code written in
// notebooks and shipped to workers, where each party's interpreter binds
// its own party.
//
// Every protocol counts its bytes and rounds in the party's comm.Stats,
// attributed to the outermost operation.
package mpc
