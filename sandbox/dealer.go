package sandbox

import (
	"context"
	"errors"
	"time"

	"github.com/gomplab/gomplab/mpc/provider"
)

// RunDealer runs the dealer's part of a job (Job.IsDealer: rank WorldSize
// under the "dealer" provider), PySyft's crypto_provider: it joins the
// job's mesh as its trusted third party over the same authenticated links
// as the parties, and deals their correlated randomness
// (provider.ServeTrustedThirdParty) until rank 0 is done. It runs no user
// code and loads nothing, so a worker may run it in its own process; it
// sees no share of any input and no opened value. The job's timeout
// bounds it. Its Result carries no value, only its traffic and time, or
// its failure marked as the dealer's.
func RunDealer(ctx context.Context, job Job, opts PartyOptions) (res Result) {
	res = Result{Rank: job.Rank, Worker: job.Worker}
	phase := PhaseValidate
	defer func() {
		if r := recover(); r != nil {
			res.Err = job.Fail(phase, KindCrash, errorf(KindCrash, "dealer failed: %v", r))
		}
	}()
	if err := job.validate(); err != nil {
		return job.failed(PhaseValidate, KindSetup, errorf(KindSetup, "bad job: %v", err))
	}
	if !job.IsDealer() {
		return job.failed(PhaseValidate, KindSetup, errorf(KindSetup,
			"rank %d of provider %q is not a job's dealer (rank %d of provider dealer)", job.Rank, job.Provider, job.WorldSize))
	}
	ctx, cancel := context.WithTimeout(ctx, job.Timeout())
	defer cancel()
	phase = PhaseStart
	setupCtx := ctx
	if job.SetupTimeoutMS > 0 {
		var c context.CancelFunc
		setupCtx, c = context.WithTimeout(ctx, time.Duration(job.SetupTimeoutMS)*time.Millisecond)
		defer c()
	}
	c, err := dialMesh(ctx, setupCtx, job, nil, opts)
	if err != nil {
		return job.failed(PhaseStart, KindSetup, err)
	}
	phase = PhaseRun
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	start := time.Now()
	err = provider.ServeTrustedThirdParty(c)
	res.ElapsedNS = int64(time.Since(start))
	c.Close()
	res.Stats, res.ByOp = c.Stats().Total(), c.Stats().ByOp()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Err = job.Fail(PhaseRun, KindTimeout, errorf(KindTimeout, "the dealer passed the job's deadline (%v)", job.Timeout()))
	case ctx.Err() != nil:
		res.Err = job.Fail(PhaseRun, KindCanceled, errorf(KindCanceled, "the dealer was cancelled"))
	case err != nil:
		k := KindPeer
		if !peerFailure(err) {
			k = KindSetup
		}
		res.Err = job.Fail(PhaseRun, k, errorf(k, "dealing the job's randomness: %v", err))
	}
	return res
}
