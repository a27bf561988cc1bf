package store

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Errors a Store returns, wrapped with the id or tag concerned; test with
// errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Store holds a worker's objects and the grants it issued.
//
// Stored objects are immutable: Put takes ownership of o (the caller must
// not modify it afterwards), and Get returns the stored object, which the
// caller must not modify. Ops return new tensors, so nothing needs to.
//
// A persistent Store makes every change durable before the method returns,
// so that a reply sent after it is a promise that survives a crash.
// Implementations are safe for concurrent use.
type Store interface {
	// Put stores o under o.ID; it fails with ErrExists if the id is taken.
	Put(o *Object) error
	// Get returns the object with the given id, or ErrNotFound.
	Get(id string) (*Object, error)
	// Take removes the object and returns it, atomically.
	Take(id string) (*Object, error)
	// Delete removes the object, or fails with ErrNotFound.
	Delete(id string) error
	// Search returns the metadata of every object carrying all of tags
	// (every object when tags is empty), sorted by creation time then id.
	Search(tags ...string) ([]Info, error)
	// Clear deletes every object owned by owner (every object when owner
	// is empty) and returns how many it deleted.
	Clear(owner string) (int, error)

	// SaveGrant stores or replaces the grant with g.TokenHash.
	SaveGrant(g *Grant) error
	// LoadGrant returns the grant whose token hashes to tokenHash, or
	// ErrNotFound.
	LoadGrant(tokenHash string) (*Grant, error)
	// DeleteGrant removes a grant; a missing grant is not an error.
	DeleteGrant(tokenHash string) error

	// Close releases the store; a persistent store flushes and unlocks its file.
	Close() error
}

// Grant lets a peer worker act on this worker on a user's behalf, with less
// than the user's full power: only the listed actions, on the listed
// objects (and on objects created through the grant), a limited number of
// times, until it expires. Grants are how a worker moves an object to
// another worker, or holds a pointer to one, without holding any user's
// token. Only the SHA-256 of the grant's token is stored.
type Grant struct {
	ID        string   `msgpack:"id"`
	TokenHash string   `msgpack:"token_hash"`
	User      string   `msgpack:"user"`
	Actions   []string `msgpack:"actions"`
	Objects   []string `msgpack:"objects,omitempty"`
	// Uses left; 0 means unlimited.
	Uses int `msgpack:"uses,omitempty"`
	// Expires is Unix nanoseconds; 0 means never.
	Expires int64 `msgpack:"expires,omitempty"`
	// Audience is the worker the grant was given to: only that worker may
	// present it, proven by its certificate (AudienceFingerprint) in the
	// TLS handshake, or, for a virtual worker (no certificate), by its id
	// on an in-process link.
	Audience            string `msgpack:"audience,omitempty"`
	AudienceFingerprint string `msgpack:"audience_fp,omitempty"`
}

// Grant actions.
const (
	// GrantPut allows storing each of the grant's objects once (moves,
	// secure-aggregation shares).
	GrantPut = "put"
	// GrantUse allows reading metadata of and computing on the granted
	// objects, and freeing what the grant created (pointers).
	GrantUse = "use"
	// GrantGet allows taking the granted objects' values, subject to the
	// privacy rules for the granting user.
	GrantGet = "get"
	// GrantFree allows deleting the granted objects the user owns.
	GrantFree = "free"
)

// clone is a deep copy of g.
func (g *Grant) clone() *Grant {
	c := *g
	c.Actions = slices.Clone(g.Actions)
	c.Objects = slices.Clone(g.Objects)
	return &c
}

// Allows reports whether the grant allows action (GrantPut, GrantUse...).
func (g *Grant) Allows(action string) bool { return slices.Contains(g.Actions, action) }

// Covers reports whether the grant may touch object o.
func (g *Grant) Covers(o *Object) bool {
	return slices.Contains(g.Objects, o.ID) || (o.Provenance.Grant != "" && o.Provenance.Grant == g.ID)
}

// MemStore is an in-memory Store, used by virtual workers and tests.
type MemStore struct {
	mu     sync.RWMutex
	objs   map[string]*Object
	byTag  map[string]map[string]struct{}
	grants map[string]*Grant
	// records are the Records buckets: bucket -> key -> value.
	records map[string]map[string][]byte
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{
		objs:   map[string]*Object{},
		byTag:  map[string]map[string]struct{}{},
		grants: map[string]*Grant{},
	}
}

// Put implements Store.
func (s *MemStore) Put(o *Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[o.ID]; ok {
		return fmt.Errorf("object %s: %w", o.ID, ErrExists)
	}
	s.objs[o.ID] = o
	for _, t := range o.Tags {
		ids := s.byTag[t]
		if ids == nil {
			ids = map[string]struct{}{}
			s.byTag[t] = ids
		}
		ids[o.ID] = struct{}{}
	}
	return nil
}

// Get implements Store.
func (s *MemStore) Get(id string) (*Object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objs[id]
	if !ok {
		return nil, fmt.Errorf("object %s: %w", id, ErrNotFound)
	}
	return o, nil
}

