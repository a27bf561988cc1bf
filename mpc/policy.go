package mpc

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/tensor"
)

// Restriction. A job may compute on private data its requester cannot
// read only as its owners approved; what they approve includes who may
// learn decrypted values. The engine enforces that at every party:
//
//   - A store says, for each object it loads, whether it is restricted
//     (TaggedStore). When the source party of a Load (or of an
//     nn.LoadModel) reads a restricted object, the header it broadcasts
//     before sharing carries a restricted bit, and every party then marks
//     itself restricted: party-level taint, conservative (everything the
//     party computes afterwards may derive from the private input).
//   - On a restricted party every reveal checks the party's RevealPolicy
//     (WithRevealPolicy): opening to every party (GetPlainText) needs
//     "all-parties", opening to rank r (GetPlainTextTo) needs "party:r" or
//     "all-parties". A refused reveal fails with an error naming the
//     request and its recipients, and stops the party (see stop): its
//     communicator is closed so its peers fail at once instead of waiting
//     for a share that will not come, and every later operation fails
//     with the same error.
//   - Host code asks ReturnAllowed before sending anything a restricted
//     party holds (encrypted results, printed output) to the requester.
//
// Every opening needs the share of the party whose worker owns the data,
// so that worker enforcing its own approval suffices for all openings.

// guard is a party's restriction state, shared by every copy of its
// Party value.
type guard struct {
	policy     *RevealPolicy // nil: none
	restricted bool          // computed on restricted data
	stopped    error         // the refusal that stopped the party
	failed     error         // the first failure to communicate (see Err)
	quota      *SaveQuota    // bounds Save (nil: unbounded)
	saved      SaveQuota     // what Save used
}

// Recipients of decrypted values, as a request names them.
const (
	// RecipientRequester: the requester may receive results (encrypted
	// results are summed by the requester; no party sees them).
	RecipientRequester = "requester"
	// RecipientAllParties: values may be opened to every party, hence to
	// every party's owner.
	RecipientAllParties = "all-parties"
	// RecipientPartyPrefix followed by a rank ("party:1"): values may be
	// opened to that party only.
	RecipientPartyPrefix = "party:"
)

// RevealPolicy is what a restricted party may reveal, and to whom: the
// recipients of the approved request the job runs under. The zero value
// allows nothing.
type RevealPolicy struct {
	// Request is the approved request's id (e.g. "r-0123456789abcdef"),
	// named in refusals so the requester knows what to change.
	Request string
	// Recipients lists RecipientRequester, RecipientAllParties and
	// RecipientPartyPrefix+rank entries.
	Recipients []string
}

// Validate checks every recipient's form (and a party's rank against the
// world size, when worldSize > 0).
func (r RevealPolicy) Validate(worldSize int) error {
	if len(r.Request) > 128 {
		return fmt.Errorf("mpc: reveal policy: request id of %d bytes (at most 128)", len(r.Request))
	}
	for _, rc := range r.Recipients {
		switch {
		case rc == RecipientRequester, rc == RecipientAllParties:
		case strings.HasPrefix(rc, RecipientPartyPrefix):
			n, err := strconv.Atoi(strings.TrimPrefix(rc, RecipientPartyPrefix))
			if err != nil || n < 0 || (worldSize > 0 && n >= worldSize) {
				return fmt.Errorf("mpc: reveal policy: recipient %q names no party of %d", clip(rc, 64), worldSize)
			}
		default:
			return fmt.Errorf("mpc: reveal policy: unknown recipient %q (want %q, %q or %q followed by a rank)",
				clip(rc, 64), RecipientRequester, RecipientAllParties, RecipientPartyPrefix)
		}
	}
	return nil
}

// AllowsAllParties reports whether values may be opened to every party.
func (r RevealPolicy) AllowsAllParties() bool {
	return slices.Contains(r.Recipients, RecipientAllParties)
}

// AllowsParty reports whether values may be opened to party rank alone
// ("party:rank", or "all-parties").
func (r RevealPolicy) AllowsParty(rank int) bool {
	return r.AllowsAllParties() || slices.Contains(r.Recipients, RecipientPartyPrefix+strconv.Itoa(rank))
}

// AllowsRequester reports whether results may go back to the requester.
func (r RevealPolicy) AllowsRequester() bool {
	return slices.Contains(r.Recipients, RecipientRequester)
}

