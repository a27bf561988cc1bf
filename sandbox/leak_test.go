package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// Canary values: the plaintext a store holds and an argument carries, so
// that any route to it (or to its fixed-point encoding) shows in output.
var canaryValues = []float64{31337.25, -4242.125, 7777.5}

// canaryStore holds the canary tensor under "secret" and a linear model
// whose weights are the canary values under "model".
type canaryStore struct{}

func (canaryStore) Load(tag string) (*tensor.Tensor, error) {
	if tag != "secret" {
		return nil, fmt.Errorf("no object tagged %q", tag)
	}
	return tensor.FromSlice(canaryValues), nil
}

func (canaryStore) Save(string, *tensor.Tensor) error { return nil }

func (canaryStore) LoadModel(tag string) (*nn.Model, error) {
	if tag != "model" {
		return nil, fmt.Errorf("no model tagged %q", tag)
	}
	m := nn.NewModel(nn.NewLinear(3, 1, nil))
	err := m.LoadStateDict(map[string]*tensor.Tensor{
		"weight": tensor.MustNew(canaryValues, 1, 3),
		"bias":   tensor.FromSlice([]float64{canaryValues[0]}),
	})
	return m, err
}

// canaryStrings renders a share word every way fmt can print a uint64
// (and as the signed integer it encodes), so a leak of raw share words is
// found whatever the verb.
func canaryStrings(words []uint64) []string {
	var out []string
	for _, w := range words {
		out = append(out,
			strconv.FormatUint(w, 10), strconv.FormatInt(int64(w), 10),
			strconv.FormatUint(w, 16), strings.ToUpper(strconv.FormatUint(w, 16)),
			strconv.FormatUint(w, 8), strconv.FormatUint(w, 2))
	}
	return out
}

// plainCanaries are the canary values as printed, and their encodings.
func plainCanaries() []string {
	var out []string
	for _, v := range canaryValues {
		out = append(out, strconv.FormatFloat(v, 'f', -1, 64), strconv.FormatFloat(v, 'g', -1, 64))
		enc := int64(v * 65536)
		out = append(out, strconv.FormatInt(enc, 10), strconv.FormatUint(uint64(enc), 10), strconv.FormatUint(uint64(enc), 16))
	}
	return out
}

// leakHeader is every program's preamble: the entry receives an encrypted
// tensor (x, made by the host, which knows its shares) and its binary
// sharing (b).
const leakHeader = `package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
)

var _, _, _, _ = errors.New, fmt.Sprint, strings.Join, nn.NewEncrypted

`

// leakRoute is one attempt at reaching shares, plaintext or wire bytes
// from job code.
type leakRoute struct {
	name string
	body string // the body of f(x *mpc.CrypTensor, b *mpc.BinTensor) (any, error)
	decl string // declarations before f
	// want: "compile" (refused before running), "fail" (a run-time
	// error), or text the output must contain (metadata printed instead).
	want string
	// orFail accepts a run-time failure instead of want (yaegi cannot run
	// every construct with host types).
	orFail bool
}