// Take implements Store.
func (s *MemStore) Take(id string) (*Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[id]
	if !ok {
		return nil, fmt.Errorf("object %s: %w", id, ErrNotFound)
	}
	s.remove(o)
	return o, nil
}

// Delete implements Store.
func (s *MemStore) Delete(id string) error {
	_, err := s.Take(id)
	return err
}

// remove drops o and cleans its tag index entries (PySyft's store forgot
// to, so deleted ids lingered in its tag index).
func (s *MemStore) remove(o *Object) {
	delete(s.objs, o.ID)
	for _, t := range o.Tags {
		if ids := s.byTag[t]; ids != nil {
			delete(ids, o.ID)
			if len(ids) == 0 {
				delete(s.byTag, t)
			}
		}
	}
}

// Search implements Store.
func (s *MemStore) Search(tags ...string) ([]Info, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Info
	if len(tags) == 0 {
		for _, o := range s.objs {
			out = append(out, o.Info())
		}
	} else {
		// Walk the smallest tag set and check the others.
		best := -1
		for i, t := range tags {
			if best < 0 || len(s.byTag[t]) < len(s.byTag[tags[best]]) {
				best = i
			}
		}
		for id := range s.byTag[tags[best]] {
			in := s.objs[id].Info()
			if in.HasTags(tags...) {
				out = append(out, in)
			}
		}
	}
	sortInfos(out)
	return out, nil
}

// Clear implements Store.
func (s *MemStore) Clear(owner string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, o := range s.objs {
		if owner == "" || o.Owner == owner {
			s.remove(o)
			n++
		}
	}
	return n, nil
}

// SaveGrant implements Store.
func (s *MemStore) SaveGrant(g *Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[g.TokenHash] = g.clone()
	return nil
}

// LoadGrant implements Store.
func (s *MemStore) LoadGrant(tokenHash string) (*Grant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.grants[tokenHash]
	if !ok {
		return nil, fmt.Errorf("grant: %w", ErrNotFound)
	}
	return g.clone(), nil
}

// DeleteGrant implements Store.
func (s *MemStore) DeleteGrant(tokenHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.grants, tokenHash)
	return nil
}

// Close implements Store; a MemStore has nothing to release.
func (s *MemStore) Close() error { return nil }

func sortInfos(in []Info) {
	sort.Slice(in, func(i, j int) bool {
		if in[i].Created != in[j].Created {
			return in[i].Created < in[j].Created
		}
		return in[i].ID < in[j].ID
	})
}

// ErrAmbiguous means a tag lookup that needs exactly one object found
// several.
var ErrAmbiguous = errors.New("ambiguous tags")

// GetTagged returns the one object carrying all of tags: what code running
// on a worker (an MPC party's load by tag) needs. No match fails with
// ErrNotFound and several with ErrAmbiguous, each naming the tags.
func GetTagged(s Store, tags ...string) (*Object, error) {
	if len(tags) == 0 {
		return nil, errors.New("a tag lookup needs at least one tag")
	}
	found, err := s.Search(tags...)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no object tagged %v: %w", tags, ErrNotFound)
	case 1:
		return s.Get(found[0].ID)
	}
	ids := make([]string, len(found))
	for i, in := range found {
		ids[i] = in.ID
	}
	return nil, fmt.Errorf("%d objects tagged %v (%v), want exactly one: %w", len(found), tags, ids, ErrAmbiguous)
}

// PutLoad stores o, an object its owner loads, refusing to make a tag
// lookup ambiguous: if the same owner already holds an object whose tags
// contain o's or are contained in them, a lookup by those tags (a job's
// mpc.Load, syft's Search) would find two objects and fail later with
// ErrAmbiguous, far from the mistake. Such a load fails with ErrExists
// naming the object, unless replace is set: then o is stored and the
// conflicting objects are deleted.
func PutLoad(s Store, o *Object, replace bool) error {
	all, err := s.Search()
	if err != nil {
		return err
	}
	var clash []Info
	for _, in := range all {
		if in.Owner == o.Owner && len(in.Tags) > 0 && len(o.Tags) > 0 &&
			(subset(in.Tags, o.Tags) || subset(o.Tags, in.Tags)) {
			clash = append(clash, in)
		}
	}
	if len(clash) > 0 && !replace {
		old := clash[0]
		from := ""
		if old.Provenance.File != "" {
			from = ", loaded from " + old.Provenance.File
		}
		return fmt.Errorf("%w: object %s is already tagged %v (%s%s), so a lookup by tag would find two objects; "+
			"replace it (gomplab worker load --replace, LoadSpec.Replace) or choose another tag", ErrExists, old.ID, old.Tags, old.Kind, from)
	}
	if err := s.Put(o); err != nil {
		return err
	}
	for _, in := range clash {
		if err := s.Delete(in.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("stored %s, but removing the object it replaces (%s): %w", o.ID, in.ID, err)
		}
	}
	return nil
}

// subset reports whether every tag of a is in b.
func subset(a, b []string) bool {
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	return true
}
