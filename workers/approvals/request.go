// Package approvals is the worker side of code requests: what a data
// scientist asks to run on data they may not read, and the decisions of
// the data owners (PySyft 0.8's code requests, in gomplab's form).
//
// A Request is everything an approval binds: the code (a job's source,
// a plan's bytes, or a federated training configuration), its public
// arguments (by hash), the parties and the dealer with their certificate
// fingerprints, the provider of correlated randomness, the tags loaded at
// each rank, who receives decrypted values, and a note. Its ID is the
// digest of that content, so any change is a new request that needs a new
// approval. A worker keeps one Record per request and requester in its
// store (a bucket of its own, surviving restarts): the content, the
// submitted arguments, the status, the owner's decision and its limits
// (runs, expiry, argument ranges).
//
// Book.Check is the rule every capability applies before a party, a plan
// or a training round touches data (docs/privacy.md): a load the
// requester may read is always allowed; otherwise every owner of private
// data loaded here must have approved this exact request. Book.Register
// adds the messages request.submit, request.list, request.show,
// request.approve and request.deny; the client side is syft/requests.go
// and `gomplab worker requests`.
package approvals

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/token"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/vmihailenco/msgpack/v5"
)

// Kind says what a request runs.
type Kind string

// The kinds of requests.
const (
	// KindJob is an MPC job running shipped Go source (syft.RunMultiWorkers).
	KindJob Kind = "job"
	// KindPlan is a traced plan: run as an MPC job (syft.RunPlan) or
	// where its inputs are (syft.PlanPointer.Call).
	KindPlan Kind = "plan"
	// KindTrain is a federated training configuration (package
	// workers/fl encodes it into Request.Train).
	KindTrain Kind = "train"
)

// Party is one worker taking part: its id and the SHA-256 fingerprint of
// its long-term certificate ("sha256:..."; empty for a virtual worker,
// which has none).
type Party struct {
	Worker      string `msgpack:"worker"`
	Fingerprint string `msgpack:"fingerprint,omitempty"`
}

// Load is data a request reads: the object tagged Tag at rank Rank's
// worker (or, for a plan run where its inputs are, the object with id
// Object), of kind LoadTensor or LoadModel.
type Load struct {
	Rank   int    `msgpack:"rank"`
	Tag    string `msgpack:"tag,omitempty"`
	Object string `msgpack:"object,omitempty"`
	Kind   string `msgpack:"kind"`
}

// Load kinds.
const (
	LoadTensor = "tensor"
	LoadModel  = "model"
)

// Request is the content an approval binds. Its ID is the digest of its
// canonical encoding (Canonical, then ID).
type Request struct {
	Kind Kind `msgpack:"kind"`
	// Program is a job's source, with the declarations it ships, and its
	// entry point.
	Program sandbox.Program `msgpack:"program"`
	// Plan is an encoded plan (package sandbox/plan).
	Plan []byte `msgpack:"plan,omitempty"`
	// Train is a federated training configuration, encoded by
	// workers/fl (the model, loss, optimizer and rounds).
	Train []byte `msgpack:"train,omitempty"`
	// ArgsHash is ArgsDigest of the public arguments.
	ArgsHash string `msgpack:"args_hash"`
	// Parties are the computing parties in rank order.
	Parties []Party `msgpack:"parties"`
	// Provider deals the correlated randomness: mpc.ProviderTFP (rank 0,
	// which then sees every opened value), mpc.ProviderDealer (the Dealer
	// worker) or mpc.ProviderDealerFree. A train request, which runs no
	// MPC job, names none.
	Provider string `msgpack:"provider"`
	// Dealer is the worker taking the trusted third party's role when
	// Provider is mpc.ProviderDealer.
	Dealer *Party `msgpack:"dealer,omitempty"`
	// Loads are the data read at each rank.
	Loads []Load `msgpack:"loads,omitempty"`
	// Recipients may learn decrypted values: mpc.RecipientRequester,
	// mpc.RecipientAllParties, or mpc.RecipientPartyPrefix and a rank.
	Recipients []string `msgpack:"recipients,omitempty"`
	// Note is the requester's free text for the owners.
	Note string `msgpack:"note,omitempty"`
}

// Bounds of a request's fields.
const (
	MaxSource  = 1 << 20
	MaxPlan    = 16 << 20
	MaxTrain   = 16 << 20
	MaxParties = 64
	MaxLoads   = 1024
	MaxNote    = 4 << 10
	MaxTag     = 256
)

// ArgsDigest is the hash a request binds its public arguments by: hex
// SHA-256 of their serde encoding (nil or empty: no arguments).
func ArgsDigest(args []byte) string {
	h := sha256.Sum256(args)
	return hex.EncodeToString(h[:])
}

