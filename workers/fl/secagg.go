package fl

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/store"
)

// Secure aggregation, the participants' side.
//
// Round R over participants P_0..P_{n-1}: the orchestrator sends each
// P_i a share request naming the same participant list (with, for each
// P_j, its certificate's fingerprint and a one-use grant, given to P_i
// alone, to send P_j its mask). P_i weighs its model by its own weight
// (1, or the samples it recorded training it: never a weight the client
// chose), encodes the parameters, the round's mean loss if asked, and the
// weight in fixed point into Z_2^64, draws n-1 uniformly random masks r_j
// with crypto/rand, keeps v - sum r_j as its own share, in memory, and
// sends r_j to P_j directly (fl.mask, worker to worker over TLS, where
// P_j authenticates P_i by its certificate). With each mask P_i attests
// whether its model was trained on data the round's user may not read,
// under which approved training (its plan id). Then each P_j, asked for
// the sum, checks it holds exactly one mask from every participant, each
// from the worker listed and for the same list, weighting and layout,
// and, when its own model is one the user may not read, that the round
// has enough contributors: workers of the federation its owner approved,
// proven by their links, that trained on data the user may not read under
// the same approved configuration (itself included; at least
// Options.MinContributors). Only then does it return its own share plus
// the masks: any n-1 of the sums are uniformly random; all n add up to
// sum_i w_i v_i and sum_i w_i.
//
// A participant refuses a round with fewer than two participants, with
// itself listed other than once, a worker or certificate listed twice,
// weights chosen by the client, a model the user may not read that was
// not trained here in an approved round (a copy, an average) or that was
// already aggregated, and participants outside the approved federation;
// it sums a round only once, for the user who opened it, and only when
// every mask is there: no request can make it return a lone share or a
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
			// The value itself stays out of the error: it may be a
			// parameter of a model trained on private data.
			return nil, fmt.Errorf("element %d cannot be encoded in 64-bit fixed point with %d fractional bits (|x| must be below 2^%d, and finite)", i, fracBits, 62-fracBits)
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

// flRound is a participant's record of a round it shared in: its own
// share stays here, in memory, until the sum.
type flRound struct {
	user    string
	index   int
	n       int
	digest  []byte
	layout  string
	length  int
	created time.Time
	own     []uint64
	parts   []Participant
	// model is the object shared; restricted says the user may not read
	// it, and then plan (the attestation contributors must share: the
	// approved training and the starting model), fed and minContrib are
	// what the approval and this worker's configuration require.
	model      string
	restricted bool
	plan       string
	fed        []approvals.Party
	minContrib int
}

// mask is a mask another participant sent, with what the link proved
// about the sender.
type mask struct {
	from int
	peer workers.Peer
	plan string
	q    *MaskRequest
	data []uint64
}

// maskSet are the masks a participant received for one round of one user.
type maskSet struct {
	created time.Time
	byFrom  map[int]*mask
}

const (
	maxRounds     = 256
	roundLifetime = time.Hour
	maxRoundID    = 32
	maxShareElems = 1 << 27
	maxExtraElems = 1 << 20
	maxPeers      = 1000
)

func roundKey(user, round string) string { return user + "\x00" + round }

