//go:build !guest

package engine

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// TestConfigureAlike: an edit that changes no check leaves Configure
// nothing to redo (checksAlike), and an edit that changes one makes it
// rebuild; either way the checkers, their intervals and the load targets
// are those a fresh Configure of the edited configuration gives.
func TestConfigureAlike(t *testing.T) {
	base := func() *config.Config {
		c := config.Default()
		c.Serial = 1
		for _, name := range []string{"web", "mail"} {
			vs := config.NewVirtual(name)
			vs.Active, vs.Address, vs.Port = true, netip.MustParseAddr("192.0.2.1"), 80
			if name == "mail" {
				vs.Port, vs.LoadMonitor, vs.LoadPort = 25, "agent", 3333
			}
			for i, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
				rs := config.NewReal("rs" + a)
				rs.Active, rs.Address, rs.Weight = i != 2, netip.MustParseAddr(a), 1
				vs.Reals = append(vs.Reals, rs)
			}
			c.Virtuals = append(c.Virtuals, vs)
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		edit  func(c *config.Config)
		alike bool
	}{
		{"a weight", func(c *config.Config) { c.Virtuals[0].Reals[1].Weight = 7 }, true},
		{"a drain", func(c *config.Config) { c.Virtuals[0].Reals[0].Draining = true }, true},
		{"an inactive server's address", func(c *config.Config) { c.Virtuals[0].Reals[2].Address = netip.MustParseAddr("10.0.0.9") }, true},
		{"the scheduler", func(c *config.Config) { c.Virtuals[0].Scheduler = "rr" }, true},
		{"a global setting", func(c *config.Config) { c.Global.TCPTimeout = 99 }, true},
		{"a monitored server's weight", func(c *config.Config) { c.Virtuals[1].Reals[0].Weight = 7 }, false},
		{"a real server's address", func(c *config.Config) { c.Virtuals[0].Reals[0].Address = netip.MustParseAddr("10.0.0.8") }, false},
		{"a real server's port", func(c *config.Config) { c.Virtuals[0].Reals[0].Port = 8080 }, false},
		{"a real server activated", func(c *config.Config) { c.Virtuals[0].Reals[2].Active = true }, false},
		{"a real server deactivated", func(c *config.Config) { c.Virtuals[0].Reals[0].Active = false }, false},
		{"a virtual server deactivated", func(c *config.Config) { c.Virtuals[0].Active = false }, false},
		{"the check's send and expect", func(c *config.Config) { c.Virtuals[0].Send, c.Virtuals[0].Expect = "HELO x", "250" }, false},
		{"the check's interval", func(c *config.Config) { c.Virtuals[0].CheckInterval = 3 * time.Second }, false},
		{"the failures", func(c *config.Config) { c.Virtuals[0].CheckFailures = 3 }, false},
		{"the virtual server's port", func(c *config.Config) { c.Virtuals[0].Port = 8000 }, false},
		{"a real server added", func(c *config.Config) {
			rs := config.NewReal("new")
			rs.Active, rs.Address = true, netip.MustParseAddr("10.0.0.4")
			c.Virtuals[0].Reals = append(c.Virtuals[0].Reals, rs)
		}, false},
		{"a virtual server deleted", func(c *config.Config) { c.Virtuals = c.Virtuals[:1] }, false},
		{"the order", func(c *config.Config) { c.Virtuals[0], c.Virtuals[1] = c.Virtuals[1], c.Virtuals[0] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := base()
			after := before.Clone()
			tc.edit(after)
			after.Serial = 2
			if got := checksAlike(before, after); got != tc.alike {
				t.Errorf("checksAlike = %v, want %v", got, tc.alike)
			}
			edited, fresh := NewChecks(), NewChecks()
			el, fl := &fakeLoads{}, &fakeLoads{}
			edited.SetLoads(el)
			fresh.SetLoads(fl)
			edited.Configure(before)
			edited.Configure(after)
			fresh.Configure(after)
			if !maps.Equal(edited.intervals, fresh.intervals) {
				t.Errorf("intervals %v, a fresh Configure's %v", edited.intervals, fresh.intervals)
			}
			if !reflect.DeepEqual(slicesKeys(edited.probes), slicesKeys(fresh.probes)) {
				t.Errorf("checkers %v, a fresh Configure's %v", slicesKeys(edited.probes), slicesKeys(fresh.probes))
			}
			if !reflect.DeepEqual(el.targets, fl.targets) {
				t.Errorf("load targets %v, a fresh Configure's %v", el.targets, fl.targets)
			}
			if edited.serial != 2 || edited.cfg != after {
				t.Errorf("configured serial %d", edited.serial)
			}
		})
	}
}

func slicesKeys[V any](m map[checkKey]V) map[checkKey]bool {
	out := map[checkKey]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// BenchmarkChecksConfigure10000x10 is Checks.Configure for an edit of one
// weight at 10,000 x 10: serve's checks follow every new serial.
func BenchmarkChecksConfigure10000x10(b *testing.B) {
	cfg := editConfig20()
	c := NewChecks()
	cfg.Serial = 1
	c.Configure(cfg)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		next := *cfg // the configuration is not changed once configured
		next.Virtuals = append([]config.VirtualServer(nil), cfg.Virtuals...)
		next.Virtuals[5000].Reals = append([]config.RealServer(nil), cfg.Virtuals[5000].Reals...)
		next.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
		next.Serial = int64(i + 2)
		b.StartTimer()
		c.Configure(&next)
		cfg = &next
	}
}

// TestKeyText: the ledger's keys are those fmt wrote before; a change
// would disown every service this director made.
func TestKeyText(t *testing.T) {
	for _, k := range []ipvs.ServiceKey{
		{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80},
		{Family: ipvs.FamilyIPv6, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53},
		{Family: ipvs.FamilyIPv6, Protocol: ipvs.SCTP, Addr: netip.MustParseAddr("fe80::1%eth0"), Port: 0},
		{Family: ipvs.FamilyIPv4, FWMark: 7},
		{Family: ipvs.FamilyIPv6, FWMark: 4294967295},
		{},
	} {
		want := fmt.Sprintf("%d/%s", k.Protocol, netip.AddrPortFrom(k.Addr, k.Port))
		if k.FWMark != 0 {
			want = fmt.Sprintf("fwm/%d/%d", k.Family, k.FWMark)
		}
		if got := keyText(k); got != want {
			t.Errorf("keyText(%+v) = %q, want %q", k, got, want)
		}
	}
}
