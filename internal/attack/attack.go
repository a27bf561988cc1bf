// Package attack is test support for the privacy attack suite (issue
// 11): real worker daemons over TLS (the gomplab binary, built once per
// test process), private data with canary values planted by the data
// owners, an authenticated data scientist without permission, and the
// search for the canaries in everything an attack could have obtained or
// left behind: every reply the attacker's sessions received (recorded
// below TLS, as the client decoded it), every error text, what the
// attacker derived, the workers' access logs and daemon logs, and every
// object stored on the workers (other than the planted data).
//
// An attack is a function of the cluster that tries to obtain private
// data; it is run twice, by the attacker (nothing found, a clear refusal)
// and as its positive control (approved, or run by the data's owner: the
// canary is found), which shows the search would have seen a leak.
package attack

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds the gomplab binary once per test process and returns its
// path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gomplab-attack-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "gomplab")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/gomplab/gomplab/cmd/gomplab").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Attacker is the user name of the data scientist on every worker: an
// ordinary account without any permission.
const Attacker = "ds"

// Options configure Start.
type Options struct {
	// Workers are the daemons' ids (default alice and bob).
	Workers []string
	// Users are more ordinary users on every worker (the attacker is
	// always there).
	Users []string
	// Args are more flags for every `gomplab worker`.
	Args []string
}

// Cluster is worker daemons, their owners' sessions and the attacker's,
// with everything the attacker's sessions receive recorded. A Cluster
// value is bound to one test (its failures and cleanups); For binds the
// same daemons to another.
type Cluster struct {
	t testing.TB
	*cluster
}

// cluster is the state the tests sharing the daemons share.
type cluster struct {
	Daemons map[string]*syft.LocalDaemon
	ids     []string

	mu       sync.Mutex
	received bytes.Buffer // every reply frame of a recorded session
	planted  map[string]map[string]bool
	once     map[string]*sync.Once // Once
}

// For returns c bound to test t.
func (c *Cluster) For(t testing.TB) *Cluster { return &Cluster{t: t, cluster: c.cluster} }

// Start starts the daemons (TLS on loopback, parties as child processes)
// and stops them when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	cl, stop, err := startCluster(Binary(t), opts)
	t.Cleanup(stop)
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{t: t, cluster: cl}
}

// startCluster starts the daemons of opts; stop stops those it started.
func startCluster(bin string, opts Options) (cl *cluster, stop func(), err error) {
	if len(opts.Workers) == 0 {
		opts.Workers = []string{"alice", "bob"}
	}
	cl = &cluster{Daemons: map[string]*syft.LocalDaemon{}, ids: opts.Workers, planted: map[string]map[string]bool{}, once: map[string]*sync.Once{}}
	stop = func() {
		for _, d := range cl.Daemons {
			d.Stop()
		}
	}
	users := append([]string{Attacker}, opts.Users...)
	for _, id := range opts.Workers {
		d, err := syft.StartLocalDaemon(id, syft.DaemonOptions{Binary: bin, Users: users, Args: opts.Args, Timeout: 60 * time.Second})
		if err != nil {
			return cl, stop, err
		}
		cl.Daemons[id] = d
		cl.planted[id] = map[string]bool{}
	}
	return cl, stop, nil
}

var shared struct {
	once sync.Once
	c    *cluster
	stop func()
	err  error
}

