// Package iopub is the bridge between code running in a notebook cell and
// the kernel's iopub channel. Package display sends through it; the kernel's
// interpreter process installs the sender. It is internal so that cells,
// which can import only what the interpreter's symbol tables list, cannot
// replace the sender.
package iopub

import (
	"errors"
	"sync"
)

// Output is one rich-output message for the front end.
type Output struct {
	// Kind is "display_data", "update_display_data" or "clear_output".
	Kind      string
	Data      map[string]any
	Metadata  map[string]any
	Transient map[string]any
	// Wait is clear_output's flag: clear when the next output arrives.
	Wait bool
}

var (
	mu     sync.RWMutex
	sender func(Output) error
)

// ErrNoKernel is returned when display functions are called outside a
// running kernel (for example in a plain Go program or a test).
var ErrNoKernel = errors.New("display: not running inside the gomplab Jupyter kernel")

// SetSender installs the function that delivers outputs to the front end.
// A nil sender disconnects.
func SetSender(f func(Output) error) {
	mu.Lock()
	sender = f
	mu.Unlock()
}

// Send delivers o, or returns ErrNoKernel when no sender is installed.
func Send(o Output) error {
	mu.RLock()
	f := sender
	mu.RUnlock()
	if f == nil {
		return ErrNoKernel
	}
	return f(o)
}
