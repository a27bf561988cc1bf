package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// AdminClient opens a session as the owner of the worker whose data
// directory is dir, for local tools (`gomplab worker requests`): with the
// running daemon, over TLS to the address it recorded, pinned to its
// certificate, with the owner's token; or, when no daemon holds the
// store, with an in-process worker over the store itself (bbolt admits
// one process at a time). It returns the client, how it got there, and a
// function that closes everything.
func AdminClient(ctx context.Context, dir string) (*workers.Client, string, func(), error) {
	d, err := OpenDataDir(dir)
	if err != nil {
		return nil, "", nil, err
	}
	token, err := d.OwnerToken()
	if err != nil {
		return nil, "", nil, err
	}
	bs, err := store.OpenBoltStore(d.StorePath(), 100*time.Millisecond)
	if err == nil {
		c, via, closeAll, err := inProcessAdmin(ctx, d, bs, token)
		if err != nil {
			bs.Close()
			return nil, "", nil, err
		}
		return c, via, closeAll, nil
	}
	if !errors.Is(err, store.ErrLocked) {
		return nil, "", nil, err
	}
	info, ierr := d.ReadDaemonInfo()
	if ierr != nil {
		return nil, "", nil, fmt.Errorf("%w, but no running daemon is recorded in %s: %v", err, dir, ierr)
	}
	fp, err := d.Fingerprint()
	if err != nil {
		return nil, "", nil, err
	}
	tr, err := workers.DialTransport(ctx, info.Addr, workers.DialOptions{Fingerprint: fp, Insecure: info.Insecure})
	if err != nil {
		return nil, "", nil, fmt.Errorf("the store is held by a daemon, and it cannot be reached: %w", err)
	}
	c, err := workers.NewClient(ctx, tr, workers.Credentials{Token: token}, workers.ClientOptions{})
	if err != nil {
		return nil, "", nil, err
	}
	return c, "daemon at " + info.Addr, func() { c.Close() }, nil
}

// inProcessAdmin serves the owner's session from a worker in this process
// over bs, the stopped daemon's store.
func inProcessAdmin(ctx context.Context, d *DataDir, bs *store.BoltStore, token string) (*workers.Client, string, func(), error) {
	users, err := d.Users()
	if err != nil {
		return nil, "", nil, err
	}
	cert, err := d.Certificate()
	if err != nil {
		return nil, "", nil, err
	}
	w, err := NewWorker(workers.Config{WorkerID: d.WorkerID, Store: bs, Users: users, Certificate: &cert})
	if err != nil {
		return nil, "", nil, err
	}
	c, err := workers.NewClient(ctx, workers.NewSessionTransport(w.Handler, "local:"+workers.OwnerUser), workers.Credentials{Token: token}, workers.ClientOptions{})
	if err != nil {
		w.Close()
		return nil, "", nil, err
	}
	return c, "store", func() { c.Close(); w.Close(); bs.Close() }, nil
}
