package mpc

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/provider"
	"github.com/gomplab/gomplab/tensor"
)

// Store holds a party's own plaintext tensors by tag (a worker's object
// store). Party.Load reads the source party's tensor from it.
type Store interface {
	Load(tag string) (*tensor.Tensor, error)
	Save(tag string, t *tensor.Tensor) error
}

// Party is one participant of an MPC computation: its rank and world
// size, its communicator, its provider of correlated randomness, the seeds
// it shares with every other party, and its numeric configuration. A
// Party is used by one goroutine at a time: parties run the same sequence
// of operations in lock step.
type Party struct {
	rank, size int
	c          comm.Comm
	prov       provider.Provider
	cfg        Config
	store      Store

	// g is the party's restriction and quotas (policy.go), behind a
	// pointer so that every copy of the Party value shares them: job code
	// can dereference a *Party, and a copy made before a restricted load
	// must not stay unrestricted.
	g *guard

	// Zero shares: next is the stream shared with rank+1, prev with
	// rank-1 (directed, so two parties still get nonzero masks).
	next, prev *provider.PRG
}

// Option configures NewParty.
type Option func(*partyOptions)

type partyOptions struct {
	cfg      Config
	store    Store
	policy   *RevealPolicy
	quota    *SaveQuota
	provider func(c comm.Comm, pairSeeds []provider.Seed) (provider.Provider, error)
	ttp      bool // the provider is a trusted third party (launchers start it)
}

// WithConfig sets the numeric configuration (zero fields keep defaults).
func WithConfig(c Config) Option { return func(o *partyOptions) { o.cfg = c } }

// WithStore sets the store Load reads tagged tensors from.
func WithStore(s Store) Option { return func(o *partyOptions) { o.store = s } }

// WithProvider replaces the default trusted-first-party provider. The
// function receives the communicator and the seeds agreed with every
// party (pairSeeds[i] is shared with party i; pairSeeds[rank] is private).
func WithProvider(f func(c comm.Comm, pairSeeds []provider.Seed) (provider.Provider, error)) Option {
	return func(o *partyOptions) { o.provider = f }
}

// TrustedFirstParty is the default provider option: rank 0 deals all
// correlated randomness from seeds, sending nothing.
func TrustedFirstParty() Option {
	return WithProvider(func(c comm.Comm, seeds []provider.Seed) (provider.Provider, error) {
		return provider.NewTrustedFirstParty(c.Rank(), c.Size(), tfpSeeds(c.Rank(), seeds))
	})
}

// TrustedThirdParty makes the party draw its correlated randomness from a
// dealer running as rank Size() of the communicator (see
// provider.ServeTrustedThirdParty); RunLocal and RunProcesses start that
// dealer when given this option.
func TrustedThirdParty() Option {
	return func(o *partyOptions) {
		o.ttp = true
		o.provider = func(c comm.Comm, _ []provider.Seed) (provider.Provider, error) {
			return provider.NewTrustedThirdParty(c)
		}
	}
}

// DealerFree makes the two parties of a computation generate their
// correlated randomness together, with oblivious transfer and homomorphic
// encryption (provider.DealerFree): no dealer, and neither party learns
// the other's masks. Two parties only. Call Party.Preprocess to generate
// randomness ahead of the data; what is not preprocessed is generated
// when an operation needs it.
func DealerFree() Option {
	return WithProvider(func(c comm.Comm, seeds []provider.Seed) (provider.Provider, error) {
		// seeds[rank] is this party's private seed.
		return provider.NewDealerFree(c, seeds[c.Rank()].Derive("dealer-free"))
	})
}

// Provider names, for ProviderOption and the launchers.
const (
	ProviderTFP        = "tfp"         // trusted first party (the default)
	ProviderDealer     = "dealer"      // trusted third party
	ProviderDealerFree = "dealer-free" // two parties, no dealer
)

