// Package daemon assembles a complete worker and runs it.
//
// NewWorker builds a worker's protocol core (workers.Handler) and
// registers every capability's message types on it, explicitly and in
// one place: the core's own (objects, ops, grants), MPC jobs
// (workers/jobs), plans (workers/plans) and federated learning
// (workers/fl). Both kinds of worker are built by it: a daemon, which
// Start serves over TLS from a data directory (what `gomplab
// worker` runs), and a virtual worker in process (syft.NewVirtualWorker).
//
// The data directory (InitDataDir, OpenDataDir) is the data owner's
// authority over a daemon: its identity, TLS key and certificate, user
// table, bbolt store and access log. LoadInto and LoadONNXInto store data
// into it as its owner, whether or not the daemon is running (`gomplab
// worker load`).
package daemon
