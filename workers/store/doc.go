// Package store holds a worker's objects: tensors, pointers to objects on
// other workers, and model and plan blobs, each with tags, a description,
// a private flag, an owner and provenance (Object), and the grants the
// worker issued (Grant).
//
// Store is the interface; MemStore keeps objects in memory (virtual
// workers, tests) and BoltStore in a bbolt file, where a write it
// acknowledges has been committed (fsynced) first, with a bounded cache
// of decoded objects. It serves the worker's protocol core (package
// workers), which enforces who may do what, and the capabilities built
// on it (workers/jobs, workers/plans, workers/fl); it knows nothing of
// users or the network.
package store
