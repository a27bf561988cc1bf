package kernel

import (
	"path"
	"sync"
)

// HistoryEntry is one executed cell.
type HistoryEntry struct {
	Session int
	Line    int
	Input   string
	Output  string
}

// History records the cells of this kernel's session for history
// requests (tail, range and search), in memory.
type History struct {
	mu      sync.Mutex
	session int
	entries []HistoryEntry
}

// NewHistory returns an empty history for session number session.
func NewHistory(session int) *History { return &History{session: session} }

// Add records an executed cell under execution count line.
func (h *History) Add(line int, input, output string) {
	h.mu.Lock()
	h.entries = append(h.entries, HistoryEntry{Session: h.session, Line: line, Input: input, Output: output})
	h.mu.Unlock()
}

// Tail returns the last n entries (all when n <= 0).
func (h *History) Tail(n int) []HistoryEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n <= 0 || n > len(h.entries) {
		n = len(h.entries)
	}
	return append([]HistoryEntry(nil), h.entries[len(h.entries)-n:]...)
}

// Range returns entries of session with start <= line < stop (stop <= 0
// means no upper bound). Session 0 and negative sessions mean the current
// one, as in IPython, since this kernel keeps no earlier sessions.
func (h *History) Range(session, start, stop int) []HistoryEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if session > 0 && session != h.session {
		return nil
	}
	var out []HistoryEntry
	for _, e := range h.entries {
		if e.Line >= start && (stop <= 0 || e.Line < stop) {
			out = append(out, e)
		}
	}
	return out
}

// Search returns the entries whose input matches the glob pattern (as in
// path.Match, where * also matches newlines here), the last n if n > 0,
// keeping only the latest of identical inputs when unique is set.
func (h *History) Search(pattern string, n int, unique bool) []HistoryEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []HistoryEntry
	seen := map[string]bool{}
	for i := len(h.entries) - 1; i >= 0; i-- {
		e := h.entries[i]
		if !globMatch(pattern, e.Input) || unique && seen[e.Input] {
			continue
		}
		seen[e.Input] = true
		out = append(out, e)
		if n > 0 && len(out) == n {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// globMatch matches like IPython's history search: * and ? are wildcards
// that also match "/" and newlines; a bad pattern matches nothing.
func globMatch(pattern, s string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	// path.Match stops * at "/"; map "/" and newlines to a byte that
	// cannot appear in the pattern's literal parts.
	norm := func(x string) string {
		b := []byte(x)
		for i, c := range b {
			if c == '/' || c == '\n' {
				b[i] = 0
			}
		}
		return string(b)
	}
	ok, err := path.Match(norm(pattern), norm(s))
	return err == nil && ok
}
