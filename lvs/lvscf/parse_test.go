package lvscf

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func parseString(t *testing.T, src string) *config.Config {
	t.Helper()
	c, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, src)
	}
	return c
}

func parseFile(t *testing.T, name string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return parseString(t, string(b))
}

func TestParsePiranhaExample(t *testing.T) {
	c := parseFile(t, "testdata/piranha-example.cf")
	g, r := c.Global, c.Redundancy
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	ip := netip.MustParseAddr
	check("serial", c.Serial, int64(12))
	check("primary", g.Primary, ip("192.168.1.10"))
	check("primary_private", g.PrimaryPrivate, netip.Addr{})
	check("service", g.Service, "lvs")
	check("network", g.Network, config.Direct)
	check("hard_shutdown (default)", g.HardShutdown, true)
	check("debug_level", g.DebugLevel, "NONE")
	check("nat_router", g.NATRouter, netip.Addr{})
	check("backup_active", r.BackupActive, true)
	check("backup", r.Backup, ip("192.168.1.11"))
	check("heartbeat", r.Heartbeat, true)
	check("heartbeat_port", r.HeartbeatPort, 539)
	check("keepalive", r.Keepalive, 6*time.Second)
	check("deadtime", r.Deadtime, 18*time.Second)
	check("syncd_iface (default)", r.SyncIface, "eth0")
	check("monitor_links", r.MonitorLinks, false)

	if len(c.Virtuals) != 1 {
		t.Fatalf("%d virtual servers, want 1", len(c.Virtuals))
	}
	vs := c.Virtuals[0]
	check("name", vs.Name, "www")
	check("ID", vs.ID, int64(0))
	check("active", vs.Active, true)
	check("address", vs.Address, ip("192.168.1.100"))
	check("device", vs.Device, "eth0:1")
	check("vip_nmask", vs.Netmask, config.MaskBits(24))
	check("port", vs.Port, 80)
	check("protocol", vs.Protocol, config.TCP)
	check("fwmark", vs.FWMark, int64(0))
	check("scheduler", vs.Scheduler, "wlc")
	check("persistent", vs.Persistence, int64(300))
	check("pmask", vs.PersistenceNetmask, config.MaskBits(24))
	check("send", vs.Send, `GET / HTTP/1.0\r\n\r\n`)
	check("len(send)", len(vs.Send), len("GET / HTTP/1.0")+8)
	check("expect", vs.Expect, "HTTP")
	check("use_regex", vs.UseRegex, false)
	check("load_monitor", vs.LoadMonitor, "none")
	check("timeout", vs.CheckTimeout, 6*time.Second)
	check("reentry", vs.Reentry, 15*time.Second)
	check("quiesce_server", vs.Quiesce, true)
	check("sorry_server", vs.SorryServer, netip.Addr{})
	check("send_program", vs.SendProgram, "")

	if len(vs.Reals) != 2 {
		t.Fatalf("%d real servers, want 2", len(vs.Reals))
	}
	want := []config.RealServer{
		{Name: "web1", Active: true, Address: ip("10.10.0.11"), Weight: 1},
		{Name: "web2", Active: true, Address: ip("10.10.0.12"), Port: 8080, Weight: 2},
	}
	for i, w := range want {
		if vs.Reals[i] != w {
			t.Errorf("server %d = %+v, want %+v", i, vs.Reals[i], w)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// The parser's defaults for absent keys are piranha's parser's, not the
// console's.
func TestParseDefaults(t *testing.T) {
	c := parseString(t, `
virtual a {
     address = 192.0.2.1
     server r {
         address = 10.0.0.1
     }
}
virtual m {
     address = 192.0.2.2
     fwmark = 3
}
`)
	want := &config.Config{
		Global: config.Global{Network: config.NAT, Service: "lvs", HardShutdown: true},
		Redundancy: config.Redundancy{Keepalive: 2 * time.Second, Deadtime: 5 * time.Second, HeartbeatPort: 539, SyncIface: "eth0",
			BGPHoldTime: 9 * time.Second, BGPDrain: 10 * time.Second},
		Virtuals: []config.VirtualServer{{
			Name: "a", Address: netip.MustParseAddr("192.0.2.1"), Protocol: config.TCP, Port: 80,
			Scheduler: "wlc", CheckTimeout: 10 * time.Second, Reentry: 180 * time.Second, Announce: true,
			Reals: []config.RealServer{{Name: "r", Address: netip.MustParseAddr("10.0.0.1"), Weight: 1}},
		}, {
			Name: "m", Address: netip.MustParseAddr("192.0.2.2"), Protocol: config.TCP, Port: 80, FWMark: 3,
			Scheduler: "wlc", CheckTimeout: 10 * time.Second, Reentry: 180 * time.Second, Announce: true,
		}},
	}
	assertEqual(t, c, want)
}

func TestParseValues(t *testing.T) {
	src := "# leading comment\r\n" +
		"\r\n" +
		"serial_no=0x1f\r\n" +
		"   # indented comment\r\n" +
		"keepalive = 0.2\r\n" +
		"deadtime = '0.6'\r\n" +
		"nat_router = \"10.0.0.254 eth1:1\"\r\n" +
		"nat_nmask = 255.255.255.0\r\n" +
		"virtual web {\r\n" +
		"\r\n" +
		"     # comment in a block\r\n" +
		"\taddress = 192.0.2.1\r\n" +
		"     port = http\r\n" +
		"     scheduler = sh\r\n" +
		"     sched_flags = port, fallback\r\n" +
		"     send = 'it\\'s \"x\" \\\\ \\n'\r\n" +
		"     server s1 {\r\n" +
		"         address = 10.0.0.1\r\n" +
		"         weight = 0x10\r\n" +
		"         port = 010\r\n" +
		"     }\r\n" +
		"}\r\n" +
		"# trailing comment"
	c := parseString(t, src)
	vs := c.Virtuals[0]
	if c.Serial != 31 {
		t.Errorf("serial_no = %d, want 31", c.Serial)
	}
	if c.Redundancy.Keepalive != 200*time.Millisecond || c.Redundancy.Deadtime != 600*time.Millisecond {
		t.Errorf("keepalive, deadtime = %v, %v", c.Redundancy.Keepalive, c.Redundancy.Deadtime)
	}
	if c.Global.NATRouter != netip.MustParseAddr("10.0.0.254") || c.Global.NATRouterDevice != "eth1:1" || c.Global.NATNetmask != config.MaskBits(24) {
		t.Errorf("nat_router = %v %q %v", c.Global.NATRouter, c.Global.NATRouterDevice, c.Global.NATNetmask)
	}
	if vs.Port != 80 {
		t.Errorf("port = http gave %d, want 80", vs.Port)
	}
	if !vs.SchedFallback || !vs.SchedPort {
		t.Errorf("sched_flags: fallback %v port %v", vs.SchedFallback, vs.SchedPort)
	}
	if want := `it's "x" \ \n`; vs.Send != want {
		t.Errorf("send = %q, want %q", vs.Send, want)
	}
	if rs := vs.Reals[0]; rs.Weight != 16 || rs.Port != 8 {
		t.Errorf("weight = 0x10 gave %d, port = 010 gave %d; want 16, 8", rs.Weight, rs.Port)
	}
}

func TestParseQuoting(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`"GET / HTTP/1.0\r\n\r\n"`, `GET / HTTP/1.0\r\n\r\n`},
		{`GET / HTTP/1.0\r\n\r\n`, `GET / HTTP/1.0\r\n\r\n`},
		{`"a \"b\" c"`, `a "b" c`},
		{`'a \'b\' c'`, `a 'b' c`},
		{`'a \"b\" c'`, `a \"b\" c`},
		{`"it's"`, `it's`},
		{`"x\\"`, `x\`},
		{`"x\\\\y"`, `x\\y`},
		{`"\x\y"`, `\x\y`},
		{`""`, ``},
		{`"  padded  "   `, `  padded  `},
		{`"#not a comment"`, `#not a comment`},
		{`abc # def`, `abc # def`},
		{`a"b`, `a"b`},
	} {
		c := parseString(t, "virtual v {\n address = 192.0.2.1\n send = "+tc.value+"\n}\n")
		if got := c.Virtuals[0].Send; got != tc.want {
			t.Errorf("send = %s: got %q, want %q", tc.value, got, tc.want)
		}
	}
}

func assertEqual(t *testing.T, got, want *config.Config) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Errorf("configs differ: %s", d)
	}
}

// An error of Parse is an Errors whose elements errors.As finds.
func TestErrorsType(t *testing.T) {
	_, err := Parse(strings.NewReader("bogus = 1\n"))
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("Parse error %T %v, want Errors of 1", err, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 {
		t.Fatalf("errors.As *Error: %v", e)
	}
	if got, want := (&Error{Line: 12, Col: 5, Key: "weight", Msg: "bad"}).Error(), "line 12, column 5: weight: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&Error{Line: 3, Col: 1, Msg: "stray }"}).Error(), "line 3, column 1: stray }"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	two := Errors{{Line: 1, Col: 1, Msg: "a"}, {Line: 2, Col: 1, Key: "k", Msg: "b"}}
	if got, want := two.Error(), "line 1, column 1: a\nline 2, column 1: k: b"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}
