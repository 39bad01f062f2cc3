package guest

import "syscall"

// linuxHost: the initramfs is made of this host's own Linux programs.
func linuxHost() error { return nil }

// dieWithParent has the kernel kill qemu when the test process dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
