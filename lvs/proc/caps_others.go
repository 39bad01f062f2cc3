//go:build !linux

package proc

import "os/exec"

// start starts cmd. Capabilities are Linux's: elsewhere there are none to
// drop (and Trusted lets a program run only on a Unix).
func start(cmd *exec.Cmd) error { return cmd.Start() }
