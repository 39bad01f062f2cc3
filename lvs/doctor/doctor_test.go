package doctor

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// facts is a director described by values.
type facts struct {
	ipvs       IPVS
	scheds     []string
	eff        uint64
	fwd4, fwd6 bool
	ifs        []string
	rp         map[string]int
	clock      Clock
	clockErr   error
	schedErr   error
	peer       Peer
	db         Database
}

func (f *facts) IPVS(context.Context) IPVS         { return f.ipvs }
func (f *facts) Schedulers() ([]string, error)     { return f.scheds, f.schedErr }
func (f *facts) Effective() (uint64, error)        { return f.eff, nil }
func (f *facts) Interfaces() ([]string, error)     { return f.ifs, nil }
func (f *facts) Clock() (Clock, error)             { return f.clock, f.clockErr }
func (f *facts) Peer(context.Context) Peer         { return f.peer }
func (f *facts) Database(context.Context) Database { return f.db }
func (f *facts) Forwarding(ipv4 bool) (bool, error) {
	return map[bool]bool{true: f.fwd4, false: f.fwd6}[ipv4], nil
}
func (f *facts) RPFilter(dev string) (int, error) {
	v, ok := f.rp[dev]
	if !ok {
		return 0, fs.ErrNotExist
	}
	return v, nil
}

const allNet = 1<<capNetAdmin | 1<<capNetRaw | 1<<capNetBindService

// healthy is a director where every check passes for pair().
func healthy() *facts {
	return &facts{
		ipvs: IPVS{Version: "1.2.1"}, scheds: []string{"rr", "wrr", "wlc"}, eff: allNet,
		fwd4: true, fwd6: true, ifs: []string{"lo", "eth0", "eth1"}, rp: map[string]int{"all": 0, "eth0": 2, "eth1": 0},
		clock: Clock{Synced: true, MaxError: 20 * time.Millisecond},
		peer:  Peer{Serving: true, Failover: true, Pair: true, Heard: true, Addr: "192.0.2.2", Port: 539},
		db: Database{Path: "/var/lib/lvsconsole/lvsconsole.db", ServeUID: 998, Applied: 9, Latest: 9,
			File: File{Exists: true, Mode: 0o600, UID: 998}, Dir: File{Exists: true, Mode: fs.ModeDir | 0o700, UID: 998}},
	}
}

// pair is a configuration with a backup director, a NAT virtual server on
// eth0:1 (IPv4) and a direct-routing one on eth1 (IPv6).
func pair() *config.Config {
	c := config.Default()
	c.Global.Primary = netip.MustParseAddr("192.0.2.1")
	c.Global.Network = config.NAT
	c.Redundancy.BackupActive, c.Redundancy.Heartbeat = true, true
	c.Redundancy.Backup = netip.MustParseAddr("192.0.2.2")
	www := config.NewVirtual("www")
	www.Active, www.Address, www.Device, www.Scheduler = true, netip.MustParseAddr("192.0.2.10"), "eth0:1", "wlc"
	r := config.NewReal("web1")
	r.Active, r.Address = true, netip.MustParseAddr("10.0.0.1")
	www.Reals = []config.RealServer{r}
	v6 := config.NewVirtual("v6")
	v6.Active, v6.Address, v6.Device, v6.Scheduler = true, netip.MustParseAddr("2001:db8::10"), "eth1", "rr"
	r6 := config.NewReal("web6")
	r6.Active, r6.Address, r6.Forward = true, netip.MustParseAddr("2001:db8:1::1"), config.Direct
	v6.Reals = []config.RealServer{r6}
	c.Virtuals = []config.VirtualServer{www, v6}
	return c
}

func TestCheckHealthy(t *testing.T) {
	rs := Check(context.Background(), pair(), healthy())
	names := map[string]bool{}
	for _, r := range rs {
		names[r.Name] = true
		if r.Status != Pass {
			t.Errorf("%s: %s: %s", r.Name, r.Status, r.Detail)
		}
	}
	for _, want := range []string{"IPVS", "schedulers", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE",
		"net.ipv4.ip_forward", "device eth0", "device eth1", "rp_filter eth0", "peer", "clock",
		"database /var/lib/lvsconsole/lvsconsole.db", "database directory", "database migrations"} {
		if !names[want] {
			t.Errorf("no check %q", want)
		}
	}
	// IPv6's virtual server is direct routing: IPv6 forwarding is not
	// asked for.
	if names["net.ipv6.conf.all.forwarding"] {
		t.Error("IPv6 forwarding checked, but no IPv6 real server is NAT")
	}
	if Failed(rs) {
		t.Error("Failed on a healthy director")
	}
}