// ProviderOption returns the option that selects the provider named name
// (ProviderTFP, ProviderDealer or ProviderDealerFree; "" is the default),
// so that a job's parties, a launcher or a command-line flag can choose
// the provider by name.
func ProviderOption(name string) (Option, error) {
	switch name {
	case "", ProviderTFP, "trusted-first-party":
		return TrustedFirstParty(), nil
	case ProviderDealer, "ttp", "trusted-third-party":
		return TrustedThirdParty(), nil
	case ProviderDealerFree:
		return DealerFree(), nil
	}
	return nil, fmt.Errorf("mpc: unknown provider %q (want %s, %s or %s)", name, ProviderTFP, ProviderDealer, ProviderDealerFree)
}

// Preprocessor is implemented by providers that can generate correlated
// randomness ahead of the operations that use it (provider.DealerFree).
type Preprocessor interface {
	Preprocess(reqs ...provider.Request) error
}

// Preprocess generates the correlated randomness of reqs now, so that the
// operations that later ask for it find it ready (an offline phase a
// worker can run before the data arrives). Every party must call it with
// the same requests at the same point. Elementwise kinds are pooled by
// count (a later request of any size draws from the pool), matrix and
// convolution triples by shape. Providers that deal without
// communicating (the trusted first party) have nothing to do. Its
// traffic is counted as the operation "Preprocess".
func (p *Party) Preprocess(reqs ...provider.Request) error {
	pp, ok := p.prov.(Preprocessor)
	if !ok {
		return nil
	}
	defer p.op("Preprocess")()
	if err := pp.Preprocess(reqs...); err != nil {
		return fmt.Errorf("mpc: party %d: preprocessing: %w", p.rank, err)
	}
	return nil
}

// RecordRequests runs f on p and returns, in order, the requests for
// correlated randomness it made (public shapes only), so that the same
// requests can be preprocessed before the next run of f (Party.Preprocess).
// Host only: the jail denies it (a job's code does not see its provider).
func RecordRequests(p *Party, f func()) []provider.Request {
	rec := &recorder{Provider: p.prov}
	p.prov = rec
	defer func() { p.prov = rec.Provider }()
	f()
	return rec.reqs
}

// recorder is a provider that notes the requests passing through it.
type recorder struct {
	provider.Provider
	reqs []provider.Request
}

func (r *recorder) Get(q provider.Request) *provider.Shares {
	r.reqs = append(r.reqs, q)
	return r.Provider.Get(q)
}

// tfpSeeds orders pairwise seeds as NewTrustedFirstParty expects: on rank
// 0 its private seed then one per party, elsewhere the seed shared with 0.
func tfpSeeds(rank int, pair []provider.Seed) []provider.Seed {
	if rank == 0 {
		return pair
	}
	return []provider.Seed{pair[0]}
}

// NewParty sets up this party of the world c connects: it agrees a seed
// with every other party (one round: each sends a fresh seed to every
// higher rank) and starts the provider. c must belong to a computing
// party (not the trusted third party).
func NewParty(c comm.Comm, opts ...Option) (*Party, error) {
	o := partyOptions{}
	for _, f := range opts {
		f(&o)
	}
	if o.provider == nil {
		TrustedFirstParty()(&o)
	}
	rank, size := c.Rank(), c.Size()
	if rank < 0 || rank >= size {
		return nil, fmt.Errorf("mpc: rank %d is not a computing party of %d", rank, size)
	}
	p := &Party{rank: rank, size: size, c: c, cfg: o.cfg.withDefaults(), store: o.store, g: &guard{policy: o.policy, quota: o.quota}}
	if o.policy != nil {
		if err := o.policy.Validate(size); err != nil {
			return nil, err
		}
	}
	if p.cfg.Precision > 30 {
		return nil, fmt.Errorf("mpc: precision %d bits is too high (at most 30: products need twice the bits)", p.cfg.Precision)
	}
	seeds, err := agreeSeeds(c)
	if err != nil {
		return nil, fmt.Errorf("mpc: party %d: agreeing seeds: %w", rank, err)
	}
	if size > 1 {
		nx, pv := (rank+1)%size, (rank+size-1)%size
		p.next = provider.NewPRG(seeds[nx].Derive(fmt.Sprintf("zero %d->%d", rank, nx)))
		p.prev = provider.NewPRG(seeds[pv].Derive(fmt.Sprintf("zero %d->%d", pv, rank)))
	}
	if p.prov, err = o.provider(c, seeds); err != nil {
		return nil, fmt.Errorf("mpc: party %d: starting provider: %w", rank, err)
	}
	return p, nil
}

