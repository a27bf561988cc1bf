//go:build race

package syft_test

// raceDetector shortens the long training tests under -race, which runs
// them about ten times slower: the code paths are the same.
const raceDetector = true
