// Package syft is what a notebook (or any Go program) imports to work with
// data it cannot see: workers that hold tensors and models under tags,
// pointers to them, encrypted computations that span several workers, and
// federated learning. It is gomplab's PySyft, joined to the MPC engine of
// package mpc. The user guide is in the repository's docs/ (workers.md,
// jobs.md, federated.md, scenarios.md).
//
// # Workers and pointers
//
// A Worker is either a VirtualWorker, which lives in the notebook's process
// (for learning and tests), or a remote worker daemon (`gomplab worker`)
// reached with Connect (TLS 1.3, the worker's certificate pinned by
// fingerprint, a per-user token). Both speak the same protocol to the same
// request handler (package workers, assembled by workers/daemon): a virtual worker serialises every
// request and runs it through an in-process session exactly as a daemon
// would, so code that works against one works against the other.
// StartLocalDaemon starts a real daemon on loopback, for notebooks, demos
// and tests.
//
// Send puts a tensor on a worker and returns a *Pointer. Operations on
// pointers (Add, MatMul, Sum, Reshape, Lt, ...) run where the data is and
// return new pointers; Get brings a value back and removes it from the
// worker; Move sends it to another worker directly, worker to worker;
// Pointer.Send gives a worker a pointer to an object on a third worker,
// resolved whenever it is used. Search finds objects by tag or id on one
// worker or across a grid of workers.
//
// Private data stays put: a data owner marks objects private, and a
// private object (or anything computed from it) can be computed on but not
// fetched by users the owner did not allow.
//
// # Encrypted computation across workers: jobs
//
// RunMultiWorkers ships the source of an ordinary Go function to every
// worker given and runs it there as one synchronized MPC party per worker
// (rank i on worker i), inside a restricted interpreter (package sandbox).
// The function loads each worker's private data by tag with mpc.Load,
// which secret-shares it so that only its owner ever holds it in the
// clear, and models with nn.LoadModel; each party returns what it
// decrypted, gathered in Results with per-rank traffic and time. FuncOf
// finds a function's source in its package's files (or through a
// SourceResolver, which the notebook kernel registers for cell
// functions); RunSource takes source text; Job is the long form with
// timeouts. A failed job returns a *JobError naming each failed rank and
// why.
//
// # Plans
//
// A Plan is a function traced into a fixed list of allow-listed
// operations with its parameters (Func2Plan): data a worker's owner can
// read, not code. SendPlan stores one on a worker, PlanPointer.Call runs
// it where its inputs are, and RunPlan runs it over encrypted tensors at
// every party, like a job.
//
// # Federated learning
//
// Federate splits a dataset over workers (FederatedFromTags binds to data
// the owners loaded), and a FederatedDataLoader cuts batches on the
// workers themselves. SendModel puts an mpc/nn model on a worker
// (SendONNX a model exported by PyTorch); ModelPointer.Train runs training
// steps there. FedAvg runs federated averaging rounds, averaging the
// workers' models with SecureAggregate, so that neither the orchestrator
// nor any worker sees another worker's model, only the average; AverageOn
// averages on a trusted worker instead. Participants that drop out of a
// round are handled by a DropoutPolicy.
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
