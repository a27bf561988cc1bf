package attack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// pointerWorld: user vic keeps a tensor holding the canary on bob (vic's
// own, not private: vic may read it, and so may anyone with an account on
// bob) and a pointer object to it on alice, holding the grant bob gave
// alice for vic. The attacker eve has an account on alice only: the
// pointer object is her only way to bob's data.
type pointerWorld struct {
	c        *Cluster
	canary   Canary
	x, y, z  string // vic's objects on bob, each holding the canary
	ptr      string // vic's pointer object on alice, to x
	token    string // the grant in it (use, get, free on x, for alice)
	useOnly  string // a grant for alice to use x, not get it
	vicAlice *workers.Client
}

var thePointerWorld *pointerWorld

// newPointerWorld plants the pointer world on the shared daemons, once.
func newPointerWorld(t *testing.T) *pointerWorld {
	c := Shared(t)
	c.Once("pointer world", func() { thePointerWorld = plantPointerWorld(t, c) })
	if thePointerWorld == nil {
		t.Fatal("the pointer world could not be planted")
	}
	pw := *thePointerWorld
	pw.c = c
	return &pw
}

func plantPointerWorld(t *testing.T, c *Cluster) *pointerWorld {
	pw := &pointerWorld{c: c, canary: NewCanary(1, 4)}
	ctx := context.Background()
	bob := c.Raw("bob", "vic")
	for _, id := range []*string{&pw.x, &pw.y, &pw.z} {
		var rep workers.InfoReply
		o := &store.Object{Kind: store.KindTensor, Tensor: pw.canary.Tensor()}
		if err := bob.Call(ctx, workers.MsgPut, &workers.PutRequest{Object: o}, &rep); err != nil {
			t.Fatal(err)
		}
		*id = rep.Info.ID
		c.MarkPlanted("bob", *id)
	}
	alice := c.Daemons["alice"]
	grant := func(actions []string, obj string, uses int, ttl time.Duration) string {
		var g workers.GrantReply
		if err := bob.Call(ctx, workers.MsgGrant, &workers.GrantRequest{Actions: actions, Objects: []string{obj}, Uses: uses,
			TTLMillis: ttl.Milliseconds(), Audience: "alice", AudienceFingerprint: alice.Fingerprint}, &g); err != nil {
			t.Fatal(err)
		}
		return g.Token
	}
	pw.token = grant([]string{store.GrantUse, store.GrantGet, store.GrantFree}, pw.x, 0, 0)
	pw.useOnly = grant([]string{store.GrantUse}, pw.x, 0, 0)
	bd := c.Daemons["bob"]
	pw.vicAlice = c.Raw("alice", "vic")
	var rep workers.InfoReply
	o := &store.Object{Kind: store.KindPointer, Provenance: store.Provenance{Source: "pointer"},
		Pointer: &store.PointerTarget{Worker: "bob", Addr: bd.Addr, Fingerprint: bd.Fingerprint, Grants: []string{pw.token}, ID: pw.x}}
	if err := pw.vicAlice.Call(ctx, workers.MsgPut, &workers.PutRequest{Object: o}, &rep); err != nil {
		t.Fatal(err)
	}
	pw.ptr = rep.Info.ID
	return pw
}

// eveSees finds vic's pointer object in eve's listing of alice.
func (pw *pointerWorld) evePointer(t *testing.T, e *Evidence) *syft.Pointer {
	eve := pw.c.Connect("alice", "eve")
	ps, err := eve.Search()
	if err != nil {
		t.Fatal(err)
	}
	infos, err := eve.List()
	if err != nil {
		t.Fatal(err)
	}
	e.AddText("eve's listing", infos)
	for _, p := range ps {
		if p.ID() == pw.ptr {
			e.AddText("eve's pointer", p.Info())
			return p
		}
	}
	t.Fatal("eve does not see vic's pointer object in the listing")
	return nil
}

func (pw *pointerWorld) vicPointer(t *testing.T) *syft.Pointer {
	vic := pw.c.Connect("alice", "vic")
	ps, err := vic.Search()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.ID() == pw.ptr {
			return p
		}
	}
	t.Fatal("vic does not see its pointer object")
	return nil
}

// readVia reads a pointer (and records what came back).
func readVia(e *Evidence, where string, p *syft.Pointer) error {
	v, err := p.GetCopy()
	e.AddTensor(where, v)
	return err
}