// agreeSeeds returns one seed per party: seeds[j] shared with party j
// (chosen by the lower rank), seeds[rank] private. One round.
func agreeSeeds(c comm.Comm) ([]provider.Seed, error) {
	rank, size := c.Rank(), c.Size()
	seeds := make([]provider.Seed, size)
	seeds[rank] = provider.NewSeed()
	if size == 1 {
		return seeds, nil
	}
	c.Stats().Round()
	for j := rank + 1; j < size; j++ {
		seeds[j] = provider.NewSeed()
		if err := c.Send(j, seeds[j][:]); err != nil {
			return nil, err
		}
	}
	for j := 0; j < rank; j++ {
		m, err := c.Recv(j)
		if err != nil {
			return nil, err
		}
		if len(m) != provider.SeedSize {
			return nil, fmt.Errorf("seed from party %d has %d bytes, want %d", j, len(m), provider.SeedSize)
		}
		copy(seeds[j][:], m)
	}
	for j := rank + 1; j < size; j++ {
		if err := comm.Flush(c, j); err != nil {
			return nil, err
		}
	}
	return seeds, nil
}

// Rank returns this party's rank.
func (p *Party) Rank() int { return p.rank }

// WorldSize returns the number of computing parties.
func (p *Party) WorldSize() int { return p.size }

// Config returns the party's numeric configuration (defaults filled in).
func (p *Party) Config() Config { return p.cfg }

// Stats returns a read-only view of the party's traffic counters (bytes,
// messages, rounds, in total and per operation).
func (p *Party) Stats() Traffic { return Traffic{p.c.Stats()} }

// Traffic reads a party's traffic counters. It cannot change them: the
// counters travel to the job's requester, so job code must not be able to
// write into them.
type Traffic struct{ s *comm.Stats }

// Total returns the counts since the party started.
func (t Traffic) Total() comm.Counts { return t.s.Total() }

// ByOp returns the counts per outermost operation.
func (t Traffic) ByOp() map[string]comm.Counts { return t.s.ByOp() }

// CommOf returns p's communicator, for protocols built on top of mpc in
// trusted code (nn's model sharing, benchmarks' barriers). It is a
// function, not a method, so that the jail can deny it: job code never
// sends or receives raw bytes.
func CommOf(p *Party) comm.Comm { return p.c }

// SetStore sets the store p's Load and Save use. Host code only (denied in
// the jail): the worker gives the party its store.
func SetStore(p *Party, s Store) { p.store = s }

// Close releases the provider and the communicator.
func (p *Party) Close() error {
	return errors.Join(p.prov.Close(), p.c.Close())
}

// Error is the panic value of an operation that failed: a communication
// failure or a misuse such as mismatched shapes. Launchers recover it and
// report it with the rank.
type Error struct {
	Rank int    // the party that failed
	Op   string // the operation, e.g. "Mul"
	Err  error
}

