package provider

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/mpc/internal/ring"
)

// The trusted third party deals ahead of the requests, so that its
// corrections cost no round: correlated randomness flows in channels, one
// per elementwise kind (and truncation divisor) and one per matrix or
// convolution shape. In a channel every party expands each part from a
// stream of its own (seeded by the dealer, named by the channel and the
// part), unit after unit, whatever the sizes of the requests that consume
// them: a unit is an element (a word for and, carry and fan; a word of 64
// bits and their 64 elements for dabit and bitmul, 64 elements for cmp;
// one whole request for matmul and conv). The dealer replays the streams and pushes rank 0's derived parts
// of the next units, up to a target that rank 0 keeps ahead of its use
// (twice the largest request seen, at least a starting window), so they
// are on the wire while the parties compute (a window that turns out too
// short, data asked for in time arriving late, doubles). Rank 0 counts a
// round only
// when a request outruns the target (the first large request of a kind,
// the first of a shape): the dealer must then be told before it can
// answer, as with a request. Preprocess raises targets ahead of time
// without counting rounds, for a worker that knows its workload.

// chanDesc describes a channel: its name (which seeds the parties'
// streams), the request of one unit, and how many elements each part has
// per unit.
type chanDesc struct {
	name string
	tmpl Request // the request of one unit (shaped kinds: the shape)
	per  []int   // elements per unit of each part (random, then derived)
	elem bool    // units are elements (or words): any request size
}

// startAhead is the window of an elementwise channel before any request
// (in elements: see startUnits), maxAhead the widest it grows, and shapedAhead the requests of
// a shape dealt ahead of use.
const (
	startAhead  = 1 << 13
	maxAhead    = 1 << 24
	shapedAhead = 2
	// pushElems bounds the elements of one data message.
	pushElems = 1 << 16
)

// fixedChannels are the elementwise channels every party and the dealer
// open at the start, with these ids.
var fixedChannels = []Kind{Mul, Square, And, DaBit, BitMul, Cmp, Carry}

// describe returns r's channel and its size in units.
func describe(r Request) (chanDesc, int) {
	rnd, der, _ := r.layout()
	all := append(rnd, der...)
	d := chanDesc{per: make([]int, len(all)), elem: true}
	units := r.N
	switch r.Kind {
	case MatMul:
		d.name = fmt.Sprintf("matmul %dx%dx%dx%d", r.Batch, r.M, r.K, r.Cols)
		d.elem, units = false, 1
		for i, p := range all {
			d.per[i] = p.n
		}
		d.tmpl = Request{Kind: MatMul, Batch: r.Batch, M: r.M, K: r.K, Cols: r.Cols}
		return d, units
	case Conv:
		d.name = fmt.Sprintf("conv %+v", r.Conv)
		d.elem, units = false, 1
		for i, p := range all {
			d.per[i] = p.n
		}
		d.tmpl = Request{Kind: Conv, Conv: r.Conv}
		return d, units
	case DaBit, BitMul:
		units = words(r.N)
		for i, p := range all {
			d.per[i] = 64
			if p.binary {
				d.per[i] = 1
			}
		}
		d.name = r.Kind.String()
		d.tmpl = Request{Kind: r.Kind, N: 64}
		return d, units
	case Cmp:
		// A unit is 64 elements: 64 of R, 64 bit planes, 16 digits'
		// products.
		units = words(r.N)
		d.per = []int{64, 64, DigitProducts * 16}
		d.name = r.Kind.String()
		d.tmpl = Request{Kind: Cmp, N: 64}
		return d, units
	case Carry:
		// A unit is a word: its masks and their products.
		d.per = []int{CarryVars, CarryProducts}
		d.name = r.Kind.String()
		d.tmpl = Request{Kind: Carry, N: 1}
		return d, units
	case Fan:
		d.per = []int{r.K, FanProducts(r.K)}
		d.name = fmt.Sprintf("fan %d", r.K)
		d.tmpl = Request{Kind: Fan, N: 1, K: r.K}
		return d, units
	case Trunc:
		d.name = fmt.Sprintf("trunc %d", r.Div)
		d.tmpl = Request{Kind: Trunc, N: 1, Div: r.Div}
	default:
		d.name = r.Kind.String()
		d.tmpl = Request{Kind: r.Kind, N: 1}
	}
	for i := range all {
		d.per[i] = 1
	}
	return d, units
}

