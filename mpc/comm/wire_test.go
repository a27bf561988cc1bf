package comm

import (
	"bytes"
	"encoding/binary"
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestCtrlRoundTrip(t *testing.T) {
	msgs := []ctrlMsg{
		{Kind: kindHello, From: 3, To: 1, Size: 4, TTP: true, Job: "job-1", Addr: "10.0.0.2:41234"},
		{Kind: kindHello, From: 1, Size: 2, Job: "j", Proof: []byte("a credential")},
		{Kind: kindTable, Addrs: []string{"", "a:1"}, Proof: bytes.Repeat([]byte{7}, 32)},
		{Kind: kindOK, Proof: []byte{1}},
		{Kind: kindHello},
		{Kind: kindTable, Addrs: []string{"", "", "127.0.0.1:5000", "[::1]:6000"}},
		{Kind: kindTable},
		{Kind: kindOK},
		{Kind: kindReject, Reason: "rank 0 refused the link: job id mismatch"},
	}
	for _, m := range msgs {
		frame := m.encode()
		got, err := readCtrl(bytes.NewReader(frame))
		if err != nil {
			t.Fatalf("%v: %v", m.Kind, err)
		}
		if len(m.Addrs) == 0 {
			m.Addrs = nil
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip %+v -> %+v", m, got)
		}
	}
}

// rawHeader is a frame header announcing n payload bytes.
func rawHeader(n uint64) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), make([]byte, frameHeaderLen-8)...)
}

// rawFrame is p framed as the mesh frames it (header, payload, padding).
func rawFrame(p []byte) []byte {
	return append(append(rawHeader(uint64(len(p))), p...), make([]byte, framePad(int64(len(p))))...)
}

// payload returns the payload of an encoded control frame.
func payload(frame []byte) []byte {
	n := binary.LittleEndian.Uint64(frame)
	return frame[frameHeaderLen : frameHeaderLen+n]
}

// Frames are multiples of 64 bytes whatever the payload, and a header with
// non-zero reserved bytes is refused.
func TestFramePadding(t *testing.T) {
	for _, m := range []ctrlMsg{{Kind: kindOK}, {Kind: kindReject, Reason: strings.Repeat("x", 57)}, {Kind: kindHello, Job: "j"}} {
		if f := m.encode(); len(f)%frameAlign != 0 || len(f) < frameHeaderLen+len(payload(f)) {
			t.Errorf("%v: frame of %d bytes", m.Kind, len(f))
		}
	}
	h := rawHeader(5)
	h[9] = 1
	if _, err := frameLen(h, 100); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("non-zero reserved bytes: %v", err)
	}
}