var leakRoutes = []leakRoute{
	// Methods that no longer exist, and the package functions that
	// replace them, which the jail denies.
	{name: "CrypTensor.Share", body: `return x.Share(), nil`, want: "compile"},
	{name: "mpc.ShareOf", body: `return mpc.ShareOf(x), nil`, want: "compile"},
	{name: "method expression", body: `f := (*mpc.CrypTensor).Share; return f(x), nil`, want: "compile"},
	{name: "BinTensor.Share", body: `return b.Share(), nil`, want: "compile"},
	{name: "mpc.BinShareOf", body: `return mpc.BinShareOf(b), nil`, want: "compile"},
	{name: "WideTensor.Share", body: `return x.Wide().Share(), nil`, want: "compile"},
	{name: "mpc.WideShareOf", body: `return mpc.WideShareOf(x.Wide()), nil`, want: "compile"},
	{name: "Party.FromShares", body: `return mpc.Default().FromShares([]uint64{1}, 1), nil`, want: "compile"},
	{name: "mpc.FromShares", body: `return mpc.FromShares(mpc.Default(), []uint64{1}, 1), nil`, want: "compile"},
	{name: "Party.Comm", body: `return nil, mpc.Default().Comm().Send(1, []byte("x"))`, want: "compile"},
	{name: "mpc.CommOf", body: `return nil, mpc.CommOf(mpc.Default()).Send(1, []byte("x"))`, want: "compile"},
	{name: "Party.Store", body: `return mpc.Default().Store().Load("secret")`, want: "compile"},
	{name: "mpc.StoreOf", body: `return mpc.StoreOf(mpc.Default()).Load("secret")`, want: "compile"},
	{name: "Party.SetStore", body: `mpc.Default().SetStore(nil); return nil, nil`, want: "compile"},
	{name: "mpc.SetStore", body: `mpc.SetStore(mpc.Default(), nil); return nil, nil`, want: "compile"},
	{name: "mpc.WithStore", body: `return mpc.WithStore(nil), nil`, want: "compile"},
	{name: "mpc.NewParty", body: `return mpc.NewParty(nil)`, want: "compile"},
	{name: "mpc.Announce", body: `return mpc.Announce(mpc.Default(), 0, []byte("x"), false, nil)`, want: "compile"},
	{name: "mpc.Restricted", body: `return mpc.Restricted(mpc.Default()), nil`, want: "compile"},
	{name: "mpc.Restrict", body: `mpc.Restrict(mpc.Default()); return nil, nil`, want: "compile"},
	{name: "mpc.ReturnAllowed", body: `return nil, mpc.ReturnAllowed(mpc.Default())`, want: "compile"},
	{name: "mpc.WithRevealPolicy", body: `return mpc.WithRevealPolicy(mpc.RevealPolicy{}), nil`, want: "compile"},
	{name: "mpc.WithSaveQuota", body: `return mpc.WithSaveQuota(mpc.SaveQuota{}), nil`, want: "compile"},
	// The traffic counters travel to the requester: job code reads them
	// but cannot write into them.
	{name: "forged traffic", body: `mpc.Default().Stats().Sent(31337); return nil, nil`, want: "compile"},
	{name: "forged operation names", body: `mpc.Default().Stats().Op("31337"); return nil, nil`, want: "compile"},
	{name: "x.Party().Comm", body: `return x.Party().Comm(), nil`, want: "compile"},
	// Unexported fields, directly or through a look-alike type.
	{name: "unexported field", body: `return fmt.Sprint(x.share), nil`, want: "fail"},
	{name: "look-alike conversion", decl: `type look struct { p *mpc.Party; shape []int; share []uint64 }`,
		body: `return fmt.Sprint(look(*x)), nil`, want: "fail"},

	// Printing: every verb, pointer and dereferenced value.
	{name: "verbs on *x", body: `return fmt.Sprintf("%v|%+v|%#v|%s|%d|%x|%X|%o|%b|%q|%T|%8.3f", *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x, *x), nil`,
		want: "CrypTensor(shape=[3], party"},
	{name: "verbs on x", body: `return fmt.Sprintf("%v|%+v|%#v|%s|%d|%x", x, x, x, x, x, x), nil`, want: "CrypTensor(shape=[3], party"},
	{name: "verbs on *b", body: `return fmt.Sprintf("%v|%+v|%#v|%d|%x", *b, *b, *b, *b, *b), nil`, want: "BinTensor(shape=[3], party"},
	{name: "verbs on a wide tensor", body: `w := x.Wide(); return fmt.Sprintf("%v|%+v|%#v|%d|%x|%v", *w, *w, *w, *w, *w, []any{*w, w}), nil`,
		want: "WideTensor(shape=[3], party"},
	{name: "verbs on the party", body: `p := mpc.Default(); return fmt.Sprintf("%v|%+v|%#v|%v|%+v", *p, *p, *p, p, *x.Party()), nil`,
		want: "mpc.Party(party"},
	{name: "Sprint and Sprintln", body: `return fmt.Sprint(*x, *b, x) + fmt.Sprintln(*x, *b), nil`, want: "CrypTensor(shape=[3]"},

	// Nested in the job's own types and in containers.
	{name: "struct field", decl: `type box struct { c mpc.CrypTensor; bt mpc.BinTensor; p mpc.Party }`,
		body: `bx := box{c: *x, bt: *b, p: *mpc.Default()}; return fmt.Sprintf("%v %+v %#v %v", bx, bx, bx, &bx), nil`,
		want: "CrypTensor(shape=[3]"},
	{name: "embedded", decl: `type emb struct { mpc.CrypTensor; n int }`,
		body: `e := emb{*x, 1}; return fmt.Sprintf("%v %+v %#v", e, e, &e), nil`, want: "CrypTensor(shape=[3]", orFail: true},
	{name: "anonymous struct", body: `s := struct{ A mpc.CrypTensor; B []mpc.BinTensor }{*x, []mpc.BinTensor{*b}}; return fmt.Sprintf("%+v %#v", s, s), nil`,
		want: "CrypTensor(shape=[3]"},
	{name: "slice array map", body: `s := []mpc.CrypTensor{*x, *x}; a := [1]mpc.CrypTensor{*x}; m := map[string]mpc.CrypTensor{"k": *x}
		return fmt.Sprintf("%v %+v %#v %v %v %v", s, s, a, m, &s, []*mpc.CrypTensor{x}), nil`, want: "CrypTensor(shape=[3]"},
	{name: "interface values", body: `var xs []any = []any{*x, x, *b, *mpc.Default()}; return fmt.Sprintf("%v %+v %#v", xs, xs, xs), nil`,
		want: "CrypTensor(shape=[3]"},

	// Errors, panics and printed output.
	{name: "error wrapping", body: `return nil, fmt.Errorf("value %+v and %#v: %w", *x, *b, errors.New(fmt.Sprint(*x)))`, want: "CrypTensor(shape=[3]"},
	{name: "panic with value", body: `panic(*x)`, want: "CrypTensor(shape=[3]"},
	{name: "panic with struct", body: `panic(struct{ V mpc.CrypTensor }{*x})`, want: "CrypTensor(shape=[3]"},
	{name: "printed", body: `fmt.Println(*x, *b); fmt.Printf("%+v %#v\n", *x, []mpc.CrypTensor{*x}); print(x.Size()); return nil, nil`,
		want: "CrypTensor(shape=[3]"},
	{name: "returned value", body: `return *x, nil`, want: "fail"},
	{name: "returned in a struct", body: `return struct{ X mpc.CrypTensor }{*x}, nil`, want: "fail"},

	// nn: encrypted Variables and models.
	{name: "encrypted variable", body: `v := nn.NewEncrypted(x); return fmt.Sprintf("%v %+v %#v %v", *v, v, []nn.Variable{*v}, v.CrypTensor()), nil`,
		want: "Variable(encrypted, shape [3])"},
	{name: "encrypted model", body: `m, err := nn.LoadModel("model", 0)
		if err != nil { return nil, err }
		ps := m.Params()
		return fmt.Sprintf("%v %+v %#v %+v %+v %+v %v", *m, m, ps, *ps[0].Var, m.Module(), m.Parameters(), ps[0].Var.CrypTensor()), nil`,
		want: "nn.Model(encrypted, 2 parameters, 4 values)"},
	{name: "encrypted model dereferenced module", body: `m, err := nn.LoadModel("model", 0)
		if err != nil { return nil, err }
		l := m.Module().(*nn.Linear)
		return fmt.Sprintf("%+v %#v %v", *l, *l.Weight, *l.Bias), nil`,
		want: "Variable(encrypted"},
	{name: "loaded tensor", body: `y, err := mpc.Load("secret", 0)
		if err != nil { return nil, err }
		return fmt.Sprintf("%v %+v %#v %v", *y, y, []mpc.CrypTensor{*y}, *y.ToBinary()), nil`,
		want: "CrypTensor(shape=[3]"},
}

