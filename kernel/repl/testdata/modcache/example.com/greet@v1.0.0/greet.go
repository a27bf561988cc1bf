// Package greet is a fixture: a third-party module in a test module cache,
// with an internal package and a dependency on another module.
package greet

import (
	"example.com/Shout"
	"example.com/greet/internal/words"
)

// Hello greets name loudly.
func Hello(name string) string { return shout.Loud(words.Hello + ", " + name) }
