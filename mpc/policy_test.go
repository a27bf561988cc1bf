package mpc

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// taggedStore is a TaggedStore: tags in private are restricted. Saves
// record whether the saving party was restricted.
type taggedStore struct {
	data    map[string]*tensor.Tensor
	private map[string]bool
	saved   map[string]bool // tag -> restricted
}

func newTaggedStore() *taggedStore {
	return &taggedStore{data: map[string]*tensor.Tensor{}, private: map[string]bool{}, saved: map[string]bool{}}
}

func (s *taggedStore) Load(tag string) (*tensor.Tensor, error) {
	t, _, err := s.LoadTagged(tag)
	return t, err
}

func (s *taggedStore) LoadTagged(tag string) (*tensor.Tensor, bool, error) {
	t, ok := s.data[tag]
	if !ok {
		return nil, false, fmt.Errorf("no tensor tagged %q", tag)
	}
	return t, s.private[tag], nil
}

func (s *taggedStore) Save(tag string, t *tensor.Tensor) error {
	return s.SaveTagged(tag, t, false)
}

func (s *taggedStore) SaveTagged(tag string, t *tensor.Tensor, restricted bool) error {
	s.data[tag] = t
	s.saved[tag] = restricted
	return nil
}

// canary is rank 0's private tensor in these tests.
var canary = tensor.FromSlice([]float64{31337.25, -4242.125})

// reveals are the ways a job opens a value; each returns the plaintext
// this party got (nil where it gets none).
var reveals = map[string]func(x *CrypTensor) (*tensor.Tensor, error){
	"GetPlainText":    func(x *CrypTensor) (*tensor.Tensor, error) { return x.GetPlainText() },
	"GetPlainTextTo0": func(x *CrypTensor) (*tensor.Tensor, error) { return x.GetPlainTextTo(0) },
	"GetPlainTextTo1": func(x *CrypTensor) (*tensor.Tensor, error) { return x.GetPlainTextTo(1) },
	"BinTensor":       func(x *CrypTensor) (*tensor.Tensor, error) { return x.ToBinary().GetPlainText() },
	"WideTensor":      func(x *CrypTensor) (*tensor.Tensor, error) { return x.Wide().GetPlainText() },
	"MustPlainText": func(x *CrypTensor) (t *tensor.Tensor, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = r.(*Error)
			}
		}()
		return x.MustPlainText(), nil
	},
}

// TestRevealPolicy loads rank 0's tensor (restricted or not) and opens it
// every way under every policy: an unrestricted load reveals freely; a
// restricted one makes both parties restricted, and each reveal succeeds
// exactly when the policy names its recipients, failing otherwise with an
// error naming the request and what to ask for, on every rank.
func TestRevealPolicy(t *testing.T) {
	req := "r-0123456789abcdef"
	cases := []struct {
		name       string
		private    bool
		policy     *RevealPolicy
		untagged   bool     // rank 0's store cannot say what is private
		allowed    []string // reveals that succeed
		restricted bool
		msg        string // in refusals
	}{
		{name: "unrestricted", allowed: []string{"GetPlainText", "GetPlainTextTo0", "GetPlainTextTo1", "BinTensor", "WideTensor", "MustPlainText"}},
		{name: "unrestricted under a policy", policy: &RevealPolicy{Request: req, Recipients: []string{"requester"}},
			allowed: []string{"GetPlainText", "GetPlainTextTo0", "GetPlainTextTo1", "BinTensor", "WideTensor", "MustPlainText"}},
		{name: "requester only", private: true, policy: &RevealPolicy{Request: req, Recipients: []string{"requester"}},
			restricted: true, msg: "not approved: request r-0123456789abcdef names recipients [requester]; return the encrypted value to send it to the requester, or ask the owners to approve"},
		{name: "all parties", private: true, policy: &RevealPolicy{Request: req, Recipients: []string{"all-parties"}},
			restricted: true, allowed: []string{"GetPlainText", "GetPlainTextTo0", "GetPlainTextTo1", "BinTensor", "WideTensor", "MustPlainText"}},
		{name: "party 1", private: true, policy: &RevealPolicy{Request: req, Recipients: []string{"party:1", "requester"}},
			restricted: true, allowed: []string{"GetPlainTextTo1"}, msg: "names recipients [party:1 requester]"},
		{name: "no policy", private: true, restricted: true, msg: "runs under no approved request"},
		{name: "untagged store under a policy", untagged: true, policy: &RevealPolicy{Request: req, Recipients: []string{"requester"}},
			restricted: true, msg: "names recipients [requester]"},
	}
	for _, c := range cases {
		for how, reveal := range reveals {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				var opts []Option
				if c.policy != nil {
					opts = append(opts, WithRevealPolicy(*c.policy))
				}
				allowed := false
				for _, a := range c.allowed {
					allowed = allowed || a == how
				}
				res, _ := RunLocal(2, func(p *Party) (any, error) {
					if p.Rank() == 0 {
						if c.untagged {
							SetStore(p, mapStore{"x": canary})
						} else {
							s := newTaggedStore()
							s.data["x"], s.private["x"] = canary, c.private
							SetStore(p, s)
						}
					}
					x, err := p.Load("x", 0)
					if err != nil {
						return nil, err
					}
					if Restricted(p) != c.restricted {
						return nil, fmt.Errorf("Restricted is %v", Restricted(p))
					}
					v, err := reveal(x)
					if err != nil {
						// The refusal stopped the party: a later
						// operation fails with it too.
						_, err2 := x.Mul(x).GetPlainText()
						if err2 == nil || !errors.Is(err2, ErrNotApproved) {
							return nil, fmt.Errorf("after a refusal (%v), a later reveal gave %v", err, err2)
						}
						return nil, err
					}
					return v, nil
				}, opts...)
				for _, r := range res {
					if allowed {
						if r.Err != nil {
							t.Fatalf("rank %d: %v", r.Rank, r.Err)
						}
						if v, _ := r.Value.(*tensor.Tensor); v != nil {
							assertClose(t, "revealed", v, canary, ulp)
						}
						continue
					}
					if r.Err == nil || !errors.Is(r.Err, ErrNotApproved) || !strings.Contains(r.Err.Error(), c.msg) {
						t.Fatalf("rank %d: want a refusal mentioning %q, got %v", r.Rank, c.msg, r.Err)
					}
					if strings.Contains(r.Err.Error(), "31337") {
						t.Fatalf("rank %d: the refusal shows the value: %v", r.Rank, r.Err)
					}
				}
			})
		}
	}
}

