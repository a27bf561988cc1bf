package kernel

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// ProtocolVersion is the Jupyter messaging protocol version the kernel
// speaks. Versions up to 5.1 forbid extra keys in messages, which would rule
// out fields that front ends rely on, so the kernel announces 5.3.
const ProtocolVersion = "5.3"

// delimiter separates the routing identities from the signed message parts.
var delimiter = []byte("<IDS|MSG>")

// Limits on what DecodeWire accepts, so that a hostile or broken peer cannot
// make the kernel hold arbitrarily many identities or buffers.
const (
	maxIdentities = 16
	maxBuffers    = 64
)

// Header is the header of a Jupyter message (and the type of its parent
// header, which echoes the header of the request being answered).
type Header struct {
	MsgID    string `json:"msg_id"`
	Username string `json:"username"`
	Session  string `json:"session"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is one Jupyter message as it travels between the kernel and a
// front end. Identities are the ROUTER routing prefixes (empty on iopub);
// Content is kept raw so each handler decodes only the type it expects.
type Message struct {
	Identities [][]byte
	Header     Header
	// Parent is the header of the request this message answers; nil for
	// messages that answer nothing (such as the "starting" status).
	Parent   *Header
	Metadata map[string]any
	Content  json.RawMessage
	Buffers  [][]byte
}

// Signer computes and checks the HMAC-SHA256 signatures of messages. An
// empty key disables signing: messages then carry an empty signature, as the
// protocol specifies.
type Signer struct {
	key  []byte
	pool sync.Pool
}

// NewSigner returns a Signer for key (the connection file's "key").
func NewSigner(key []byte) *Signer {
	s := &Signer{key: append([]byte(nil), key...)}
	s.pool.New = func() any { return hmac.New(sha256.New, s.key) }
	return s
}

// Sign returns the hex signature of the four signed parts in wire order
// (header, parent header, metadata, content).
func (s *Signer) Sign(parts ...[]byte) []byte {
	if len(s.key) == 0 {
		return []byte{}
	}
	mac := s.pool.Get().(hash.Hash)
	mac.Reset()
	for _, p := range parts {
		mac.Write(p)
	}
	sum := mac.Sum(nil)
	s.pool.Put(mac)
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum)
	return out
}

// Verify reports whether sig is the signature of parts. It compares in
// constant time, so a peer cannot learn the signature byte by byte.
func (s *Signer) Verify(sig []byte, parts ...[]byte) bool {
	if len(s.key) == 0 {
		return true
	}
	return hmac.Equal(sig, s.Sign(parts...))
}

// ErrBadSignature is returned by DecodeWire when a message is unsigned or its
// signature does not match; such messages are dropped.
var ErrBadSignature = errors.New("kernel: message signature does not match")

// DecodeWire parses the frames of one ZeroMQ multipart message into a
// Message, verifying its signature with s. It returns an error (never
// panics) for anything malformed: missing delimiter, too few parts, bad
// signature, or JSON that does not decode.
func DecodeWire(frames [][]byte, s *Signer) (*Message, error) {
	d := -1
	for i, f := range frames {
		if bytes.Equal(f, delimiter) {
			d = i
			break
		}
	}
	if d < 0 {
		return nil, errors.New("kernel: message has no <IDS|MSG> delimiter")
	}
	if d > maxIdentities {
		return nil, fmt.Errorf("kernel: message has %d routing identities (max %d)", d, maxIdentities)
	}
	rest := frames[d+1:]
	if len(rest) < 5 {
		return nil, fmt.Errorf("kernel: message has %d parts after the delimiter, need at least 5", len(rest))
	}
	if len(rest)-5 > maxBuffers {
		return nil, fmt.Errorf("kernel: message has %d buffers (max %d)", len(rest)-5, maxBuffers)
	}
	if !s.Verify(rest[0], rest[1], rest[2], rest[3], rest[4]) {
		return nil, ErrBadSignature
	}
	m := &Message{}
	for _, id := range frames[:d] {
		m.Identities = append(m.Identities, append([]byte(nil), id...))
	}
	if err := json.Unmarshal(rest[1], &m.Header); err != nil {
		return nil, fmt.Errorf("kernel: decode header: %w", err)
	}
	if m.Header.MsgType == "" {
		return nil, errors.New("kernel: message header has no msg_type")
	}
	if p := bytes.TrimSpace(rest[2]); len(p) > 0 && !bytes.Equal(p, []byte("{}")) {
		var ph Header
		if err := json.Unmarshal(p, &ph); err != nil {
			return nil, fmt.Errorf("kernel: decode parent header of %s: %w", m.Header.MsgType, err)
		}
		m.Parent = &ph
	}
	if err := json.Unmarshal(rest[3], &m.Metadata); err != nil {
		return nil, fmt.Errorf("kernel: decode metadata of %s: %w", m.Header.MsgType, err)
	}
	if !json.Valid(rest[4]) {
		return nil, fmt.Errorf("kernel: content of %s is not valid JSON", m.Header.MsgType)
	}
	m.Content = append(json.RawMessage(nil), rest[4]...)
	for _, b := range rest[5:] {
		m.Buffers = append(m.Buffers, append([]byte(nil), b...))
	}
	return m, nil
}

// EncodeWire returns the frames of m, signed with s.
func EncodeWire(m *Message, s *Signer) ([][]byte, error) {
	header, err := json.Marshal(m.Header)
	if err != nil {
		return nil, fmt.Errorf("kernel: encode header: %w", err)
	}
	parent := []byte("{}")
	if m.Parent != nil {
		if parent, err = json.Marshal(m.Parent); err != nil {
			return nil, fmt.Errorf("kernel: encode parent header: %w", err)
		}
	}
	meta := []byte("{}")
	if len(m.Metadata) > 0 {
		if meta, err = json.Marshal(m.Metadata); err != nil {
			return nil, fmt.Errorf("kernel: encode metadata of %s: %w", m.Header.MsgType, err)
		}
	}
	content := []byte(m.Content)
	if len(content) == 0 {
		content = []byte("{}")
	}
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, delimiter, s.Sign(header, parent, meta, content), header, parent, meta, content)
	frames = append(frames, m.Buffers...)
	return frames, nil
}

// newID returns a random message id (a UUID version 4 in text form).
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("kernel: read random bytes: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewReply returns a message of type msgType whose parent is req, routed to
// req's sender, with content encoded from content.
func NewReply(req *Message, msgType, session string, content any) (*Message, error) {
	m, err := NewMessage(msgType, session, content)
	if err != nil {
		return nil, err
	}
	if req != nil {
		ph := req.Header
		m.Parent = &ph
		m.Identities = req.Identities
	}
	return m, nil
}

// NewMessage returns a message of type msgType with no parent.
func NewMessage(msgType, session string, content any) (*Message, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("kernel: encode %s content: %w", msgType, err)
	}
	return &Message{
		Header: Header{
			MsgID:    newID(),
			Username: "kernel",
			Session:  session,
			Date:     time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
			MsgType:  msgType,
			Version:  ProtocolVersion,
		},
		Metadata: map[string]any{},
		Content:  raw,
	}, nil
}