// Pointer objects and grants: another user's pointer object can be
// neither copied, read through, computed with nor moved; a grant does
// only what it allows, for the worker it was given to; no grant token
// reaches anyone.
func TestPointerAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	pw := newPointerWorld(t)
	c := pw.c
	ctx := context.Background()
	getX := func(cl *workers.Client, id string, e *Evidence) error {
		var rep workers.GetReply
		err := cl.Call(ctx, workers.MsgGet, &workers.GetRequest{ID: id, Keep: true}, &rep)
		if rep.Object != nil {
			e.AddTensor("get "+id, rep.Object.Tensor)
		}
		return err
	}
	cases := []Case{
		{
			Name:    "copy another user's pointer object",
			Refusal: "only its owner may use, copy or move it",
			Attack: func(t *testing.T, e *Evidence) error {
				cp, err := pw.evePointer(t, e).Copy()
				if err != nil {
					return err
				}
				return readVia(e, "eve's copy", cp)
			},
			Control: func(t *testing.T, e *Evidence) error {
				cp, err := pw.vicPointer(t).Copy()
				if err != nil {
					return err
				}
				return readVia(e, "vic's copy", cp)
			},
		},
		{
			Name:    "read through another user's pointer object",
			Refusal: "pointer of user \"vic\"",
			Attack: func(t *testing.T, e *Evidence) error {
				return readVia(e, "eve's read", pw.evePointer(t, e))
			},
			Control: func(t *testing.T, e *Evidence) error { return readVia(e, "vic's read", pw.vicPointer(t)) },
		},
		{
			Name:    "compute through another user's pointer object",
			Refusal: "only its owner may use",
			Attack: func(t *testing.T, e *Evidence) error {
				r, err := pw.evePointer(t, e).Mul(1)
				if err != nil {
					return err
				}
				return readVia(e, "eve's result", r)
			},
			Control: func(t *testing.T, e *Evidence) error {
				r, err := pw.vicPointer(t).Mul(1)
				if err != nil {
					return err
				}
				return readVia(e, "vic's result", r)
			},
		},
		{
			Name:    "move another user's pointer object",
			Refusal: "belongs to user \"vic\"",
			Attack: func(t *testing.T, e *Evidence) error {
				eve := c.Raw("alice", "eve")
				bd := c.Daemons["bob"]
				var rep workers.InfoReply
				return eve.Call(ctx, workers.MsgMove, &workers.MoveRequest{ID: pw.ptr,
					Dest: store.PointerTarget{Worker: "bob", Addr: bd.Addr, Fingerprint: bd.Fingerprint, Grants: []string{"x"}}}, &rep)
			},
			// The owner of the data moves it (the value itself) to alice.
			Control: func(t *testing.T, e *Evidence) error {
				vicBob := c.Connect("bob", "vic")
				ps, err := vicBob.Search()
				if err != nil {
					return err
				}
				for _, p := range ps {
					if p.ID() == pw.z {
						if _, err := p.Move(c.Connect("alice", "vic")); err != nil {
							return err
						}
						err := readVia(e, "vic's moved", p)
						p.Free()
						return err
					}
				}
				return errors.New("vic's object not found")
			},
		},
		{
			Name:    "use a grant from another worker than its audience",
			Refusal: "was given to worker alice",
			Attack: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawGrants("bob", pw.token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
			Control: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", pw.token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
		},
		{
			Name:    "use a grant on another object",
			Refusal: "grant does not allow get on object",
			Attack: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", pw.token)
				if err != nil {
					return err
				}
				return getX(cl, pw.y, e)
			},
			Control: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", pw.token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
		},
		{
			Name:    "use a grant for another action",
			Refusal: "grant does not allow get",
			Attack: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", pw.useOnly)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
			Control: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", pw.token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
		},
	}
	c.Run(t, pw.canary, cases)

	// Expiry and uses: a grant of one use, or of a short life.
	var once, short workers.GrantReply
	bob := c.Raw("bob", "vic")
	for _, g := range []struct {
		rep  *workers.GrantReply
		uses int
		ttl  time.Duration
	}{{&once, 1, 0}, {&short, 0, 300 * time.Millisecond}} {
		if err := bob.Call(ctx, workers.MsgGrant, &workers.GrantRequest{Actions: []string{store.GrantGet}, Objects: []string{pw.x},
			Uses: g.uses, TTLMillis: g.ttl.Milliseconds(), Audience: "alice", AudienceFingerprint: c.Daemons["alice"].Fingerprint}, g.rep); err != nil {
			t.Fatal(err)
		}
	}
	first := NewEvidence()
	cl, err := c.RawAs("bob", "alice", once.Token)
	if err == nil {
		err = getX(cl, pw.x, first)
	}
	if err != nil || len(first.Find(pw.canary)) == 0 {
		t.Fatalf("first use of a one-use grant: %v", err)
	}
	c.Run(t, pw.canary, []Case{
		{
			Name:    "use a one-use grant twice",
			Refusal: "unknown or used-up grant",
			Attack: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", once.Token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
			Control: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", pw.token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
		},
		{
			Name:    "use an expired grant",
			Refusal: "expired",
			Attack: func(t *testing.T, e *Evidence) error {
				time.Sleep(400 * time.Millisecond)
				cl, err := c.RawAs("bob", "alice", short.Token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
			Control: func(t *testing.T, e *Evidence) error {
				cl, err := c.RawAs("bob", "alice", pw.token)
				if err != nil {
					return err
				}
				return getX(cl, pw.x, e)
			},
		},
	})
}

// No grant token reaches anyone: not eve (listings, Info, the errors of
// her refused attempts), not the logs; alice's store holds it, which
// shows the search for it works.
func TestGrantTokensNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	pw := newPointerWorld(t)
	c := pw.c
	secret := Canary{Texts: []string{pw.token, pw.useOnly}}
	c.Run(t, secret, []Case{{
		Name:    "grant tokens in listings, infos and errors",
		Refusal: "only its owner may use",
		Attack: func(t *testing.T, e *Evidence) error {
			p := pw.evePointer(t, e)
			var rep workers.InfoReply
			err := c.Raw("alice", "eve").Call(context.Background(), workers.MsgInfo, &workers.IDRequest{ID: pw.ptr}, &rep)
			e.AddText("eve's info", rep)
			e.AddErr("eve's info", err)
			// Every refusal eve can provoke.
			_, err1 := p.GetCopy()
			_, err2 := p.Copy()
			e.AddErr("eve's copy", err2)
			_, err3 := p.Mul(2)
			e.AddErr("eve's op", err3)
			// And vic's own listing shows no token either.
			vicInfos, _ := c.Connect("alice", "vic").List()
			e.AddText("vic's listing", vicInfos)
			return err1
		},
		Control: func(t *testing.T, e *Evidence) error {
			b, err := os.ReadFile(filepath.Join(c.Daemons["alice"].Dir, "store.db"))
			e.Add("alice's store file", b)
			return err
		},
	}})
}

