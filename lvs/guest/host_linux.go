package guest

import "syscall"

// linuxHost: the initramfs is made of this host's own Linux programs.
func linuxHost() error { return nil }

// dieWithParent has the kernel kill qemu when the test process dies. qemu
// has a process group of its own: a Ctrl-C at the terminal goes to the
// program that started it, which stops it through Run's context (make
// demo), not to qemu behind its back.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