// startUnits is a fixed channel's starting window in units: startAhead
// elements (a dabit, bitmul or cmp unit holds 64; the carry words of
// startAhead comparisons are 5/64 of them).
func startUnits(d chanDesc) int {
	switch d.tmpl.Kind {
	case Cmp:
		return startAhead / 64
	case Carry:
		return startAhead * 5 / 64
	}
	return startAhead / d.per[len(d.per)-1]
}

// unitRequest is the request of u units of a channel.
func (d chanDesc) unitRequest(u int) Request {
	r := d.tmpl
	if d.elem {
		r.N = u * d.tmpl.N
	}
	return r
}

// partStream is a party's stream of one part of a channel.
func partStream(seed Seed, name string, part int) *PRG {
	return NewPRG(seed.Derive(fmt.Sprintf("ttp %s part %d", name, part)))
}

// TrustedThirdParty is a computing party's end of a dealer running as a
// separate process (ServeTrustedThirdParty). Each party expands its
// random parts (and, on ranks above 0, its derived parts) from streams of
// a seed the dealer sent it; rank 0's derived parts arrive from the dealer
// ahead of use (see the comment above).
type TrustedThirdParty struct {
	c       comm.Comm
	rank    int
	seed    Seed
	byName  map[string]*ttpChan
	streams map[string][]*PRG
	// Rank 0: channels by id, the receiving goroutine's failure.
	mu     sync.Mutex
	chans  []*ttpChan
	closed bool
	recvWG sync.WaitGroup
}

// ttpChan is rank 0's state of one channel.
type ttpChan struct {
	id       int
	desc     chanDesc
	derived  int // number of derived parts
	assigned int // units handed to requests
	target   int // units the dealer has been asked to send
	ahead    int
	// Received derived parts (guarded by the provider's mu): buf[i] holds
	// part i from unit base on.
	base, have int
	buf        [][]uint64
	pending    map[int]int // start unit → count of requests not yet waited
	cond       *sync.Cond
	err        error
}

// NewTrustedThirdParty connects this party to the dealer at rank c.Size()
// and receives its seed.
func NewTrustedThirdParty(c comm.Comm) (*TrustedThirdParty, error) {
	m, err := c.Recv(c.Size())
	if err != nil {
		return nil, fmt.Errorf("provider: seed from the trusted third party: %w", err)
	}
	if len(m) != SeedSize {
		return nil, fmt.Errorf("provider: seed from the trusted third party has %d bytes, want %d", len(m), SeedSize)
	}
	t := &TrustedThirdParty{c: c, rank: c.Rank(), byName: map[string]*ttpChan{}, streams: map[string][]*PRG{}}
	copy(t.seed[:], m)
	if t.rank == 0 {
		for _, k := range fixedChannels {
			d, _ := describe(Request{Kind: k, N: 1})
			ch := t.newChan(d)
			ch.target, ch.ahead = startUnits(d), startUnits(d)
		}
		t.recvWG.Add(1)
		go t.receive()
	}
	return t, nil
}

// newChan registers a channel of rank 0 (the caller holds no lock).
func (t *TrustedThirdParty) newChan(d chanDesc) *ttpChan {
	_, der, _ := d.unitRequest(1).layout()
	ch := &ttpChan{id: len(t.chans), desc: d, derived: len(der), buf: make([][]uint64, len(der)),
		pending: map[int]int{}, ahead: shapedAhead}
	ch.cond = sync.NewCond(&t.mu)
	t.mu.Lock()
	t.chans = append(t.chans, ch)
	t.mu.Unlock()
	t.byName[d.name] = ch
	return ch
}