// TestCheckDecisions: each broken fact gives its check's verdict, a
// detail that says what is wrong, and a fix.
func TestCheckDecisions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(f *facts, c *config.Config)
		check  string
		status Status
		detail string // in Detail
		fix    string // in Fix
	}{
		{"no IPVS", func(f *facts, _ *config.Config) { f.ipvs = IPVS{Missing: true} }, "IPVS", Fail, "no IPVS", "modprobe ip_vs"},
		{"IPVS denied", func(f *facts, _ *config.Config) { f.ipvs = IPVS{Denied: true} }, "IPVS", Fail, "CAP_NET_ADMIN", "root"},
		{"IPVS error", func(f *facts, _ *config.Config) { f.ipvs = IPVS{Err: errors.New("boom")} }, "IPVS", Fail, "boom", "dmesg"},
		{"scheduler missing", func(f *facts, c *config.Config) { c.Virtual("www").Scheduler = "mh" }, "schedulers", Fail, "uses mh", "ip_vs_mh"},
		{"scheduler not loaded, module tree hidden", func(f *facts, c *config.Config) { c.Virtual("www").Scheduler, f.schedErr = "mh", ErrModulesHidden },
			"schedulers", Warn, "uses mh, not loaded yet", "as root"},
		{"schedulers loaded, module tree hidden", func(f *facts, _ *config.Config) { f.schedErr = ErrModulesHidden }, "schedulers", Pass, "loaded: rr wrr wlc; the configuration uses", ""},
		{"scheduler of an inactive server", func(f *facts, c *config.Config) { c.Virtual("www").Scheduler, c.Virtual("www").Active = "mh", false }, "schedulers", Pass, "uses rr", ""},
		{"no NET_ADMIN", func(f *facts, _ *config.Config) { f.eff &^= 1 << capNetAdmin }, "CAP_NET_ADMIN", Fail, "programs IPVS", "AmbientCapabilities=CAP_NET_ADMIN"},
		{"no NET_RAW", func(f *facts, _ *config.Config) { f.eff = 1 << capNetAdmin }, "CAP_NET_RAW", Fail, "gratuitous ARP", "AmbientCapabilities=CAP_NET_RAW"},
		{"no NET_BIND_SERVICE", func(f *facts, _ *config.Config) { f.eff = 0 }, "CAP_NET_BIND_SERVICE", Fail, "539", "AmbientCapabilities=CAP_NET_BIND_SERVICE"},
		{"no ip_forward", func(f *facts, _ *config.Config) { f.fwd4 = false }, "net.ipv4.ip_forward", Fail, "NAT real servers", "sysctl -w net.ipv4.ip_forward=1"},
		{"no IPv6 forwarding", func(f *facts, c *config.Config) { f.fwd6 = false; c.Virtual("v6").Reals[0].Forward = config.NAT },
			"net.ipv6.conf.all.forwarding", Fail, "NAT", "sysctl -w net.ipv6.conf.all.forwarding=1"},
		{"VIP device missing", func(f *facts, _ *config.Config) { f.ifs = []string{"lo", "eth1"} }, "device eth0", Fail, "virtual server www", "create the interface"},
		{"sync interface missing", func(f *facts, c *config.Config) { c.Redundancy.SyncDaemon, c.Redundancy.SyncIface = true, "eth9" },
			"sync daemon interface eth9", Fail, "sync daemon", "REDUNDANCY"},
		{"rp_filter strict on the device", func(f *facts, _ *config.Config) { f.rp["eth0"] = 1 }, "rp_filter eth0", Warn, "strict", "rp_filter=2"},
		{"rp_filter strict in all", func(f *facts, _ *config.Config) { f.rp["all"] = 1 }, "rp_filter eth1", Warn, "all=1", "net.ipv4.conf.all.rp_filter=2"},
		{"rp_filter loose", func(f *facts, _ *config.Config) { f.rp["all"] = 2 }, "rp_filter eth1", Pass, "2 (all=2", ""},
		{"serve not running", func(f *facts, _ *config.Config) { f.peer = Peer{} }, "peer", Warn, "not running", "systemctl start"},
		{"peer not heard", func(f *facts, _ *config.Config) { f.peer.Heard = false }, "peer", Fail, "not heard on UDP port 539", "UDP port 539"},
		{"peer with another secret", func(f *facts, _ *config.Config) { f.peer.Heard, f.peer.BadAuth = false, 12 }, "peer", Fail, "wrong MAC", "same secret"},
		{"peer of another version", func(f *facts, _ *config.Config) { f.peer.Heard, f.peer.Malformed = false, 3 }, "peer", Fail, "not heartbeats of this version", "same lvsconsole version"},
		{"no peer configured", func(f *facts, c *config.Config) { f.peer = Peer{}; c.Redundancy.BackupActive = false }, "peer", Pass, "no backup", ""},
		{"cluster mode, NAT", func(f *facts, c *config.Config) {
			c.Redundancy.Cluster, f.scheds = true, []string{"rr", "wrr", "wlc", "mh"}
			c.Virtual("www").Scheduler, c.Virtual("v6").Scheduler = "mh", "mh"
		}, "cluster mode: virtual server www", Warn, "uses NAT", "direct routing"},
		{"cluster mode, NAT and wlc", func(f *facts, c *config.Config) {
			c.Redundancy.Cluster, f.scheds = true, []string{"rr", "wrr", "wlc", "mh"}
			c.Virtual("v6").Scheduler = "mh"
		}, "cluster mode: virtual server www", Warn, "another director; scheduler wlc", "direct routing or tunneling in cluster mode; use mh"},
		{"cluster mode, rr", func(f *facts, c *config.Config) {
			c.Redundancy.Cluster = true
			c.Virtual("www").Active = false
		}, "cluster mode: virtual server v6", Warn, "scheduler rr", "use mh"},
		{"cluster mode, mh and direct routing", func(f *facts, c *config.Config) {
			c.Redundancy.Cluster, f.scheds = true, []string{"rr", "wrr", "wlc", "mh"}
			c.Virtual("www").Active, c.Virtual("v6").Scheduler = false, "mh"
		}, "cluster mode", Pass, "keeps its flows", ""},
		{"cluster mode, not announced", func(f *facts, c *config.Config) {
			c.Redundancy.Cluster = true
			c.Virtual("www").Announce, c.Virtual("v6").Announce = false, false
		}, "cluster mode", Pass, "keeps its flows", ""},
		{"clock unsynchronised", func(f *facts, _ *config.Config) { f.clock.Synced = false }, "clock", Warn, "not synchronised", "NTP"},
		{"clock hidden by the sandbox", func(f *facts, _ *config.Config) { f.clockErr = ErrClockHidden }, "clock", Warn, "ProtectClock", "as root"},
		{"clock imprecise", func(f *facts, _ *config.Config) { f.clock.MaxError = 16 * time.Second }, "clock", Warn, "16s", "NTP"},
		{"database missing", func(f *facts, _ *config.Config) { f.db.File = File{} }, "database /var/lib/lvsconsole/lvsconsole.db", Fail, "missing", "lvsconsole passwd"},
		{"database readable", func(f *facts, _ *config.Config) { f.db.File.Mode = 0o644 }, "database /var/lib/lvsconsole/lvsconsole.db", Fail, "0644", "chmod 0600"},
		{"database root's", func(f *facts, _ *config.Config) { f.db.File.UID = 0 }, "database /var/lib/lvsconsole/lvsconsole.db", Fail, "owned by uid 0, but serve runs as uid 998", "chown 998"},
		{"directory open", func(f *facts, _ *config.Config) { f.db.Dir.Mode = fs.ModeDir | 0o755 }, "database directory", Warn, "0755", "chmod 0700"},
		{"directory root's", func(f *facts, _ *config.Config) { f.db.Dir.UID = 0 }, "database directory", Fail, "owned by uid 0", "chown 998"},
		{"migrations behind", func(f *facts, _ *config.Config) { f.db.Applied = 7 }, "database migrations", Fail, "at 7, this lvsconsole has 9", "restart"},
		{"migrations ahead", func(f *facts, _ *config.Config) { f.db.Applied = 12 }, "database migrations", Fail, "newer lvsconsole", "newer"},
		{"migrations behind, WAL", func(f *facts, _ *config.Config) { f.db.Applied, f.db.WAL = 7, true }, "database migrations", Warn, "checkpointed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := healthy(), pair()
			tc.break_(f, c)
			rs := Check(context.Background(), c, f)
			var got *Result
			for i := range rs {
				if rs[i].Name == tc.check {
					got = &rs[i]
				} else if rs[i].Status != Pass && tc.name != "no NET_RAW" && tc.name != "no NET_BIND_SERVICE" && !strings.HasPrefix(rs[i].Name, "rp_filter") {
					t.Errorf("%s also %s: %s", rs[i].Name, rs[i].Status, rs[i].Detail)
				}
			}
			if got == nil {
				t.Fatalf("no check %q in %+v", tc.check, rs)
			}
			if got.Status != tc.status || !strings.Contains(got.Detail, tc.detail) || !strings.Contains(got.Fix, tc.fix) {
				t.Errorf("%s: %s %q fix %q; want %s, detail with %q, fix with %q", tc.check, got.Status, got.Detail, got.Fix, tc.status, tc.detail, tc.fix)
			}
			if got.Status != Pass && got.Fix == "" && tc.fix != "" {
				t.Errorf("%s: %s without a fix", tc.check, got.Status)
			}
			if Failed(rs) != (tc.status == Fail) {
				t.Errorf("Failed = %v with %s %s", Failed(rs), tc.check, got.Status)
			}
		})
	}
}

// TestCheckNoConfig: without a configuration the checks that need it are
// left out or say so, and the rest still run.
func TestCheckNoConfig(t *testing.T) {
	rs := Check(context.Background(), nil, healthy())
	for _, r := range rs {
		if r.Name == "schedulers" && r.Status != Warn {
			t.Errorf("schedulers without a configuration: %s %s", r.Status, r.Detail)
		}
		if strings.HasPrefix(r.Name, "device") || strings.HasPrefix(r.Name, "net.ipv") {
			t.Errorf("%s checked without a configuration", r.Name)
		}
	}
}
