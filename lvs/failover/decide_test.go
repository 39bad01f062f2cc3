package failover

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
)

// Table tests of the Director's pure decisions; director_test.go tests
// them in a running Director.

func TestSyncStep(t *testing.T) {
	heard := func(role, peer pulse.Role, peerSerial int64, console uint16) pulse.Status {
		return pulse.Status{Decided: true, Role: role,
			Peer: pulse.PeerStatus{Heard: true, Role: peer, Serial: peerSerial, Console: console}}
	}
	undecided := heard(pulse.Standby, pulse.Active, 9, 3636)
	undecided.Decided = false
	silent := heard(pulse.Standby, pulse.Active, 9, 3636)
	silent.Peer.Heard = false
	for _, tc := range []struct {
		name   string
		st     pulse.Status
		serial int64
		want   syncAction
	}{
		{"standby, active ahead: fetch", heard(pulse.Standby, pulse.Active, 9, 3636), 5, syncFetch},
		{"standby, active at the same serial", heard(pulse.Standby, pulse.Active, 5, 3636), 5, syncNothing},
		{"standby, active behind", heard(pulse.Standby, pulse.Active, 4, 3636), 5, syncNothing},
		{"standby, active ahead without a console port", heard(pulse.Standby, pulse.Active, 9, 0), 5, syncNothing},
		{"both standby", heard(pulse.Standby, pulse.Standby, 9, 3636), 5, syncNothing},
		{"active, standby ahead: move past it", heard(pulse.Active, pulse.Standby, 9, 3636), 5, syncPast},
		{"active, standby ahead without a console port", heard(pulse.Active, pulse.Standby, 9, 0), 5, syncPast},
		{"active, standby at the same serial", heard(pulse.Active, pulse.Standby, 5, 3636), 5, syncNothing},
		{"active, standby behind", heard(pulse.Active, pulse.Standby, 4, 3636), 5, syncNothing},
		{"both active (a cut heartbeat path)", heard(pulse.Active, pulse.Active, 9, 3636), 5, syncNothing},
		{"undecided", undecided, 5, syncNothing},
		{"the peer not heard", silent, 5, syncNothing},
	} {
		if got := syncStep(tc.st, tc.serial); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestToDrop(t *testing.T) {
	a := func(s string) netif.Addr {
		p, dev, _ := strings.Cut(s, " ")
		return netif.Addr{Prefix: netip.MustParsePrefix(p), Device: dev}
	}
	v1, v2, v3 := a("10.0.0.1/24 eth0"), a("10.0.0.2/24 eth0"), a("10.0.0.3/24 eth1")
	for _, tc := range []struct {
		name                 string
		up, want, configured []netif.Addr
		drop                 []netif.Addr
	}{
		{"active, nothing changes", []netif.Addr{v1, v2}, []netif.Addr{v1, v2}, []netif.Addr{v1, v2}, nil},
		{"active, one removed from the configuration", []netif.Addr{v1, v2}, []netif.Addr{v1}, []netif.Addr{v1}, []netif.Addr{v2}},
		{"active, one moved to another device", []netif.Addr{v1}, []netif.Addr{a("10.0.0.1/24 eth1")}, []netif.Addr{a("10.0.0.1/24 eth1")}, []netif.Addr{v1}},
		{"active, one added", []netif.Addr{v1}, []netif.Addr{v1, v2}, []netif.Addr{v1, v2}, nil},
		{"standing down: ours and the configured ones, sorted", []netif.Addr{v3, v1}, nil, []netif.Addr{v2, v1}, []netif.Addr{v1, v2, v3}},
		{"standing down after a restart: the configured ones, though not ours", nil, nil, []netif.Addr{v2, v1}, []netif.Addr{v1, v2}},
		{"standing down, nothing configured", nil, nil, nil, nil},
	} {
		if got := toDrop(tc.up, tc.want, tc.configured); !slices.Equal(got, tc.drop) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.drop)
		}
	}
}

func TestLinksDown(t *testing.T) {
	for _, tc := range []struct {
		up   map[string]bool
		down []string
	}{
		{nil, nil},
		{map[string]bool{"eth0": true}, nil},
		{map[string]bool{"eth1": false, "eth0": false, "eth2": true}, []string{"eth0", "eth1"}},
	} {
		if got := linksDown(tc.up); !slices.Equal(got, tc.down) {
			t.Errorf("%v: %v, want %v", tc.up, got, tc.down)
		}
	}
}

