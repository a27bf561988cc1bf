package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gomplab/gomplab/tensor"
)

// Kind says what an Object holds.
type Kind string

// The kinds of stored objects. Models and plans are opaque blobs here: the
// packages that define them own their encoding.
const (
	KindTensor  Kind = "tensor"
	KindPointer Kind = "pointer"
	KindModel   Kind = "model"
	KindPlan    Kind = "plan"
	KindBlob    Kind = "blob"
)

func (k Kind) valid() bool {
	switch k {
	case KindTensor, KindPointer, KindModel, KindPlan, KindBlob:
		return true
	}
	return false
}

// Provenance records how an object came to be on this worker, so that a
// data owner reading a listing (or the access log) can tell loaded data from
// results a data scientist computed.
type Provenance struct {
	// Source is one of "send", "load", "op", "copy", "move", "pointer",
	// "job" (saved by an MPC job, whose id is Op).
	Source string `msgpack:"source"`
	// Op is the operation name when Source is "op".
	Op string `msgpack:"op,omitempty"`
	// Inputs are the ids of the objects an op or copy read.
	Inputs []string `msgpack:"inputs,omitempty"`
	// From is the worker an object moved from.
	From string `msgpack:"from,omitempty"`
	// File is the base name of the file a "load" read.
	File string `msgpack:"file,omitempty"`
	// Grant is the id of the grant the request came through, if any.
	Grant string `msgpack:"grant,omitempty"`
}

// PointerTarget locates an object on another worker, and carries what this
// worker needs to reach it: the peer's address and certificate fingerprint,
// and grant tokens the peer issued for this purpose (see Grant).
type PointerTarget struct {
	Worker      string `msgpack:"worker"`
	Addr        string `msgpack:"addr"`
	Fingerprint string `msgpack:"fingerprint,omitempty"`
	// Insecure allows plaintext to a loopback address.
	Insecure bool     `msgpack:"insecure,omitempty"`
	Grants   []string `msgpack:"grants"`
	ID       string   `msgpack:"id"`
	// Owns says the target was created for this pointer, so freeing the
	// pointer frees the target too.
	Owns bool `msgpack:"owns,omitempty"`
	// Shape caches the target tensor's shape, for listings.
	Shape []int `msgpack:"shape,omitempty"`
}

// Object is one stored record. Exactly one of Tensor, Pointer and Blob is
// set, according to Kind.
type Object struct {
	ID          string   `msgpack:"id"`
	Kind        Kind     `msgpack:"kind"`
	Tags        []string `msgpack:"tags,omitempty"`
	Description string   `msgpack:"description,omitempty"`
	// Private objects can be used in operations and MPC jobs, but their
	// values (and values derived from them) are released only to users
	// with the read-private permission or named in AllowedUsers.
	Private      bool     `msgpack:"private,omitempty"`
	AllowedUsers []string `msgpack:"allowed_users,omitempty"`
	Owner        string   `msgpack:"owner"`
	// DataOwners, on a result an MPC job computed from private data its
	// requester could not read, names the owners of those inputs
	// ("worker/user" for an object's owner on a worker, "worker" for the
	// owners of a worker): they, not the account that stored the result,
	// decide who may use it (docs/privacy.md).
	DataOwners []string   `msgpack:"data_owners,omitempty"`
	Provenance Provenance `msgpack:"provenance"`
	// Created is Unix nanoseconds.
	Created int64 `msgpack:"created"`

	Tensor  *tensor.Tensor `msgpack:"tensor,omitempty"`
	Pointer *PointerTarget `msgpack:"pointer,omitempty"`
	Blob    []byte         `msgpack:"blob,omitempty"`
}

// Info is what listings and search results show of an object: everything
// but its value.
type Info struct {
	ID           string     `msgpack:"id"`
	Kind         Kind       `msgpack:"kind"`
	Tags         []string   `msgpack:"tags,omitempty"`
	Description  string     `msgpack:"description,omitempty"`
	Private      bool       `msgpack:"private,omitempty"`
	AllowedUsers []string   `msgpack:"allowed_users,omitempty"`
	Owner        string     `msgpack:"owner"`
	DataOwners   []string   `msgpack:"data_owners,omitempty"`
	Provenance   Provenance `msgpack:"provenance"`
	Created      int64      `msgpack:"created"`
	// Shape is the tensor's shape (nil for other kinds).
	Shape []int `msgpack:"shape,omitempty"`
	// Target is the worker and id a pointer object refers to.
	Target string `msgpack:"target,omitempty"`
	// Preview shows the values of a small non-private tensor (at most
	// PreviewElements), as PySyft's listings did; never set for private
	// objects.
	Preview string `msgpack:"preview,omitempty"`
}

// PreviewElements is the largest non-private tensor whose values listings
// show.
const PreviewElements = 16