// Error names the rank, the operation and the cause (a refused reveal
// names them itself).
func (e *Error) Error() string {
	var re *RefusedError
	if errors.As(e.Err, &re) {
		return re.Error()
	}
	return fmt.Sprintf("mpc: party %d: %s: %v", e.Rank, e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// fail panics with an *Error for op: misuse, such as operands of shapes
// that do not fit, is a programming error. (A failure to communicate is
// not: see commFail.) On a party stopped by a refused reveal, a failure is
// that refusal's doing, and says so.
func (p *Party) fail(op string, err error) {
	if p.g.stopped != nil && errors.Is(err, comm.ErrClosed) {
		err = p.g.stopped
	}
	panic(&Error{Rank: p.rank, Op: op, Err: err})
}

// Err returns why p stopped working, or nil: its first failure to
// communicate (a peer that died, a lost link, an unreachable dealer), as
// an *Error naming the operation, or the refused reveal that stopped it.
// Like bufio.Scanner's Err, it is sticky: once a party has failed, its
// operations no longer communicate but run to their end on placeholder
// values (of the right shapes, meaningless), so the fluent API goes on,
// and every later reveal (GetPlainText, the announcement of Load, Save)
// returns this error. Misuse, such as operands of mismatched shapes,
// still panics with an *Error.
func (p *Party) Err() error {
	if p.g.stopped != nil {
		return p.g.stopped
	}
	if p.g.failed != nil {
		return p.g.failed
	}
	return nil
}

// failed reports whether p has stopped communicating (see Err).
func (p *Party) failed() bool { return p.g.stopped != nil || p.g.failed != nil }

// commFail records err, a failure to communicate in op, as p's sticky
// failure (see Err), unless p has failed already, and closes p's
// communicator so that its peers fail at once instead of waiting for it.
// The operation then runs on with placeholder values.
func (p *Party) commFail(op string, err error) {
	if p.failed() {
		return
	}
	p.g.failed = &Error{Rank: p.rank, Op: op, Err: err}
	p.c.Close()
}

// failf panics with a formatted *Error for op.
func (p *Party) failf(op, format string, args ...any) {
	p.fail(op, fmt.Errorf(format, args...))
}

// zeroShares returns n fresh additive shares of zero: next − prev summed
// around the ring of parties telescopes to 0.
func (p *Party) zeroShares(n int) []uint64 {
	z := make([]uint64, n)
	if p.size == 1 {
		return z
	}
	p.next.Fill(z)
	tmp := getScratch(n)
	p.prev.Fill(tmp)
	for i := range z {
		z[i] -= tmp[i]
	}
	putScratch(tmp)
	return z
}

// shares is one request's correlated randomness with the request, so
// that a party that could not obtain it can stand zeros in.
type shares struct {
	*provider.Shares
	r provider.Request
}

// get asks the provider for correlated randomness; a party that has
// failed (see Err) stands zeros in without asking.
func (p *Party) get(r provider.Request) *shares {
	if p.failed() {
		return &shares{provider.Placeholder(r), r}
	}
	return &shares{p.prov.Get(r), r}
}

// wait waits for derived parts. A provider that fails to deliver them
// fails the party (see Err), and zeros stand in.
func (p *Party) wait(op string, s *shares) [][]uint64 {
	if err := s.Wait(); err != nil {
		p.commFail(op, fmt.Errorf("correlated randomness: %w", err))
		s.Shares = provider.Placeholder(s.r)
	}
	return s.Parts
}

// openSum replaces v by the sum over all parties of their v: one round
// (none on a party that has failed: see Err).
func (p *Party) openSum(op string, v []uint64) {
	if p.size == 1 || p.failed() {
		return
	}
	if err := comm.AllReduce(p.c, v); err != nil {
		p.commFail(op, err)
	}
}

// openXor replaces v by the XOR over all parties of their v: one round
// (none on a party that has failed).
func (p *Party) openXor(op string, v []uint64) {
	if p.size == 1 || p.failed() {
		return
	}
	if err := comm.AllReduceXor(p.c, v); err != nil {
		p.commFail(op, err)
	}
}

// op opens a stats attribution for a user-visible operation.
func (p *Party) op(name string) func() { return p.c.Stats().Op(name) }
