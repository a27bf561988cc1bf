// Package lograte keeps a flood of identical events from flooding a log:
// a Handler passes the first Burst records with the same level and
// message in each Interval and counts the rest; the first record let
// through afterwards carries how many were suppressed. A client that
// sends fifty thousand bad frames then costs a few lines, not megabytes.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Handler wraps another slog.Handler.
type Handler struct {
	next  slog.Handler
	st    *state
	burst int
	every time.Duration
	match func(slog.Level, string) bool
}

type state struct {
	mu   sync.Mutex
	keys map[key]*window
	now  func() time.Time
}

type key struct {
	level slog.Level
	msg   string
}

type window struct {
	start      time.Time
	n          int // records in this window
	suppressed int // records dropped and not yet reported
}

// maxKeys bounds the messages tracked; past it the oldest windows go.
const maxKeys = 4096

// New passes at most burst records per message every interval to next.
func New(next slog.Handler, burst int, interval time.Duration) *Handler {
	return &Handler{next: next, burst: max(burst, 1), every: interval,
		st: &state{keys: map[key]*window{}, now: time.Now}}
}

// Only limits just the records for which match (of their level and
// message) is true and passes the others through, so that an audit log
// keeps every record of what authenticated users did while the refusals
// a stranger can cause are limited. It returns h.
func (h *Handler) Only(match func(level slog.Level, msg string) bool) *Handler {
	h.match = match
	return h
}

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle passes r on unless its message was logged burst times already in
// this interval.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if h.match != nil && !h.match(r.Level, r.Message) {
		return h.next.Handle(ctx, r)
	}
	k := key{r.Level, r.Message}
	st := h.st
	st.mu.Lock()
	now := st.now()
	w := st.keys[k]
	if w == nil {
		if len(st.keys) >= maxKeys {
			for old, ow := range st.keys {
				if now.Sub(ow.start) >= h.every {
					delete(st.keys, old)
				}
			}
			if len(st.keys) >= maxKeys {
				st.keys = map[key]*window{}
			}
		}
		w = &window{start: now}
		st.keys[k] = w
	}
	if now.Sub(w.start) >= h.every {
		w.start, w.n = now, 0
	}
	w.n++
	if w.n > h.burst {
		w.suppressed++
		st.mu.Unlock()
		return nil
	}
	dropped := w.suppressed
	w.suppressed = 0
	st.mu.Unlock()
	if dropped > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed_before", dropped))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs and WithGroup keep sharing the rate state: the limit is per
// message, whatever the logger's attributes.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *Handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