// streamsOf returns this party's streams of a channel's parts.
func (t *TrustedThirdParty) streamsOf(d chanDesc) []*PRG {
	gs := t.streams[d.name]
	if gs == nil {
		for i := range d.per {
			gs = append(gs, partStream(t.seed, d.name, i))
		}
		t.streams[d.name] = gs
	}
	return gs
}

// Get implements Provider.
func (t *TrustedThirdParty) Get(r Request) *Shares {
	rnd, der, err := r.layout()
	if err != nil {
		panic(err)
	}
	d, units := describe(r)
	gs := t.streamsOf(d)
	s := &Shares{}
	nparts := len(rnd)
	if t.rank != 0 {
		nparts += len(der)
	}
	all := append(rnd, der...)
	for i := 0; i < nparts; i++ {
		g := gs[i]
		start := g.pos
		if r.lazy() && i < len(rnd) {
			s.Parts = append(s.Parts, nil)
			s.srcs = append(s.srcs, g)
			s.from = append(s.from, start)
		} else {
			v := getBuf(all[i].n)
			g.Fill(v)
			s.Parts = append(s.Parts, v)
			if r.lazy() {
				s.srcs = append(s.srcs, nil)
				s.from = append(s.from, 0)
			}
		}
		g.seek(start + uint64(units*d.per[i]))
	}
	if t.rank != 0 {
		return s
	}
	s.Parts = append(s.Parts, make([][]uint64, len(der))...)
	ch := t.byName[d.name]
	var msgs [][]byte
	if ch == nil {
		ch = t.newChan(d)
		msgs = append(msgs, encodeOpen(ch.id, d.tmpl))
	}
	t.mu.Lock()
	start, end := ch.assigned, ch.assigned+units
	ch.assigned = end
	ch.pending[start]++
	t.mu.Unlock()
	t.mu.Lock()
	if d.elem {
		ch.ahead = max(ch.ahead, 2*units)
	}
	ahead := ch.ahead
	t.mu.Unlock()
	switch {
	case end > ch.target:
		// The dealer cannot have dealt this yet: asking costs a round.
		t.c.Stats().Round()
		ch.target = end + ahead
		msgs = append(msgs, encodeTarget(ch.id, ch.target))
	case end+ahead/2 > ch.target:
		ch.target = end + ahead
		msgs = append(msgs, encodeTarget(ch.id, ch.target))
	}
	for _, m := range msgs {
		if err := t.c.Send(t.c.Size(), m); err != nil {
			s.err, s.done = fmt.Errorf("provider: message to the trusted third party: %w", err), true
			s.Parts = append(s.Parts[:len(rnd)], zeros(der)...)
			return s
		}
	}
	s.wait = func() error { return t.collect(ch, start, end, s.Parts[len(rnd):], der) }
	return s
}

// collect waits for units [start, end) of a channel and copies rank 0's
// derived parts out.
func (t *TrustedThirdParty) collect(ch *ttpChan, start, end int, out [][]uint64, der []part) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch.have < end && ch.err == nil && ch.desc.elem {
		// The dealer had been asked in time but the data is not here: the
		// window is shorter than what the parties use in a round trip to
		// the dealer. Widen it (bounded), so later requests find their
		// data waiting.
		ch.ahead = min(2*ch.ahead, maxAhead)
	}
	for ch.have < end && ch.err == nil {
		ch.cond.Wait()
	}
	if ch.have < end {
		return fmt.Errorf("provider: trusted third party: %w", ch.err)
	}
	for i, p := range der {
		per := ch.desc.per[len(ch.desc.per)-len(der)+i]
		lo := (start - ch.base) * per
		v := getBuf(p.n)
		copy(v, ch.buf[i][lo:lo+p.n])
		out[i] = v
	}
	if ch.pending[start]--; ch.pending[start] == 0 {
		delete(ch.pending, start)
	}
	// Drop what every outstanding request has passed.
	low := min(ch.have, ch.assigned)
	for st := range ch.pending {
		low = min(low, st)
	}
	if low > ch.base {
		for i := range ch.buf {
			per := ch.desc.per[len(ch.desc.per)-len(der)+i]
			ch.buf[i] = append(ch.buf[i][:0], ch.buf[i][(low-ch.base)*per:]...)
		}
		ch.base = low
	}
	return nil
}

