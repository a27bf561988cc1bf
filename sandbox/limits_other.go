//go:build !linux

package sandbox

import (
	"errors"
	"os/exec"
	"syscall"
)

// setRlimits is Linux-only; elsewhere the party runs with the stack and
// thread limits only.
func setRlimits(Limits) error {
	return errors.New("resource limits for party processes are implemented on Linux only")
}

func childSysProcAttr(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

func exitSignal(ps *exec.ExitError) (syscall.Signal, bool) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal(), true
	}
	return 0, false
}
