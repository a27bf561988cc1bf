package sandbox

import (
	"os"
	"testing"
)

// envChild makes the test binary a party process (see childOpts).
const envChild = "GOMPLAB_SANDBOX_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(ServeChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// childOpts runs parties as this test binary.
func childOpts(t testing.TB) ChildOptions {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return ChildOptions{Command: []string{exe}, Env: []string{envChild + "=1"}}
}
