//go:build !guest

package engine

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/testnet"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/store"
)

// Some tests need root or the qemu guest: see internal/testenv.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestRampedWeight(t *testing.T) {
	iv := time.Second
	for _, tc := range []struct {
		w    int32
		up   time.Duration
		want int32
	}{
		{64, 0, 2}, {64, iv, 4}, {64, 2 * iv, 8}, {64, 3 * iv, 16}, {64, 4 * iv, 32}, {64, 5 * iv, 64}, {64, time.Hour, 64},
		{1, 0, 1}, {3, iv, 1}, {0, 0, 0},
	} {
		if got := rampedWeight(tc.w, tc.up, iv); got != tc.want {
			t.Errorf("rampedWeight(%d, %v) = %d, want %d", tc.w, tc.up, got, tc.want)
		}
	}
}

// listen opens a TCP listener on loopback that accepts and closes.
func listen(t *testing.T, addr string) net.Listener { return testnet.Listen(t, addr) }

// destsOf returns the fake kernel's destinations of key by address.
func destsOf(k *ipvstest.Kernel, key ipvs.ServiceKey) map[netip.AddrPort]int32 {
	m := map[netip.AddrPort]int32{}
	for _, d := range k.Destinations(key) {
		m[netip.AddrPortFrom(d.Addr, d.Port)] = d.Weight
	}
	return m
}

// waitFor waits, reconcile by reconcile, until cond holds of the kernel.
func waitFor(t *testing.T, e *Engine, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-e.Applied():
		case <-deadline:
			t.Fatalf("gave up waiting for %s; engine status %+v", what, e.Status())
		}
	}
}

// TestChecksDriveTheTable runs the engine with real TCP checks against
// loopback listeners: a server enters after its first good check, a closed
// port never does, a server that goes away leaves (the sorry server comes
// in), and it comes back, ramping up. Both with full connects and with
// half-open SYN checks.
func TestChecksDriveTheTable(t *testing.T) {
	for _, kind := range []string{"tcp", "syn"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "syn" {
				testenv.Linux(t) // raw sockets with a socket filter,
				testenv.Root(t)  // which need CAP_NET_RAW
			}
			checksDriveTheTable(t, kind)
		})
	}
}

func checksDriveTheTable(t *testing.T, kind string) {
	up := listen(t, "127.0.0.1:0")
	upAddr := netip.MustParseAddrPort(up.Addr().String())
	closed := listen(t, "127.0.0.2:0")
	closedAddr := netip.MustParseAddrPort(closed.Addr().String())
	closed.Close()

	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port = true, a("192.0.2.10"), 80
	vs.CheckKind, vs.CheckTimeout, vs.Reentry = kind, 50*time.Millisecond, 100*time.Millisecond
	vs.SorryServer = a("10.0.0.99")
	vs.Reals = []config.RealServer{
		{Name: "up", Active: true, Address: upAddr.Addr(), Port: int(upAddr.Port()), Weight: 32},
		{Name: "closed", Active: true, Address: closedAddr.Addr(), Port: int(closedAddr.Port()), Weight: 1},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}

	k, c := fakeKernel(t)
	checks := NewChecks()
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { checks.Run(runCtx); done <- struct{}{} }()
	go func() { e.Run(runCtx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	sorry := netip.AddrPortFrom(a("10.0.0.99"), 80)
	waitFor(t, e, "the live server to enter at full weight", func() bool {
		d := destsOf(k, key)
		return d[upAddr] == 32 && len(d) == 1
	})
	if _, in := destsOf(k, key)[closedAddr]; in {
		t.Error("the server on a closed port entered the table")
	}

	// It goes away: out it goes, and the sorry server comes in.
	up.Close()
	waitFor(t, e, "the sorry server to replace the dead server", func() bool {
		d := destsOf(k, key)
		_, in := d[upAddr]
		return !in && d[sorry] == 1
	})
	events := checks.Events(10)
	if len(events) == 0 || events[0].To != "down" || events[0].Server != upAddr.String() {
		t.Errorf("events = %+v, want the newest to be %s going down", events, upAddr)
	}

	// It comes back on the same port: after re-entry it is in again, at a
	// weight that ramps up from 1/32 of 32, and the sorry server leaves.
	back := listen(t, upAddr.String())
	defer back.Close()
	var weights []int32
	waitFor(t, e, "the server to ramp back to its weight", func() bool {
		d := destsOf(k, key)
		if w, ok := d[upAddr]; ok && (len(weights) == 0 || weights[len(weights)-1] != w) {
			weights = append(weights, w)
		}
		_, sorryIn := d[sorry]
		return d[upAddr] == 32 && !sorryIn
	})
	if len(weights) < 2 || weights[0] >= 32 {
		t.Errorf("weights seen on the way back: %v, want a ramp up to 32", weights)
	}
	t.Logf("slow start: %v", weights)
}

// TestQuiesce: with quiesce_server a failed server stays with weight 0.
func TestQuiesce(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	addr := netip.MustParseAddrPort(ln.Addr().String())
	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Quiesce = true, a("192.0.2.10"), true
	vs.CheckKind, vs.CheckTimeout = "tcp", 50*time.Millisecond
	vs.Reals = []config.RealServer{{Name: "r", Active: true, Address: addr.Addr(), Port: int(addr.Port()), Weight: 1}}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	checks := NewChecks()
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { checks.Run(runCtx); done <- struct{}{} }()
	go func() { e.Run(runCtx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	waitFor(t, e, "the server to enter", func() bool { return destsOf(k, key)[addr] == 1 })
	ln.Close()
	waitFor(t, e, "the failed server to be quiesced", func() bool {
		w, in := destsOf(k, key)[addr]
		return in && w == 0
	})
}
