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

func (h *HalfOpen) openSockets() error  { return errSYNNeedsLinux }
func (h *HalfOpen) closeSockets() error { return nil }

func (h *HalfOpen) route(netip.Addr) (netip.Addr, error) { return netip.Addr{}, errSYNNeedsLinux }

// sendBatch has nothing to send with off Linux.
type sendBatch struct{}

func (*sendBatch) send(*net.IPConn, []pending) (int, error) { return 0, errSYNNeedsLinux }
