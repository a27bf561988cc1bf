// Package workers is the protocol core of gomplab's Syft-style data
// owners' workers: who may do what to which stored object, and the wire
// that carries the asking. Everything a worker does goes through it; the
// object store is below it (workers/store) and the capabilities built on
// it beside it (workers/jobs for MPC parties, workers/plans, workers/fl
// for federated learning), assembled into a whole worker by
// workers/daemon. Its client side is package syft.
//
// The pieces are layered so the protocol can be tested without a network,
// in the spirit of etcd's raft package:
//
//   - Users and tokens authenticate a session; grants (store.Grant) let a
//     peer worker act on a user's behalf with less than the user's power.
//   - Handler is the protocol core: pure logic over a store.Store, a Users
//     table and an access log. It answers framed, msgpack-encoded requests
//     through a Session, one per connection, which authenticates the
//     connection, refuses replayed, malformed and oversized frames, and
//     dispatches each request to one handler function per message type.
//     The core registers its own (objects, ops, grants, moves); each
//     capability registers its message types with Handler.Handle from its
//     Register function, which daemon.NewWorker calls.
//   - Server accepts TLS 1.3 connections (or plaintext on loopback when
//     asked) and pumps frames between each connection and its Session.
//   - Client speaks the protocol over a Transport: a TLS connection to a
//     daemon, or a direct call into an in-process Session. The syft package
//     builds both its VirtualWorker and its remote worker on Client, so the
//     two behave identically by construction.
//
// Remote computation goes through a fixed, allow-listed table of tensor
// operations (see Ops); there is no way to call an arbitrary method on a
// stored object. A private object can be an operand, and anything computed
// from it is private too (PrivacyOf); its value leaves the worker only to
// users the worker's owner allowed.
package workers
