package fl

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// Secure aggregation, the participants' side.
//
// Round R over participants P_0..P_{n-1}: the orchestrator sends each
// P_i a share request naming the same participant list (with, for each
// P_j, a one-round grant to store shares on P_j). P_i encodes its model's
// parameters (times its weight) in fixed point into Z_2^64, draws n-1
// uniformly random vectors r_j with crypto/rand, keeps v - Σ r_j as its own
// share and stores r_j directly on P_j (worker to worker, through P_j's
// grant). Shares are private objects: no user without read-private may
// take one. Then each P_j, asked for the sum, checks it holds exactly one
// share from every participant of the round, all for the same participant
// list and model layout, adds them and returns that sum alone. Any n-1 of
// the sums are uniformly random; all n add up to Σ_i w_i v_i.
//
// A participant refuses to take part in a round with fewer than two
// participants, with itself listed other than once, or twice in one round,
// and sums a round only once, for the user who opened it, and only when
// every share is there: no request can make it return a lone share or a
// partial sum.

// Fixed point for secure aggregation: x is encoded as round(x·2^f) in
// two's complement, which decodes exactly (no off-by-one for negatives).
const (
	// DefaultFracBits is the fixed-point precision of secure aggregation.
	DefaultFracBits = 24
	minFracBits     = 8
	maxFracBits     = 40
)

// EncodeFixed encodes xs in 64-bit fixed point with fracBits fractional
// bits. Values must stay below 2^(62-fracBits) in magnitude, so that
// sums of many of them cannot wrap; the error names the first that does
// not.
func EncodeFixed(xs []float64, fracBits int) ([]uint64, error) {
	if fracBits < 0 || fracBits > 62 {
		return nil, fmt.Errorf("fixed point with %d fractional bits (want 0 to 62)", fracBits)
	}
	out := make([]uint64, len(xs))
	scale := math.Ldexp(1, fracBits)
	for i, x := range xs {
		v := math.Round(x * scale)
		if !(math.Abs(v) < 1<<62) {
			return nil, fmt.Errorf("element %d (%g) cannot be encoded in 64-bit fixed point with %d fractional bits (|x| must be below 2^%d)", i, x, fracBits, 62-fracBits)
		}
		out[i] = uint64(int64(v))
	}
	return out, nil
}

// DecodeFixed decodes ring elements encoded by EncodeFixed (or sums of
// them) back to real numbers.
func DecodeFixed(us []uint64, fracBits int) []float64 {
	out := make([]float64, len(us))
	inv := math.Ldexp(1, -fracBits)
	for i, u := range us {
		out[i] = float64(int64(u)) * inv
	}
	return out
}

// RingBytes encodes ring elements as little-endian bytes, the form shares
// and sums travel in.
func RingBytes(us []uint64) []byte {
	b := make([]byte, 8*len(us))
	for i, u := range us {
		binary.LittleEndian.PutUint64(b[8*i:], u)
	}
	return b
}

// RingFromBytes decodes RingBytes' output; the length must be a multiple
// of 8.
func RingFromBytes(b []byte) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("ring vector of %d bytes, not a multiple of 8", len(b))
	}
	out := make([]uint64, len(b)/8)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return out, nil
}

// ShareID is the object id under which participant `to` stores the share
// participant `from` made for round.
func ShareID(round string, from, to int) string {
	return "sa-" + round + "-" + strconv.Itoa(from) + "-" + strconv.Itoa(to)
}

// flRound is a participant's record of a round it shared in.
type flRound struct {
	user    string
	index   int
	n       int
	digest  []byte
	layout  string
	length  int
	created time.Time
}

const (
	maxRounds     = 256
	roundLifetime = time.Hour
	maxRoundID    = 32
	maxShareElems = 1 << 27
	maxExtraElems = 1 << 20
	maxPeers      = 1000
)

// shareBlob is a share as stored: the vector with what it belongs to.
type shareBlob struct {
	Version int    `msgpack:"v"`
	Round   string `msgpack:"round"`
	Digest  []byte `msgpack:"digest"`
	Layout  string `msgpack:"layout"`
	From    int    `msgpack:"from"`
	To      int    `msgpack:"to"`
	Data    []byte `msgpack:"data"`
}

