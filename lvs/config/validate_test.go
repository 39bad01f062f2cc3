package config_test

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Indexes of the virtual servers of valid().
const (
	vWeb    = 0 // IPv4 tcp/80, reals web1 (port inherited) and web2 (8080, nat)
	vWeb6   = 1 // IPv6 tcp/443 on sh with flags, real web6a
	vMarked = 2 // fwmark 3, port 0, reals m1 and m2 on port 80
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// valid returns a rich configuration that Validate accepts; each test case
// changes one thing in it.
func valid() *config.Config {
	return &config.Config{
		Serial: 42,
		Global: config.Global{
			Primary:         mustAddr("192.0.2.1"),
			PrimaryPrivate:  mustAddr("10.0.0.1"),
			Network:         config.Direct,
			NATRouter:       mustAddr("10.1.0.254"),
			NATRouterDevice: "eth1:1",
			NATNetmask:      config.MaskBits(24),
			TCPTimeout:      900,
			TCPFinTimeout:   120,
			UDPTimeout:      300,
			ActiveCmd:       "/usr/local/bin/notify active",
			InactiveCmd:     `/usr/local/bin/notify 'standby mode' "now"`,
			Service:         "lvs",
			HardShutdown:    true,
			RshCommand:      "ssh",
			DebugLevel:      "NONE",
		},
		Redundancy: config.Redundancy{
			BackupActive:  true,
			Backup:        mustAddr("192.0.2.2"),
			BackupPrivate: mustAddr("10.0.0.2"),
			Heartbeat:     true,
			Keepalive:     6 * time.Second,
			Deadtime:      18 * time.Second,
			HeartbeatPort: 539,
			MonitorLinks:  true,
			SyncDaemon:    true,
			SyncIface:     "eth0",
			SyncID:        7,
		},
		Virtuals: []config.VirtualServer{
			{
				ID: 1, Name: "web", Active: true,
				Address: mustAddr("192.0.2.10"), Device: "eth0:1", Netmask: config.MaskBits(24),
				Protocol: config.TCP, Port: 80, Scheduler: "wlc",
				Persistence: 300, PersistenceNetmask: config.MaskBits(24),
				SorryServer:  mustAddr("192.0.2.50"),
				CheckTimeout: 6 * time.Second, Reentry: 15 * time.Second,
				LoadMonitor: "none", Send: config.DefaultSend, Expect: "HTTP",
				Reals: []config.RealServer{
					{ID: 11, Name: "web1", Active: true, Address: mustAddr("10.1.0.11"), Weight: 1},
					{ID: 12, Name: "web2", Active: true, Address: mustAddr("10.1.0.12"), Port: 8080, Weight: 2,
						Forward: config.NAT, UpperThreshold: 1000, LowerThreshold: 800},
				},
			},
			{
				ID: 2, Name: "web6", Active: true,
				Address: mustAddr("2001:db8::10"), Device: "eth0", Netmask: config.MaskBits(64),
				Protocol: config.TCP, Port: 443, Scheduler: "sh", SchedFallback: true, SchedPort: true,
				Persistence: 60, PersistenceNetmask: config.MaskBits(64),
				CheckTimeout: 2500 * time.Millisecond, Reentry: 0,
				LoadMonitor: "", Send: "", Expect: "",
				Reals: []config.RealServer{
					{ID: 21, Name: "web6a", Active: true, Address: mustAddr("2001:db8::11"), Port: 443, Weight: config.MaxWeight},
				},
			},
			{
				ID: 3, Name: "marked", Active: true,
				Address: mustAddr("192.0.2.20"), Device: "eth0:2",
				Protocol: config.TCP, Port: 0, FWMark: 3, Scheduler: "rr", OnePacket: true,
				CheckTimeout: 10 * time.Second, Reentry: 30 * time.Second, Quiesce: true,
				LoadMonitor: "uptime", Send: `PING\r\n`, Expect: "^(OK|PONG)", UseRegex: true,
				SendProgram: "/usr/lib/lvs/check --host %h --port %p",
				Reals: []config.RealServer{
					{ID: 31, Name: "m1", Active: true, Address: mustAddr("10.1.0.21"), Port: 80, Weight: 0},
					{ID: 32, Name: "m2", Active: true, Address: mustAddr("10.1.0.22"), Port: 80, Weight: 5},
				},
			},
		},
	}
}

func TestValidBaseIsValid(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid() is refused: %v", err)
	}
	// Validate must not change the configuration.
	before := c.Clone()
	_ = c.Validate()
	if c.Virtuals[vWeb].Reals[0] != before.Virtuals[vWeb].Reals[0] || c.Global != before.Global || c.Redundancy != before.Redundancy {
		t.Fatal("Validate changed the configuration")
	}
}

func TestDefaultIsValid(t *testing.T) {
	c := config.Default()
	if len(c.Virtuals) != 0 {
		t.Fatalf("Default() has %d virtual servers, want 0", len(c.Virtuals))
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() is refused: %v", err)
	}
}

func TestDefaultPlaceholdersAreValid(t *testing.T) {
	c := config.Default()
	x := config.NewVirtual("x")
	x.Reals = append(x.Reals, config.NewReal("y"), config.NewReal("z"))
	c.Virtuals = append(c.Virtuals, x, config.NewVirtual("x2"))
	if x.Active || x.Reals[0].Active {
		t.Fatal("NewVirtual/NewReal should be inactive placeholders")
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() with NewVirtual/NewReal placeholders is refused: %v", err)
	}

	// Activating a placeholder without giving it an address is refused.
	c.Virtuals[0].Active = true
	checkOne(t, c.Validate(), "virtual", 0, -1, "address", "real address")
}

