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
