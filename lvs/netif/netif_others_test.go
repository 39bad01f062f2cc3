//go:build !linux

package netif

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

// Off Linux, everything that needs rtnetlink or packet sockets says so, as
// an error callers can branch on.
func TestNeedsLinux(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	_, open := Open()
	_, fwd := Forwarding(ip)
	for name, err := range map[string]error{
		"Open":       open,
		"Announce":   Announce(context.Background(), "eth0", ip),
		"WatchLinks": WatchLinks(context.Background(), make(chan LinkState)),
		"Forwarding": fwd,
	} {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v, want errors.ErrUnsupported", name, err)
		}
	}
}
