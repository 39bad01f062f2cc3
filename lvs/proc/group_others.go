//go:build !unix

package proc

import (
	"errors"
	"io/fs"
	"syscall"
)

// Without a file's owner Trusted refuses every program, so Run runs none:
// the rest is never reached.

func ownGroup() *syscall.SysProcAttr { return nil }

func killGroup(int) error { return errors.ErrUnsupported }

func owner(fs.FileInfo) (uint32, bool) { return 0, false }