// checkOne asserts that err is a *ValidationError reporting exactly one
// field error with the given coordinates whose message contains want.
func checkOne(t *testing.T, err error, section string, vi, ri int, field, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %s %s refused", section, field)
	}
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T (%v) is not a *ValidationError", err, err)
	}
	if len(ve.Fields) != 1 {
		t.Fatalf("%d field errors, want 1 (%s %s): %v", len(ve.Fields), section, field, err)
	}
	fe := ve.Fields[0]
	if fe.Section != section || fe.Field != field || fe.Virtual != vi || fe.Real != ri {
		t.Fatalf("reported section=%q virtual=%d real=%d field=%q (%v); want section=%q virtual=%d real=%d field=%q",
			fe.Section, fe.Virtual, fe.Real, fe.Field, fe, section, vi, ri, field)
	}
	if !strings.Contains(fe.Msg, want) {
		t.Fatalf("message %q does not contain %q", fe.Msg, want)
	}
	if !registered(fe.Field) {
		t.Fatalf("the refusal names %q, which no field of the registry is called", fe.Field)
	}
	if fe.Error() == "" || err.Error() != fe.Error() {
		t.Fatalf("ValidationError.Error() = %q, want the field's %q", err.Error(), fe.Error())
	}
}

// registered reports whether a refusal's field is a name of the registry:
// the rules between fields speak of fields by their registered names.
func registered(key string) bool {
	return config.GlobalFields.Key(key) != nil || config.RedundancyFields.Key(key) != nil ||
		config.VirtualFields.Key(key) != nil || config.RealFields.Key(key) != nil
}

// Shorthands for mutations.
func web(c *config.Config) *config.VirtualServer    { return &c.Virtuals[vWeb] }
func web6(c *config.Config) *config.VirtualServer   { return &c.Virtuals[vWeb6] }
func marked(c *config.Config) *config.VirtualServer { return &c.Virtuals[vMarked] }
func web1(c *config.Config) *config.RealServer      { return &c.Virtuals[vWeb].Reals[0] }
func web2(c *config.Config) *config.RealServer      { return &c.Virtuals[vWeb].Reals[1] }
func web6a(c *config.Config) *config.RealServer     { return &c.Virtuals[vWeb6].Reals[0] }
func m1(c *config.Config) *config.RealServer        { return &c.Virtuals[vMarked].Reals[0] }

// copyVirtual appends a deep copy of virtual server i named name.
func copyVirtual(c *config.Config, i int, name string) *config.VirtualServer {
	vs := c.Virtuals[i]
	vs.Name = name
	vs.Reals = append([]config.RealServer(nil), vs.Reals...)
	c.Virtuals = append(c.Virtuals, vs)
	return &c.Virtuals[len(c.Virtuals)-1]
}

type refusal struct {
	name    string
	mut     func(c *config.Config)
	section string
	vi, ri  int
	field   string
	want    string // in the message: what is allowed
}

// Coordinates of the reports.
const (
	glob = "global"
	red  = "redundancy"
	virt = "virtual"
	srv  = "server"
)

var long64 = strings.Repeat("a", 64)

