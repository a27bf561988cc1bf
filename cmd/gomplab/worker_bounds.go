package main

import (
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