// TestMakePlan: what a configuration asks of failover.
func TestMakePlan(t *testing.T) {
	ip := netip.MustParseAddr
	base := func() *config.Config {
		return &config.Config{
			Serial: 3,
			Global: config.Global{Primary: ip("10.0.0.1"), PrimaryPrivate: ip("192.168.0.1"), Network: config.Direct,
				ActiveCmd: `/usr/bin/logger "now active"`, InactiveCmd: "/usr/bin/logger standby"},
			Redundancy: config.Redundancy{BackupActive: true, Backup: ip("10.0.0.2"), BackupPrivate: ip("192.168.0.2"),
				Heartbeat: true, Keepalive: time.Second, Deadtime: 3 * time.Second, HeartbeatPort: 539,
				Preempt: true, PreemptDelay: 2 * time.Second},
			Virtuals: []config.VirtualServer{
				{Name: "web", Active: true, Address: ip("10.0.0.10"), Device: "eth0:1", Netmask: config.MaskBits(24),
					Reals: []config.RealServer{{Name: "a", Active: true, Address: ip("10.0.1.1")}}},
			},
		}
	}
	vip := netif.Addr{Prefix: netip.MustParsePrefix("10.0.0.10/24"), Device: "eth0", Label: "eth0:1"}
	for _, tc := range []struct {
		name    string
		edit    func(c *config.Config)
		primary bool
		check   func(t *testing.T, p plan)
	}{
		{"the primary", nil, true, func(t *testing.T, p plan) {
			want := pulse.Settings{Self: ip("10.0.0.1"), Peer: ip("10.0.0.2"), PeerPrivate: ip("192.168.0.2"),
				Bind: netip.MustParseAddrPort("0.0.0.0:539"), Port: 539, Key: []byte("key"), Primary: true,
				Keepalive: time.Second, Deadtime: 3 * time.Second, Preempt: true, PreemptDelay: 2 * time.Second, Console: 3636}
			if !p.pair || !reflect.DeepEqual(p.settings, want) {
				t.Errorf("pair %v, settings\n%+v, want\n%+v", p.pair, p.settings, want)
			}
			if !slices.Equal(p.vips, []netif.Addr{vip}) || !slices.Equal(p.devices, []string{"eth0"}) {
				t.Errorf("vips %v devices %v", p.vips, p.devices)
			}
			if !slices.Equal(p.active, []string{"/usr/bin/logger", "now active"}) || !slices.Equal(p.inactive, []string{"/usr/bin/logger", "standby"}) {
				t.Errorf("commands %q %q", p.active, p.inactive)
			}
			if p.nat || p.sync != nil || p.monitor {
				t.Errorf("nat %v sync %v monitor %v", p.nat, p.sync, p.monitor)
			}
		}},
		{"the backup: its peer is the primary, by both paths", nil, false, func(t *testing.T, p plan) {
			s := p.settings
			if s.Primary || s.Self != ip("10.0.0.2") || s.Peer != ip("10.0.0.1") || s.PeerPrivate != ip("192.168.0.1") {
				t.Errorf("settings %+v", s)
			}
		}},
		{"a private address of 0.0.0.0 is none", func(c *config.Config) { c.Redundancy.BackupPrivate = netip.IPv4Unspecified() }, true, func(t *testing.T, p plan) {
			if p.settings.PeerPrivate.IsValid() {
				t.Errorf("PeerPrivate %v", p.settings.PeerPrivate)
			}
		}},
		{"IPv6 directors listen on ::", func(c *config.Config) {
			c.Global.Primary, c.Redundancy.Backup = ip("fd00::1"), ip("fd00::2")
		}, true, func(t *testing.T, p plan) {
			if p.settings.Bind != netip.MustParseAddrPort("[::]:539") {
				t.Errorf("Bind %v", p.settings.Bind)
			}
		}},
		{"no backup: no pair", func(c *config.Config) { c.Redundancy.BackupActive = false }, true, func(t *testing.T, p plan) {
			if p.pair {
				t.Error("pair")
			}
		}},
		{"no heartbeat: no pair", func(c *config.Config) { c.Redundancy.Heartbeat = false }, true, func(t *testing.T, p plan) {
			if p.pair {
				t.Error("pair")
			}
		}},
		{"VIPs: inactive ones left out, duplicates once, no mask the whole address, an IPv6 one without a label, sorted", func(c *config.Config) {
			vs := c.Virtuals[0]
			off := vs
			off.Address, off.Active = ip("10.0.0.99"), false
			same := vs
			same.Name = "web-udp"
			nomask := vs
			nomask.Address, nomask.Device, nomask.Netmask = ip("10.0.0.9"), "eth1", config.Netmask{}
			v6 := vs
			v6.Address, v6.Device, v6.Netmask = ip("fd00::10"), "eth0:3", config.MaskBits(64)
			nodev := vs
			nodev.Address, nodev.Device = ip("10.0.0.8"), ""
			c.Virtuals = append(c.Virtuals, off, same, nomask, v6, nodev)
		}, true, func(t *testing.T, p plan) {
			want := []netif.Addr{
				{Prefix: netip.MustParsePrefix("10.0.0.10/24"), Device: "eth0", Label: "eth0:1"},
				{Prefix: netip.MustParsePrefix("10.0.0.9/32"), Device: "eth1"},
				{Prefix: netip.MustParsePrefix("fd00::10/64"), Device: "eth0"},
			}
			if !slices.Equal(p.vips, want) || !slices.Equal(p.devices, []string{"eth0", "eth1"}) {
				t.Errorf("vips %v devices %v, want %v", p.vips, p.devices, want)
			}
		}},
		{"NAT: the router address is a VIP, and forwarding matters", func(c *config.Config) {
			c.Global.Network = config.NAT
			c.Global.NATRouter, c.Global.NATRouterDevice, c.Global.NATNetmask = ip("10.0.2.254"), "eth1:1", config.MaskBits(24)
		}, true, func(t *testing.T, p plan) {
			if !p.nat || !slices.Contains(p.vips, netif.Addr{Prefix: netip.MustParsePrefix("10.0.2.254/24"), Device: "eth1", Label: "eth1:1"}) {
				t.Errorf("nat %v vips %v", p.nat, p.vips)
			}
		}},
		{"direct routing with one NAT real server: forwarding matters, no router", func(c *config.Config) {
			c.Global.NATRouter, c.Global.NATRouterDevice = ip("10.0.2.254"), "eth1:1"
			c.Virtuals[0].Reals[0].Forward = config.NAT
		}, true, func(t *testing.T, p plan) {
			if !p.nat || len(p.vips) != 1 {
				t.Errorf("nat %v vips %v", p.nat, p.vips)
			}
		}},
		{"a NAT real server that is inactive does not count", func(c *config.Config) {
			c.Virtuals[0].Reals[0].Forward, c.Virtuals[0].Reals[0].Active = config.NAT, false
		}, true, func(t *testing.T, p plan) {
			if p.nat {
				t.Error("nat")
			}
		}},
		{"the sync daemon, with its interface", func(c *config.Config) {
			c.Redundancy.SyncDaemon, c.Redundancy.SyncIface, c.Redundancy.SyncID = true, "eth2", 7
		}, true, func(t *testing.T, p plan) {
			if p.sync == nil || *p.sync != (ipvs.Daemon{Interface: "eth2", SyncID: 7}) {
				t.Errorf("sync %+v", p.sync)
			}
		}},
		{"no sync daemon without an interface", func(c *config.Config) {
			c.Redundancy.SyncDaemon = true
		}, true, func(t *testing.T, p plan) {
			if p.sync != nil {
				t.Errorf("sync %+v", p.sync)
			}
		}},
		{"monitor_links", func(c *config.Config) { c.Redundancy.MonitorLinks = true }, true, func(t *testing.T, p plan) {
			if !p.monitor {
				t.Error("not monitored")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			if tc.edit != nil {
				tc.edit(c)
			}
			tc.check(t, makePlan(c, tc.primary, []byte("key"), 3636))
		})
	}
}

func TestDaemonMoves(t *testing.T) {
	master := func(dev string, id uint8) ipvs.Daemon {
		return ipvs.Daemon{State: ipvs.DaemonMaster, Interface: dev, SyncID: id}
	}
	backup := func(dev string, id uint8) ipvs.Daemon {
		return ipvs.Daemon{State: ipvs.DaemonBackup, Interface: dev, SyncID: id}
	}
	for _, tc := range []struct {
		name    string
		running []ipvs.Daemon
		want    ipvs.Daemon
		stop    []ipvs.DaemonState
		start   bool
	}{
		{"none runs", nil, master("eth0", 1), nil, true},
		{"it runs: nothing to do", []ipvs.Daemon{master("eth0", 1)}, master("eth0", 1), nil, false},
		{"the backup runs: stop it, start the master", []ipvs.Daemon{backup("eth0", 1)}, master("eth0", 1), []ipvs.DaemonState{ipvs.DaemonBackup}, true},
		{"the master runs: stop it, start the backup", []ipvs.Daemon{master("eth0", 1)}, backup("eth0", 1), []ipvs.DaemonState{ipvs.DaemonMaster}, true},
		{"both run: stop the other", []ipvs.Daemon{master("eth0", 1), backup("eth0", 1)}, master("eth0", 1), []ipvs.DaemonState{ipvs.DaemonBackup}, false},
		{"another interface: restart", []ipvs.Daemon{master("eth0", 1)}, master("eth1", 1), []ipvs.DaemonState{ipvs.DaemonMaster}, true},
		{"another sync id: restart", []ipvs.Daemon{master("eth0", 1)}, master("eth0", 2), []ipvs.DaemonState{ipvs.DaemonMaster}, true},
	} {
		stop, start := daemonMoves(tc.running, tc.want)
		if !slices.Equal(stop, tc.stop) || start != tc.start {
			t.Errorf("%s: stop %v start %v, want stop %v start %v", tc.name, stop, start, tc.stop, tc.start)
		}
	}
}