// The access logs name the real user: bob's records of a read through a
// pointer object on alice name the grant's issuer (vic), the peer
// (alice's certificate) and the user on alice who asked (vic, or alice's
// owner); eve's refused attempt never reaches bob.
func TestAccessLogNamesTheRealUser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	pw := newPointerWorld(t)
	c := pw.c
	logStart := 0
	if fi, err := os.Stat(filepath.Join(c.Daemons["bob"].Dir, "access.log")); err == nil {
		logStart = int(fi.Size())
	}
	if _, err := pw.vicPointer(t).GetCopy(); err != nil {
		t.Fatal(err)
	}
	owner := c.Connect("alice", workers.OwnerUser)
	ps, err := owner.Search()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.ID() == pw.ptr {
			if _, err := p.GetCopy(); err != nil {
				t.Fatalf("alice's owner reading through vic's pointer object: %v", err)
			}
		}
	}
	e := NewEvidence()
	if _, err := pw.evePointer(t, e).GetCopy(); err == nil {
		t.Fatal("eve read through vic's pointer object")
	}
	time.Sleep(100 * time.Millisecond)
	b, err := os.ReadFile(filepath.Join(c.Daemons["bob"].Dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	b = b[min(logStart, len(b)):]
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec["type"] != "get" {
			continue
		}
		if rec["issuer"] != "vic" || rec["peer"] != c.Daemons["alice"].Fingerprint {
			t.Errorf("bob's record of a get through alice: %s", sc.Bytes())
		}
		seen[rec["on_behalf_of"].(string)] = true
	}
	if !seen["alice/vic"] || !seen["alice/owner"] || seen["alice/eve"] || len(seen) != 2 {
		t.Errorf("bob's log names the users %v, want alice/vic and alice/owner", seen)
	}
}
