package display

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"strings"
	"sync"
	"time"
)

// progressInterval is the least time between two updates of a progress
// bar, so a tight loop calling Add does not flood the front end.
const progressInterval = 100 * time.Millisecond

// Progress is a progress bar shown under the running cell and updated in
// place (through a display id). It is safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	id       string
	label    string
	total    int
	n        int
	start    time.Time
	lastSent time.Time
	done     bool
}

// NewProgress shows a progress bar for total steps and returns it. Publish
// errors (outside the kernel) are ignored: a progress bar is a side show.
func NewProgress(label string, total int) *Progress {
	var b [8]byte
	_, _ = rand.Read(b[:])
	p := &Progress{id: "progress-" + hex.EncodeToString(b[:]), label: label, total: total, start: time.Now()}
	p.lastSent = p.start
	_ = DisplayWithID(p.id, p.render())
	return p
}

// ID returns the display id of the bar.
func (p *Progress) ID() string { return p.id }

// Add advances the bar by n steps.
func (p *Progress) Add(n int) {
	p.mu.Lock()
	p.n += n
	p.maybeSendLocked(false)
	p.mu.Unlock()
}

// Set moves the bar to step n.
func (p *Progress) Set(n int) {
	p.mu.Lock()
	p.n = n
	p.maybeSendLocked(false)
	p.mu.Unlock()
}

// Done marks the bar complete and shows the final state.
func (p *Progress) Done() {
	p.mu.Lock()
	if p.total > 0 && p.n < p.total {
		p.n = p.total
	}
	p.done = true
	p.maybeSendLocked(true)
	p.mu.Unlock()
}

func (p *Progress) maybeSendLocked(force bool) {
	now := time.Now()
	if !force && now.Sub(p.lastSent) < progressInterval && p.n != p.total {
		return
	}
	p.lastSent = now
	_ = Update(p.id, p.render())
}

// render returns the bar as HTML plus a text form for consoles.
func (p *Progress) render() Data {
	frac := 0.0
	if p.total > 0 {
		frac = min(1, max(0, float64(p.n)/float64(p.total)))
	}
	elapsed := time.Since(p.start).Round(100 * time.Millisecond)
	status := fmt.Sprintf("%d/%d (%.0f%%) %s", p.n, p.total, 100*frac, elapsed)
	if p.done {
		status += " done"
	} else if p.n > 0 && p.total > 0 {
		eta := time.Duration(float64(time.Since(p.start)) * (1 - frac) / frac).Round(time.Second)
		status += fmt.Sprintf(", about %s left", eta)
	}
	const width = 30
	filled := int(frac * width)
	text := fmt.Sprintf("%s [%s%s] %s", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), status)
	h := fmt.Sprintf(`<div><span>%s</span> <progress value="%d" max="%d" style="width:20em"></progress> <span>%s</span></div>`,
		html.EscapeString(p.label), p.n, max(p.total, 1), html.EscapeString(status))
	return Data{Data: MIMEMap{MIMEHTML: h, MIMEText: text}}
}