// Shared returns the daemons every attack of this test process shares
// (starting them once), bound to t: alice and bob, with the attacker
// (ds) and vic on both and eve on alice only. Attacks that share them
// plant their own canaries, and each case's search covers only what
// happened after its mark. StopShared stops them (TestMain).
func Shared(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	shared.once.Do(func() {
		shared.c, shared.stop, shared.err = startCluster(bin, Options{Users: []string{"vic"}})
		if shared.err == nil {
			c := &Cluster{t: t, cluster: shared.c}
			c.AddUser("alice", "eve")
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return &Cluster{t: t, cluster: shared.c}
}

// StopShared stops the shared daemons, if they were started.
func StopShared() {
	if shared.stop != nil {
		shared.stop()
	}
}

// Once runs set up f once per cluster for key (a world of planted data
// several tests use).
func (c *Cluster) Once(key string, f func()) {
	c.mu.Lock()
	o := c.once[key]
	if o == nil {
		o = &sync.Once{}
		c.once[key] = o
	}
	c.mu.Unlock()
	o.Do(f)
}

// IDs are the workers' ids.
func (c *Cluster) IDs() []string { return slices.Clone(c.ids) }

// recorder keeps every reply frame a session receives.
type recorder struct {
	workers.Transport
	c *Cluster
}

func (r *recorder) RoundTrip(ctx context.Context, frame []byte) ([]byte, error) {
	reply, err := r.Transport.RoundTrip(ctx, frame)
	if reply != nil {
		r.c.mu.Lock()
		r.c.received.Write(reply)
		r.c.mu.Unlock()
	}
	return reply, err
}

// Connect opens a session with worker id as user (the owner when user is
// workers.OwnerUser), recording every reply it receives.
func (c *Cluster) Connect(id, user string) *syft.RemoteWorker {
	c.t.Helper()
	d := c.Daemons[id]
	tok := d.OwnerToken
	if user != workers.OwnerUser {
		tok = d.Tokens[user]
	}
	w, err := syft.Connect(d.Addr, syft.Options{Token: tok, Fingerprint: d.Fingerprint, Timeout: 60 * time.Second,
		Wrap: func(tr workers.Transport) workers.Transport { return &recorder{Transport: tr, c: c} }})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { w.Close() })
	return w
}

// Attackers returns the attacker's session with every worker, in order.
func (c *Cluster) Attackers() []syft.Worker {
	var ws []syft.Worker
	for _, id := range c.ids {
		ws = append(ws, c.Connect(id, Attacker))
	}
	return ws
}

// Owners returns every worker's owner session, in order.
func (c *Cluster) Owners() []*syft.RemoteWorker {
	var ws []*syft.RemoteWorker
	for _, id := range c.ids {
		ws = append(ws, c.Connect(id, workers.OwnerUser))
	}
	return ws
}

// Raw opens a protocol session with worker id as user, recording its
// replies, for attacks below syft's API.
func (c *Cluster) Raw(id, user string) *workers.Client { return c.raw(id, user, true) }

// RawAs opens a protocol session with worker id as the worker as
// presents itself: with the certificate and key of worker as's data
// directory (as a daemon dials another), authenticated with grants.
func (c *Cluster) RawAs(id, as string, grants ...string) (*workers.Client, error) {
	c.t.Helper()
	ad := c.Daemons[as]
	cert, err := tls.LoadX509KeyPair(filepath.Join(ad.Dir, "cert.pem"), filepath.Join(ad.Dir, "key.pem"))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.dial(id, &cert, workers.Credentials{Grants: grants, For: as + "/" + Attacker})
}

// RawGrants opens a session with worker id presenting grants, as the
// attacker's process does (no worker certificate).
func (c *Cluster) RawGrants(id string, grants ...string) (*workers.Client, error) {
	return c.dial(id, nil, workers.Credentials{Grants: grants})
}

func (c *Cluster) dial(id string, cert *tls.Certificate, cred workers.Credentials) (*workers.Client, error) {
	d := c.Daemons[id]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := workers.DialTransport(ctx, d.Addr, workers.DialOptions{Fingerprint: d.Fingerprint, Certificate: cert})
	if err != nil {
		return nil, err
	}
	cl, err := workers.NewClient(ctx, &recorder{Transport: tr, c: c}, cred, workers.ClientOptions{})
	if err != nil {
		return nil, err
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl, nil
}

func (c *Cluster) raw(id, user string, record bool) *workers.Client {
	c.t.Helper()
	d := c.Daemons[id]
	tok := d.OwnerToken
	if user != workers.OwnerUser {
		tok = d.Tokens[user]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := workers.DialTransport(ctx, d.Addr, workers.DialOptions{Fingerprint: d.Fingerprint})
	if err != nil {
		c.t.Fatal(err)
	}
	if record {
		tr = &recorder{Transport: tr, c: c}
	}
	cl, err := workers.NewClient(ctx, tr, workers.Credentials{Token: tok}, workers.ClientOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// Plant has the owner of worker id load t as private data under tags, and
// remembers it as planted (the stored-object search skips it).
func (c *Cluster) Plant(id string, t *tensor.Tensor, tags ...string) *syft.Pointer {
	c.t.Helper()
	owner := c.Connect(id, workers.OwnerUser)
	p, err := syft.Send(t, owner, syft.WithTags(tags...), syft.AsPrivate())
	if err != nil {
		c.t.Fatal(err)
	}
	p.Keep()
	c.mu.Lock()
	c.planted[id][p.ID()] = true
	c.mu.Unlock()
	return p
}

// MarkPlanted remembers object objID on worker id as where a canary
// lives (the stored-object search skips it).
func (c *Cluster) MarkPlanted(id, objID string) {
	c.mu.Lock()
	c.planted[id][objID] = true
	c.mu.Unlock()
}

// AddUser creates an ordinary user on worker id only, and waits until the
// running daemon knows it.
func (c *Cluster) AddUser(id, name string) {
	c.t.Helper()
	d := c.Daemons[id]
	tok, err := d.AddUser(name)
	if err != nil {
		c.t.Fatal(err)
	}
	d.Tokens[name] = tok
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := syft.Connect(d.Addr, syft.Options{Token: tok, Fingerprint: d.Fingerprint})
		if err == nil {
			w.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("user %s on %s: %v", name, id, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PlantedIDs are the ids of the planted objects on worker id.
func (c *Cluster) PlantedIDs(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.planted[id] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Canary is distinctive values planted in private data (or secrets,
// such as grant tokens): none of them may reach anyone the data's owner
// did not allow.
type Canary struct {
	Values []float64
	// Texts are secrets searched for as they are (grant tokens).
	Texts []string
}

// NewCanary makes n distinctive values, different for each seed: large
// enough not to appear by chance, with many significant digits.
func NewCanary(seed uint64, n int) Canary {
	r := tensor.NewRNG(seed*7919 + 17)
	vals := make([]float64, n)
	for i := range vals {
		v := 1000 + 8000*r.Float64()
		if i%2 == 1 {
			v = -v
		}
		vals[i] = math.Round(v*1e7) / 1e7
	}
	return Canary{Values: vals}
}

// Tensor is the canary as a (1, n) tensor: one sample.
func (c Canary) Tensor() *tensor.Tensor {
	return tensor.FromSlice(slices.Clone(c.Values)).Reshape(1, len(c.Values))
}

// Encodings are byte strings that would betray a canary value: float64
// and float32 in both byte orders, 64-bit fixed point with 16 and 24
// fractional bits (MPC shares' and secure aggregation's encodings) in
// both byte orders, and decimal text as logs and errors would print it.
func (c Canary) Encodings() map[string][]byte {
	out := map[string][]byte{}
	for i, s := range c.Texts {
		out[fmt.Sprintf("secret %d", i)] = []byte(s)
	}
	for _, v := range c.Values {
		name := strconv.FormatFloat(v, 'g', -1, 64)
		var b8 [8]byte
		binary.LittleEndian.PutUint64(b8[:], math.Float64bits(v))
		out["float64 LE "+name] = bytes.Clone(b8[:])
		binary.BigEndian.PutUint64(b8[:], math.Float64bits(v))
		out["float64 BE "+name] = bytes.Clone(b8[:])
		var b4 [4]byte
		binary.LittleEndian.PutUint32(b4[:], math.Float32bits(float32(v)))
		out["float32 LE "+name] = bytes.Clone(b4[:])
		binary.BigEndian.PutUint32(b4[:], math.Float32bits(float32(v)))
		out["float32 BE "+name] = bytes.Clone(b4[:])
		for _, f := range []int{16, 24} {
			u := uint64(int64(math.Round(math.Ldexp(v, f))))
			binary.LittleEndian.PutUint64(b8[:], u)
			out[fmt.Sprintf("fixed%d LE %s", f, name)] = bytes.Clone(b8[:])
			binary.BigEndian.PutUint64(b8[:], u)
			out[fmt.Sprintf("fixed%d BE %s", f, name)] = bytes.Clone(b8[:])
		}
		// Text: the shortest form, and the forms with 4 and 6 decimals
		// (fmt's %v of a float32, %g's six significant digits, %.4f).
		for _, s := range []string{name, strconv.FormatFloat(v, 'f', 4, 64), strconv.FormatFloat(v, 'g', 6, 64),
			strconv.FormatFloat(float64(float32(v)), 'g', -1, 32), printlnFloat(v)} {
			out["text "+s] = []byte(s)
		}
	}
	return out
}

// printlnFloat is v as the builtin println prints it: a sign, six
// decimals and a three-digit exponent ("+5.509975e+003").
func printlnFloat(v float64) string {
	m, e, _ := strings.Cut(strconv.FormatFloat(v, 'e', 6, 64), "e")
	if !strings.HasPrefix(m, "-") {
		m = "+" + m
	}
	exp, _ := strconv.Atoi(e)
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return fmt.Sprintf("%se%s%03d", m, sign, exp)
}

// Evidence is everything one attack could have obtained or left behind:
// byte strings by where they were found, and values the attacker
// derived.
type Evidence struct {
	mu      sync.Mutex
	bytes   map[string][]byte
	derived map[string][]float64
	refused []string
}

// NewEvidence returns empty evidence.
func NewEvidence() *Evidence {
	return &Evidence{bytes: map[string][]byte{}, derived: map[string][]float64{}}
}

// Add records bytes found at where.
func (e *Evidence) Add(where string, b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bytes[where] = append(e.bytes[where], b...)
}

// AddText records a value's text (fmt's %+v, and %#v).
func (e *Evidence) AddText(where string, v any) {
	e.Add(where, fmt.Appendf(nil, "%+v\n%#v\n", v, v))
}

// AddErr records an error's text (nil is nothing).
func (e *Evidence) AddErr(where string, err error) {
	if err != nil {
		e.Add(where, []byte(err.Error()))
	}
}

// AddTensor records a tensor's values (as float64 bytes and as text)
// and, as derived values, its elements.
func (e *Evidence) AddTensor(where string, t *tensor.Tensor) {
	if t == nil {
		return
	}
	b := make([]byte, 8*t.Size())
	for i, v := range t.Data() {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	e.Add(where, b)
	e.Add(where, []byte(t.String()))
	e.Derived(where, t.Data()...)
}

// Derived records values the attacker computed (a reconstruction): a
// canary is found among them when within a relative 1e-5, so that a
// leak through fixed point or float arithmetic counts too.
func (e *Evidence) Derived(where string, vals ...float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.derived[where] = append(e.derived[where], vals...)
}

// Refused records that the attack was refused, with the refusal's text
// (which the search covers too).
func (e *Evidence) Refused(where string, err error) {
	e.mu.Lock()
	e.refused = append(e.refused, where+": "+err.Error())
	e.mu.Unlock()
	e.AddErr(where, err)
}

// Refusals are the refusals recorded.
func (e *Evidence) Refusals() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.refused)
}

// Find returns where the canary was found ("where: what"), sorted.
func (e *Evidence) Find(c Canary) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var hits []string
	for what, enc := range c.Encodings() {
		for where, b := range e.bytes {
			if bytes.Contains(b, enc) {
				hits = append(hits, where+": "+what)
			}
		}
	}
	for where, vals := range e.derived {
		for _, v := range c.Values {
			for _, x := range vals {
				if math.Abs(x-v) <= 1e-5*math.Abs(v) {
					hits = append(hits, fmt.Sprintf("%s: derived %g", where, v))
					break
				}
			}
		}
	}
	sort.Strings(hits)
	return slices.Compact(hits)
}

// Collect adds what the workers hold and logged since mark (see Mark):
// the new part of every access log and daemon log, the replies the
// recorded sessions received, and the value of every stored object that
// is not planted data (read through each worker's owner).
func (c *Cluster) Collect(e *Evidence, m Mark) {
	c.t.Helper()
	c.mu.Lock()
	e.Add("replies to the attacker's sessions", c.received.Bytes()[m.received:])
	c.mu.Unlock()
	c.collectLogs(e, m)
	for _, id := range c.ids {
		c.collectStore(e, id, m.objects[id])
	}
}

// collectLogs adds the part of every worker's access log and daemon log
// written since mark.
func (c *Cluster) collectLogs(e *Evidence, m Mark) {
	c.t.Helper()
	for _, id := range c.ids {
		d := c.Daemons[id]
		for _, f := range []string{"access.log", "worker.log"} {
			b, err := os.ReadFile(filepath.Join(d.Dir, f))
			if err != nil {
				c.t.Fatalf("%s: %v", id, err)
			}
			e.Add(id+" "+f, b[min(m.logs[id+"/"+f], len(b)):])
		}
	}
}

// joinLines joins hits for a failure message.
func joinLines(hits []string) string { return strings.Join(hits, "\n  ") }

// objects lists worker id's objects, as its owner sees them.
func (c *Cluster) objects(id string) []store.Info {
	c.t.Helper()
	var rep workers.SearchReply
	if err := c.raw(id, workers.OwnerUser, false).Call(context.Background(), workers.MsgSearch, &workers.SearchRequest{}, &rep); err != nil {
		c.t.Fatalf("%s: list: %v", id, err)
	}
	return rep.Objects
}

// objectKey names one version of a stored object.
func objectKey(in store.Info) string { return in.ID + "@" + strconv.FormatInt(in.Created, 10) }

// collectStore adds every stored object of worker id that was not there
// at the mark (before), but the planted ones, as its owner reads it: its
// metadata, and its value unless it is held as private data no attacker
// may read (a private result computed where the data is, or saved by a
// job, is how derived data must be kept).
func (c *Cluster) collectStore(e *Evidence, id string, before map[string]bool) {
	c.t.Helper()
	owner := c.raw(id, workers.OwnerUser, false)
	ctx := context.Background()
	planted := c.PlantedIDs(id)
	for _, in := range c.objects(id) {
		if slices.Contains(planted, in.ID) || in.Kind == store.KindPointer || before[objectKey(in)] {
			continue
		}
		e.AddText(id+" stored "+in.ID+" info", in)
		var got workers.GetReply
		if err := owner.Call(ctx, workers.MsgGet, &workers.GetRequest{ID: in.ID, Keep: true}, &got); err != nil || got.Object == nil {
			continue
		}
		o := got.Object
		if o.Private && !slices.Contains(o.AllowedUsers, Attacker) && !slices.Contains(o.AllowedUsers, "eve") {
			// Held as private data: only its owners and the users they
			// allow may read it (the reads an attack tries are searched).
			continue
		}
		where := id + " stored " + string(o.Kind) + " " + o.ID
		e.AddTensor(where, o.Tensor)
		e.Add(where, o.Blob)
	}
}

// Mark is where the logs and recordings stood when an attack began, and
// which objects the workers held.
type Mark struct {
	received int
	logs     map[string]int
	objects  map[string]map[string]bool
}

// Mark notes the logs' and recordings' current ends: Collect then keeps
// only what came after.
func (c *Cluster) Mark() Mark {
	c.mu.Lock()
	m := Mark{received: c.received.Len(), logs: map[string]int{}, objects: map[string]map[string]bool{}}
	c.mu.Unlock()
	for _, id := range c.ids {
		m.objects[id] = map[string]bool{}
		for _, in := range c.objects(id) {
			m.objects[id][objectKey(in)] = true
		}
		d := c.Daemons[id]
		for _, f := range []string{"access.log", "worker.log"} {
			if fi, err := os.Stat(filepath.Join(d.Dir, f)); err == nil {
				m.logs[id+"/"+f] = int(fi.Size())
			}
		}
	}
	return m
}

// Case is one attack with its positive control.
type Case struct {
	Name string
	// Attack is run by the attacker: it returns the refusal it met (nil
	// if it was not refused), and records what it obtained in e.
	Attack func(t *testing.T, e *Evidence) error
	// Control is the same, approved or run by the data's owner: it must
	// obtain the canary (recorded in e).
	Control func(t *testing.T, e *Evidence) error
	// Refusal is a part of the refusal's text (what it names); every
	// case names one.
	Refusal string
	// Pending names the rule, still being built, without which the attack
	// finds a leak: the case is skipped saying so (PendingEnv runs it).
	Pending string
}

// Run runs each case: the attack must be refused (its error wraps
// workers.ErrPermission or contains Refusal) with the canary found
// nowhere; the control must find it.
func (c *Cluster) Run(t *testing.T, canary Canary, cases []Case) {
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			skipPending(t, tc.Pending)
			if tc.Refusal == "" {
				t.Fatal("the case names no refusal text: every attack must get a clear refusal, naming what it refused")
			}
			c := c.For(t)
			m := c.Mark()
			e := NewEvidence()
			err := tc.Attack(t, e)
			if err == nil {
				t.Errorf("attack was not refused")
			} else {
				e.Refused("attack", err)
				t.Logf("refused: %s", clipLine(err.Error(), 300))
				if tc.Refusal != "" && !strings.Contains(err.Error(), tc.Refusal) {
					t.Errorf("refusal %q does not say %q", err, tc.Refusal)
				}
			}
			c.Collect(e, m)
			if hits := e.Find(canary); len(hits) > 0 {
				t.Errorf("the canary leaked:\n  %s", strings.Join(hits, "\n  "))
			}
			if tc.Control == nil {
				return
			}
			m = c.Mark()
			ce := NewEvidence()
			if err := tc.Control(t, ce); err != nil {
				t.Fatalf("positive control: %s", clipLine(err.Error(), 1500))
			}
			c.Collect(ce, m)
			if hits := ce.Find(canary); len(hits) == 0 {
				t.Errorf("positive control: the canary was not found, so the search could not have seen a leak")
			} else {
				t.Logf("control found the canary: %s", hits[0])
			}
		})
	}
}

// clipLine is s on one line, cut to n bytes.
func clipLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
