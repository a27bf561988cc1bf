// Package race tells whether the binary was built with the race detector,
// so tests that train or classify thousands of images (minutes under the
// detector's tenfold slowdown) can skip there: the concurrent code they
// drive has race-checked tests of its own.
package race