// roundDigest binds a round's setup: every participant must have been
// given the same list, weighting and precision, or their shares do not
// add.
func roundDigest(q *ShareRequest, wt string) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "gomplab secagg v2\x00%s\x00%d\x00%s\x00%t\x00%d\x00", q.Round, q.FracBits, wt, q.Loss, len(q.Participants))
	for _, p := range q.Participants {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", p.Worker, p.Target.Addr, p.Target.Fingerprint)
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

// inFederation reports whether participant p, as listed, is a worker of
// the approved federation: the same id and, when the list names a
// certificate, the same fingerprint.
func inFederation(p Participant, fed []approvals.Party) bool {
	for _, f := range fed {
		if f.Worker == p.Worker && (p.Target.Fingerprint == "" || p.Target.Fingerprint == f.Fingerprint) {
			return true
		}
	}
	return false
}

// provenBy reports whether the link to a sender proved it is participant
// p: its certificate is the one the list names (TLS), or it is that
// worker on an in-process link (virtual workers).
func provenBy(peer workers.Peer, p Participant) bool {
	switch {
	case peer.Unverified:
		return false
	case peer.Fingerprint != "":
		return p.Target.Fingerprint == peer.Fingerprint
	case peer.Worker != "":
		return peer.Worker == p.Worker
	}
	return false
}

// approvedPeer reports whether the link to a sender proved it is a worker
// of the approved federation.
func approvedPeer(peer workers.Peer, p Participant, fed []approvals.Party) bool {
	for _, f := range fed {
		if f.Worker != p.Worker {
			continue
		}
		switch {
		case peer.Unverified:
			return false
		case peer.Fingerprint != "":
			return peer.Fingerprint == f.Fingerprint
		case peer.Worker != "":
			return peer.Worker == f.Worker
		}
	}
	return false
}

func (st *Service) share(ctx context.Context, r *workers.Request) (any, error) {
	var q ShareRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if len(q.Weights) > 0 {
		return nil, workers.Deniedf("secure aggregation: weights chosen by the client are refused (they could single out one model); " +
			"each worker weighs its own model: Weighting \"equal\", or \"samples\" (the samples it trained on in the round)")
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
	seen, seenFP := map[string]bool{}, map[string]string{}
	for _, p := range q.Participants {
		if seen[p.Worker] {
			return nil, workers.BadRequestf("worker %s is listed twice among the participants", p.Worker)
		}
		seen[p.Worker] = true
		if fp := p.Target.Fingerprint; fp != "" {
			if other, dup := seenFP[fp]; dup {
				return nil, workers.BadRequestf("workers %s and %s are listed with the same certificate (%s): one worker cannot take part twice", other, p.Worker, fp)
			}
			seenFP[fp] = p.Worker
		}
	}
	if q.FracBits == 0 {
		q.FracBits = DefaultFracBits
	}
	if q.FracBits < minFracBits || q.FracBits > maxFracBits {
		return nil, workers.BadRequestf("fixed point with %d fractional bits (want %d to %d)", q.FracBits, minFracBits, maxFracBits)
	}
	wt, err := weighting(q.Weighting)
	if err != nil {
		return nil, err
	}
	mo, err := st.modelObj(r, q.Model)
	if err != nil {
		return nil, err
	}
	user := r.User()
	rec := st.record(mo, user.Name)
	restricted := workers.CanRead(user, mo) != nil
	minContrib := st.minContributors()
	if restricted {
		// A model the requester may not read leaves only as the share of
		// an aggregate of an approved training, once.
		switch {
		case rec == nil || rec.request == "":
			return nil, workers.Deniedf("model %s is computed from data user %q may not read and was not trained on worker %s in an approved round: "+
				"only a model trained by fl.train under its owners' approval is aggregated", mo.ID, user.Name, st.h.WorkerID())
		case rec.round != "" || rec.summed:
			return nil, workers.Deniedf("model %s was already shared for secure aggregation; each round's model is aggregated once (train a new round)", mo.ID)
		case wt != rec.weighting:
			return nil, workers.Deniedf("model %s was trained under request %s, approved with weighting %q, not %q", mo.ID, rec.request, rec.weighting, wt)
		}
		var outside []string
		for _, p := range q.Participants {
			if !inFederation(p, rec.fed) {
				outside = append(outside, p.Worker)
			}
		}
		if len(outside) > 0 {
			return nil, workers.Deniedf("participants %s are not in the federation request %s was approved for on worker %s (%s): its owner did not accept them as fellow contributors",
				strings.Join(outside, ", "), rec.request, st.h.WorkerID(), partyNames(rec.fed))
		}
		if n < minContrib {
			return nil, workers.Deniedf("a round of %d participants cannot reach the %d contributors worker %s requires for a model trained on data user %q may not read",
				n, minContrib, st.h.WorkerID(), user.Name)
		}
	}
	weight := 1.0
	if wt == WeightSamples {
		if rec == nil || rec.samples == 0 {
			return nil, workers.BadRequestf("model %s was not trained on worker %s in this round, so it has no sample count to be weighed by (use weighting %q)", mo.ID, st.h.WorkerID(), WeightEqual)
		}
		weight = float64(rec.samples)
	}
	if q.Loss && (rec == nil || rec.steps == 0) {
		return nil, workers.BadRequestf("model %s was not trained on worker %s in this round: it has no loss to aggregate", mo.ID, st.h.WorkerID())
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
	if q.Loss {
		vec = append(vec, rec.lossSum/float64(rec.steps))
		names = append(names, NameLoss)
		shapes = append(shapes, []int{})
		fmt.Fprintf(layout, "\x00loss")
	}
	var extraIDs []string
	for _, id := range q.Extras {
		o, err := st.tensorObj(r, id, "extra")
		if err != nil {
			return nil, err
		}
		if err := workers.CanRead(user, o); err != nil {
			return nil, fmt.Errorf("extra: %w; only tensors you may read are aggregated as extras (the round's loss: Loss)", err)
		}
		if o.Tensor.Size() > maxExtraElems {
			return nil, workers.BadRequestf("extra %s has %d elements, at most %d", id, o.Tensor.Size(), maxExtraElems)
		}
		vec = append(vec, o.Tensor.Data()...)
		names = append(names, ExtraPrefix+id)
		shapes = append(shapes, o.Tensor.Shape())
		fmt.Fprintf(layout, "\x00extra%v", o.Tensor.Shape())
		extraIDs = append(extraIDs, id)
	}
	for i := range vec {
		vec[i] *= weight
	}
	vec = append(vec, weight)
	names = append(names, NameWeight)
	shapes = append(shapes, []int{})
	fmt.Fprintf(layout, "\x00weight")
	lay := hex.EncodeToString(layout.Sum(nil))
	enc, err := EncodeFixed(vec, q.FracBits)
	if err != nil {
		return nil, workers.BadRequestf("model %s: %v", mo.ID, err)
	}
	digest := roundDigest(&q, wt)
	rs := &flRound{user: user.Name, index: q.Index, n: n, digest: digest, layout: lay, length: len(enc), created: time.Now(),
		parts: q.Participants, model: mo.ID, restricted: restricted, minContrib: minContrib}
	attest := ""
	if restricted {
		// The attestation: the approved training and the model the round
		// started from, which every contributor must share.
		attest = rec.plan + "/" + rec.start
		rs.plan, rs.fed = attest, rec.fed
	}

	key := roundKey(user.Name, q.Round)
	st.mu.Lock()
	st.expireRounds()
	if _, dup := st.rounds[key]; dup {
		st.mu.Unlock()
		return nil, workers.BadRequestf("round %s was already shared on this worker", q.Round)
	}
	if len(st.rounds) >= maxRounds {
		st.mu.Unlock()
		return nil, fmt.Errorf("%w: %d secure-aggregation rounds open on this worker; finish or abort some", workers.ErrTooLarge, len(st.rounds))
	}
	if restricted {
		cur := st.trained[mo.ID]
		if cur == nil || cur.created != mo.Created || cur.round != "" || cur.summed {
			st.mu.Unlock()
			return nil, workers.Deniedf("model %s was already shared for secure aggregation; each round's model is aggregated once", mo.ID)
		}
		cur.round = q.Round
	}
	st.rounds[key] = rs
	st.mu.Unlock()

	// Own share: v minus every peer's random mask.
	own := enc
	rnd := make([]byte, 8*len(enc))
	for j, p := range q.Participants {
		if j == q.Index {
			continue
		}
		if _, err := rand.Read(rnd); err != nil {
			st.dropRound(key, rs)
			return nil, fmt.Errorf("%w: randomness: %v", workers.ErrInternal, err)
		}
		mk, _ := RingFromBytes(rnd)
		for k := range own {
			own[k] -= mk[k]
		}
		mq := &MaskRequest{Round: q.Round, From: q.Index, To: j, Digest: digest, Layout: lay, Plan: attest, Data: rnd}
		if err := st.sendMask(ctx, r, p, mq); err != nil {
			st.dropRound(key, rs)
			return nil, err
		}
	}
	st.mu.Lock()
	rs.own = own
	st.mu.Unlock()
	r.Touch(append([]string{mo.ID}, extraIDs...)...)
	r.Note("round", q.Round, "participants", n, "elements", len(enc))
	return &ShareReply{Length: len(enc), Layout: lay, Spec: spec, Names: names, Shapes: shapes}, nil
}

// sendMask sends a mask to a peer through the grant it issued for it.
// The error names the peer: it is the one that did not take it.
func (st *Service) sendMask(ctx context.Context, r *workers.Request, p Participant, q *MaskRequest) error {
	t := p.Target
	if t.Worker != p.Worker || t.Addr == "" || len(t.Grants) == 0 {
		return workers.BadRequestf("participant %s: needs an address and a grant", p.Worker)
	}
	c, err := st.h.Dial(ctx, &t, r, false)
	if err != nil {
		return fmt.Errorf("send mask to participant %s: %w", p.Worker, err)
	}
	defer c.Close()
	if err := c.Call(ctx, MsgMask, q, nil); err != nil {
		return fmt.Errorf("%w: send mask to participant %s: %v", workers.ErrPeer, p.Worker, err)
	}
	return nil
}

// mask takes another participant's mask: only from a worker holding a
// grant this round's user issued for exactly this mask, and it keeps
// what the link proved about the sender.
func (st *Service) mask(_ context.Context, r *workers.Request) (any, error) {
	if !r.Session.ViaGrant() {
		return nil, workers.Deniedf("%s is sent by a participating worker under a grant, not by a user", r.Type)
	}
	var q MaskRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	if err := validRound(q.Round); err != nil {
		return nil, err
	}
	if q.From < 0 || q.To < 0 || q.From >= maxPeers || q.To >= maxPeers || q.From == q.To {
		return nil, workers.BadRequestf("mask from participant %d to %d", q.From, q.To)
	}
	if !r.Session.GrantAllows(store.GrantPut, ShareID(q.Round, q.From, q.To)) {
		return nil, workers.Deniedf("no grant for the mask of participant %d to %d in round %s", q.From, q.To, q.Round)
	}
	if len(q.Digest) != sha256.Size || len(q.Data)/8 > maxShareElems || len(q.Plan) > 128 || len(q.Layout) > 128 {
		return nil, workers.BadRequestf("malformed mask")
	}
	data, err := RingFromBytes(q.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: mask: %v", workers.ErrBadRequest, err)
	}
	key := roundKey(r.User().Name, q.Round)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expireRounds()
	ms := st.masks[key]
	if ms == nil {
		if len(st.masks) >= maxRounds {
			return nil, fmt.Errorf("%w: masks of %d secure-aggregation rounds held on this worker", workers.ErrTooLarge, len(st.masks))
		}
		ms = &maskSet{created: time.Now(), byFrom: map[int]*mask{}}
		st.masks[key] = ms
	}
	if _, dup := ms.byFrom[q.From]; dup {
		return nil, workers.BadRequestf("round %s: participant %d's mask arrived twice", q.Round, q.From)
	}
	ms.byFrom[q.From] = &mask{from: q.From, peer: r.Session.Peer(), plan: q.Plan, q: &MaskRequest{Round: q.Round, From: q.From, To: q.To,
		Digest: q.Digest, Layout: q.Layout, Plan: q.Plan}, data: data}
	r.Note("round", q.Round, "from", q.From)
	return struct{}{}, nil
}

// ShareID names the mask participant from sends participant to in round
// (what the receiver's one-use grant allows).
func ShareID(round string, from, to int) string {
	return "sa-" + round + "-" + strconv.Itoa(from) + "-" + strconv.Itoa(to)
}

// dropRound forgets a round that failed before its sum: the model may be
// shared again.
func (st *Service) dropRound(key string, rs *flRound) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.forget(key, rs, false)
}

// forget removes a round and its masks; st.mu is held. summed says this
// worker returned its sum, which spends the model.
func (st *Service) forget(key string, rs *flRound, summed bool) {
	delete(st.rounds, key)
	delete(st.masks, key)
	if rs == nil || !rs.restricted {
		return
	}
	if cur := st.trained[rs.model]; cur != nil && cur.round != "" && roundKey(cur.user, cur.round) == key {
		if summed {
			cur.summed = true
		} else {
			cur.round = ""
		}
	}
}

// expireRounds forgets rounds and masks left too long; st.mu is held.
func (st *Service) expireRounds() {
	for k, rs := range st.rounds {
		if time.Since(rs.created) > roundLifetime {
			st.forget(k, rs, false)
		}
	}
	for k, ms := range st.masks {
		if time.Since(ms.created) > roundLifetime {
			delete(st.masks, k)
		}
	}
}

func (st *Service) sum(_ context.Context, r *workers.Request) (any, error) {
	var q SumRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if err := validRound(q.Round); err != nil {
		return nil, err
	}
	key := roundKey(r.User().Name, q.Round)
	// Claim the round: a round is summed once, even under concurrent
	// requests, and only by the user who opened it.
	st.mu.Lock()
	rs := st.rounds[key]
	var ms *maskSet
	if rs != nil {
		if rs.own == nil {
			st.mu.Unlock()
			return nil, workers.BadRequestf("round %s is still being shared on this worker", q.Round)
		}
		ms = st.masks[key]
		delete(st.rounds, key)
		delete(st.masks, key)
	}
	st.mu.Unlock()
	if rs == nil {
		return nil, fmt.Errorf("%w: no open secure-aggregation round %s of user %q on this worker (never shared, already summed, or aborted)", store.ErrNotFound, q.Round, r.User().Name)
	}
	discard := func(err error) (any, error) {
		st.mu.Lock()
		st.forget(key, rs, false)
		st.mu.Unlock()
		return nil, err
	}
	// Every mask must be there, from the worker listed, before any is
	// used: never a partial sum.
	acc := slices.Clone(rs.own)
	contributors := []string{}
	if rs.restricted {
		contributors = append(contributors, rs.parts[rs.index].Worker)
	}
	var notCounted []string
	for i := 0; i < rs.n; i++ {
		if i == rs.index {
			continue
		}
		p := rs.parts[i]
		var m *mask
		if ms != nil {
			m = ms.byFrom[i]
		}
		if m == nil {
			return discard(fmt.Errorf("%w: round %s: the mask of participant %d (%s) has not arrived; the round is discarded", store.ErrNotFound, q.Round, i, p.Worker))
		}
		if !m.peer.Unverified && !provenBy(m.peer, p) {
			return discard(workers.Deniedf("round %s: participant %d is listed as worker %s (%s), but its mask came from %s; the round is discarded",
				q.Round, i, p.Worker, orNone(p.Target.Fingerprint), m.peer))
		}
		switch {
		case m.q.To != rs.index:
			return discard(workers.BadRequestf("round %s: participant %d's mask is for participant %d; the round is discarded", q.Round, i, m.q.To))
		case string(m.q.Digest) != string(rs.digest):
			return discard(workers.BadRequestf("round %s: participant %d's mask was made for another participant list, weighting or precision; the round is discarded", q.Round, i))
		case m.q.Layout != rs.layout || len(m.data) != rs.length:
			return discard(workers.BadRequestf("round %s: participant %d's mask was made from a model of another architecture (or other extras); the round is discarded", q.Round, i))
		}
		if rs.restricted {
			switch {
			case m.plan == "":
				notCounted = append(notCounted, p.Worker+" (did not train on data the user may not read in an approved round)")
			case m.plan != rs.plan:
				notCounted = append(notCounted, p.Worker+" (trained under another configuration, or from another starting model)")
			case !approvedPeer(m.peer, p, rs.fed):
				notCounted = append(notCounted, p.Worker+" (its link did not prove it is the approved worker)")
			default:
				contributors = append(contributors, p.Worker)
			}
		}
		for k := range acc {
			acc[k] += m.data[k]
		}
	}
	if rs.restricted && len(contributors) < rs.minContrib {
		msg := fmt.Sprintf("worker %s: round %s has %d contributor(s) whose data user %q may not read, from distinct approved workers (%s); this worker's owner requires at least %d (gomplab worker --fl-min-contributors)",
			st.h.WorkerID(), q.Round, len(contributors), r.User().Name, strings.Join(contributors, ", "), rs.minContrib)
		if len(notCounted) > 0 {
			msg += "; not counted: " + strings.Join(notCounted, ", ")
		}
		return discard(workers.Deniedf("%s; the round is discarded and nothing was returned", msg))
	}
	st.mu.Lock()
	st.forget(key, rs, true)
	st.mu.Unlock()
	r.Touch(rs.model)
	r.Note("round", q.Round, "elements", rs.length, "contributors", len(contributors))
	return &SumReply{Sum: RingBytes(acc)}, nil
}

func orNone(s string) string {
	if s == "" {
		return "no certificate named"
	}
	return s
}

func (st *Service) abort(_ context.Context, r *workers.Request) (any, error) {
	var q AbortRequest
	if err := decodeFL(r, &q); err != nil {
		return nil, err
	}
	if err := validRound(q.Round); err != nil {
		return nil, err
	}
	admin := r.User().Has(workers.PermAdmin)
	n := 0
	mine := func(k string) bool {
		return k == roundKey(r.User().Name, q.Round) || admin && strings.HasSuffix(k, "\x00"+q.Round)
	}
	st.mu.Lock()
	for k, ms := range st.masks {
		if mine(k) {
			n += len(ms.byFrom)
			delete(st.masks, k)
		}
	}
	for k, rs := range st.rounds {
		if mine(k) {
			st.forget(k, rs, false)
			n++
		}
	}
	st.mu.Unlock()
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
