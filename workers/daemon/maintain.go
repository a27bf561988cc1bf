package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// MsgBackup asks a daemon for a consistent snapshot of its store, written
// while it serves into the backups folder of its data directory (the
// owner's `gomplab worker backup`; admin only).
const MsgBackup = "worker.backup"

// BackupReply is where a daemon wrote a snapshot and how large it is.
type BackupReply struct {
	Path  string `msgpack:"path"`
	Bytes int64  `msgpack:"bytes"`
}

// reportDamage logs what the store's checks found at open: damaged records
// are never returned, and the owner learns of each at start.
func reportDamage(log *slog.Logger, bs *store.BoltStore) {
	for _, n := range bs.Notes() {
		log.Warn("store: harmless damage (repaired at the next write)", "note", n)
	}
	list, total := bs.Damaged()
	if total == 0 {
		return
	}
	for i, d := range list {
		if i == 20 {
			break
		}
		log.Error("store: damaged record, it will not be returned", "record", d.What, "why", d.Why)
	}
	log.Error("store: damaged records found at start; `gomplab worker recover` (with the worker stopped) salvages the intact objects into a new store",
		"damaged", total, "file", bs.Path())
}

func (d *Daemon) backup(_ context.Context, r *workers.Request) (any, error) {
	if !r.User().Has(workers.PermAdmin) || r.Session.ViaGrant() {
		return nil, workers.Deniedf("only the worker's owner (an admin) may back up its store")
	}
	path, err := backupPath(d.dir)
	if err != nil {
		return nil, err
	}
	n, err := d.store.Backup(path)
	if err != nil {
		return nil, err
	}
	r.Note("backup", filepath.Base(path), "bytes", n)
	return &BackupReply{Path: path, Bytes: n}, nil
}

// backupPath names a new snapshot in dir's backups folder.
func backupPath(dir *DataDir) (string, error) {
	bd := filepath.Join(dir.Path, "backups")
	if err := os.MkdirAll(bd, 0o700); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	return filepath.Join(bd, "store-"+time.Now().UTC().Format("20060102T150405.000000000Z")+".db"), nil
}

// Backup writes a consistent snapshot of the store of the worker whose
// data directory is dir: through its daemon when one runs (it goes on
// serving), or from the file when none does. With out set the snapshot
// ends there; otherwise in dir's backups folder. It returns the path and
// size.
func Backup(ctx context.Context, dir, out string) (string, int64, error) {
	d, err := OpenDataDir(dir)
	if err != nil {
		return "", 0, err
	}
	var path string
	var n int64
	bs, err := store.OpenBolt(d.StorePath(), store.BoltOptions{Wait: 100 * time.Millisecond, MustExist: true, ReadOnly: true})
	switch {
	case err == nil:
		defer bs.Close()
		if path = out; path == "" {
			if path, err = backupPath(d); err != nil {
				return "", 0, err
			}
		}
		n, err = bs.Backup(path)
		return path, n, err
	case !errors.Is(err, store.ErrLocked):
		return "", 0, err
	}
	info, ierr := d.ReadDaemonInfo()
	if ierr != nil {
		return "", 0, fmt.Errorf("%w, but no running daemon is recorded in %s: %v", err, dir, ierr)
	}
	c, err := d.ownerClient(ctx, info)
	if err != nil {
		return "", 0, err
	}
	defer c.Close()
	var rep BackupReply
	if err := c.Call(ctx, MsgBackup, struct{}{}, &rep); err != nil {
		return "", 0, err
	}
	if out == "" || out == rep.Path {
		return rep.Path, rep.Bytes, nil
	}
	if _, err := os.Stat(out); err == nil {
		return rep.Path, rep.Bytes, fmt.Errorf("backup written to %s; not moved to %s, which exists", rep.Path, out)
	}
	if err := os.Rename(rep.Path, out); err != nil {
		return rep.Path, rep.Bytes, fmt.Errorf("backup written to %s; moving it to %s: %w", rep.Path, out, err)
	}
	return out, rep.Bytes, nil
}

// Check checks the store of a stopped worker without changing it.
func Check(dir string) (*store.CheckReport, error) {
	d, err := OpenDataDir(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(d.StorePath()); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (restore it from a backup; `gomplab worker recover` starts an empty one)", d.StorePath(), store.ErrMissing)
	}
	r, err := store.CheckFile(d.StorePath())
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w: stop the worker first, or check a snapshot (`gomplab worker backup`, then `gomplab worker check --file`)", err)
	}
	return r, err
}

// Recover salvages the intact objects of a stopped worker's store into a
// new store that takes its place; the old file is kept beside it.
func Recover(dir string) (*store.SalvageReport, string, error) {
	d, err := OpenDataDir(dir)
	if err != nil {
		return nil, "", err
	}
	rep, old, err := store.RecoverDataFile(d.StorePath(), time.Now().UTC().Format("20060102T150405Z"))
	if errors.Is(err, store.ErrLocked) {
		return nil, "", fmt.Errorf("%w: stop the worker first", err)
	}
	return rep, old, err
}
