//go:build race

package repl

// raceEnabled is set when the tests run under the race detector.
const raceEnabled = true
