//go:build !linux

package pulse

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"
)

// Off Linux, Run says the heartbeat needs Linux, as an error callers can
// branch on, and the node stays as it was.
func TestRunNeedsLinux(t *testing.T) {
	self := netip.MustParseAddr("127.0.0.1")
	n, err := New(Settings{Self: self, Peer: netip.MustParseAddr("127.0.0.2"), Bind: netip.AddrPortFrom(self, 539), Port: 539,
		Key: testKey, Primary: true, Keepalive: time.Second, Deadtime: 4 * time.Second}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background()); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Run = %v, want errors.ErrUnsupported", err)
	}
}