// decodeShare decodes and checks a stored share.
func decodeShare(b []byte, lim serde.Limits) (*shareBlob, []uint64, error) {
	var s shareBlob
	if err := serde.DecodeBody(b, &s, lim); err != nil {
		return nil, nil, fmt.Errorf("decode share: %w", err)
	}
	if s.Version != 1 {
		return nil, nil, fmt.Errorf("decode share: version %d, this worker reads 1", s.Version)
	}
	if len(s.Digest) != sha256.Size {
		return nil, nil, fmt.Errorf("decode share: digest of %d bytes", len(s.Digest))
	}
	if len(s.Data)/8 > maxShareElems {
		return nil, nil, fmt.Errorf("decode share: %d elements, at most %d", len(s.Data)/8, maxShareElems)
	}
	v, err := RingFromBytes(s.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("decode share: %w", err)
	}
	return &s, v, nil
}

// roundDigest binds a round's setup: every participant must have been
// given the same list, weights and precision, or their shares do not add.
func roundDigest(q *ShareRequest) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "gomplab secagg v1\x00%s\x00%d\x00%d\x00", q.Round, q.FracBits, len(q.Participants))
	for i, p := range q.Participants {
		fmt.Fprintf(h, "%s\x00%s\x00%x\x00", p.Worker, p.Target.Addr, math.Float64bits(q.Weights[i]))
	}
	return h.Sum(nil)
}

func validRound(round string) error {
	if round == "" || len(round) > maxRoundID {
		return workers.BadRequestf("round id must be 1 to %d characters", maxRoundID)
	}
	for _, c := range round {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return workers.BadRequestf("round id %q: use letters and digits", round)
		}
	}
	return nil
}

