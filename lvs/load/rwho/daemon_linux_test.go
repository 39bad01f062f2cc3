package rwho

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/internal/loadtest"
)

// TestListenerHearsRwhod: Debian's rwhod, in a host of its own behind a
// veth pair (lvs/internal/loadtest), broadcasts its status at start-up;
// the listener, on the /30's broadcast address port 513 on this side,
// hears it: the host's name, and the load of this machine's kernel
// (global) within a hundredth and the change during the test; restarted,
// it broadcasts again.
func TestListenerHearsRwhod(t *testing.T) {
	h := loadtest.NewHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := Listen(ctx, netip.AddrPortFrom(h.Broadcast, Port).String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	before := loadtest.MachineLoad(t)
	rwhod := h.StartRwhod()
	heard := waitFor(t, l, h.Addr, 10*time.Second)
	after := loadtest.MachineLoad(t)
	name, _ := os.Hostname()
	name, _, _ = strings.Cut(name, ".")
	t.Logf("heard %+v; /proc/loadavg before %v, after %v", heard, before, after)
	if heard.Hostname != name {
		t.Errorf("hostname %q, want %q", heard.Hostname, name)
	}
	const tol = 0.02
	for i := range heard.Load {
		lo, hi := min(before[i], after[i])-tol, max(before[i], after[i])+tol
		if heard.Load[i] < lo || heard.Load[i] > hi {
			t.Errorf("load[%d] = %.2f, /proc/loadavg says %.2f then %.2f", i, heard.Load[i], before[i], after[i])
		}
	}
	if d := time.Since(heard.SendTime); d < -2*time.Second || d > 10*time.Second {
		t.Errorf("sent at %v, now %v", heard.SendTime, time.Now())
	}

	// Restarted, it broadcasts again at once (rwhod reads the load with
	// sysinfo(2), the kernel's own: a test cannot set it as it can for
	// rstatd and sshd).
	rwhod.Restart()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if again, _ := l.Load(h.Addr); again.Received.After(heard.Received) {
			t.Logf("heard again %+v", again)
			break
		}
		if time.Now().After(deadline) {
			n, err := l.Dropped()
			t.Fatalf("no second broadcast after a restart (%d packets refused, the last: %v)", n, err)
		}
		<-tick.C
	}
}
