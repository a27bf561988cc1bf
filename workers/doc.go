// Package workers is the worker side of gomplab's Syft-style data owners:
// the object store, the protocol core that answers requests, access control,
// and the TLS server that puts that core on the network.
//
// The pieces are layered so the protocol can be tested without a network,
// in the spirit of etcd's raft package:
//
//   - Store holds Objects (tensors, pointers to objects on other workers,
//     model and plan blobs) by id, with tags, a description, a private flag,
//     an owner and provenance. MemStore keeps them in memory (virtual
//     workers); BoltStore keeps them in a bbolt file, and a write it
//     acknowledges has been committed (fsynced) first.
//   - Handler is the protocol core: pure logic over a Store, a Users table
//     and an access log. It answers framed, msgpack-encoded requests through
//     a Session, one per connection, which authenticates the connection,
//     refuses replayed, malformed and oversized frames, and dispatches each
//     request to one handler function per message type. Callers register
//     new message types with Handler.Handle.
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
// from it is private too; its value leaves the worker only to users the
// worker's owner allowed.
package workers