func (st *flState) share(ctx context.Context, r *workers.Request) (any, error) {
	var q ShareRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if err := validRound(q.Round); err != nil {
		return nil, err
	}
	n := len(q.Participants)
	if n < 2 || n > maxPeers {
		return nil, workers.BadRequestf("secure aggregation needs 2 to %d participants, got %d (alone, the sum would be the model)", maxPeers, n)
	}
	if q.Index < 0 || q.Index >= n || q.Participants[q.Index].Worker != st.h.WorkerID() {
		return nil, workers.BadRequestf("participant %d is not this worker (%s)", q.Index, st.h.WorkerID())
	}
	seen := map[string]bool{}
	for _, p := range q.Participants {
		if seen[p.Worker] {
			return nil, workers.BadRequestf("worker %s is listed twice among the participants", p.Worker)
		}
		seen[p.Worker] = true
	}
	if err := checkWeights(q.Weights, n); err != nil {
		return nil, err
	}
	if q.FracBits == 0 {
		q.FracBits = DefaultFracBits
	}
	if q.FracBits < minFracBits || q.FracBits > maxFracBits {
		return nil, workers.BadRequestf("fixed point with %d fractional bits (want %d to %d)", q.FracBits, minFracBits, maxFracBits)
	}
	mo, err := st.modelObj(r, q.Model)
	if err != nil {
		return nil, err
	}
	m, spec, err := modelcodec.DecodeWithSpec(mo.Blob, st.h.Limits())
	if err != nil {
		return nil, fmt.Errorf("%w: model %s: %v", workers.ErrBadRequest, mo.ID, err)
	}
	vec, names, shapes, err := modelVector(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", workers.ErrInternal, err)
	}
	layout := sha256.New()
	layout.Write(spec)
	for _, id := range q.Extras {
		o, err := st.tensorObj(r, id, "extra")
		if err != nil {
			return nil, err
		}
		if o.Tensor.Size() > maxExtraElems {
			return nil, workers.BadRequestf("extra %s has %d elements, at most %d", id, o.Tensor.Size(), maxExtraElems)
		}
		vec = append(vec, o.Tensor.Data()...)
		names = append(names, "extra:"+id)
		shapes = append(shapes, o.Tensor.Shape())
		fmt.Fprintf(layout, "\x00extra%v", o.Tensor.Shape())
	}
	lay := hex.EncodeToString(layout.Sum(nil))
	w := q.Weights[q.Index]
	for i := range vec {
		vec[i] *= w
	}
	enc, err := EncodeFixed(vec, q.FracBits)
	if err != nil {
		return nil, workers.BadRequestf("model %s: %v", mo.ID, err)
	}
	digest := roundDigest(&q)

	st.mu.Lock()
	st.expireRounds()
	if _, dup := st.rounds[q.Round]; dup {
		st.mu.Unlock()
		return nil, workers.BadRequestf("round %s was already shared on this worker", q.Round)
	}
	if len(st.rounds) >= maxRounds {
		st.mu.Unlock()
		return nil, fmt.Errorf("%w: %d secure-aggregation rounds open on this worker; finish or abort some", workers.ErrTooLarge, len(st.rounds))
	}
	st.rounds[q.Round] = &flRound{user: r.User().Name, index: q.Index, n: n, digest: digest,
		layout: lay, length: len(enc), created: time.Now()}
	st.mu.Unlock()

	// Own share: v minus every peer's random mask.
	own := enc
	rnd := make([]byte, 8*len(enc))
	for j, p := range q.Participants {
		if j == q.Index {
			continue
		}
		if _, err := rand.Read(rnd); err != nil {
			st.dropRound(q.Round)
			return nil, fmt.Errorf("%w: randomness: %v", workers.ErrInternal, err)
		}
		mask, _ := RingFromBytes(rnd)
		for k := range own {
			own[k] -= mask[k]
		}
		blob, err := serde.EncodeBody(&shareBlob{Version: 1, Round: q.Round, Digest: digest, Layout: lay,
			From: q.Index, To: j, Data: rnd})
		if err != nil {
			st.dropRound(q.Round)
			return nil, fmt.Errorf("%w: %v", workers.ErrInternal, err)
		}
		obj := &store.Object{ID: ShareID(q.Round, q.Index, j), Kind: store.KindBlob, Blob: blob, Tags: []string{TagShare},
			Private: true, Description: "secure-aggregation share from " + st.h.WorkerID(),
			Provenance: store.Provenance{Source: "send"}}
		if err := st.sendShare(ctx, r, p, obj); err != nil {
			st.dropRound(q.Round)
			return nil, err
		}
	}
	blob, err := serde.EncodeBody(&shareBlob{Version: 1, Round: q.Round, Digest: digest, Layout: lay,
		From: q.Index, To: q.Index, Data: RingBytes(own)})
	if err != nil {
		st.dropRound(q.Round)
		return nil, fmt.Errorf("%w: %v", workers.ErrInternal, err)
	}
	mine := &store.Object{ID: ShareID(q.Round, q.Index, q.Index), Kind: store.KindBlob, Blob: blob, Tags: []string{TagShare},
		Private: true, Owner: r.User().Name, Description: "secure-aggregation share from " + st.h.WorkerID(),
		Provenance: store.Provenance{Source: "op", Op: "share", Inputs: append([]string{mo.ID}, q.Extras...)},
		Created:    time.Now().UnixNano()}
	if err := st.h.Store().Put(mine); err != nil {
		st.dropRound(q.Round)
		return nil, err
	}
	r.Touch(mo.ID)
	r.Note("round", q.Round, "participants", n, "elements", len(enc))
	return &ShareReply{Length: len(enc), Layout: lay, Spec: spec, Names: names, Shapes: shapes}, nil
}

// sendShare stores a share on a peer through the grant it issued for the
// round. The error names the peer: it is the one that did not take it.
func (st *flState) sendShare(ctx context.Context, r *workers.Request, p Participant, o *store.Object) error {
	t := p.Target
	if t.Worker != p.Worker || t.Addr == "" || len(t.Grants) == 0 {
		return workers.BadRequestf("participant %s: needs an address and a put grant", p.Worker)
	}
	c, err := st.h.Dial(ctx, &t, r, false)
	if err != nil {
		return fmt.Errorf("send share to participant %s: %w", p.Worker, err)
	}
	defer c.Close()
	var rep workers.InfoReply
	if err := c.Call(ctx, workers.MsgPut, &workers.PutRequest{Object: o}, &rep); err != nil {
		return fmt.Errorf("%w: send share to participant %s: %v", workers.ErrPeer, p.Worker, err)
	}
	return nil
}

func (st *flState) dropRound(round string) {
	st.mu.Lock()
	delete(st.rounds, round)
	st.mu.Unlock()
}

// expireRounds forgets rounds left open too long; st.mu is held.
func (st *flState) expireRounds() {
	for k, rs := range st.rounds {
		if time.Since(rs.created) > roundLifetime {
			delete(st.rounds, k)
		}
	}
}

