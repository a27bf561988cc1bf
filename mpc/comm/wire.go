package comm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Wire format of the TCP mesh.
//
// Every message, data or control, travels as a frame: a 64-byte header (the
// payload length as 8 little-endian bytes, a frame kind byte, then 55 zero
// bytes), the payload, and zero padding to the next multiple of 64 bytes. Keeping
// every frame a multiple of 64 bytes keeps a large payload cache-line
// aligned in the kernel's socket buffers, where the sender's copy of a
// misaligned one costs about twice as much (measured on loopback; see
// docs/benchmarks/comm.md). Data frames (kind 0) carry Send's bytes
// untouched. Once the mesh is up, two more kinds may appear on a link: a
// heartbeat (kind 1, no payload), sent on a link that has been idle for a
// while so the peer can tell a quiet party from a frozen one, and an abort
// (kind 2), a party's last word before it gives up: the rank it blames
// (uint32, noRank when none) and a reason (a string as below).
//
// Control messages, exchanged only while the mesh is being set up, are
// data frames whose payload is
//
//	"GMPC" | version (1 byte) | kind (1 byte) | body
//
// with integers as little-endian uint32 and strings as a uint16 length and
// bytes. Bodies by kind:
//
//	hello:  from, to, size, ttp (1 byte), job, addr, proof
//	table:  count, then count strings (rank r's mesh address at index r), proof
//	ok:     proof
//	reject: reason
//	ready:  empty (a party's links are all up)
//	go:     empty (rank 0: every party's links are up)
//	fail:   blamed rank, reason (setup failed; as an abort frame's payload)
//
// A proof (a string of bytes) shows the sender belongs to the job: empty
// on plain links, a MAC over the TLS session with a per-job secret, or the
// sender's signed Credential (see auth.go).

const (
	frameHeaderLen = 64
	frameAlign     = 64
	wireVersion    = 4
	// maxControl bounds a control frame: tables of many parties fit easily.
	maxControl = 64 << 10
	// maxHello bounds the first frame an unauthenticated peer may send (a
	// hello with its credential), so a stranger cannot make a party
	// allocate more than this before it proves anything.
	maxHello = 8 << 10
	// maxProof bounds a proof (credentials are about a kilobyte).
	maxProof = 6 << 10
	// maxAbort bounds an abort frame's payload.
	maxAbort = 2 << 10
	// maxJobID and maxAddr bound the strings of a hello.
	maxJobID = 256
	maxAddr  = 256
	// maxParties bounds a world (and a table); MPC jobs have a handful.
	maxParties = 1 << 12
	// DefaultMaxMessage is the largest data frame accepted when
	// Config.MaxMessage is zero: 1 GiB, i.e. 128M ring elements.
	DefaultMaxMessage = 1 << 30
)

var wireMagic = [4]byte{'G', 'M', 'P', 'C'}

type ctrlKind byte

const (
	kindHello ctrlKind = iota + 1
	kindTable
	kindOK
	kindReject
	kindReady
	kindGo
	kindFail
)

func (k ctrlKind) String() string {
	switch k {
	case kindHello:
		return "hello"
	case kindTable:
		return "table"
	case kindOK:
		return "ok"
	case kindReject:
		return "reject"
	case kindReady:
		return "ready"
	case kindGo:
		return "go"
	case kindFail:
		return "fail"
	}
	return fmt.Sprintf("kind %d", byte(k))
}

// ctrlMsg is one decoded control message; fields unused by its kind are zero.
type ctrlMsg struct {
	Kind     ctrlKind
	From, To int
	Size     int // computing parties, TTP excluded
	TTP      bool
	Job      string
	Addr     string   // hello: the sender's mesh listening address, if any
	Addrs    []string // table
	Reason   string   // reject
	Proof    []byte   // hello, table, ok: the sender's membership proof
	Blame    int      // fail: the rank held responsible (-1 for none)
}

// Frame kinds (byte 8 of a frame header).
const (
	frameData      byte = 0
	frameHeartbeat byte = 1
	frameAbort     byte = 2
)

// noRank in an abort frame means the sender blames no particular party.
const noRank = 1<<32 - 1

// errBadFrame marks malformed input from the network.
var errBadFrame = errors.New("malformed message")

// frameLen decodes and bounds the header of a data frame.
func frameLen(hdr []byte, limit int64) (int64, error) {
	n, kind, err := frameHeader(hdr, limit)
	if err == nil && kind != frameData {
		err = fmt.Errorf("%w: frame of kind %d where a data frame belongs", errBadFrame, kind)
	}
	return n, err
}

