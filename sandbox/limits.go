package sandbox

import (
	"runtime/debug"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
)

// Limits bound a party child process. Zero fields take the defaults.
type Limits struct {
	// AddressSpace is RLIMIT_AS in bytes: the virtual memory the party
	// may map. Go reserves address space well beyond what it touches, so
	// the memory a party can really use is about AddressSpace - 2 GiB
	// (measured: 4 GiB of address space let a party reach 2.1 GB RSS).
	// Default 4 GiB.
	AddressSpace int64 `msgpack:"address_space,omitempty"`
	// CPU is RLIMIT_CPU: CPU time (all threads) before SIGXCPU, then
	// SIGKILL a second later. Default: twice the job's timeout plus 10 s
	// (the wall-clock timeout usually ends the party first; this catches
	// a party that burns CPU on several threads).
	CPU time.Duration `msgpack:"cpu,omitempty"`
	// Files is RLIMIT_NOFILE. Default 64 plus what the mesh may hold at
	// once (comm.FilesNeeded: a link per peer, listeners, the strangers a
	// listener holds before they prove anything, dials in flight).
	Files int64 `msgpack:"files,omitempty"`
	// Stack bounds each goroutine's stack (debug.SetMaxStack), so runaway
	// recursion fails in milliseconds, not after a gigabyte. Default 64 MiB.
	Stack int64 `msgpack:"stack,omitempty"`
	// Threads bounds OS threads (debug.SetMaxThreads). Default 256.
	Threads int `msgpack:"threads,omitempty"`
}

// DefaultAddressSpace is Limits.AddressSpace's default.
const DefaultAddressSpace = 4 << 30

// withDefaults fills zero fields for a job of the given timeout and size.
func (l Limits) withDefaults(timeout time.Duration, worldSize int) Limits {
	if l.AddressSpace <= 0 {
		l.AddressSpace = DefaultAddressSpace
	}
	if l.CPU <= 0 {
		l.CPU = 2*timeout + 10*time.Second
	}
	if l.Files <= 0 {
		l.Files = 64 + int64(comm.FilesNeeded(worldSize+1))
	}
	if l.Stack <= 0 {
		l.Stack = 64 << 20
	}
	if l.Threads <= 0 {
		l.Threads = 256
	}
	return l
}

// applyLimits sets the limits on this process (the party child, before it
// runs any job code).
func applyLimits(l Limits) error {
	debug.SetMaxStack(int(l.Stack))
	debug.SetMaxThreads(l.Threads)
	// A soft memory target below the hard address-space limit makes the
	// collector work harder before the limit is hit.
	if soft := l.AddressSpace - 2<<30; soft > 64<<20 {
		debug.SetMemoryLimit(soft)
	}
	return setRlimits(l)
}