func TestRevealPolicyValidate(t *testing.T) {
	for _, c := range []struct {
		recipients []string
		ok         bool
	}{
		{[]string{"requester", "all-parties", "party:0", "party:2"}, true},
		{nil, true},
		{[]string{"party:3"}, false},
		{[]string{"party:-1"}, false},
		{[]string{"party:x"}, false},
		{[]string{"everyone"}, false},
	} {
		err := RevealPolicy{Recipients: c.recipients}.Validate(3)
		if (err == nil) != c.ok {
			t.Errorf("%q: error %v", c.recipients, err)
		}
	}
	_, err := RunLocal(2, func(p *Party) (any, error) { return nil, nil }, WithRevealPolicy(RevealPolicy{Recipients: []string{"party:2"}}))
	if err == nil || !strings.Contains(err.Error(), `"party:2"`) {
		t.Errorf("a policy naming party 2 of 2: %v", err)
	}
}

// TestRestrictAndReturn: Restrict marks a party restricted by hand, and
// ReturnAllowed answers "may results go back to the requester".
func TestRestrictAndReturn(t *testing.T) {
	for _, c := range []struct {
		name       string
		recipients []string
		restrict   bool
		ok         bool
	}{
		{"unrestricted", nil, false, true},
		{"requester", []string{"requester"}, true, true},
		{"all parties only", []string{"all-parties"}, true, false},
	} {
		res, err := RunLocal(2, func(p *Party) (any, error) {
			if c.restrict {
				Restrict(p)
			}
			if Restricted(p) != c.restrict {
				return nil, errors.New("Restrict did not restrict")
			}
			return nil, ReturnAllowed(p)
		}, WithRevealPolicy(RevealPolicy{Request: "r-1", Recipients: c.recipients}))
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok {
			for _, r := range res {
				if r.Err == nil || !strings.Contains(r.Err.Error(), "returning results to the requester is not approved: request r-1 names recipients [all-parties]; ask the owners to approve requester") {
					t.Errorf("%s rank %d: %v", c.name, r.Rank, r.Err)
				}
			}
		}
	}
}

// TestLoadErrorsCrossCapped: a source's load error reaches the other
// parties cut to MaxErrorText, and an encoding failure names no value.
func TestLoadErrorsCrossCapped(t *testing.T) {
	long := strings.Repeat("é", 4000)
	cases := []struct {
		name  string
		store Store
		never string
	}{
		{"long reason", errStore{errors.New(long)}, long[:2*MaxErrorText]},
		{"unencodable value", mapStore{"x": tensor.FromSlice([]float64{1, 7.125e30})}, "7.125"},
		{"NaN", mapStore{"x": tensor.FromSlice([]float64{1, 2, nanValue()})}, "element"},
	}
	for _, c := range cases {
		res, err := RunLocal(2, func(p *Party) (any, error) {
			if p.Rank() == 0 {
				SetStore(p, c.store)
			}
			return p.Load("x", 0)
		})
		if err == nil {
			t.Fatalf("%s: the load succeeded", c.name)
		}
		got := res[1].Err.Error()
		if len(got) > MaxErrorText+200 {
			t.Errorf("%s: rank 1's error has %d bytes", c.name, len(got))
		}
		// (The source's own error is its store's, unchanged.)
		if strings.Contains(got, c.never) || c.name != "long reason" && strings.Contains(res[0].Err.Error(), c.never) {
			t.Errorf("%s: an error holds %q: %.200s", c.name, c.never, got)
		}
	}
}

