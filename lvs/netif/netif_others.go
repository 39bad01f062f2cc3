//go:build !linux

package netif

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
)

// errNeedsLinux is what everything here answers off Linux.
var errNeedsLinux = fmt.Errorf("netif: floating addresses need Linux (rtnetlink), not %s: %w", runtime.GOOS, errors.ErrUnsupported)

// Handle is never opened off Linux.
type Handle struct{}

// Open fails off Linux.
func Open() (*Handle, error) { return nil, errNeedsLinux }

func (h *Handle) Close() error                                  { return nil }
func (h *Handle) Add(context.Context, Addr) error               { return errNeedsLinux }
func (h *Handle) Del(context.Context, Addr) error               { return errNeedsLinux }
func (h *Handle) Has(context.Context, netip.Addr) (bool, error) { return false, errNeedsLinux }
func (h *Handle) Link(_ context.Context, device string) (LinkState, error) {
	return LinkState{Device: device}, errNeedsLinux
}

// Announce fails off Linux.
func Announce(context.Context, string, netip.Addr) error { return errNeedsLinux }

// WatchLinks fails off Linux.
func WatchLinks(context.Context, chan<- LinkState) error { return errNeedsLinux }

// Forwarding fails off Linux.
func Forwarding(netip.Addr) (bool, error) { return false, errNeedsLinux }
