//go:build !linux

package ipvs

import (
	"errors"
	"syscall"
)

// mmsgReader is Linux's; netlink sockets are not found elsewhere.
type mmsgReader struct{}

func (*mmsgReader) read(syscall.RawConn) ([][]byte, error) { return nil, errors.ErrUnsupported }