// frameHeader decodes a frame header of any kind, bounding a data frame by
// limit and the others by what their kind allows.
func frameHeader(hdr []byte, limit int64) (n int64, kind byte, err error) {
	if len(hdr) < frameHeaderLen {
		return 0, 0, fmt.Errorf("%w: frame header of %d bytes", errBadFrame, len(hdr))
	}
	for _, b := range hdr[9:frameHeaderLen] {
		if b != 0 {
			return 0, 0, fmt.Errorf("%w: frame header with non-zero reserved bytes", errBadFrame)
		}
	}
	u := binary.LittleEndian.Uint64(hdr)
	kind = hdr[8]
	switch kind {
	case frameData:
	case frameHeartbeat:
		limit = 0
	case frameAbort:
		limit = maxAbort
	default:
		return 0, 0, fmt.Errorf("%w: unknown frame kind %d", errBadFrame, kind)
	}
	if u > uint64(limit) {
		return 0, 0, fmt.Errorf("%w: frame of %d bytes exceeds the limit of %d", errBadFrame, u, limit)
	}
	return int64(u), kind, nil
}

// putFrameHeader writes the header of a data frame of n payload bytes into
// hdr[:frameHeaderLen].
func putFrameHeader(hdr []byte, n int) { putFrameHeaderKind(hdr, n, frameData) }

// putFrameHeaderKind writes the header of a frame of the given kind.
func putFrameHeaderKind(hdr []byte, n int, kind byte) {
	binary.LittleEndian.PutUint64(hdr, uint64(n))
	clear(hdr[8:frameHeaderLen])
	hdr[8] = kind
}

// framePad is the padding that follows a payload of n bytes.
func framePad(n int64) int64 { return -n & (frameAlign - 1) }

// zeroPad is the padding's source.
var zeroPad [frameAlign]byte

// encode returns the control frame (header included) for m.
func (m *ctrlMsg) encode() []byte {
	b := make([]byte, frameHeaderLen, 64)
	b = append(b, wireMagic[:]...)
	b = append(b, wireVersion, byte(m.Kind))
	putU32 := func(x int) { b = binary.LittleEndian.AppendUint32(b, uint32(x)) }
	putStr := func(s string) {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	putProof := func() { putStr(string(m.Proof)) }
	switch m.Kind {
	case kindHello:
		putU32(m.From)
		putU32(m.To)
		putU32(m.Size)
		if m.TTP {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		putStr(m.Job)
		putStr(m.Addr)
		putProof()
	case kindTable:
		putU32(len(m.Addrs))
		for _, a := range m.Addrs {
			putStr(a)
		}
		putProof()
	case kindOK:
		putProof()
	case kindReject:
		r := m.Reason
		if len(r) > maxControl/2 {
			r = r[:maxControl/2]
		}
		putStr(r)
	case kindFail:
		b = append(b, abortMsg{Blame: m.Blame, Reason: m.Reason}.encode()...)
	}
	n := len(b) - frameHeaderLen
	putFrameHeader(b, n)
	return append(b, zeroPad[:framePad(int64(n))]...)
}

// wireReader decodes a control payload, remembering the first error.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{errBadFrame}, args...)...)
	}
}

