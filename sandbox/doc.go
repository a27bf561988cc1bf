// Package sandbox is the jail that runs Go source shipped to a worker: one
// MPC party of a job (package workers/jobs starts it; syft's Job.Run sends
// the job), inside a yaegi interpreter restricted to a whitelist of
// packages, with deadlines, resource limits and errors that name the rank,
// the worker, the kind of failure and the line.
//
// Check refuses a forbidden import or a go statement before anything
// runs (the orchestrator and every worker call it). Run compiles and runs
// a Program in process; RunJobWith runs a whole party in process (a
// virtual worker's goroutine) and RunChild in a child process under
// resource limits (a daemon's, `gomplab party`, which calls ServeChild),
// reading and writing the worker's store by tag only through a Store. The
// symbol tables jobs compile against are generated in internal/pkgsyms
// and shared with the notebook kernel (GomplabSymbols). The plan format,
// the alternative to shipping source, is sandbox/plan.
//
// This package imports neither syft nor the workers: it sits below both
// (docs/architecture.md). docs/sandbox.md says what a job may do.
package sandbox
