package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/spf13/pflag"
)

// addBoundsFlags adds the flags of what clients may cost a worker
// (docs/deploy.md, "Bounded resources") to f, bound to b.
func addBoundsFlags(f *pflag.FlagSet, b *daemon.Bounds) {
	f.IntVar(&b.MaxConnsPerHost, "max-conns-per-host", b.MaxConnsPerHost, "connections one client IP address may hold open; more are closed at once")
	f.IntVar(&b.MaxConns, "max-conns", b.MaxConns, "connections held open in all; more are closed at once")
	f.IntVar(&b.PreAuthMaxFrame, "pre-auth-max-frame", b.PreAuthMaxFrame, "largest frame in bytes a connection may send before it authenticates")
	f.DurationVar(&b.AuthTimeout, "auth-timeout", b.AuthTimeout, "time a new connection has to finish its TLS handshake and authenticate")
	f.IntVar(&b.MaxAuthFailures, "max-auth-failures", b.MaxAuthFailures, "wrong tokens or requests before authentication that close a connection")
	f.IntVar(&b.LogBurst, "log-burst", b.LogBurst, "identical log lines written per --log-interval (the rest are counted)")
	f.DurationVar(&b.LogInterval, "log-interval", b.LogInterval, "window of --log-burst")
	f.Int64Var(&b.AccessLogMaxBytes, "access-log-max", b.AccessLogMaxBytes, "size in bytes at which access.log rotates to access.log.1")
	f.IntVar(&b.AccessLogKeep, "access-log-keep", b.AccessLogKeep, "rotated access logs kept (access.log.1 ... .N)")
}

// addQuotaFlags adds the flags of what one authenticated user may take
// (docs/deploy.md, "Bounded resources") to f, bound to q.
func addQuotaFlags(f *pflag.FlagSet, q *daemon.Quotas) {
	f.Int64Var(&q.OpBytes, "max-op-memory", workers.DefaultMaxOpBytes, "memory in bytes one op may take (result, intermediates and storing it, estimated from the shapes before it runs; -1: no bound)")
	f.Int64Var(&q.OpBytesInFlight, "max-op-memory-in-flight", 0, "memory in bytes the ops running at once may take together; more wait (0: --max-op-memory)")
	f.Int64Var(&q.StoreBytesPerUser, "max-store-per-user", 0, "bytes one user's objects may take in the store (0: no bound)")
	f.Int64Var(&q.StoreCacheBytes, "store-cache", daemon.DefaultStoreCacheBytes, "bytes of decoded objects the store keeps in memory")
	f.Int64Var(&q.MemoryLimit, "memory-limit", 0, "soft memory limit of the daemon in bytes, kept by the garbage collector (0: 32 MiB + --max-op-memory-in-flight + --store-cache; -1: none; GOMEMLIMIT overrides)")
}

// applyMemoryLimit sets the process's soft memory limit for quotas q,
// unless GOMEMLIMIT does or q says none, and logs it.
func applyMemoryLimit(q daemon.Quotas, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" || q.MemoryLimit < 0 {
		return
	}
	limit := q.MemoryLimit
	if limit == 0 {
		limit = daemon.MemoryLimitFor(q)
	}
	if limit < 0 {
		return
	}
	debug.SetMemoryLimit(limit)
	log.Info("memory", "soft_limit", limit, "max_op_memory", q.OpBytes, "store_cache", q.StoreCacheBytes)
}
