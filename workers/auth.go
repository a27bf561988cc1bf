package workers

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gomplab/gomplab/workers/store"
)

// User permissions. A user without any may send objects, compute on any
// object, and take back non-private objects it owns.
// OwnerUser is the name of the account `gomplab worker init` creates for
// the data owner (an admin); virtual workers have one too.
const OwnerUser = "owner"

const (
	// PermAdmin may do everything: read private values, delete or clear
	// anyone's objects, load data as the data owner.
	PermAdmin = "admin"
	// PermReadPrivate may take the values of private objects and of
	// everything computed from them.
	PermReadPrivate = "read-private"
)

var knownPerms = []string{PermAdmin, PermReadPrivate}

// User is one account on a worker. Only the SHA-256 of its token is kept.
type User struct {
	Name      string   `json:"name"`
	TokenHash string   `json:"token_sha256"`
	Perms     []string `json:"perms,omitempty"`
}

// Has reports whether the user holds perm (admins hold every permission).
func (u *User) Has(perm string) bool {
	return slices.Contains(u.Perms, PermAdmin) || slices.Contains(u.Perms, perm)
}

// Users is the table of accounts of one worker, kept in a JSON file in its
// data directory (or only in memory, for virtual workers).
type Users struct {
	mu     sync.RWMutex
	path   string // "" for in-memory tables
	byName map[string]*User
	// The file as last loaded and when it was last checked: a running
	// daemon picks up users added by `gomplab worker user add`.
	loaded  os.FileInfo
	checked time.Time
}

// NewUsers returns an empty in-memory user table.
func NewUsers() *Users { return &Users{byName: map[string]*User{}} }

// NewUsersFile returns an empty user table kept in the file at path,
// which every change rewrites (a new data directory's).
func NewUsersFile(path string) *Users { return &Users{path: path, byName: map[string]*User{}} }

// LoadUsers reads the user table at path; a missing file is an error
// (run `gomplab worker init`).
func LoadUsers(path string) (*Users, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	u, err := parseUsers(b)
	if err != nil {
		return nil, fmt.Errorf("load users %s: %w", path, err)
	}
	u.path, u.checked = path, time.Now()
	if fi, err := os.Stat(path); err == nil {
		u.loaded = fi
	}
	return u, nil
}

// parseUsers decodes a user table file: a JSON list of users with valid,
// distinct names and hex SHA-256 token hashes.
func parseUsers(b []byte) (*Users, error) {
	var list []*User
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	u := &Users{byName: map[string]*User{}}
	for _, x := range list {
		if x == nil {
			return nil, errors.New("a user entry is null")
		}
		if err := ValidateName(x.Name); err != nil {
			return nil, err
		}
		if _, err := hex.DecodeString(x.TokenHash); err != nil || len(x.TokenHash) != 64 {
			return nil, fmt.Errorf("user %q: bad token hash", x.Name)
		}
		if u.byName[x.Name] != nil {
			return nil, fmt.Errorf("user %q listed twice", x.Name)
		}
		u.byName[x.Name] = x
	}
	return u, nil
}

// NewToken returns a fresh random secret token (64 hex digits).
func NewToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// HashToken is how tokens are stored: hex SHA-256.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ValidateName checks a user or worker name: 1 to 64 letters, digits,
// '.', '_', '-' or '@'.
func ValidateName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("user name %q: must be 1 to 64 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return fmt.Errorf("user name %q: character %q not allowed", name, c)
		}
	}
	return nil
}

// Add creates a user with the given permissions and returns its token,
// which is shown once and never stored.
func (u *Users) Add(name string, perms ...string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	for _, p := range perms {
		if !slices.Contains(knownPerms, p) {
			return "", fmt.Errorf("user %q: unknown permission %q (known: %v)", name, p, knownPerms)
		}
	}
	token := NewToken()
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.byName[name]; ok {
		return "", fmt.Errorf("user %q: %w", name, store.ErrExists)
	}
	u.byName[name] = &User{Name: name, TokenHash: HashToken(token), Perms: slices.Clone(perms)}
	if err := u.saveLocked(); err != nil {
		delete(u.byName, name)
		return "", err
	}
	return token, nil
}

// Remove deletes a user; its token stops working at once.
func (u *Users) Remove(name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	old, ok := u.byName[name]
	if !ok {
		return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	delete(u.byName, name)
	if err := u.saveLocked(); err != nil {
		u.byName[name] = old
		return err
	}
	return nil
}

// List returns the users sorted by name.
func (u *Users) List() []User {
	u.mu.RLock()
	defer u.mu.RUnlock()
	out := make([]User, 0, len(u.byName))
	for _, x := range u.byName {
		c := *x
		c.Perms = slices.Clone(x.Perms)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// errBadToken is deliberately vague: it must not help guess tokens or names.
var errBadToken = errors.New("authentication failed: unknown token")

// Authenticate returns the user whose token this is. Every stored hash is
// compared in constant time, so timing does not reveal which one matched.
func (u *Users) Authenticate(token string) (*User, error) {
	u.reloadIfChanged()
	h := HashToken(token)
	u.mu.RLock()
	defer u.mu.RUnlock()
	var found *User
	for _, x := range u.byName {
		if subtle.ConstantTimeCompare([]byte(h), []byte(x.TokenHash)) == 1 {
			found = x
		}
	}
	if found == nil {
		return nil, errBadToken
	}
	c := *found
	return &c, nil
}

// reloadIfChanged re-reads the file, at most once a second, if another
// process changed it. A file that fails to load keeps the current table.
func (u *Users) reloadIfChanged() {
	if u.path == "" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if time.Since(u.checked) < time.Second {
		return
	}
	u.checked = time.Now()
	fi, err := os.Stat(u.path)
	if err != nil || sameVersion(fi, u.loaded) {
		return
	}
	fresh, err := LoadUsers(u.path)
	if err != nil {
		return
	}
	u.byName, u.loaded = fresh.byName, fresh.loaded
}

// sameVersion compares file identity (writes replace the file by rename,
// so each has a new inode), size and modification time: timestamps alone
// can be too coarse to tell two quick writes apart.
func sameVersion(a, b os.FileInfo) bool {
	return b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// lookup returns a copy of the named user.
func (u *Users) lookup(name string) (*User, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	x, ok := u.byName[name]
	if !ok {
		return nil, false
	}
	c := *x
	return &c, true
}

// saveLocked writes the table atomically (temp file, fsync, rename), so a
// crash leaves either the old or the new table.
func (u *Users) saveLocked() error {
	if u.path == "" {
		return nil
	}
	list := make([]*User, 0, len(u.byName))
	for _, x := range u.byName {
		list = append(list, x)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(u.path, append(b, '\n'), 0o600)
}

// WriteFileAtomic writes b to path through a synced temporary file and a
// rename, so that a crash leaves either the old or the new content (user
// tables, and the keys and identity of a data directory).
func WriteFileAtomic(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
