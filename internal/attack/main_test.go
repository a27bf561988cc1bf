package attack

import (
	"os"
	"testing"
)

// TestMain stops the daemons the attacks share (Shared) once every test
// has run.
func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}