// TestJailLeaks runs, as real jail programs on two parties, every route
// by which job code could reach a share, a party's store or communicator,
// or a private plaintext, and checks that each is refused at compile time
// or prints only metadata: no share word of x or b (in any base) and no
// canary value appears in the result, the error, or the printed output.
func TestJailLeaks(t *testing.T) {
	for _, rt := range leakRoutes {
		t.Run(rt.name, func(t *testing.T) {
			src := leakHeader + rt.decl + "\nfunc f(x *mpc.CrypTensor, b *mpc.BinTensor) (any, error) {\n\t" + rt.body + "\n}\n"
			outs, secrets := runLeakProgram(t, src)
			for rank, out := range outs {
				if testing.Verbose() {
					t.Logf("rank %d: %s", rank, out.text)
				}
				for _, s := range secrets[rank] {
					if strings.Contains(out.text, s) {
						t.Fatalf("rank %d leaked %q:\n%s", rank, s, out.text)
					}
				}
				switch rt.want {
				case "compile":
					if out.err == nil || out.err.Kind != KindCompile {
						t.Fatalf("rank %d: want a compile error, got %v (output %q)", rank, out.err, out.text)
					}
				case "fail":
					if out.err == nil {
						t.Fatalf("rank %d: want a failure, got %q", rank, out.text)
					}
				default:
					if rt.orFail && out.err != nil {
						break
					}
					if !strings.Contains(out.text, rt.want) {
						t.Fatalf("rank %d: output does not show the metadata %q: %s", rank, rt.want, out.text)
					}
				}
			}
		})
	}
}

