//go:build !unix

package external

import "os/exec"

// ownProcessGroup is a no-op where process groups do not exist; WaitDelay still bounds the wait.
func ownProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the plugin process itself.
func killProcessGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
