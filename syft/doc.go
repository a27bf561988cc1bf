// Package syft is what a notebook imports to work with data it cannot see:
// workers that hold tensors under tags, and pointers to those tensors.
//
// A Worker is either a VirtualWorker, which lives in the notebook's process
// (for learning and tests), or a remote worker daemon reached with Connect
// (TLS 1.3, the worker's certificate pinned by fingerprint, a per-user
// token). Both speak the same protocol to the same request handler
// (package workers): a virtual worker serialises every request and runs it
// through an in-process session exactly as a daemon would, so code that
// works against one works against the other.
//
// Send puts a tensor on a worker and returns a *Pointer. Operations on
// pointers (Add, MatMul, Sum, Reshape, Lt, ...) run where the data is and
// return new pointers; Get brings a value back and removes it from the
// worker; Move sends it to another worker directly, worker to worker;
// Pointer.Send gives a worker a pointer to an object on a third worker,
// resolved whenever it is used. Search finds tagged objects on one worker
// or across a grid of workers.
//
// Private data stays put: a data owner marks objects private, and a
// private object (or anything computed from it) can be computed on but not
// fetched by users the owner did not allow.
//
// # Reclaiming remote objects
//
// Objects live on a worker until freed. Pointer.Free frees one
// explicitly; Get frees it by taking it. A pointer that created its object
// (by Send, an op, Copy) owns it: when such a pointer becomes unreachable
// and is garbage collected, a best-effort free is queued and sent to the
// worker in a batch. Pointers obtained by Search do not own what they point
// to and never free it (PySyft's temporary search pointers deleted the data
// they found). Keep releases ownership, for objects meant to outlive the
// pointer. Objects left behind by a client that crashed stay until freed,
// cleared, or the worker's owner removes them.
package syft
