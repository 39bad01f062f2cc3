//go:build !linux

package check

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
)

// errSYNNeedsLinux is the syn check's answer off Linux.
var errSYNNeedsLinux = fmt.Errorf("the half-open check needs Linux (raw sockets with a socket filter), not %s: %w", runtime.GOOS, errors.ErrUnsupported)

func (h *HalfOpen) openSockets() error           { return errSYNNeedsLinux }
func (h *HalfOpen) closeSockets() error          { return nil }
func send(*net.IPConn, []byte, netip.Addr) error { return errSYNNeedsLinux }