// WithRevealPolicy sets what the party may reveal once restricted. Without
// it a restricted party reveals nothing; with it, loads from a store that
// is not a TaggedStore count as restricted (the worker that sets a policy
// must say which objects are private).
func WithRevealPolicy(r RevealPolicy) Option {
	return func(o *partyOptions) {
		rc := r
		rc.Recipients = slices.Clone(r.Recipients)
		o.policy = &rc
	}
}

// TaggedStore is a Store that carries restriction both ways: whether an
// object it loads is private data the job's requester may not read, and
// whether what a party saves derives from such data. A worker's job store
// implements it; a Store that does not is trusted to hold only data the
// requester may read (unless the party has a reveal policy, see
// WithRevealPolicy).
type TaggedStore interface {
	Store
	// LoadTagged is Load that also reports whether the object is
	// restricted.
	LoadTagged(tag string) (t *tensor.Tensor, restricted bool, err error)
	// SaveTagged is Save from a party that is restricted or not: a
	// restricted party's results must be stored as private data of the
	// owners of the job's private inputs.
	SaveTagged(tag string, t *tensor.Tensor, restricted bool) error
}

// Restricted reports whether p has computed on restricted data (see
// Announce). Host code only (the jail denies it).
func Restricted(p *Party) bool { return p.g.restricted }

// HasRevealPolicy reports whether p runs under a reveal policy (a
// governed job): then data from a store that cannot say whether it is
// restricted counts as restricted. Host code only.
func HasRevealPolicy(p *Party) bool { return p.g.policy != nil }

// Restrict marks p restricted, for a worker that knows before the job
// starts that it loads private data. Restriction is never lifted. Host
// code only.
func Restrict(p *Party) { p.g.restricted = true }

// ReturnAllowed reports whether what p holds (results, shares, printed
// output) may go back to the job's requester: always for an unrestricted
// party, and on a restricted one when its policy names the requester. The
// error (a *RefusedError) says why not. Host code only.
func ReturnAllowed(p *Party) error {
	if !p.g.restricted || (p.g.policy != nil && p.g.policy.AllowsRequester()) {
		return nil
	}
	return p.refusal("return", "returning results to the requester", RecipientRequester)
}

// checkReveal allows or refuses, on p, opening a value to party dst (dst <
// 0: to every party) in operation op. Every reveal passes here (see
// reveal); a refusal stops the party.
func (p *Party) checkReveal(op string, dst int) error {
	if p.g.stopped != nil {
		return p.g.stopped
	}
	if !p.g.restricted {
		return nil
	}
	if dst < 0 {
		if p.g.policy != nil && p.g.policy.AllowsAllParties() {
			return nil
		}
		return p.stop(p.refusal(op, "revealing to all parties", RecipientAllParties))
	}
	if p.g.policy != nil && p.g.policy.AllowsParty(dst) {
		return nil
	}
	return p.stop(p.refusal(op, fmt.Sprintf("revealing to party %d", dst), RecipientPartyPrefix+strconv.Itoa(dst)))
}

// ErrNotApproved is what every refusal of a restricted party wraps
// (errors.Is(err, ErrNotApproved)).
var ErrNotApproved = errors.New("not approved")

// RefusedError is a reveal, or a return to the requester, that a
// restricted party's policy does not allow. Its text is the engine's own,
// built only from the operation and the request (never from data or job
// code), so a worker can pass it to the requester even when it withholds
// everything else a restricted party says.
type RefusedError struct {
	Rank int
	Op   string // e.g. "GetPlainText", "return"
	Msg  string // what is not approved and what would be
}

// Error names the party, the operation and the refusal.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("mpc: party %d: %s: %s", e.Rank, e.Op, e.Msg)
}

// Unwrap returns ErrNotApproved.
func (e *RefusedError) Unwrap() error { return ErrNotApproved }

// refusal explains that what is not approved for this party's request,
// and what would be: the recipient need, or returning encrypted values.
func (p *Party) refusal(op, what, need string) *RefusedError {
	e := &RefusedError{Rank: p.rank, Op: op}
	if p.g.policy == nil {
		e.Msg = what + " is not approved: this party computes on private data and runs under no approved request"
		return e
	}
	req := p.g.policy.Request
	if req == "" {
		req = "(unnamed)"
	}
	hint := ""
	if need != RecipientRequester && p.g.policy.AllowsRequester() {
		hint = "return the encrypted value to send it to the requester, or "
	}
	ask := need
	if strings.HasPrefix(need, RecipientPartyPrefix) {
		ask += " (or " + RecipientAllParties + ")"
	}
	e.Msg = fmt.Sprintf("%s is not approved: request %s names recipients [%s]; %sask the owners to approve %s",
		what, clip(req, 128), clip(strings.Join(p.g.policy.Recipients, " "), 512), hint, ask)
	return e
}

