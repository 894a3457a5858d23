package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel stop a dev up process when the test binary dies without its cleanup
// (a -timeout panic, a kill), so no cluster is left holding ports on a shared machine.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
