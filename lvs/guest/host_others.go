//go:build !linux

package guest

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
)

// linuxHost fails off Linux: the initramfs is made of the host's own
// busybox, ip and ipvsadm, and the modules of a Debian kernel package.
func linuxHost() error {
	return fmt.Errorf("guest: the guest is built from this host's Linux programs: it needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func dieWithParent() *syscall.SysProcAttr { return nil }