// stop makes err this party's permanent state: it closes the party's
// communicator, so peers waiting on its share fail now, and every later
// operation fails with err. It returns err.
func (p *Party) stop(err error) error {
	if p.g.stopped == nil {
		p.g.stopped = err
		p.c.Close()
	}
	return p.g.stopped
}

// reveal opens v, this party's shares of a value, to party dst (dst < 0:
// every party), summing (or, with xor, XOR-ing) the parties' shares: one
// round. It is the one path of every reveal, so that the reveal policy is
// checked once for all: functions that open a value as a result (not the
// masked openings inside products and comparisons) must call it. On dst
// (or everywhere) v holds the opened value; elsewhere it is unchanged.
func (p *Party) reveal(op string, dst int, v []uint64, xor bool) error {
	if err := p.checkReveal(op, dst); err != nil {
		return err
	}
	if err := p.Err(); err != nil {
		return err
	}
	if p.size == 1 {
		return nil
	}
	var err error
	switch {
	case dst < 0 && xor:
		err = comm.AllReduceXor(p.c, v)
	case dst < 0:
		err = comm.AllReduce(p.c, v)
	case xor:
		return fmt.Errorf("mpc: party %d: %s: XOR reveal to one party is not implemented", p.rank, op)
	default:
		err = comm.Reduce(p.c, dst, v)
	}
	if err != nil {
		p.commFail(op, err)
		if dst >= 0 {
			return fmt.Errorf("mpc: party %d: reveal to %d: %w", p.rank, dst, err)
		}
		return fmt.Errorf("mpc: party %d: reveal: %w", p.rank, err)
	}
	return nil
}

// MaxErrorText bounds the text of an error that crosses from one party to
// the others (a failed Load's reason): longer texts are cut.
const MaxErrorText = 1 << 10

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Announce broadcasts from party src, before it secret-shares something,
// what every party needs to receive it: payload (a shape, a model's
// architecture), or, when srcErr is set, why src cannot share (its text
// cut to MaxErrorText bytes: it must never carry data values), and
// whether the data is restricted. Every party must call it; src's
// arguments are used, the others' ignored. It returns src's payload on
// every party, or src's error (srcErr itself on src); when the restricted
// bit is set every party becomes restricted, whatever else happens. One
// round. Host code only (the jail denies it): it is how Load and
// nn.LoadModel announce their data.
func Announce(p *Party, src int, payload []byte, restricted bool, srcErr error) ([]byte, error) {
	if src < 0 || src >= p.size {
		return nil, fmt.Errorf("mpc: announce: source rank %d out of range [0,%d)", src, p.size)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	// Header: status (0 ok, 1 error), flags (bit 0: restricted), then the
	// payload or the error's text.
	var msg []byte
	if p.rank == src {
		var flags byte
		if restricted {
			flags = 1
		}
		if srcErr != nil {
			msg = append([]byte{1, flags}, clip(srcErr.Error(), MaxErrorText)...)
		} else {
			msg = append([]byte{0, flags}, payload...)
		}
	}
	if p.size > 1 {
		m, err := comm.Broadcast(p.c, src, msg)
		if err != nil {
			p.commFail("announce", err)
			return nil, fmt.Errorf("mpc: party %d: announcement from party %d: %w", p.rank, src, err)
		}
		msg = m
	}
	if len(msg) < 2 || msg[0] > 1 || msg[1] > 1 {
		return nil, fmt.Errorf("mpc: party %d: malformed announcement of %d bytes from party %d", p.rank, len(msg), src)
	}
	if msg[1] == 1 {
		p.g.restricted = true
	}
	if msg[0] == 1 {
		if p.rank == src {
			return nil, srcErr
		}
		return nil, fmt.Errorf("party %d: %s", src, clip(string(msg[2:]), MaxErrorText))
	}
	return msg[2:], nil
}

// loadTagged reads tag from p's store, saying whether it is restricted.
func (p *Party) loadTagged(tag string) (*tensor.Tensor, bool, error) {
	switch s := p.store.(type) {
	case nil:
		return nil, false, fmt.Errorf("party %d has no store", p.rank)
	case TaggedStore:
		return s.LoadTagged(tag)
	default:
		t, err := s.Load(tag)
		// A governed job treats data from a store that cannot say as
		// restricted.
		return t, HasRevealPolicy(p), err
	}
}
