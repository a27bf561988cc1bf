// Package shout is a fixture (an older version, which must not be used).
package shout

// Loud is the old version.
func Loud(s string) string { return "old version" }