type errStore struct{ err error }

func (s errStore) Load(string) (*tensor.Tensor, error) { return nil, s.err }
func (s errStore) Save(string, *tensor.Tensor) error   { return s.err }
func nanValue() float64                                { var z float64; return z / z }

// TestSaveQuotaAndRestriction: saves stop at the quota's count or bytes
// with a clear error; a restricted party saves only through a
// TaggedStore, which learns the result is restricted.
func TestSaveQuotaAndRestriction(t *testing.T) {
	x := tensor.Ones(4) // 32 bytes
	for _, c := range []struct {
		name  string
		quota SaveQuota
		saves int // that succeed
	}{
		{"count", SaveQuota{Count: 2}, 2},
		{"bytes", SaveQuota{Bytes: 100}, 3},
		{"both", SaveQuota{Count: 5, Bytes: 64}, 2},
		{"unbounded", SaveQuota{}, 6},
	} {
		res, err := RunLocal(1, func(p *Party) (any, error) {
			SetStore(p, mapStore{})
			for i := 0; i < 6; i++ {
				if err := p.Save(fmt.Sprint("t", i), x); err != nil {
					return i, err
				}
			}
			return 6, nil
		}, WithSaveQuota(c.quota))
		if got := res[0].Value; got != c.saves {
			t.Errorf("%s: %v saves succeeded, want %d (%v)", c.name, got, c.saves, err)
		}
		if c.saves < 6 && (err == nil || !strings.Contains(err.Error(), "save quota")) {
			t.Errorf("%s: error %v", c.name, err)
		}
	}
	_, err := RunLocal(1, func(p *Party) (any, error) {
		SetStore(p, mapStore{})
		Restrict(p)
		return nil, p.Save("out", x)
	})
	if err == nil || !strings.Contains(err.Error(), "cannot record a result as private") {
		t.Errorf("a restricted party saved into an untagged store: %v", err)
	}
	s := newTaggedStore()
	_, err = RunLocal(1, func(p *Party) (any, error) {
		SetStore(p, s)
		if err := p.Save("before", x); err != nil {
			return nil, err
		}
		Restrict(p)
		return nil, p.Save("after", x)
	})
	if err != nil || s.saved["before"] || !s.saved["after"] {
		t.Errorf("tagged saves: %v, restricted %v", err, s.saved)
	}
}

// TestRevealsPassThePolicy reads the package's source: every exported
// function or method that reveals (its name holds PlainText, Reveal or
// Decrypt) must call reveal, the one place the policy is checked, or
// another such function. A new reveal that opens values its own way
// fails here.
func TestRevealsPassThePolicy(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	isReveal := func(name string) bool {
		return ast.IsExported(name) && (strings.Contains(name, "PlainText") || strings.Contains(name, "Reveal") || strings.Contains(name, "Decrypt"))
	}
	found := 0
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || !isReveal(fd.Name.Name) || strings.Contains(fd.Name.Name, "Policy") {
				continue
			}
			found++
			ok = false
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if c, is := n.(*ast.CallExpr); is {
					if sel, is := c.Fun.(*ast.SelectorExpr); is && (sel.Sel.Name == "reveal" || isReveal(sel.Sel.Name)) {
						ok = true
					}
				}
				return true
			})
			if !ok {
				t.Errorf("%s: %s reveals without calling reveal (the reveal policy's check)", fset.Position(fd.Pos()), fd.Name.Name)
			}
		}
	}
	if found < 4 {
		t.Fatalf("found only %d reveal functions", found)
	}
}

// TestRestrictionSharedByCopies: a copy of a Party value (job code can
// dereference a *Party) shares its restriction, its stop and its save
// quota, and tensors of different copies do not mix.
func TestRestrictionSharedByCopies(t *testing.T) {
	res, err := RunLocal(2, func(p *Party) (any, error) {
		s := newTaggedStore()
		s.data["x"], s.private["x"] = canary, true
		SetStore(p, s)
		cp := *p // before the restricted load
		x, err := p.Load("x", 0)
		if err != nil {
			return nil, err
		}
		if !Restricted(&cp) {
			return nil, errors.New("a copy made before a restricted load is not restricted")
		}
		var mixed error
		func() {
			defer func() { mixed, _ = recover().(error) }()
			Concat(0, cp.Zeros(2), x)
		}()
		if mixed == nil || !strings.Contains(mixed.Error(), "different parties") {
			return nil, fmt.Errorf("concatenating tensors of two copies: %v", mixed)
		}
		if err := cp.Save("a", canary); err != nil {
			return nil, err
		}
		if err := p.Save("b", canary); err == nil || !strings.Contains(err.Error(), "save quota") {
			return nil, fmt.Errorf("the second save, through another copy: %v", err)
		}
		return nil, nil
	}, WithRevealPolicy(RevealPolicy{Recipients: []string{"requester"}}), WithSaveQuota(SaveQuota{Count: 1}))
	if err != nil {
		t.Fatal(err, res)
	}
}
