package syft_test

import (
	"os"
	"testing"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox"
)

// envPartyChild makes the test binary an MPC party process, as
// `gomplab party` is for a real daemon.
const envPartyChild = "GOMPLAB_SYFT_TEST_PARTY"

func TestMain(m *testing.M) {
	mpc.RunChildIfRequested()
	if os.Getenv(envPartyChild) == "1" {
		os.Exit(sandbox.ServeChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// partyChild runs parties as this test binary.
func partyChild(t testing.TB) *sandbox.ChildOptions {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &sandbox.ChildOptions{Command: []string{exe}, Env: []string{envPartyChild + "=1"}}
}