// Canonical returns a copy of r in canonical form: loads sorted and
// without duplicates, recipients sorted and without duplicates. Two
// requests that mean the same have the same canonical form, hence ID.
func (r *Request) Canonical() *Request {
	c := *r
	c.Parties = slices.Clone(r.Parties)
	if r.Dealer != nil {
		d := *r.Dealer
		c.Dealer = &d
	}
	c.Loads = slices.Clone(r.Loads)
	sort.Slice(c.Loads, func(i, j int) bool {
		a, b := c.Loads[i], c.Loads[j]
		if a.Rank != b.Rank {
			return a.Rank < b.Rank
		}
		if a.Tag != b.Tag {
			return a.Tag < b.Tag
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Kind < b.Kind
	})
	c.Loads = slices.Compact(c.Loads)
	c.Recipients = slices.Clone(r.Recipients)
	sort.Strings(c.Recipients)
	c.Recipients = slices.Compact(c.Recipients)
	if len(c.Loads) == 0 {
		c.Loads = nil
	}
	if len(c.Recipients) == 0 {
		c.Recipients = nil
	}
	return &c
}

// ID is the request's id: "r-" and the first 16 hex digits of the SHA-256
// of its canonical encoding. Any change of any field changes it.
func (r *Request) ID() string {
	b, err := msgpack.Marshal(r.Canonical())
	if err != nil {
		// Plain fields only: unreachable.
		panic(fmt.Sprintf("approvals: encoding a request: %v", err))
	}
	h := sha256.Sum256(b)
	return "r-" + hex.EncodeToString(h[:8])
}

// BaseID is the id of the request with its arguments left out: requests
// that differ only in their arguments share it, which is how an approval
// with argument ranges covers other argument values.
func (r *Request) BaseID() string {
	c := *r
	c.ArgsHash = ""
	return (&c).ID()
}

// ValidID checks the form of a request id.
func ValidID(id string) error {
	if len(id) != 18 || !strings.HasPrefix(id, "r-") {
		return fmt.Errorf("request id %s: want r- and 16 hex digits", strconv.QuoteToASCII(clip(id, 40)))
	}
	if _, err := hex.DecodeString(id[2:]); err != nil || strings.ToLower(id) != id {
		return fmt.Errorf("request id %s: want r- and 16 lowercase hex digits", strconv.QuoteToASCII(id))
	}
	return nil
}

// Validate checks every field: the kind and its code, the parties (none
// twice), the provider and the dealer, the loads (ranks in range, tags
// one printable line), the recipients and the sizes.
func (r *Request) Validate() error {
	switch r.Kind {
	case KindJob:
		if len(r.Plan) > 0 || len(r.Train) > 0 {
			return fmt.Errorf("a job request carries source, not a plan or a training configuration")
		}
		if len(r.Program.Source) > MaxSource {
			return fmt.Errorf("source of %d bytes, more than %d", len(r.Program.Source), MaxSource)
		}
		if r.Program.Entry == "" || len(r.Program.Entry) > sandbox.MaxEntryName || !token.IsIdentifier(r.Program.Entry) {
			return fmt.Errorf("entry %s is not a Go identifier of at most %d bytes", strconv.QuoteToASCII(clip(r.Program.Entry, 64)), sandbox.MaxEntryName)
		}
		if err := printable("file name", r.Program.File, sandbox.MaxFileName); err != nil {
			return err
		}
	case KindPlan:
		if len(r.Plan) == 0 || len(r.Plan) > MaxPlan {
			return fmt.Errorf("a plan request carries a plan of 1 to %d bytes, not %d", MaxPlan, len(r.Plan))
		}
		if r.Program != (sandbox.Program{}) || len(r.Train) > 0 {
			return fmt.Errorf("a plan request carries a plan, not source or a training configuration")
		}
	case KindTrain:
		if r.Provider != "" {
			return fmt.Errorf("a train request runs no MPC job and names no provider, not %s", strconv.QuoteToASCII(clip(r.Provider, 32)))
		}
		if len(r.Train) == 0 || len(r.Train) > MaxTrain {
			return fmt.Errorf("a train request carries a configuration of 1 to %d bytes, not %d", MaxTrain, len(r.Train))
		}
		if r.Program != (sandbox.Program{}) || len(r.Plan) > 0 {
			return fmt.Errorf("a train request carries a training configuration, not source or a plan")
		}
	default:
		return fmt.Errorf("unknown request kind %s (want job, plan or train)", strconv.QuoteToASCII(clip(string(r.Kind), 32)))
	}
	if len(r.ArgsHash) != 64 {
		return fmt.Errorf("arguments hash of %d characters, want 64 hex digits", len(r.ArgsHash))
	}
	if _, err := hex.DecodeString(r.ArgsHash); err != nil {
		return fmt.Errorf("arguments hash: %v", err)
	}
	if len(r.Parties) == 0 || len(r.Parties) > MaxParties {
		return fmt.Errorf("%d parties, want 1 to %d", len(r.Parties), MaxParties)
	}
	seen := map[string]int{}
	for i, p := range r.Parties {
		if err := p.validate(); err != nil {
			return fmt.Errorf("party %d: %v", i, err)
		}
		if k, dup := seen[p.Worker]; dup {
			return fmt.Errorf("worker %s is both party %d and party %d", p.Worker, k, i)
		}
		seen[p.Worker] = i
	}
	switch r.Provider {
	case "":
		// Training runs no MPC job: no provider of correlated randomness.
		if r.Kind != KindTrain || r.Dealer != nil {
			return fmt.Errorf("a %s request names a provider (%s, %s or %s); only a train request names none, and no dealer",
				r.Kind, mpc.ProviderTFP, mpc.ProviderDealer, mpc.ProviderDealerFree)
		}
	case mpc.ProviderTFP, mpc.ProviderDealerFree:
		if r.Dealer != nil {
			return fmt.Errorf("provider %s takes no dealer", r.Provider)
		}
		if r.Provider == mpc.ProviderDealerFree && len(r.Parties) != 2 {
			return fmt.Errorf("the dealer-free provider runs two parties, not %d", len(r.Parties))
		}
	case mpc.ProviderDealer:
		if r.Dealer == nil {
			return fmt.Errorf("provider dealer needs a dealer worker")
		}
		if err := r.Dealer.validate(); err != nil {
			return fmt.Errorf("dealer: %v", err)
		}
		if k, dup := seen[r.Dealer.Worker]; dup {
			return fmt.Errorf("worker %s is both party %d and the dealer (the dealer must see no shares of data)", r.Dealer.Worker, k)
		}
	default:
		return fmt.Errorf("unknown provider %s (want %s, %s or %s)", strconv.QuoteToASCII(clip(r.Provider, 32)),
			mpc.ProviderTFP, mpc.ProviderDealer, mpc.ProviderDealerFree)
	}
	if len(r.Loads) > MaxLoads {
		return fmt.Errorf("%d loads, at most %d", len(r.Loads), MaxLoads)
	}
	for _, l := range r.Loads {
		if l.Rank < 0 || l.Rank >= len(r.Parties) {
			return fmt.Errorf("a load at rank %d, out of range for %d parties", l.Rank, len(r.Parties))
		}
		if (l.Tag == "") == (l.Object == "") {
			return fmt.Errorf("a load at rank %d names exactly one of a tag or an object id", l.Rank)
		}
		if err := printable("tag", l.Tag, MaxTag); err != nil {
			return err
		}
		if err := printable("object id", l.Object, 64); err != nil {
			return err
		}
		if l.Kind != LoadTensor && l.Kind != LoadModel {
			return fmt.Errorf("load %s: kind %s (want tensor or model)", strconv.QuoteToASCII(l.Tag), strconv.QuoteToASCII(clip(l.Kind, 16)))
		}
	}
	pol := mpc.RevealPolicy{Recipients: r.Recipients}
	if err := pol.Validate(len(r.Parties)); err != nil {
		return err
	}
	if len(r.Recipients) > MaxParties+2 {
		return fmt.Errorf("%d recipients, at most %d", len(r.Recipients), MaxParties+2)
	}
	if len(r.Note) > MaxNote || !utf8.ValidString(r.Note) {
		return fmt.Errorf("note of %d bytes: at most %d bytes of UTF-8", len(r.Note), MaxNote)
	}
	return nil
}

func (p Party) validate() error {
	if err := printable("worker", p.Worker, 64); err != nil {
		return err
	}
	if p.Worker == "" {
		return fmt.Errorf("no worker id")
	}
	if p.Fingerprint != "" {
		if len(p.Fingerprint) != 71 || !strings.HasPrefix(p.Fingerprint, "sha256:") {
			return fmt.Errorf("worker %s: fingerprint %s: want sha256: and 64 hex digits", p.Worker, strconv.QuoteToASCII(clip(p.Fingerprint, 80)))
		}
		if _, err := hex.DecodeString(p.Fingerprint[7:]); err != nil {
			return fmt.Errorf("worker %s: fingerprint: %v", p.Worker, err)
		}
	}
	return nil
}

// printable checks that s is one printable line of at most max bytes
// (owners read these texts when reviewing).
func printable(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s of %d bytes, at most %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %s is not valid UTF-8", what, strconv.QuoteToASCII(clip(s, 64)))
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069') {
			return fmt.Errorf("%s %s has the unprintable character %q", what, strconv.QuoteToASCII(clip(s, 64)), c)
		}
	}
	return nil
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Rank returns the rank of worker among r's parties, or -1.
func (r *Request) Rank(worker string) int {
	for i, p := range r.Parties {
		if p.Worker == worker {
			return i
		}
	}
	return -1
}

// LoadsAt returns the loads at rank.
func (r *Request) LoadsAt(rank int) []Load {
	var out []Load
	for _, l := range r.Loads {
		if l.Rank == rank {
			out = append(out, l)
		}
	}
	return out
}
