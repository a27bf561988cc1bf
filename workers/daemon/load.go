package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// LoadSpec describes data a data owner loads into a worker.
type LoadSpec struct {
	// ID is the object id (fresh when empty).
	ID          string
	Tags        []string
	Description string
	Private     bool
	// AllowedUsers may read a private object's value besides users with
	// PermReadPrivate.
	AllowedUsers []string
	// File is recorded (base name only) in the object's provenance.
	File string
	// Replace lets the load replace the owner's objects it would make
	// ambiguous (see PutLoad); without it such a load is refused.
	Replace bool
}

// LoadInto stores t in the worker whose data directory is dir, as its
// owner, whether or not the worker's daemon is running:
//
//   - if the store file is free, it is opened directly and the object is
//     committed to it (the daemon, started later, finds it there);
//   - if a running daemon holds the file, LoadInto connects to the address
//     the daemon recorded in the directory, authenticates with the owner
//     token kept there, and sends the object like any client would (so it
//     also appears in the access log).
//
// It returns the stored object's metadata and which way it went ("store"
// or "daemon at ADDR").
func LoadInto(ctx context.Context, dir string, t *tensor.Tensor, spec LoadSpec) (store.Info, string, error) {
	return loadObject(ctx, dir, &store.Object{Kind: store.KindTensor, Tensor: t}, spec)
}

// loadObject stores o (its kind and value set) with spec's metadata, as
// LoadInto describes.
func loadObject(ctx context.Context, dir string, o *store.Object, spec LoadSpec) (store.Info, string, error) {
	d, err := OpenDataDir(dir)
	if err != nil {
		return store.Info{}, "", err
	}
	if spec.ID == "" {
		spec.ID = store.NewID()
	}
	prov := store.Provenance{Source: "load"}
	if spec.File != "" {
		prov = loadFileProvenance(spec.File)
	}
	o.ID, o.Tags, o.Description = spec.ID, spec.Tags, spec.Description
	o.Private, o.AllowedUsers, o.Owner, o.Provenance = spec.Private, spec.AllowedUsers, workers.OwnerUser, prov
	o.Created = time.Now().UnixNano()
	if err := o.Validate(); err != nil {
		return store.Info{}, "", err
	}
	bs, err := store.OpenBolt(d.StorePath(), store.BoltOptions{Wait: 100 * time.Millisecond, MustExist: true})
	if err == nil {
		defer bs.Close()
		if err := store.PutLoad(bs, o, spec.Replace); err != nil {
			return store.Info{}, "", err
		}
		return o.Info(), "store", nil
	}
	if !errors.Is(err, store.ErrLocked) {
		return store.Info{}, "", err
	}
	info, ierr := d.ReadDaemonInfo()
	if ierr != nil {
		return store.Info{}, "", fmt.Errorf("%w, but no running daemon is recorded in %s: %v", err, dir, ierr)
	}
	c, err := d.ownerClient(ctx, info)
	if err != nil {
		return store.Info{}, "", err
	}
	defer c.Close()
	var rep workers.InfoReply
	if err := c.Call(ctx, workers.MsgPut, &workers.PutRequest{Object: o, Replace: spec.Replace}, &rep); err != nil {
		return store.Info{}, "", err
	}
	return rep.Info, "daemon at " + info.Addr, nil
}

// loadFileProvenance describes data loaded from a file.
func loadFileProvenance(path string) store.Provenance {
	return store.Provenance{Source: "load", File: filepath.Base(path)}
}

// LoadONNXInto stores the ONNX model data in the worker whose data
// directory is dir, as its owner, the way LoadInto stores a tensor (into
// the store file, or through the running daemon). The object is of kind
// model; jobs load it with nn.LoadModel(tag, rank).
func LoadONNXInto(ctx context.Context, dir string, data []byte, spec LoadSpec) (store.Info, string, error) {
	blob, err := modelcodec.EncodeONNX(data)
	if err != nil {
		return store.Info{}, "", err
	}
	if spec.Description == "" {
		spec.Description = "ONNX model"
	}
	return loadObject(ctx, dir, &store.Object{Kind: store.KindModel, Blob: blob}, spec)
}

// ownerClient connects to the daemon recorded in the directory as its
// owner, with the token init left there.
func (d *DataDir) ownerClient(ctx context.Context, info Info) (*workers.Client, error) {
	token, err := d.OwnerToken()
	if err != nil {
		return nil, err
	}
	fp, err := d.Fingerprint()
	if err != nil {
		return nil, err
	}
	tr, err := workers.DialTransport(ctx, info.Addr, workers.DialOptions{Fingerprint: fp, Insecure: info.Insecure})
	if err != nil {
		return nil, fmt.Errorf("the store is held by a daemon, and it cannot be reached: %w", err)
	}
	return workers.NewClient(ctx, tr, workers.Credentials{Token: token}, workers.ClientOptions{Timeout: 10 * time.Minute})
}