// receive is rank 0's reader of the dealer's pushes.
func (t *TrustedThirdParty) receive() {
	defer t.recvWG.Done()
	fail := func(err error) {
		t.mu.Lock()
		for _, ch := range t.chans {
			if ch.err == nil {
				ch.err = err
			}
			ch.cond.Broadcast()
		}
		t.mu.Unlock()
	}
	for {
		m, err := t.c.Recv(t.c.Size())
		if err != nil {
			if t.isClosed() {
				err = errors.New("provider closed")
			}
			fail(err)
			return
		}
		t.mu.Lock()
		nch := len(t.chans)
		t.mu.Unlock()
		id, from, units, data, err := decodeData(m, nch)
		if err != nil {
			fail(err)
			return
		}
		t.mu.Lock()
		ch := t.chans[id]
		if from != ch.have {
			t.mu.Unlock()
			fail(fmt.Errorf("data for channel %d from unit %d, expected %d", id, from, ch.have))
			return
		}
		want := 0
		pers := ch.desc.per[len(ch.desc.per)-ch.derived:]
		for _, per := range pers {
			want += units * per
		}
		if len(data) != want {
			t.mu.Unlock()
			fail(fmt.Errorf("data for channel %d has %d words, want %d", id, len(data), want))
			return
		}
		for i, per := range pers {
			ch.buf[i] = append(ch.buf[i], data[:units*per]...)
			data = data[units*per:]
		}
		ch.have += units
		ch.cond.Broadcast()
		t.mu.Unlock()
	}
}