// TestJailLeaksControl shows the search finds what it looks for: host
// code printing a share, and a job that decrypts, do show the canaries.
func TestJailLeaksControl(t *testing.T) {
	src := leakHeader + `func f(x *mpc.CrypTensor, b *mpc.BinTensor) (any, error) {
	y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return y.GetPlainText()
}`
	outs, secrets := runLeakProgram(t, src)
	for rank, out := range outs {
		if !containsAny(out.text, plainCanaries()) {
			t.Errorf("rank %d: the decrypted canary is not found in %q", rank, out.text)
		}
		if !containsAny(out.text+out.host, secrets[rank][len(plainCanaries()):]) {
			t.Errorf("rank %d: the host's print of its share is not found", rank)
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// leakOut is what one rank's run showed: its result, error and output
// (text), and the host's own print of its shares (host, for the control).
type leakOut struct {
	text string
	host string
	err  *Error
}

// runLeakProgram runs src on two parties in jails. Each party's x is an
// encryption of the canaries from rank 0 and b its binary sharing; the
// returned secrets of each rank are the plaintext canaries and the rank's
// share words of x and b, printed every way.
func runLeakProgram(t *testing.T, src string) ([]leakOut, [][]string) {
	t.Helper()
	outs := make([]leakOut, 2)
	secrets := make([][]string, 2)
	res, err := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
		x := p.Encrypt(tensor.FromSlice(canaryValues), 0)
		b := x.ToBinary()
		words := append(append([]uint64(nil), mpc.ShareOf(x)...), mpc.BinShareOf(b)...)
		secrets[p.Rank()] = append(plainCanaries(), canaryStrings(words)...)
		var stdout bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		v, err := Run(ctx, Program{Source: src, Entry: "f"}, []any{x, b}, Env{Party: p, Store: canaryStore{}, Stdout: &stdout})
		o := &outs[p.Rank()]
		o.host = fmt.Sprint(words)
		o.text = fmt.Sprintf("value: %v\n%+v\n%#v\nerror: %v\noutput: %s", v, v, v, err, stdout.String())
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				return nil, fmt.Errorf("Run returned %T: %v", err, err)
			}
			o.err = e
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("rank %d: %v", r.Rank, r.Err)
		}
	}
	return outs, secrets
}
