//go:build !race

package syft_test

const raceDetector = false
