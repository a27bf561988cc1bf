// Package shout is a fixture module whose path has an upper-case letter.
package shout

import "strings"

// Loud upper-cases s and adds "!".
func Loud(s string) string { return strings.ToUpper(s) + "!" }
