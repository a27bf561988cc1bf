package syft

import (
	"os/exec"
	"syscall"
)

// tieToParent makes the kernel send the daemon SIGTERM when this process
// dies, so a notebook kernel that is killed or restarted does not leave its
// workers running.
func tieToParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