func TestCtrlDecodeErrors(t *testing.T) {
	valid := payload((&ctrlMsg{Kind: kindHello, From: 1, Size: 2, Job: "j", Addr: "a"}).encode())
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	cases := []struct {
		name string
		p    []byte
		want string
	}{
		{"empty", nil, "truncated magic"},
		{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "not a gomplab mesh peer"},
		{"version", mutate(func(b []byte) []byte { b[4] = 9; return b }), "protocol version 9"},
		{"kind", mutate(func(b []byte) []byte { b[5] = 77; return b }), "unknown control message kind 77"},
		{"truncated", valid[:len(valid)-1], "truncated proof"},
		{"trailing", append(append([]byte(nil), valid...), 0), "1 trailing bytes after hello"},
		{"rank-range", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[6:], 1<<20); return b }), "rank 1048576 exceeds"},
		{"ttp-flag", mutate(func(b []byte) []byte { b[18] = 2; return b }), "ttp flag 2"},
		{"long-job", append(append(append([]byte(nil), valid[:19]...), 0xff, 0xff), make([]byte, 10)...), "job id of 65535 bytes exceeds 256"},
	}
	for _, tc := range cases {
		_, err := decodeCtrl(tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckHello(t *testing.T) {
	w := worldSpec{Size: 3, TTP: true, Job: "j"}
	ok := ctrlMsg{Kind: kindHello, From: 1, To: 2, Size: 3, TTP: true, Job: "j"}
	if err := w.checkHello(ok, 2, 1, 2); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		edit func(*ctrlMsg)
		want string
	}{
		{func(m *ctrlMsg) { m.Kind = kindOK }, "expected hello, got ok"},
		{func(m *ctrlMsg) { m.Job = "k" }, `job id "k" does not match this job "j"`},
		{func(m *ctrlMsg) { m.Size = 2 }, "world of 2 parties + TTP does not match this job's 3 parties + TTP"},
		{func(m *ctrlMsg) { m.TTP = false }, "world of 3 parties does not match"},
		{func(m *ctrlMsg) { m.To = 0 }, "addressed to rank 0 reached rank 2"},
		{func(m *ctrlMsg) { m.From = 3 }, "rank 3 may not connect to rank 2 (expected ranks 1..1)"},
	}
	for _, tc := range cases {
		m := ok
		tc.edit(&m)
		if err := w.checkHello(m, 2, 1, 2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
}

// FuzzDecodeCtrl feeds arbitrary control frames to the setup decoder: it
// must never panic, and whatever it accepts must re-encode to itself.
func FuzzDecodeCtrl(f *testing.F) {
	_, cred := credentialFor(f, testWorkerCerts()[0], "job", 1)
	credBytes, _ := cred.MarshalBinary()
	for _, m := range []ctrlMsg{
		{Kind: kindHello, From: 1, To: 2, Size: 3, TTP: true, Job: "job", Addr: "127.0.0.1:1"},
		{Kind: kindHello, From: 1, To: 0, Size: 3, Job: "job", Proof: credBytes},
		{Kind: kindTable, Addrs: []string{"", "a:1"}},
		{Kind: kindTable, Addrs: []string{"", "a:1"}, Proof: make([]byte, 32)},
		{Kind: kindOK, Proof: credBytes},
		{Kind: kindOK},
		{Kind: kindReject, Reason: "no"},
	} {
		f.Add(m.encode())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := readCtrl(bytes.NewReader(frame))
		if err != nil {
			return
		}
		if len(m.Reason) > maxControl/2 {
			return // encode truncates long reasons
		}
		again, err := readCtrl(bytes.NewReader(m.encode()))
		if err != nil {
			t.Fatalf("re-decode of %+v: %v", m, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("re-decode %+v != %+v", again, m)
		}
	})
}

// FuzzRecvFrames plays arbitrary bytes as a peer's data stream: Recv must
// return whole frames or an error naming the peer, never panic or hang.
func FuzzRecvFrames(f *testing.F) {
	frame := rawFrame
	f.Add(frame([]byte("hello")))
	f.Add(append(heartbeatFrame(), frame([]byte("after a heartbeat"))...))
	ab := abortMsg{Blame: 2, Reason: "stuck"}.encode()
	abHdr := make([]byte, frameHeaderLen)
	putFrameHeaderKind(abHdr, len(ab), frameAbort)
	f.Add(append(append(abHdr, ab...), zeroPad[:framePad(int64(len(ab)))]...))
	f.Add(append(frame(nil), frame([]byte{1, 2, 3})...))
	f.Add(rawHeader(1 << 40))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, stream []byte) {
		a, b := net.Pipe()
		c := newTCPComm(0, worldSpec{Size: 2}, []*peerConn{nil, newPeerConn(a)}, linkOptions{maxMsg: 1 << 16})
		defer c.Close()
		go func() {
			b.Write(stream)
			b.Close()
		}()
		var got int
		for {
			m, err := c.Recv(1)
			if err != nil {
				if _, ok := Blame(err); !ok || !strings.Contains(err.Error(), "party 1") {
					t.Fatalf("error does not name the peer: %v", err)
				}
				break
			}
			got += frameHeaderLen + len(m) + int(framePad(int64(len(m))))
		}
		if got > len(stream) {
			t.Fatalf("decoded %d bytes from a %d-byte stream", got, len(stream))
		}
	})
}