func (st *flState) sum(_ context.Context, r *workers.Request) (any, error) {
	var q SumRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if err := validRound(q.Round); err != nil {
		return nil, err
	}
	// Claim the round first: a round is summed once, even under
	// concurrent requests.
	st.mu.Lock()
	rs := st.rounds[q.Round]
	if rs != nil && rs.user == r.User().Name {
		delete(st.rounds, q.Round)
	}
	st.mu.Unlock()
	if rs == nil {
		return nil, fmt.Errorf("%w: no open secure-aggregation round %s on this worker (never shared, already summed, or aborted)", store.ErrNotFound, q.Round)
	}
	if rs.user != r.User().Name {
		return nil, workers.Deniedf("round %s belongs to user %q", q.Round, rs.user)
	}
	objStore := st.h.Store()
	// Every share must be there before any is used: never a partial sum.
	objs := make([]*store.Object, rs.n)
	for i := 0; i < rs.n; i++ {
		id := ShareID(q.Round, i, rs.index)
		o, err := objStore.Get(id)
		if err != nil {
			st.discard(q.Round, rs)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%w: round %s: the share of participant %d has not arrived; the round is discarded", store.ErrNotFound, q.Round, i)
			}
			return nil, err
		}
		objs[i] = o
	}
	acc := make([]uint64, rs.length)
	for i, o := range objs {
		sb, v, err := decodeShare(o.Blob, st.h.Limits())
		if err == nil && (sb.Round != q.Round || sb.From != i || sb.To != rs.index) {
			err = fmt.Errorf("share is for round %s from %d to %d", sb.Round, sb.From, sb.To)
		}
		if err == nil && string(sb.Digest) != string(rs.digest) {
			err = errors.New("share was made for another participant list, weights or precision")
		}
		if err == nil && (sb.Layout != rs.layout || len(v) != rs.length) {
			err = errors.New("share was made from a model of another architecture")
		}
		if err != nil {
			st.discard(q.Round, rs)
			return nil, workers.BadRequestf("round %s, share of participant %d: %v; the round is discarded", q.Round, i, err)
		}
		for k := range acc {
			acc[k] += v[k]
		}
	}
	st.discard(q.Round, rs)
	r.Note("round", q.Round, "elements", rs.length)
	return &SumReply{Sum: RingBytes(acc)}, nil
}

// discard deletes the shares a participant holds for a round.
func (st *flState) discard(round string, rs *flRound) {
	for _, id := range shareIDsTo(round, rs) {
		_ = st.h.Store().Delete(id)
	}
}

func shareIDsTo(round string, rs *flRound) []string {
	ids := make([]string, rs.n)
	for i := range ids {
		ids[i] = ShareID(round, i, rs.index)
	}
	return ids
}

func (st *flState) abort(_ context.Context, r *workers.Request) (any, error) {
	var q AbortRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if err := validRound(q.Round); err != nil {
		return nil, err
	}
	st.mu.Lock()
	rs := st.rounds[q.Round]
	if rs != nil && rs.user != r.User().Name && !r.User().Has(workers.PermAdmin) {
		st.mu.Unlock()
		return nil, workers.Deniedf("round %s belongs to user %q", q.Round, rs.user)
	}
	delete(st.rounds, q.Round)
	st.mu.Unlock()
	// Shares that arrived before this worker shared (or without it ever
	// sharing) are discarded too, by their ids; only the round's owner
	// or an admin can do that, since the objects are theirs.
	n := 0
	infos, err := st.h.Store().Search(TagShare)
	if err != nil {
		return nil, err
	}
	prefix := "sa-" + q.Round + "-"
	for _, in := range infos {
		if !strings.HasPrefix(in.ID, prefix) {
			continue
		}
		if in.Owner != r.User().Name && !r.User().Has(workers.PermAdmin) {
			continue
		}
		if st.h.Store().Delete(in.ID) == nil {
			n++
		}
	}
	r.Note("round", q.Round, "discarded", n)
	return &AbortReply{Discarded: n}, nil
}

// modelVector flattens a model's parameters and buffers, in Params order,
// and describes the layout (names and shapes).
func modelVector(m *nn.Model) ([]float64, []string, [][]int, error) {
	sd, err := m.StateDict()
	if err != nil {
		return nil, nil, nil, err
	}
	var v []float64
	var names []string
	var shapes [][]int
	for _, p := range m.Params() {
		t := sd[p.Name]
		v = append(v, t.Data()...)
		names = append(names, p.Name)
		shapes = append(shapes, slices.Clone(t.Shape()))
	}
	return v, names, shapes, nil
}
