package sandbox

import (
	"fmt"
	"os/exec"
	"syscall"
)

// setRlimits applies the kernel-enforced limits to this process.
func setRlimits(l Limits) error {
	set := func(name string, res int, cur, max uint64) error {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: cur, Max: max}); err != nil {
			return fmt.Errorf("set %s to %d: %w", name, cur, err)
		}
		return nil
	}
	cpu := uint64(l.CPU.Seconds() + 0.999)
	if err := set("RLIMIT_CPU", syscall.RLIMIT_CPU, cpu, cpu+1); err != nil {
		return err
	}
	if err := set("RLIMIT_NOFILE", syscall.RLIMIT_NOFILE, uint64(l.Files), uint64(l.Files)); err != nil {
		return err
	}
	// Last: the other calls must not need memory the limit denies.
	return set("RLIMIT_AS", syscall.RLIMIT_AS, uint64(l.AddressSpace), uint64(l.AddressSpace))
}

// childSysProcAttr puts the party in its own process group (so a kill
// reaches anything it started) and kills it if the worker dies.
func childSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to the party's process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
	}
}

// exitSignal returns the signal that ended the process, if any.
func exitSignal(ps *exec.ExitError) (syscall.Signal, bool) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal(), true
	}
	return 0, false
}