func (r *wireReader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("truncated %s", what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *wireReader) u32(what string, max int) int {
	v := r.bytes(4, what)
	if v == nil {
		return 0
	}
	x := binary.LittleEndian.Uint32(v)
	if x > uint32(max) {
		r.fail("%s %d exceeds %d", what, x, max)
		return 0
	}
	return int(x)
}

func (r *wireReader) str(what string, max int) string {
	v := r.bytes(2, what)
	if v == nil {
		return ""
	}
	n := int(binary.LittleEndian.Uint16(v))
	if n > max {
		r.fail("%s of %d bytes exceeds %d", what, n, max)
		return ""
	}
	s := r.bytes(n, what)
	if s == nil {
		return ""
	}
	return string(s)
}

// proof reads a membership proof; an empty one decodes as nil.
func (r *wireReader) proof() []byte {
	s := r.str("proof", maxProof)
	if s == "" {
		return nil
	}
	return []byte(s)
}

// decodeCtrl parses a control payload (frame header removed). It never
// panics: every length is checked against what remains and its bound.
func decodeCtrl(p []byte) (ctrlMsg, error) {
	var m ctrlMsg
	r := wireReader{b: p}
	magic := r.bytes(4, "magic")
	if r.err == nil && string(magic) != string(wireMagic[:]) {
		return m, fmt.Errorf("%w: not a gomplab mesh peer (magic %q)", errBadFrame, magic)
	}
	ver := r.bytes(1, "version")
	if r.err == nil && ver[0] != wireVersion {
		return m, fmt.Errorf("%w: protocol version %d, this build speaks %d", errBadFrame, ver[0], wireVersion)
	}
	kind := r.bytes(1, "kind")
	if r.err != nil {
		return m, r.err
	}
	m.Kind = ctrlKind(kind[0])
	switch m.Kind {
	case kindHello:
		m.From = r.u32("rank", maxParties)
		m.To = r.u32("target rank", maxParties)
		m.Size = r.u32("world size", maxParties)
		if t := r.bytes(1, "ttp flag"); t != nil {
			if t[0] > 1 {
				r.fail("ttp flag %d", t[0])
			}
			m.TTP = t[0] == 1
		}
		m.Job = r.str("job id", maxJobID)
		m.Addr = r.str("address", maxAddr)
		m.Proof = r.proof()
	case kindTable:
		n := r.u32("table length", maxParties+1)
		for i := 0; i < n && r.err == nil; i++ {
			m.Addrs = append(m.Addrs, r.str("address", maxAddr))
		}
		m.Proof = r.proof()
	case kindOK:
		m.Proof = r.proof()
	case kindReject:
		m.Reason = r.str("reason", maxControl)
	case kindReady, kindGo:
	case kindFail:
		a, err := decodeAbort(r.b)
		if err != nil {
			return m, err
		}
		m.Blame, m.Reason, r.b = a.Blame, a.Reason, nil
	default:
		return m, fmt.Errorf("%w: unknown control message kind %d", errBadFrame, kind[0])
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes after %v", len(r.b), m.Kind)
	}
	return m, r.err
}

// readCtrl reads one control frame from r.
func readCtrl(r io.Reader) (ctrlMsg, error) { return readCtrlLimit(r, maxControl) }

// readCtrlLimit reads one control frame of at most limit payload bytes.
func readCtrlLimit(r io.Reader, limit int64) (ctrlMsg, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return ctrlMsg{}, err
	}
	n, err := frameLen(hdr[:], limit)
	if err != nil {
		return ctrlMsg{}, err
	}
	p := make([]byte, n+framePad(n))
	if _, err := io.ReadFull(r, p); err != nil {
		return ctrlMsg{}, err
	}
	return decodeCtrl(p[:n])
}

// world describes the job a party belongs to, for checking hellos.
type worldSpec struct {
	Size int
	TTP  bool
	Job  string
}

func (w worldSpec) parties() int {
	if w.TTP {
		return w.Size + 1
	}
	return w.Size
}

func (w worldSpec) String() string {
	if w.TTP {
		return fmt.Sprintf("%d parties + TTP", w.Size)
	}
	return fmt.Sprintf("%d parties", w.Size)
}

// checkHello validates a hello received by party `me`, which accepts ranks
// in [lo, hi). It returns a reason suitable for a reject message.
func (w worldSpec) checkHello(m ctrlMsg, me, lo, hi int) error {
	switch {
	case m.Kind != kindHello:
		return fmt.Errorf("expected hello, got %v", m.Kind)
	case m.Job != w.Job:
		return fmt.Errorf("job id %q does not match this job %q", m.Job, w.Job)
	case m.Size != w.Size || m.TTP != w.TTP:
		got := worldSpec{Size: m.Size, TTP: m.TTP}
		return fmt.Errorf("world of %v does not match this job's %v", got, w)
	case m.To != me:
		return fmt.Errorf("hello addressed to rank %d reached rank %d", m.To, me)
	case m.From < lo || m.From >= hi:
		return fmt.Errorf("rank %d may not connect to rank %d (expected ranks %d..%d)", m.From, me, lo, hi-1)
	}
	return nil
}

// rankList formats ranks for error messages, naming the TTP.
func rankList(ranks []int, size int) string {
	s := make([]string, len(ranks))
	for i, r := range ranks {
		if r == size {
			s[i] = fmt.Sprintf("%d (TTP)", r)
		} else {
			s[i] = fmt.Sprint(r)
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}
