//go:build !linux

package syft

import "os/exec"

// tieToParent is a no-op where the kernel cannot signal a child when its
// parent dies; call LocalDaemon.Stop.
func tieToParent(cmd *exec.Cmd) {}