func (t *TrustedThirdParty) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Preprocess asks the dealer to deal reqs ahead of their use (rank 0; on
// the other ranks it does nothing): no round is counted, the data is on
// its way when the requests come.
func (t *TrustedThirdParty) Preprocess(reqs ...Request) error {
	if t.rank != 0 {
		return nil
	}
	for _, r := range reqs {
		if _, _, err := r.layout(); err != nil {
			return err
		}
		d, units := describe(r)
		ch := t.byName[d.name]
		if ch == nil {
			ch = t.newChan(d)
			if err := t.c.Send(t.c.Size(), encodeOpen(ch.id, d.tmpl)); err != nil {
				return err
			}
		}
		ch.target = max(ch.target, ch.assigned) + units
		if err := t.c.Send(t.c.Size(), encodeTarget(ch.id, ch.target)); err != nil {
			return err
		}
	}
	return nil
}

// Close tells the dealer that rank 0 is done (the other ranks have nothing
// to say).
func (t *TrustedThirdParty) Close() error {
	if t.rank != 0 {
		return nil
	}
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	if err := t.c.Send(t.c.Size(), []byte{tagClose}); err != nil {
		return err
	}
	return comm.Flush(t.c, t.c.Size())
}

func encodeOpen(id int, r Request) []byte {
	b := []byte{tagOpen}
	b = binary.LittleEndian.AppendUint32(b, uint32(id))
	return append(b, encodeRequest(r)...)
}

func encodeTarget(id, target int) []byte {
	b := []byte{tagTarget}
	b = binary.LittleEndian.AppendUint32(b, uint32(id))
	return binary.LittleEndian.AppendUint64(b, uint64(target))
}

// maxUnits bounds a target or a data message's units.
const maxUnits = 1 << 40

// decodeControl parses a message from rank 0 to the dealer: an open
// (with its request), a target, or a close. nch is the number of channels
// open so far (an open must carry the next id).
func decodeControl(m []byte, nch int) (tag byte, id int, r Request, target int, err error) {
	if len(m) == 0 {
		return 0, 0, Request{}, 0, errors.New("provider: empty message from party 0")
	}
	switch m[0] {
	case tagClose:
		if len(m) != 1 {
			break
		}
		return tagClose, 0, Request{}, 0, nil
	case tagOpen:
		if len(m) < 5 {
			break
		}
		id = int(binary.LittleEndian.Uint32(m[1:]))
		if id != nch {
			return 0, 0, Request{}, 0, fmt.Errorf("provider: channel %d opened, expected %d", id, nch)
		}
		r, err = decodeRequest(m[5:])
		if err == nil && r.Kind != MatMul && r.Kind != Conv && r.Kind != Trunc && r.Kind != Fan {
			err = fmt.Errorf("provider: channel of kind %s cannot be opened", r.Kind)
		}
		return tagOpen, id, r, 0, err
	case tagTarget:
		if len(m) != 13 {
			break
		}
		id = int(binary.LittleEndian.Uint32(m[1:]))
		target = int(binary.LittleEndian.Uint64(m[5:]) & (1<<62 - 1))
		if id >= nch || target > maxUnits {
			return 0, 0, Request{}, 0, fmt.Errorf("provider: target %d for channel %d of %d", target, id, nch)
		}
		return tagTarget, id, Request{}, target, nil
	}
	return 0, 0, Request{}, 0, fmt.Errorf("provider: malformed message of %d bytes from party 0", len(m))
}

// decodeData parses a dealer's push: channel id, first unit, units, words.
func decodeData(m []byte, nch int) (id, from, units int, data []uint64, err error) {
	if len(m) < 21 || m[0] != tagData || (len(m)-21)%8 != 0 {
		return 0, 0, 0, nil, fmt.Errorf("provider: malformed push of %d bytes from the dealer", len(m))
	}
	id = int(binary.LittleEndian.Uint32(m[1:]))
	f, u := binary.LittleEndian.Uint64(m[5:]), binary.LittleEndian.Uint64(m[13:])
	if id >= nch || f > maxUnits || u > maxUnits {
		return 0, 0, 0, nil, fmt.Errorf("provider: push for channel %d of %d, units %d+%d", id, nch, f, u)
	}
	data = make([]uint64, (len(m)-21)/8)
	for i := range data {
		data[i] = binary.LittleEndian.Uint64(m[21+8*i:])
	}
	return id, int(f), int(u), data, nil
}

// dealerChan is the dealer's state of one channel.
type dealerChan struct {
	desc   chanDesc
	sent   int      // units pushed
	target int      // units to push
	gs     [][]*PRG // per party, per part
}

// ServeTrustedThirdParty runs the dealer on c (rank c.Size()): it sends
// every party its seed, then pushes rank 0's derived parts of every
// channel up to the targets rank 0 sets, until rank 0 closes. It returns
// nil after a close, or the error that ended it.
func ServeTrustedThirdParty(c comm.Comm) error {
	n := c.Size()
	if c.Rank() != n {
		return fmt.Errorf("provider: the trusted third party must be rank %d, not %d", n, c.Rank())
	}
	seeds := make([]Seed, n)
	for i := range seeds {
		seeds[i] = NewSeed()
		if err := c.Send(i, seeds[i][:]); err != nil {
			return fmt.Errorf("provider: sending party %d its seed: %w", i, err)
		}
	}
	var chans []*dealerChan
	open := func(d chanDesc) *dealerChan {
		dc := &dealerChan{desc: d}
		for i := range seeds {
			var gs []*PRG
			for p := range d.per {
				gs = append(gs, partStream(seeds[i], d.name, p))
			}
			dc.gs = append(dc.gs, gs)
		}
		chans = append(chans, dc)
		return dc
	}
	for _, k := range fixedChannels {
		d, _ := describe(Request{Kind: k, N: 1})
		open(d).target = startUnits(d)
	}
	// Rank 0's messages arrive on their own goroutine, so the dealer can
	// push while it waits for them.
	type ctl struct {
		m   []byte
		err error
	}
	in := make(chan ctl, 64)
	go func() {
		for {
			m, err := c.Recv(0)
			in <- ctl{m, err}
			if err != nil {
				return
			}
		}
	}()
	handle := func(x ctl) (done bool, err error) {
		if x.err != nil {
			if errors.Is(x.err, comm.ErrClosed) || errors.Is(x.err, comm.ErrPeerClosed) {
				return true, nil
			}
			return true, fmt.Errorf("provider: trusted third party: %w", x.err)
		}
		tag, id, r, target, err := decodeControl(x.m, len(chans))
		if err != nil {
			return true, err
		}
		switch tag {
		case tagClose:
			return true, nil
		case tagOpen:
			d, _ := describe(r)
			open(d)
		case tagTarget:
			chans[id].target = max(chans[id].target, target)
		}
		return false, nil
	}
	for {
		// Take every waiting message, then push one chunk of the channel
		// furthest behind; block only when every target is met.
		var next *dealerChan
		for _, dc := range chans {
			if dc.sent < dc.target && (next == nil || dc.sent-dc.target < next.sent-next.target) {
				next = dc
			}
		}
		var x ctl
		if next == nil {
			x = <-in
		} else {
			select {
			case x = <-in:
			default:
				if err := push(c, next, chanID(chans, next)); err != nil {
					if errors.Is(err, comm.ErrPeerClosed) || errors.Is(err, comm.ErrClosed) {
						// Rank 0 is gone (done, or failed: it reports
						// that itself); what was pushed ahead is moot.
						return nil
					}
					return err
				}
				continue
			}
		}
		if done, err := handle(x); done {
			return err
		}
	}
}

func chanID(chans []*dealerChan, dc *dealerChan) int {
	for i, x := range chans {
		if x == dc {
			return i
		}
	}
	return -1
}

// push deals the next units of a channel and sends rank 0's derived
// parts.
func push(c comm.Comm, dc *dealerChan, id int) error {
	d := dc.desc
	units := dc.target - dc.sent
	if d.elem {
		per := 0
		for _, p := range d.per {
			per += p
		}
		units = min(units, max(1, pushElems/per))
	} else {
		units = 1
	}
	r := d.unitRequest(units)
	rnd, der, _ := r.layout()
	all := make([][][]uint64, len(dc.gs))
	others := make([][][]uint64, 0, len(dc.gs)-1)
	for i, gs := range dc.gs {
		for p := range rnd {
			v := getBuf(rnd[p].n)
			gs[p].Fill(v)
			all[i] = append(all[i], v)
		}
		if i > 0 {
			var ds [][]uint64
			for p := range der {
				v := getBuf(der[p].n)
				gs[len(rnd)+p].Fill(v)
				ds = append(ds, v)
			}
			others = append(others, ds)
		}
	}
	full := derive(r, all)
	msg := []byte{tagData}
	msg = binary.LittleEndian.AppendUint32(msg, uint32(id))
	msg = binary.LittleEndian.AppendUint64(msg, uint64(dc.sent))
	msg = binary.LittleEndian.AppendUint64(msg, uint64(units))
	for i, p := range der {
		for _, o := range others {
			if p.binary {
				ring.XorTo(full[i], o[i])
			} else {
				ring.SubFrom(full[i], o[i])
			}
		}
		for _, v := range full[i] {
			msg = binary.LittleEndian.AppendUint64(msg, v)
		}
	}
	release(all)
	release(others)
	release([][][]uint64{full})
	dc.sent += units
	if err := c.Send(0, msg); err != nil {
		return fmt.Errorf("provider: push to party 0: %w", err)
	}
	return nil
}
