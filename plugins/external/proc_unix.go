//go:build unix

package external

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the plugin as the leader of a new process group, so killProcessGroup
// reaches every process it spawns.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup SIGKILLs the plugin's whole group (negative pid), children included.
func killProcessGroup(cmd *exec.Cmd) error {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
