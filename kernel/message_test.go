package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestSignerKnownAnswer(t *testing.T) {
	// HMAC-SHA256("key", "abc") computed independently (RFC 2104 construction).
	s := NewSigner([]byte("key"))
	got := string(s.Sign([]byte("a"), []byte("bc")))
	want := "9c196e32dc0175f86f4b1cb89289d6619de6bee699e4c378e68309ed97a1a6ab"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !s.Verify([]byte(want), []byte("abc")) {
		t.Fatal("Verify rejected a good signature")
	}
	if s.Verify([]byte(want[:len(want)-1]+"0"), []byte("abc")) {
		t.Fatal("Verify accepted a bad signature")
	}
	if got := NewSigner(nil).Sign([]byte("x")); len(got) != 0 {
		t.Fatalf("unsigned mode signed: %q", got)
	}
}

func TestWireRoundTrip(t *testing.T) {
	s := NewSigner([]byte("secret"))
	req, err := NewMessage("execute_request", "sess", map[string]any{"code": "1+1"})
	if err != nil {
		t.Fatal(err)
	}
	req.Identities = [][]byte{[]byte("client")}
	req.Buffers = [][]byte{{1, 2, 3}}
	frames, err := EncodeWire(req, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeWire(frames, s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header != req.Header || string(got.Content) != string(req.Content) ||
		!bytes.Equal(got.Identities[0], []byte("client")) || !bytes.Equal(got.Buffers[0], []byte{1, 2, 3}) || got.Parent != nil {
		t.Fatalf("round trip changed the message: %+v", got)
	}
	rep, err := NewReply(got, "execute_reply", "k", map[string]any{"status": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Parent == nil || rep.Parent.MsgID != req.Header.MsgID || !bytes.Equal(rep.Identities[0], []byte("client")) {
		t.Fatalf("reply not routed to its request: %+v", rep)
	}
}

func TestDecodeWireRejects(t *testing.T) {
	s := NewSigner([]byte("secret"))
	m, _ := NewMessage("kernel_info_request", "s", map[string]any{})
	good, _ := EncodeWire(m, s)
	tamper := func(i int, v string) [][]byte {
		f := append([][]byte(nil), good...)
		f[i] = []byte(v)
		return f
	}
	cases := []struct {
		name   string
		frames [][]byte
		bad    error
	}{
		{"no delimiter", [][]byte{[]byte("x"), []byte("y")}, nil},
		{"too few parts", good[:4], nil},
		{"bad signature", tamper(1, "00"), ErrBadSignature},
		{"unsigned", tamper(1, ""), ErrBadSignature},
		{"content changed", tamper(5, `{"x":1}`), ErrBadSignature},
	}
	for _, c := range cases {
		_, err := DecodeWire(c.frames, s)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
		}
		if c.bad != nil && !errors.Is(err, c.bad) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.bad)
		}
	}
	// Well signed but malformed JSON is an error, not a panic.
	for _, parts := range [][4]string{
		{"not json", "{}", "{}", "{}"},
		{`{"msg_type":""}`, "{}", "{}", "{}"},
		{`{"msg_type":"x"}`, "[1]", "{}", "{}"},
		{`{"msg_type":"x"}`, "{}", "3", "{}"},
		{`{"msg_type":"x"}`, "{}", "{}", "{"},
	} {
		f := [][]byte{delimiter, nil}
		for _, p := range parts {
			f = append(f, []byte(p))
		}
		f[1] = s.Sign(f[2], f[3], f[4], f[5])
		if _, err := DecodeWire(f, s); err == nil {
			t.Errorf("accepted malformed parts %q", parts)
		}
	}
}

func TestParseConnectionInfo(t *testing.T) {
	ci, err := ParseConnectionInfo([]byte(`{"ip":"127.0.0.1","transport":"tcp","shell_port":5,"key":"k","signature_scheme":"hmac-sha256"}`))
	if err != nil || ci.endpoint(ci.ShellPort) != "tcp://127.0.0.1:5" {
		t.Fatalf("got %+v, %v", ci, err)
	}
	for _, bad := range []string{`{`, `{"ip":"1.2.3.4","signature_scheme":"hmac-md5"}`, `{"transport":"tcp"}`, `{"ip":"x","transport":"udp"}`} {
		if _, err := ParseConnectionInfo([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestHistory(t *testing.T) {
	h := NewHistory(1)
	for i, code := range []string{"a := 1", "6*7", "b := 2", "6*7", "x\ny"} {
		h.Add(i+1, code, "")
	}
	if got := h.Tail(2); len(got) != 2 || got[0].Line != 4 || got[1].Input != "x\ny" {
		t.Errorf("Tail(2) = %+v", got)
	}
	if got := h.Range(0, 2, 3); len(got) != 1 || got[0].Line != 2 {
		t.Errorf("Range = %+v", got)
	}
	if got := h.Range(7, 1, 0); len(got) != 0 {
		t.Errorf("Range of another session = %+v", got)
	}
	if got := h.Search("6*", 0, false); len(got) != 2 {
		t.Errorf("Search = %+v", got)
	}
	if got := h.Search("6*", 0, true); len(got) != 1 || got[0].Line != 4 {
		t.Errorf("Search unique = %+v", got)
	}
	if got := h.Search("*", 3, false); len(got) != 3 || got[0].Line != 3 {
		t.Errorf("Search n = %+v", got)
	}
	if got := h.Search("x*y", 0, false); len(got) != 1 {
		t.Errorf("glob across newline = %+v", got)
	}
}

// FuzzDecodeWire checks that no input makes the wire decoder panic and that
// whatever it accepts re-encodes to a message it accepts again.
func FuzzDecodeWire(f *testing.F) {
	s := NewSigner([]byte("k"))
	m, _ := NewMessage("execute_request", "s", map[string]any{"code": "1"})
	m.Identities = [][]byte{[]byte("id")}
	good, _ := EncodeWire(m, s)
	f.Add(bytes.Join(good, []byte{0}), uint8(0))
	f.Add([]byte("<IDS|MSG>\x00\x00{}\x00{}\x00{}\x00{}"), uint8(1))
	f.Fuzz(func(t *testing.T, joined []byte, resign uint8) {
		frames := bytes.Split(joined, []byte{0})
		if resign%2 == 1 {
			for i, fr := range frames {
				if bytes.Equal(fr, delimiter) && len(frames) >= i+6 {
					frames[i+1] = s.Sign(frames[i+2], frames[i+3], frames[i+4], frames[i+5])
					break
				}
			}
		}
		msg, err := DecodeWire(frames, s)
		if err != nil {
			return
		}
		if !json.Valid(msg.Content) {
			t.Fatalf("accepted invalid content %q", msg.Content)
		}
		out, err := EncodeWire(msg, s)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeWire(out, s); err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
	})
}
