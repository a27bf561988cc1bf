package provider

import (
	"fmt"
	"io"
)

// Printing: seeds, streams and shares of correlated randomness are masks
// of secrets, so printing one shows only what it is, never its words, for
// every verb (%#v included) and on the value as on the pointer (fmt
// reflects into unexported fields otherwise).

// Format writes "provider.Seed(hidden)": a seed is a secret.
func (s Seed) Format(f fmt.State, _ rune) { io.WriteString(f, s.GoString()) }

// GoString hides the seed too.
func (Seed) GoString() string { return "provider.Seed(hidden)" }

// Format writes the stream's position only, never its key or buffered
// output.
func (g PRG) Format(f fmt.State, _ rune) { io.WriteString(f, g.GoString()) }

// GoString is what Format writes.
func (g PRG) GoString() string { return fmt.Sprintf("provider.PRG(at %d)", g.pos) }

// Format writes the number and sizes of the parts, never their words.
func (s Shares) Format(f fmt.State, _ rune) { io.WriteString(f, s.GoString()) }

// GoString is what Format writes.
func (s Shares) GoString() string {
	sizes := make([]int, len(s.Parts))
	for i, p := range s.Parts {
		sizes[i] = len(p)
	}
	return fmt.Sprintf("provider.Shares(parts of %v words)", sizes)
}
