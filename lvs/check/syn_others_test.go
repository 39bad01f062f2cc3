//go:build !linux

package check_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// Off Linux, a syn check is DOWN saying it needs Linux.
func TestSYNNeedsLinux(t *testing.T) {
	h := check.NewHalfOpen()
	defer h.Close()
	p, err := check.NewProbe(check.Spec{Kind: check.SYN, Timeout: time.Second}, check.WithHalfOpen(h))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(t.Context(), check.Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: 9})
	if r.OK || !strings.Contains(r.Reason, "needs Linux") {
		t.Fatalf("syn check: OK %v, %q; want DOWN saying it needs Linux", r.OK, r.Reason)
	}
}
