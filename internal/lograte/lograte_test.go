package lograte

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestFloodLimited(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil), 3, time.Second)
	now := time.Unix(1000, 0)
	h.st.now = func() time.Time { return now }
	log := slog.New(h).With("worker", "w")
	for i := range 50000 {
		log.Warn("bad frame", "remote", "10.0.0.9:1234", "i", i)
		if i%10000 == 0 {
			log.Info("another message")
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3+3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	now = now.Add(2 * time.Second)
	buf.Reset()
	log.Warn("bad frame", "i", "after")
	if !strings.Contains(buf.String(), "suppressed_before=49997") || !strings.Contains(buf.String(), "worker=w") {
		t.Errorf("summary line %q", buf.String())
	}
}

func TestManyKeysBounded(t *testing.T) {
	h := New(slog.NewTextHandler(&bytes.Buffer{}, nil), 1, time.Minute)
	log := slog.New(h)
	for i := range 3 * maxKeys {
		log.Info(strings.Repeat("m", i%50) + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := len(h.st.keys); n > maxKeys {
		t.Errorf("%d keys tracked", n)
	}
}

func TestOnlyMatching(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil), 2, time.Minute).Only(func(l slog.Level, msg string) bool {
		return l == slog.LevelWarn && msg == "refused"
	})
	log := slog.New(h)
	for range 100 {
		log.Warn("refused", "why", "auth failed")
		log.Info("request", "outcome", "ok")
	}
	if n := strings.Count(buf.String(), "msg=refused"); n != 2 {
		t.Errorf("%d refused records, want 2", n)
	}
	if n := strings.Count(buf.String(), "msg=request"); n != 100 {
		t.Errorf("%d request records, want all 100", n)
	}
}