// Info returns the object's metadata without its value.
func (o *Object) Info() Info {
	in := Info{
		ID: o.ID, Kind: o.Kind, Tags: slices.Clone(o.Tags), Description: o.Description,
		Private: o.Private, AllowedUsers: slices.Clone(o.AllowedUsers), Owner: o.Owner,
		DataOwners: slices.Clone(o.DataOwners), Provenance: o.Provenance, Created: o.Created,
	}
	if o.Tensor != nil {
		in.Shape = o.Tensor.Shape()
		if !o.Private && o.Tensor.Size() <= PreviewElements {
			in.Preview = strings.ReplaceAll(o.Tensor.String(), "\n", "")
		}
	}
	if o.Pointer != nil {
		in.Target = o.Pointer.Worker + ":" + o.Pointer.ID
		in.Shape = slices.Clone(o.Pointer.Shape)
	}
	return in
}

// String describes the object without its value, so it is safe to log.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", in.Kind, in.ID)
	if in.Shape != nil {
		fmt.Fprintf(&b, " shape=%v", in.Shape)
	}
	if in.Target != "" {
		fmt.Fprintf(&b, " -> %s", in.Target)
	}
	if len(in.Tags) > 0 {
		fmt.Fprintf(&b, " tags=%v", in.Tags)
	}
	if in.Private {
		b.WriteString(" private")
	}
	if in.Preview != "" {
		fmt.Fprintf(&b, ": %s", in.Preview)
	}
	return b.String()
}

// HasTags reports whether the object carries every one of tags.
func (in Info) HasTags(tags ...string) bool {
	for _, t := range tags {
		if !slices.Contains(in.Tags, t) {
			return false
		}
	}
	return true
}

// Validate checks an object before it is stored: a valid id, kind, tags
// and description, and a value matching its kind.
func (o *Object) Validate() error {
	if err := ValidateID(o.ID); err != nil {
		return err
	}
	if !o.Kind.valid() {
		return fmt.Errorf("object %s: unknown kind %q", o.ID, o.Kind)
	}
	set := 0
	if o.Tensor != nil {
		set++
	}
	if o.Pointer != nil {
		set++
	}
	if o.Blob != nil {
		set++
	}
	if set != 1 {
		return fmt.Errorf("object %s: a %s must hold exactly one value", o.ID, o.Kind)
	}
	switch o.Kind {
	case KindTensor:
		if o.Tensor == nil {
			return fmt.Errorf("object %s: kind tensor without a tensor", o.ID)
		}
	case KindPointer:
		if o.Pointer == nil {
			return fmt.Errorf("object %s: kind pointer without a target", o.ID)
		}
		if err := ValidateID(o.Pointer.ID); err != nil {
			return fmt.Errorf("object %s: pointer target: %w", o.ID, err)
		}
		if o.Pointer.Addr == "" || o.Pointer.Worker == "" {
			return fmt.Errorf("object %s: pointer target needs a worker and an address", o.ID)
		}
	default:
		if o.Blob == nil {
			return fmt.Errorf("object %s: kind %s without a blob", o.ID, o.Kind)
		}
	}
	for _, t := range o.Tags {
		if err := ValidateTag(t); err != nil {
			return fmt.Errorf("object %s: %w", o.ID, err)
		}
	}
	if len(o.Tags) > maxTags {
		return fmt.Errorf("object %s: %d tags, at most %d allowed", o.ID, len(o.Tags), maxTags)
	}
	if len(o.Description) > maxDescription {
		return fmt.Errorf("object %s: description of %d bytes, at most %d allowed", o.ID, len(o.Description), maxDescription)
	}
	return nil
}

const (
	maxIDLen       = 64
	maxTagLen      = 128
	maxTags        = 64
	maxDescription = 4096
)

// NewID returns a fresh random object id (16 hex digits).
func NewID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// ValidateID checks that id is usable as an object id: 1 to 64 characters
// from [A-Za-z0-9._-]. Ids are chosen by clients, so they are checked
// before they reach the store or a log line.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("empty object id")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("object id of %d bytes, at most %d allowed", len(id), maxIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("object id %q: character %q not allowed (use letters, digits, '.', '_', '-')", id, c)
		}
	}
	return nil
}

// ValidateTag checks a tag: 1 to 128 printable characters without spaces.
// Tags are plain strings; a leading '#' is a convention, not required.
func ValidateTag(tag string) error {
	if tag == "" {
		return errors.New("empty tag")
	}
	if len(tag) > maxTagLen {
		return fmt.Errorf("tag of %d bytes, at most %d allowed", len(tag), maxTagLen)
	}
	for _, c := range tag {
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("tag %q: control or space character not allowed", tag)
		}
	}
	return nil
}