func TestValidateRefuses(t *testing.T) {
	cases := []refusal{
		// ---- global ----
		{"primary multicast", func(c *config.Config) { c.Global.Primary = mustAddr("224.0.0.1") }, glob, -1, -1, "primary", "unicast"},
		{"primary broadcast", func(c *config.Config) { c.Global.Primary = mustAddr("255.255.255.255") }, glob, -1, -1, "primary", "unicast"},
		{"primary IPv6 link-local", func(c *config.Config) {
			c.Global.Primary = mustAddr("fe80::1")
			c.Redundancy.BackupActive = false
		}, glob, -1, -1, "primary", "global or unique-local"},
		{"primary_private multicast", func(c *config.Config) { c.Global.PrimaryPrivate = mustAddr("239.1.1.1") }, glob, -1, -1, "primary_private", "unicast"},
		{"network empty", func(c *config.Config) { c.Global.Network = "" }, glob, -1, -1, "network", "nat, direct or tunnel"},
		{"network bogus", func(c *config.Config) { c.Global.Network = "bogus" }, glob, -1, -1, "network", "nat, direct or tunnel"},
		{"network uppercase", func(c *config.Config) { c.Global.Network = "NAT" }, glob, -1, -1, "network", "nat, direct or tunnel"},
		{"nat_router multicast", func(c *config.Config) { c.Global.NATRouter = mustAddr("224.0.0.5") }, glob, -1, -1, "nat_router", "unicast"},
		{"nat_router without device", func(c *config.Config) { c.Global.NATRouterDevice = "" }, glob, -1, -1, "nat_router", "device"},
		{"nat_router bad device", func(c *config.Config) { c.Global.NATRouterDevice = "eth 1" }, glob, -1, -1, "nat_router", "interface name"},
		{"nat_router device without address", func(c *config.Config) { c.Global.NATRouter = netip.Addr{} }, glob, -1, -1, "nat_router", "give the NAT router's address"},
		{"nat_nmask too long without router", func(c *config.Config) {
			c.Global.NATRouter, c.Global.NATRouterDevice, c.Global.NATNetmask = netip.Addr{}, "", config.MaskBits(40)
		}, glob, -1, -1, "nat_nmask", "0-32"},
		{"timeout finer than a millisecond", func(c *config.Config) { web(c).CheckTimeout = 1500500 * time.Microsecond }, virt, vWeb, -1, "timeout", "whole milliseconds"},
		{"nat_nmask /33", func(c *config.Config) { c.Global.NATNetmask = config.MaskBits(33) }, glob, -1, -1, "nat_nmask", "0-32"},
		{"tcp_timeout -1", func(c *config.Config) { c.Global.TCPTimeout = -1 }, glob, -1, -1, "tcp_timeout", "0-4294967295"},
		{"tcp_timeout 2^32", func(c *config.Config) { c.Global.TCPTimeout = 1 << 32 }, glob, -1, -1, "tcp_timeout", "0-4294967295"},
		{"tcpfin_timeout -1", func(c *config.Config) { c.Global.TCPFinTimeout = -1 }, glob, -1, -1, "tcpfin_timeout", "0-4294967295"},
		{"udp_timeout 2^32", func(c *config.Config) { c.Global.UDPTimeout = 1 << 32 }, glob, -1, -1, "udp_timeout", "0-4294967295"},
		{"active_cmd relative", func(c *config.Config) { c.Global.ActiveCmd = "notify active" }, glob, -1, -1, "active_cmd", "absolute path"},
		{"active_cmd unclosed quote", func(c *config.Config) { c.Global.ActiveCmd = `/bin/notify "active` }, glob, -1, -1, "active_cmd", "unclosed"},
		{"active_cmd newline", func(c *config.Config) { c.Global.ActiveCmd = "/bin/notify\n/bin/rm" }, glob, -1, -1, "active_cmd", "control character"},
		{"active_cmd blank", func(c *config.Config) { c.Global.ActiveCmd = "   " }, glob, -1, -1, "active_cmd", "leave it empty or name a program"},
		{"inactive_cmd relative", func(c *config.Config) { c.Global.InactiveCmd = "./standby.sh" }, glob, -1, -1, "inactive_cmd", "absolute path"},
		{"service fos", func(c *config.Config) { c.Global.Service = "fos" }, glob, -1, -1, "service", "only lvs"},
		{"rsh_command telnet", func(c *config.Config) { c.Global.RshCommand = "telnet" }, glob, -1, -1, "rsh_command", "rsh or ssh"},
		{"debug_level abc", func(c *config.Config) { c.Global.DebugLevel = "abc" }, glob, -1, -1, "debug_level", "NONE or a number"},
		{"debug_level -1", func(c *config.Config) { c.Global.DebugLevel = "-1" }, glob, -1, -1, "debug_level", "NONE or a number"},

		// ---- redundancy ----
		{"backup multicast", func(c *config.Config) { c.Redundancy.Backup = mustAddr("224.0.0.18") }, red, -1, -1, "backup", "unicast"},
		{"backup_private broadcast", func(c *config.Config) { c.Redundancy.BackupPrivate = mustAddr("255.255.255.255") }, red, -1, -1, "backup_private", "unicast"},
		{"backup_active without primary", func(c *config.Config) { c.Global.Primary = netip.Addr{} }, red, -1, -1, "primary", "required"},
		{"backup_active with placeholder primary", func(c *config.Config) { c.Global.Primary = netip.IPv4Unspecified() }, red, -1, -1, "primary", "required"},
		{"backup_active without backup", func(c *config.Config) { c.Redundancy.Backup = netip.Addr{} }, red, -1, -1, "backup", "required"},
		{"backup_active with placeholder backup", func(c *config.Config) { c.Redundancy.Backup = netip.IPv4Unspecified() }, red, -1, -1, "backup", "required"},
		{"backup equals primary", func(c *config.Config) { c.Redundancy.Backup = c.Global.Primary }, red, -1, -1, "backup", "their own"},
		{"backup other family", func(c *config.Config) { c.Redundancy.Backup = mustAddr("2001:db8::2") }, red, -1, -1, "backup", "address families"},
		{"primary_private without backup_private", func(c *config.Config) { c.Redundancy.BackupPrivate = netip.Addr{} }, red, -1, -1, "backup_private", "both directors or on neither"},
		{"backup_private without primary_private", func(c *config.Config) { c.Global.PrimaryPrivate = netip.Addr{} }, red, -1, -1, "primary_private", "both directors or on neither"},
		{"keepalive 0", func(c *config.Config) { c.Redundancy.Keepalive = 0 }, red, -1, -1, "keepalive", "0.01 to 3600"},
		{"keepalive 5ms", func(c *config.Config) { c.Redundancy.Keepalive = 5 * time.Millisecond }, red, -1, -1, "keepalive", "0.01 to 3600"},
		{"deadtime equal to keepalive", func(c *config.Config) { c.Redundancy.Deadtime = c.Redundancy.Keepalive }, red, -1, -1, "deadtime", "longer than keepalive"},
		{"deadtime below keepalive", func(c *config.Config) { c.Redundancy.Deadtime = time.Second }, red, -1, -1, "deadtime", "longer than keepalive"},
		{"deadtime over an hour", func(c *config.Config) { c.Redundancy.Deadtime = time.Hour + time.Second }, red, -1, -1, "deadtime", "0.01 to 3600"},
		{"heartbeat_port 0", func(c *config.Config) { c.Redundancy.HeartbeatPort = 0 }, red, -1, -1, "heartbeat_port", "1-65535"},
		{"heartbeat_port 65536", func(c *config.Config) { c.Redundancy.HeartbeatPort = 65536 }, red, -1, -1, "heartbeat_port", "1-65535"},
		{"sync daemon without interface", func(c *config.Config) { c.Redundancy.SyncIface = "" }, red, -1, -1, "syncd_iface", "required"},
		{"syncd_iface with slash", func(c *config.Config) { c.Redundancy.SyncIface = "eth0/1" }, red, -1, -1, "syncd_iface", "interface name"},
		{"syncd_id 256", func(c *config.Config) { c.Redundancy.SyncID = 256 }, red, -1, -1, "syncd_id", "0-255"},
		{"syncd_id -1", func(c *config.Config) { c.Redundancy.SyncID = -1 }, red, -1, -1, "syncd_id", "0-255"},

		// ---- virtual servers ----
		{"virtual name with space", func(c *config.Config) { web(c).Name = "my web" }, virt, vWeb, -1, "name", "letters, digits"},
		{"virtual name empty", func(c *config.Config) { web(c).Name = "" }, virt, vWeb, -1, "name", "1-63"},
		{"virtual name 64 chars", func(c *config.Config) { web(c).Name = long64 }, virt, vWeb, -1, "name", "1-63"},
		{"virtual name leading dash", func(c *config.Config) { web(c).Name = "-web" }, virt, vWeb, -1, "name", "starting with a letter or digit"},
		{"duplicate virtual name", func(c *config.Config) { marked(c).Name = "web" }, virt, vMarked, -1, "name", "unique"},
		{"virtual address unset", func(c *config.Config) { web(c).Address = netip.Addr{} }, virt, vWeb, -1, "address", "required"},
		{"virtual address multicast", func(c *config.Config) { web(c).Address = mustAddr("224.1.2.3") }, virt, vWeb, -1, "address", "unicast"},
		{"virtual address broadcast", func(c *config.Config) { web(c).Address = mustAddr("255.255.255.255") }, virt, vWeb, -1, "address", "unicast"},
		{"virtual address IPv6 multicast", func(c *config.Config) { web6(c).Address = mustAddr("ff02::1") }, virt, vWeb6, -1, "address", "unicast"},
		{"active virtual on 0.0.0.0", func(c *config.Config) { web(c).Address = netip.IPv4Unspecified() }, virt, vWeb, -1, "address", "real address"},
		{"active virtual on ::", func(c *config.Config) { web6(c).Address = netip.IPv6Unspecified() }, virt, vWeb6, -1, "address", "real address"},
		{"device too long", func(c *config.Config) { web(c).Device = "eth0123456789012" }, virt, vWeb, -1, "device", "at most 15"},
		{"device with space", func(c *config.Config) { web(c).Device = "eth0 1" }, virt, vWeb, -1, "device", "A-Z a-z 0-9"},
		{"device with slash", func(c *config.Config) { web(c).Device = "../eth0" }, virt, vWeb, -1, "device", "eth0:1"},
		{"device dotdot", func(c *config.Config) { web(c).Device = ".." }, virt, vWeb, -1, "device", "interface name"},
		{"device with control char", func(c *config.Config) { web(c).Device = "eth0\x01" }, virt, vWeb, -1, "device", "interface name"},
		{"vip_nmask /33 on IPv4", func(c *config.Config) { web(c).Netmask = config.MaskBits(33) }, virt, vWeb, -1, "vip_nmask", "0-32"},
		{"vip_nmask /129 on IPv6", func(c *config.Config) { web6(c).Netmask = config.MaskBits(129) }, virt, vWeb6, -1, "vip_nmask", "0-128"},
		{"protocol bogus", func(c *config.Config) { web(c).Protocol = "icmp" }, virt, vWeb, -1, "protocol", "tcp, udp or sctp"},
		{"protocol empty", func(c *config.Config) { web(c).Protocol = "" }, virt, vWeb, -1, "protocol", "tcp, udp or sctp"},
		{"fwmark -1", func(c *config.Config) { marked(c).FWMark = -1 }, virt, vMarked, -1, "fwmark", "0-4294967295"},
		{"fwmark 2^32", func(c *config.Config) { marked(c).FWMark = 1 << 32 }, virt, vMarked, -1, "fwmark", "0-4294967295"},
		{"virtual port 0", func(c *config.Config) { web(c).Port = 0 }, virt, vWeb, -1, "port", "1-65535"},
		{"virtual port 65536", func(c *config.Config) { web(c).Port = 65536 }, virt, vWeb, -1, "port", "1-65535"},
		{"virtual port -1", func(c *config.Config) { web(c).Port = -1 }, virt, vWeb, -1, "port", "1-65535"},
		{"fwmark virtual port 65536", func(c *config.Config) { marked(c).Port = 65536 }, virt, vMarked, -1, "port", "0-65535"},
		{"fwmark virtual port -1", func(c *config.Config) { marked(c).Port = -1 }, virt, vMarked, -1, "port", "0-65535"},
		{"scheduler foo", func(c *config.Config) { web(c).Scheduler = "foo" }, virt, vWeb, -1, "scheduler", "wlc"},
		{"scheduler empty", func(c *config.Config) { web(c).Scheduler = "" }, virt, vWeb, -1, "scheduler", "rr wrr"},
		{"sched fallback on wlc", func(c *config.Config) { web(c).SchedFallback = true }, virt, vWeb, -1, "sched_flags", "sh and mh"},
		{"sched port on wlc", func(c *config.Config) { web(c).SchedPort = true }, virt, vWeb, -1, "sched_flags", "sh and mh"},
		{"sched flags after switching sh to rr", func(c *config.Config) { web6(c).Scheduler = "rr" }, virt, vWeb6, -1, "sched_flags", "sh and mh"},
		{"one-packet on tcp", func(c *config.Config) { web(c).OnePacket = true }, virt, vWeb, -1, "ops", "udp"},
		{"one-packet on sctp", func(c *config.Config) { web(c).Protocol, web(c).OnePacket = config.SCTP, true }, virt, vWeb, -1, "ops", "udp"},
		{"persistent -1", func(c *config.Config) { web(c).Persistence = -1 }, virt, vWeb, -1, "persistent", "0-4294967295"},
		{"persistent 2^32", func(c *config.Config) { web(c).Persistence = 1 << 32 }, virt, vWeb, -1, "persistent", "0-4294967295"},
		{"pmask /33 on IPv4", func(c *config.Config) { web(c).PersistenceNetmask = config.MaskBits(33) }, virt, vWeb, -1, "pmask", "0-32"},
		{"pmask /129 on IPv6", func(c *config.Config) { web6(c).PersistenceNetmask = config.MaskBits(129) }, virt, vWeb6, -1, "pmask", "0-128"},
		{"pmask /0 on IPv6", func(c *config.Config) { web6(c).PersistenceNetmask = config.MaskBits(0) }, virt, vWeb6, -1, "pmask", "1-128"},
		{"sorry_server multicast", func(c *config.Config) { web(c).SorryServer = mustAddr("224.0.0.9") }, virt, vWeb, -1, "sorry_server", "unicast"},
		{"sorry_server placeholder", func(c *config.Config) { web(c).SorryServer = netip.IPv4Unspecified() }, virt, vWeb, -1, "sorry_server", "real address"},
		{"sorry_server other family", func(c *config.Config) { web(c).SorryServer = mustAddr("2001:db8::50") }, virt, vWeb, -1, "sorry_server", "only tunnel mode"},
		{"quorum negative", func(c *config.Config) { web(c).Quorum = -1 }, virt, vWeb, -1, "quorum", "1-4294967295"},
		{"quorum 2^32", func(c *config.Config) { web(c).Quorum = 1 << 32 }, virt, vWeb, -1, "quorum", "1-4294967295"},
		{"hysteresis at the default quorum", func(c *config.Config) { web(c).Hysteresis = 1 }, virt, vWeb, -1, "hysteresis", "not below the quorum 1"},
		{"hysteresis at the quorum", func(c *config.Config) { web(c).Quorum, web(c).Hysteresis = 5, 5 }, virt, vWeb, -1, "hysteresis", "at most 4"},
		{"hysteresis negative", func(c *config.Config) { web(c).Quorum, web(c).Hysteresis = 5, -1 }, virt, vWeb, -1, "hysteresis", "0-4294967295"},
		{"quorum_up relative", func(c *config.Config) { web(c).QuorumUp = "page up" }, virt, vWeb, -1, "quorum_up", "full path"},
		{"quorum_down unclosed quote", func(c *config.Config) { web(c).QuorumDown = "/usr/bin/page 'x" }, virt, vWeb, -1, "quorum_down", "unclosed ' quote"},
		{"check timeout 0", func(c *config.Config) { web(c).CheckTimeout = 0 }, virt, vWeb, -1, "timeout", "0.01 to 3600"},
		{"check timeout over an hour", func(c *config.Config) { web(c).CheckTimeout = time.Hour + time.Millisecond }, virt, vWeb, -1, "timeout", "0.01 to 3600"},
		{"reentry negative", func(c *config.Config) { web(c).Reentry = -time.Second }, virt, vWeb, -1, "reentry", "0 to 86400"},
		{"reentry over a day", func(c *config.Config) { web(c).Reentry = 25 * time.Hour }, virt, vWeb, -1, "reentry", "0 to 86400"},
		{"load_monitor bogus", func(c *config.Config) { web(c).LoadMonitor = "bogus" }, virt, vWeb, -1, "load_monitor", "none, rup, ruptime, uptime, agent or feedback"},
		{"load_send too long", func(c *config.Config) { web(c).LoadSend = strings.Repeat("x", 513) }, virt, vWeb, -1, "load_send", "at most 512"},
		{"max_weight below the weight", func(c *config.Config) { web1(c).Weight, web1(c).MaxWeight = 10, 5 }, srv, vWeb, 0, "max_weight", "below the weight 10"},
		{"agent without a port", func(c *config.Config) { web(c).LoadMonitor, web2(c).LoadPort = "agent", 4444 }, srv, vWeb, 0, "load_port", "required with the agent load monitor"},
		{"send with newline", func(c *config.Config) { web(c).Send = "GET / HTTP/1.0\n\n" }, virt, vWeb, -1, "send", `\n`},
		{"send with DEL", func(c *config.Config) { web(c).Send = "GET\x7f" }, virt, vWeb, -1, "send", `\r, \n or \t`},
		{"expect with carriage return", func(c *config.Config) { web(c).Expect = "HTTP\r" }, virt, vWeb, -1, "expect", `\r`},
		{"use_regex with invalid regex", func(c *config.Config) { marked(c).Expect = "(OK" }, virt, vMarked, -1, "expect", "POSIX extended regular expression"},
		{"use_regex with Perl-only regex", func(c *config.Config) { marked(c).Expect = `(?i)ok` }, virt, vMarked, -1, "expect", "POSIX extended regular expression"},
		{"use_regex with empty expect", func(c *config.Config) { marked(c).Expect = "" }, virt, vMarked, -1, "expect", "regular expression"},
		{"send_program relative", func(c *config.Config) { web(c).SendProgram = "check --host %h" }, virt, vWeb, -1, "send_program", "full path"},
		{"send_program unclosed quote", func(c *config.Config) { web(c).SendProgram = "/usr/bin/check 'unterminated" }, virt, vWeb, -1, "send_program", "unclosed ' quote"},
		{"send_program trailing backslash", func(c *config.Config) { web(c).SendProgram = `/usr/bin/check \` }, virt, vWeb, -1, "send_program", "lone backslash"},
		{"send_program control char", func(c *config.Config) { web(c).SendProgram = "/usr/bin/check\x1b" }, virt, vWeb, -1, "send_program", "control character"},
		{"two active virtuals on one service", func(c *config.Config) { copyVirtual(c, vWeb, "web-again") }, virt, 3, -1, "port", "already served"},
		{"two active virtuals on one service, other real names", func(c *config.Config) {
			vs := copyVirtual(c, vWeb, "web-again")
			vs.Reals = nil
			vs.Scheduler = "rr"
		}, virt, 3, -1, "port", "TCP 192.0.2.10:80"},
		{"two active virtuals on one IPv6 service", func(c *config.Config) { copyVirtual(c, vWeb6, "web6-again") }, virt, 3, -1, "port", "TCP [2001:db8::10]:443"},
		{"two active virtuals on one fwmark", func(c *config.Config) {
			vs := copyVirtual(c, vMarked, "marked-again")
			vs.Address = mustAddr("192.0.2.21")
		}, virt, 3, -1, "fwmark", "FWM 3"},

		// ---- real servers ----
		{"real name with space", func(c *config.Config) { web1(c).Name = "web 1" }, srv, vWeb, 0, "name", "letters, digits"},
		{"real name empty", func(c *config.Config) { web2(c).Name = "" }, srv, vWeb, 1, "name", "1-63"},
		{"real name 64 chars", func(c *config.Config) { web6a(c).Name = long64 }, srv, vWeb6, 0, "name", "1-63"},
		{"duplicate real name", func(c *config.Config) { web2(c).Name = "web1" }, srv, vWeb, 1, "name", "already the name"},
		{"real address unset", func(c *config.Config) { web1(c).Address = netip.Addr{} }, srv, vWeb, 0, "address", "required"},
		{"real address multicast", func(c *config.Config) { web1(c).Address = mustAddr("224.0.0.1") }, srv, vWeb, 0, "address", "unicast"},
		{"real address broadcast", func(c *config.Config) { web2(c).Address = mustAddr("255.255.255.255") }, srv, vWeb, 1, "address", "unicast"},
		{"active real on 0.0.0.0", func(c *config.Config) { web1(c).Address = netip.IPv4Unspecified() }, srv, vWeb, 0, "address", "real address"},
		{"active real on link-local IPv6", func(c *config.Config) { web6a(c).Address = mustAddr("fe80::11") }, srv, vWeb6, 0, "address", "global or unique-local"},
		{"real fwd bogus", func(c *config.Config) { web2(c).Forward = "bogus" }, srv, vWeb, 1, "fwd", "nat, direct or tunnel"},
		{"IPv4 real in IPv6 virtual", func(c *config.Config) { web6a(c).Address = mustAddr("10.1.0.30") }, srv, vWeb6, 0, "address", "only tunnel forwarding"},
		{"IPv4 real in IPv6 virtual, nat", func(c *config.Config) {
			web6a(c).Address, web6a(c).Forward = mustAddr("10.1.0.30"), config.NAT
		}, srv, vWeb6, 0, "address", "only tunnel forwarding"},
		{"IPv6 real in IPv4 virtual, global network nat", func(c *config.Config) {
			c.Global.Network = config.NAT
			web1(c).Address = mustAddr("2001:db8::99")
		}, srv, vWeb, 0, "address", "only tunnel forwarding"},
		{"IPv6 real in IPv4 virtual overriding global tunnel", func(c *config.Config) {
			c.Global.Network = config.Tunnel
			web1(c).Address, web1(c).Forward = mustAddr("2001:db8::99"), config.Direct
		}, srv, vWeb, 0, "address", "only tunnel forwarding"},
		{"real port -1", func(c *config.Config) { web2(c).Port = -1 }, srv, vWeb, 1, "port", "0-65535"},
		{"real port 65536", func(c *config.Config) { web2(c).Port = 65536 }, srv, vWeb, 1, "port", "0-65535"},
		{"fwmark real without port", func(c *config.Config) { m1(c).Port = 0 }, srv, vMarked, 0, "port", "required"},
		{"weight -1", func(c *config.Config) { web1(c).Weight = -1 }, srv, vWeb, 0, "weight", "0-2147483647"},
		{"weight 2147483648", func(c *config.Config) { web1(c).Weight = math.MaxInt32 + 1 }, srv, vWeb, 0, "weight", "0-2147483647"},
		{"uthreshold 2^32", func(c *config.Config) { web2(c).UpperThreshold = 1 << 32 }, srv, vWeb, 1, "uthreshold", "0-4294967295"},
		{"notify_up relative", func(c *config.Config) { web2(c).NotifyUp = "up.sh" }, srv, vWeb, 1, "notify_up", "full path"},
		{"notify_down control char", func(c *config.Config) { web2(c).NotifyDown = "/usr/bin/down\x1b" }, srv, vWeb, 1, "notify_down", "control character"},
		{"lthreshold -1", func(c *config.Config) { web2(c).LowerThreshold = -1 }, srv, vWeb, 1, "lthreshold", "0-4294967295"},
		{"lthreshold above uthreshold", func(c *config.Config) { web2(c).LowerThreshold = 1001 }, srv, vWeb, 1, "lthreshold", "above the upper threshold"},
		{"lthreshold without uthreshold", func(c *config.Config) { web2(c).UpperThreshold = 0 }, srv, vWeb, 1, "lthreshold", "set the upper one first"},
		{"two active reals on one address:port", func(c *config.Config) {
			web2(c).Address, web2(c).Port = web1(c).Address, 80
		}, srv, vWeb, 1, "address", "10.1.0.11:80 is already active real server web1"},
		{"two active reals on one address, inherited port", func(c *config.Config) {
			web1(c).Address, web1(c).Port = web2(c).Address, 8080
			web2(c).Port = 0
			web(c).Port = 8080
		}, srv, vWeb, 1, "address", "already active real server"},
		{"two active IPv6 reals on one address:port", func(c *config.Config) {
			r := *web6a(c)
			r.Name = "web6b"
			web6(c).Reals = append(web6(c).Reals, r)
		}, srv, vWeb6, 1, "address", "[2001:db8::11]:443"},
	}

	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mut(c)
			checkOne(t, c.Validate(), tc.section, tc.vi, tc.ri, tc.field, tc.want)
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	cases := []struct {
		name string
		mut  func(c *config.Config)
	}{
		{"weight 0", func(c *config.Config) { web1(c).Weight = 0 }},
		{"weight 2147483647", func(c *config.Config) { web1(c).Weight = math.MaxInt32 }},
		{"real port 65535", func(c *config.Config) { web2(c).Port = 65535 }},
		{"virtual port 1", func(c *config.Config) { web(c).Port = 1 }},
		{"virtual port 65535", func(c *config.Config) { web(c).Port = 65535 }},
		{"fwmark virtual port 0", func(c *config.Config) { marked(c).Port = 0 }},
		{"fwmark virtual port 80 with portless real", func(c *config.Config) { marked(c).Port = 80; m1(c).Port = 0 }},
		{"fwmark portless real inactive", func(c *config.Config) { m1(c).Port = 0; m1(c).Active = false }},
		{"fwmark 4294967295", func(c *config.Config) { marked(c).FWMark = math.MaxUint32 }},
		{"same real name in two virtuals", func(c *config.Config) { m1(c).Name = "web1" }},
		{"inactive copy of an active virtual", func(c *config.Config) { copyVirtual(c, vWeb, "web-spare").Active = false }},
		{"same address and port, other protocol", func(c *config.Config) { copyVirtual(c, vWeb, "dns").Protocol = config.UDP }},
		{"same address, other port", func(c *config.Config) { copyVirtual(c, vWeb, "web-alt").Port = 8080 }},
		{"same fwmark in the other family", func(c *config.Config) {
			vs := copyVirtual(c, vMarked, "marked6")
			vs.Address = mustAddr("2001:db8::20")
			vs.Reals = []config.RealServer{{Name: "m6", Active: true, Address: mustAddr("2001:db8::21"), Port: 80, Weight: 1}}
		}},
		{"two reals on one address:port, one inactive", func(c *config.Config) {
			web2(c).Address, web2(c).Port, web2(c).Active = web1(c).Address, 80, false
		}},
		{"same real address:port in two virtuals", func(c *config.Config) { m1(c).Address = web1(c).Address }},
		{"IPv4 real in IPv6 virtual, tunnel", func(c *config.Config) {
			web6a(c).Address, web6a(c).Forward = mustAddr("10.1.0.30"), config.Tunnel
		}},
		{"IPv4 real in IPv6 virtual, global tunnel", func(c *config.Config) {
			c.Global.Network = config.Tunnel
			web6a(c).Address = mustAddr("10.1.0.30")
		}},
		{"IPv4 sorry server of IPv6 virtual, global tunnel", func(c *config.Config) {
			c.Global.Network = config.Tunnel
			web6(c).SorryServer = mustAddr("192.0.2.50")
		}},
		{"sched flags on mh", func(c *config.Config) { web6(c).Scheduler = "mh" }},
		{"sched fallback only on sh", func(c *config.Config) { web6(c).SchedPort = false }},
		{"one-packet on udp", func(c *config.Config) { web(c).Protocol, web(c).OnePacket = config.UDP, true }},
		{"sctp", func(c *config.Config) { web(c).Protocol = config.SCTP }},
		{"vip_nmask /32", func(c *config.Config) { web(c).Netmask = config.MaskBits(32) }},
		{"vip_nmask /64 on IPv6", func(c *config.Config) { web6(c).Netmask = config.MaskBits(64) }},
		{"vip_nmask /128 on IPv6", func(c *config.Config) { web6(c).Netmask = config.MaskBits(128) }},
		{"vip_nmask unset", func(c *config.Config) { web(c).Netmask = config.Netmask{} }},
		{"pmask /128 on IPv6", func(c *config.Config) { web6(c).PersistenceNetmask = config.MaskBits(128) }},
		{"pmask unset on IPv6", func(c *config.Config) { web6(c).PersistenceNetmask = config.Netmask{} }},
		{"inactive virtual on 0.0.0.0", func(c *config.Config) { web(c).Active, web(c).Address = false, netip.IPv4Unspecified() }},
		{"inactive virtual on ::", func(c *config.Config) { web6(c).Active, web6(c).Address = false, netip.IPv6Unspecified() }},
		{"inactive real on 0.0.0.0", func(c *config.Config) { web1(c).Active, web1(c).Address = false, netip.IPv4Unspecified() }},
		{"two inactive reals on 0.0.0.0", func(c *config.Config) {
			web1(c).Active, web1(c).Address = false, netip.IPv4Unspecified()
			web2(c).Active, web2(c).Address, web2(c).Port = false, netip.IPv4Unspecified(), 0
		}},
		{"IPv6 real on 0.0.0.0 placeholder", func(c *config.Config) { web6a(c).Active, web6a(c).Address = false, netip.IPv4Unspecified() }},
		{"fractional keepalive and deadtime", func(c *config.Config) {
			c.Redundancy.Keepalive, c.Redundancy.Deadtime = 200*time.Millisecond, 600*time.Millisecond
		}},
		{"keepalive 10ms", func(c *config.Config) {
			c.Redundancy.Keepalive, c.Redundancy.Deadtime = 10*time.Millisecond, 30*time.Millisecond
		}},
		{"deadtime one hour", func(c *config.Config) { c.Redundancy.Deadtime = time.Hour }},
		{"heartbeat_port 65535", func(c *config.Config) { c.Redundancy.HeartbeatPort = 65535 }},
		{"syncd_id 0", func(c *config.Config) { c.Redundancy.SyncID = 0 }},
		{"syncd_id 255", func(c *config.Config) { c.Redundancy.SyncID = 255 }},
		{"sync daemon off without interface", func(c *config.Config) { c.Redundancy.SyncDaemon, c.Redundancy.SyncIface = false, "" }},
		{"backup inactive without backup or primary", func(c *config.Config) {
			c.Redundancy.BackupActive = false
			c.Global.Primary, c.Redundancy.Backup = netip.Addr{}, netip.IPv4Unspecified()
		}},
		{"backup inactive, private on one side", func(c *config.Config) {
			c.Redundancy.BackupActive = false
			c.Redundancy.BackupPrivate = netip.Addr{}
		}},
		{"no private addresses on either director", func(c *config.Config) {
			c.Global.PrimaryPrivate, c.Redundancy.BackupPrivate = netip.Addr{}, netip.IPv4Unspecified()
		}},
		{"IPv6 directors", func(c *config.Config) {
			c.Global.Primary, c.Redundancy.Backup = mustAddr("2001:db8::1"), mustAddr("2001:db8::2")
		}},
		{"network nat", func(c *config.Config) { c.Global.Network = config.NAT }},
		{"network tunnel", func(c *config.Config) { c.Global.Network = config.Tunnel }},
		{"real fwd tunnel", func(c *config.Config) { web1(c).Forward = config.Tunnel }},
		{"no nat router", func(c *config.Config) {
			c.Global.NATRouter, c.Global.NATRouterDevice, c.Global.NATNetmask = netip.Addr{}, "", config.Netmask{}
		}},
		{"nat router placeholder", func(c *config.Config) {
			c.Global.NATRouter, c.Global.NATRouterDevice = netip.IPv4Unspecified(), ""
		}},
		{"thresholds equal", func(c *config.Config) { web2(c).LowerThreshold = 1000 }},
		{"no thresholds", func(c *config.Config) { web2(c).UpperThreshold, web2(c).LowerThreshold = 0, 0 }},
		{"timeouts 4294967295", func(c *config.Config) {
			c.Global.TCPTimeout, c.Global.TCPFinTimeout, c.Global.UDPTimeout = math.MaxUint32, math.MaxUint32, math.MaxUint32
		}},
		{"check timeout 10ms", func(c *config.Config) { web(c).CheckTimeout = 10 * time.Millisecond }},
		{"check timeout one hour", func(c *config.Config) { web(c).CheckTimeout = time.Hour }},
		{"reentry 0", func(c *config.Config) { web(c).Reentry = 0 }},
		{"reentry one day", func(c *config.Config) { web(c).Reentry = 24 * time.Hour }},
		{"load_monitor empty", func(c *config.Config) { web(c).LoadMonitor = "" }},
		{"send with escapes", func(c *config.Config) { web(c).Send = `HELO x\r\n\t` }},
		{"expect anything without use_regex", func(c *config.Config) { web(c).Expect = "(unbalanced [" }},
		{"use_regex with valid regex", func(c *config.Config) { marked(c).Expect = `^HTTP/1\.[01] [23][0-9]{2}` }},
		{"send_program absolute", func(c *config.Config) {
			web(c).SendProgram = `/usr/lib/lvs/check_http --host %h --port %p --url "/health check" \'x`
		}},
		{"send_program empty", func(c *config.Config) { marked(c).SendProgram = "" }},
		{"active_cmd empty", func(c *config.Config) { c.Global.ActiveCmd, c.Global.InactiveCmd = "", "" }},
		{"active_cmd quoted program", func(c *config.Config) { c.Global.ActiveCmd = `"/opt/my tools/notify" up` }},
		{"virtual name 63 chars", func(c *config.Config) { web(c).Name = long64[:63] }},
		{"real name 63 chars", func(c *config.Config) { web1(c).Name = long64[:63] }},
		{"names with dot dash underscore", func(c *config.Config) {
			web(c).Name, web1(c).Name = "9web.example_com-1", "Web_1.a-b"
		}},
		{"debug_level NONE", func(c *config.Config) { c.Global.DebugLevel = "NONE" }},
		{"debug_level 3", func(c *config.Config) { c.Global.DebugLevel = "3" }},
		{"debug_level empty", func(c *config.Config) { c.Global.DebugLevel = "" }},
		{"rsh_command rsh", func(c *config.Config) { c.Global.RshCommand = "rsh" }},
		{"rsh_command empty", func(c *config.Config) { c.Global.RshCommand = "" }},
		{"service empty", func(c *config.Config) { c.Global.Service = "" }},
		{"device empty", func(c *config.Config) { web(c).Device = "" }},
		{"device 15 chars", func(c *config.Config) { web(c).Device = "eth012345678:12" }},
		{"sorry server unset", func(c *config.Config) { web(c).SorryServer = netip.Addr{} }},
		{"IPv4 link-local real", func(c *config.Config) { web1(c).Address = mustAddr("169.254.0.11") }},
		{"unique-local IPv6 real", func(c *config.Config) { web6a(c).Address = mustAddr("fd00::11") }},
		{"no virtual servers", func(c *config.Config) { c.Virtuals = nil }},
		{"virtual without real servers", func(c *config.Config) { web(c).Reals = nil }},
	}
	for _, s := range config.Schedulers {
		cases = append(cases, struct {
			name string
			mut  func(c *config.Config)
		}{"scheduler " + s, func(c *config.Config) { web(c).Scheduler = s }})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mut(c)
			if err := c.Validate(); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	c := valid()
	c.Global.Network = "bogus"                                          // global network
	c.Global.RshCommand = "telnet"                                      // global rsh_command
	c.Redundancy.Keepalive = 0                                          // redundancy keepalive
	c.Redundancy.HeartbeatPort = 0                                      // redundancy heartbeat_port
	web(c).Port = 65536                                                 // virtual 0 port
	web(c).Scheduler = "foo"                                            // virtual 0 scheduler
	web1(c).Weight = -1                                                 // server 0/0 weight
	web2(c).Forward = "bogus"                                           // server 0/1 fwd
	web6a(c).Address = mustAddr("10.1.0.30")                            // server 1/0 address
	marked(c).Name = "web"                                              // virtual 2 name
	m1(c).Port = 0                                                      // server 2/0 port
	c.Virtuals = append(c.Virtuals, config.VirtualServer{Active: true}) // virtual 3: name, address, protocol, port, scheduler, timeout

	err := c.Validate()
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	type key struct {
		section string
		vi, ri  int
		field   string
	}
	want := []key{
		{glob, -1, -1, "network"},
		{glob, -1, -1, "rsh_command"},
		{red, -1, -1, "keepalive"},
		{red, -1, -1, "heartbeat_port"},
		{virt, 0, -1, "port"},
		{virt, 0, -1, "scheduler"},
		{srv, 0, 0, "weight"},
		{srv, 0, 1, "fwd"},
		{srv, 1, 0, "address"},
		{virt, 2, -1, "name"},
		{srv, 2, 0, "port"},
		{virt, 3, -1, "name"},
		{virt, 3, -1, "address"},
		{virt, 3, -1, "protocol"},
		{virt, 3, -1, "port"},
		{virt, 3, -1, "scheduler"},
		{virt, 3, -1, "timeout"},
	}
	if len(ve.Fields) != len(want) {
		for _, f := range ve.Fields {
			t.Logf("  %s", f)
		}
		t.Fatalf("%d field errors, want %d", len(ve.Fields), len(want))
	}
	for i, f := range ve.Fields {
		if got := (key{f.Section, f.Virtual, f.Real, f.Field}); got != want[i] {
			t.Errorf("error %d = %+v (%v), want %+v", i, got, f, want[i])
		}
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "17 invalid values: global: network: ") {
		t.Errorf("Error() = %q, want a count prefix", msg)
	}
}

func TestFieldErrorString(t *testing.T) {
	for _, tc := range []struct {
		fe   config.FieldError
		want string
	}{
		{config.FieldError{Section: "global", Virtual: -1, Real: -1, Field: "network", Msg: "bad"}, "global: network: bad"},
		{config.FieldError{Section: "redundancy", Virtual: -1, Real: -1, Field: "keepalive", Msg: "bad"}, "redundancy: keepalive: bad"},
		{config.FieldError{Section: "virtual", Virtual: 0, Real: -1, VirtualName: "web", Field: "port", Msg: "bad"}, "virtual web: port: bad"},
		{config.FieldError{Section: "virtual", Virtual: 2, Real: -1, Field: "name", Msg: "bad"}, "virtual #3: name: bad"},
		{config.FieldError{Section: "server", Virtual: 0, Real: 1, VirtualName: "web", RealName: "web2", Field: "weight", Msg: "bad"}, "virtual web, server web2: weight: bad"},
		{config.FieldError{Section: "server", Virtual: 1, Real: 0, Field: "name", Msg: "bad"}, "virtual #2, server #1: name: bad"},
	} {
		if got := tc.fe.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestFieldErrorCarriesNames(t *testing.T) {
	c := valid()
	web2(c).Weight = -5
	var ve *config.ValidationError
	if !errors.As(c.Validate(), &ve) || len(ve.Fields) != 1 {
		t.Fatal("want one field error")
	}
	fe := ve.Fields[0]
	if fe.VirtualName != "web" || fe.RealName != "web2" {
		t.Errorf("names = %q, %q; want web, web2", fe.VirtualName, fe.RealName)
	}
	if want := "virtual web, server web2: weight: -5 is out of range: use 0-2147483647"; fe.Error() != want {
		t.Errorf("Error() = %q, want %q", fe.Error(), want)
	}
}

func TestServiceString(t *testing.T) {
	c := valid()
	for _, tc := range []struct {
		vs   *config.VirtualServer
		want string
	}{
		{web(c), "TCP 192.0.2.10:80"},
		{web6(c), "TCP [2001:db8::10]:443"},
		{marked(c), "FWM 3"},
		{&config.VirtualServer{Address: mustAddr("2001:db8::1"), FWMark: 7}, "FWM 7 IPv6"},
		{&config.VirtualServer{Address: mustAddr("192.0.2.1"), Protocol: config.UDP, Port: 53}, "UDP 192.0.2.1:53"},
	} {
		if got := tc.vs.ServiceString(); got != tc.want {
			t.Errorf("ServiceString() = %q, want %q", got, tc.want)
		}
	}
}
