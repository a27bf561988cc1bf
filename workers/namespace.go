package workers

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gomplab/gomplab/workers/store"
)

// Namespaces. A tag names an object only among the objects its user may
// use: the user's own objects, the objects of the worker's owners (its
// admins: the data they loaded), and the objects that name the user in
// their AllowedUsers. Another user's object under the same tag is
// invisible to a lookup by tag, so storing one can neither make a job's
// load ambiguous nor take its place. Jobs' and plans' loads, federated
// datasets and search by tag or id all resolve here (Resolve, Find,
// InNamespace); listing every object (a search without terms) is not a
// lookup and shows everything, as before.

// InNamespace reports whether the object described by in is in u's
// namespace on this worker.
func (h *Handler) InNamespace(u *User, in store.Info) bool {
	if in.Owner == u.Name || slices.Contains(in.AllowedUsers, u.Name) {
		return true
	}
	return h.IsAdmin(in.Owner)
}

// IsAdmin reports whether the named user is one of the worker's owners
// (an account with PermAdmin).
func (h *Handler) IsAdmin(name string) bool {
	o, ok := h.cfg.Users.lookup(name)
	return ok && o.Has(PermAdmin)
}

// Users returns the worker's accounts.
func (h *Handler) Users() *Users { return h.cfg.Users }

// SearchNamespace returns the metadata of the objects in u's namespace
// that carry all of tags (at least one).
func (h *Handler) SearchNamespace(u *User, tags ...string) ([]store.Info, error) {
	if len(tags) == 0 {
		return nil, BadRequestf("a lookup by tag needs at least one tag")
	}
	found, err := h.cfg.Store.Search(tags...)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(found, func(in store.Info) bool { return !h.InNamespace(u, in) }), nil
}

// Find returns the metadata of the objects in u's namespace that every
// term matches, a term matching an object's id or one of its tags, as
// PySyft's search matched both (at least one term). An id names one
// object, so an object found by id must carry every other term as a tag.
// Another user's object is not found by its id either: ids are listed to
// everyone, but only the objects a user may use are found.
func (h *Handler) Find(u *User, terms ...string) ([]store.Info, error) {
	found, err := h.SearchNamespace(u, terms...)
	if err != nil {
		return nil, err
	}
	for i, id := range terms {
		if store.ValidateID(id) != nil || slices.ContainsFunc(found, func(in store.Info) bool { return in.ID == id }) {
			continue
		}
		o, err := h.cfg.Store.Get(id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("search for object %s: %w", id, err)
		}
		in := o.Info()
		if !h.InNamespace(u, in) {
			continue
		}
		tagged := true
		for j, t := range terms {
			if j != i && !slices.Contains(in.Tags, t) {
				tagged = false
			}
		}
		if tagged {
			found = append(found, in)
		}
	}
	slices.SortStableFunc(found, func(a, b store.Info) int {
		if a.Created != b.Created {
			if a.Created < b.Created {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return found, nil
}

// Resolve returns the one object in u's namespace carrying all of tags:
// the core's one resolution of tags to objects. None fails with
// store.ErrNotFound, several with store.ErrAmbiguous naming their ids and
// owners (all of them in u's namespace, so u can tell which to remove or
// retag).
func (h *Handler) Resolve(u *User, tags ...string) (*store.Object, error) {
	for _, t := range tags {
		if err := store.ValidateTag(t); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
	}
	found, err := h.SearchNamespace(u, tags...)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no object tagged %q that user %q may use on worker %s: %w", tags, u.Name, h.cfg.WorkerID, store.ErrNotFound)
	case 1:
		return h.cfg.Store.Get(found[0].ID)
	}
	desc := make([]string, len(found))
	for i, in := range found {
		desc[i] = in.ID + " (owner " + in.Owner + ")"
	}
	return nil, fmt.Errorf("%d objects tagged %q that user %q may use on worker %s: %v; want exactly one (remove or retag one): %w",
		len(found), tags, u.Name, h.cfg.WorkerID, desc, store.ErrAmbiguous)
}

// CanRead reports, as nil, whether u may read o's value (o is not
// private, or u holds PermReadPrivate, or o names u in AllowedUsers), or
// says why not, wrapping ErrPermission.
func CanRead(u *User, o *store.Object) error { return canRead(u, o) }
