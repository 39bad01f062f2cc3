package lvscf

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/config/configtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// normalise drops what lvs.cf cannot carry (store IDs) and the nil/empty
// slice distinction, so that DeepEqual compares what matters.
func normalise(c *config.Config) *config.Config {
	c = c.Clone()
	if len(c.Virtuals) == 0 {
		c.Virtuals = nil
	}
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		vs.ID = 0
		if len(vs.Reals) == 0 {
			vs.Reals = nil
		}
		for j := range vs.Reals {
			vs.Reals[j].ID = 0
		}
	}
	return c
}

// diff names the first differing part of two configurations, or "".
func diff(got, want *config.Config) string {
	got, want = normalise(got), normalise(want)
	if reflect.DeepEqual(got, want) {
		return ""
	}
	if got.Serial != want.Serial {
		return fmt.Sprintf("serial %d, want %d", got.Serial, want.Serial)
	}
	if got.Global != want.Global {
		return fmt.Sprintf("global\n got %+v\nwant %+v", got.Global, want.Global)
	}
	if got.Redundancy != want.Redundancy {
		return fmt.Sprintf("redundancy\n got %+v\nwant %+v", got.Redundancy, want.Redundancy)
	}
	if len(got.Virtuals) != len(want.Virtuals) {
		return fmt.Sprintf("%d virtual servers, want %d", len(got.Virtuals), len(want.Virtuals))
	}
	for i := range got.Virtuals {
		g, w := got.Virtuals[i], want.Virtuals[i]
		if len(g.Reals) != len(w.Reals) {
			return fmt.Sprintf("virtual %s: %d real servers, want %d", w.Name, len(g.Reals), len(w.Reals))
		}
		for j := range g.Reals {
			if g.Reals[j] != w.Reals[j] {
				return fmt.Sprintf("virtual %s, server %d\n got %+v\nwant %+v", w.Name, j, g.Reals[j], w.Reals[j])
			}
		}
		g.Reals, w.Reals = nil, nil
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("virtual %d\n got %+v\nwant %+v", i, g, w)
		}
	}
	return "differ in a way diff does not show"
}

func format(t testing.TB, c *config.Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := Format(&b, c); err != nil {
		t.Fatalf("Format: %v", err)
	}
	return b.String()
}

// richModel exercises every field lvs.cf carries, with values unlike the
// parser's defaults, and is valid.
func richModel() *config.Config {
	ip := netip.MustParseAddr
	return &config.Config{
		Serial: 42,
		Global: config.Global{
			Primary:         ip("192.0.2.10"),
			PrimaryPrivate:  ip("10.0.0.10"),
			Network:         config.NAT,
			NATRouter:       ip("10.10.0.254"),
			NATRouterDevice: "eth1:1",
			NATNetmask:      config.MaskBits(24),
			TCPTimeout:      900,
			TCPFinTimeout:   120,
			UDPTimeout:      300,
			ActiveCmd:       `/usr/bin/logger -t lvs "became active"`,
			InactiveCmd:     `/usr/local/sbin/notify --msg 'standby # now' \\host`,
			Service:         "lvs",
			HardShutdown:    false,
			RshCommand:      "ssh",
			DebugLevel:      "3",
		},
		Redundancy: config.Redundancy{
			BackupActive:  true,
			Backup:        ip("192.0.2.11"),
			BackupPrivate: ip("10.0.0.11"),
			Heartbeat:     true,
			Keepalive:     200 * time.Millisecond,
			Deadtime:      600 * time.Millisecond,
			HeartbeatPort: 1539,
			MonitorLinks:  true,
			Preempt:       true,
			PreemptDelay:  2500 * time.Millisecond,
			SyncDaemon:    true,
			SyncIface:     "eth2",
			SyncID:        7,
			// A pair: BGP's timers at their defaults, not written.
			BGPHoldTime: 9 * time.Second,
			BGPDrain:    10 * time.Second,
		},
		Virtuals: []config.VirtualServer{{
			ID:                 11,
			Name:               "www6",
			Active:             true,
			Address:            ip("2001:db8::80"),
			Device:             "eth0",
			Netmask:            config.MaskBits(64),
			Protocol:           config.TCP,
			Port:               443,
			Scheduler:          "wrr",
			Persistence:        600,
			PersistenceNetmask: config.MaskBits(48),
			SorryServer:        ip("2001:db8::99"),
			CheckTimeout:       2500 * time.Millisecond,
			Reentry:            30 * time.Second,
			Quiesce:            true,
			LoadMonitor:        "none",
			Send:               `GET /health HTTP/1.1\r\nHost: "www"\r\n\r\n`,
			Expect:             `^HTTP/1\.[01] 200`,
			UseRegex:           true,
			Announce:           true,
			Reals: []config.RealServer{
				{ID: 21, Name: "web6a", Active: true, Address: ip("2001:db8:1::a"), Weight: 100, UpperThreshold: 1000, LowerThreshold: 100},
				{ID: 22, Name: "web6b", Address: ip("2001:db8:1::b"), Port: 8443, Weight: 0},
			},
		}, {
			ID:            12,
			Name:          "fwm",
			Active:        true,
			Address:       ip("192.0.2.100"),
			Device:        "eth0:2",
			Netmask:       config.MaskBits(32),
			FWMark:        5,
			Protocol:      config.TCP,
			Port:          0,
			Scheduler:     "sh",
			SchedFallback: true,
			SchedPort:     true,
			CheckTimeout:  6 * time.Second,
			Reentry:       0,
			LoadMonitor:   "ruptime",
			SendProgram:   `/usr/local/bin/check_it --host %h --port %p --name 'a b' "q\"uote"`,
			Expect:        "OK",
			Announce:      true,
			Reals: []config.RealServer{
				{Name: "app1", Active: true, Address: ip("10.10.0.21"), Port: 8080, Weight: 3, Forward: config.Direct},
				{Name: "app2", Active: true, Address: ip("2001:db8:2::21"), Port: 8443, Weight: 5, Forward: config.Tunnel},
			},
		}, {
			Name:         "dns",
			Active:       true,
			Address:      ip("192.0.2.53"),
			Protocol:     config.UDP,
			Port:         53,
			Scheduler:    "rr",
			OnePacket:    true,
			CheckTimeout: 10 * time.Second,
			Reentry:      180 * time.Second,
			Send:         `\`,
			Expect:       `it's "quoted" \\ and \" done\`,
			CheckKind:    "udp",
			Announce:     true,
			Reals: []config.RealServer{
				{Name: "ns1", Active: true, Address: ip("10.10.0.53"), Weight: 1},
			},
		}, {
			Name:         "placeholder",
			Address:      netip.IPv4Unspecified(),
			Device:       "eth0:9",
			Netmask:      config.MaskBits(32),
			Protocol:     config.SCTP,
			Port:         80,
			Scheduler:    "mh",
			SchedPort:    true,
			CheckTimeout: 1500 * time.Millisecond,
			Reentry:      15 * time.Second,
			// An HTTPS check with every setting.
			CheckKind:     "https",
			CheckInterval: 2500 * time.Millisecond,
			CheckFailures: 3,
			HTTPPath:      "/health?full=1",
			HTTPHost:      "www.example.org",
			HTTPStatus:    "200-299,301",
			HTTPBody:      `"status": *"ok"`,
			TLSVerify:     true,
			// Not announced: bgp_announce = 0 is written.
		}},
	}
}

func TestRichModelIsValid(t *testing.T) {
	if err := richModel().Validate(); err != nil {
		t.Fatal(err)
	}
}

// import(export(model)) == model.
func TestRoundTripModel(t *testing.T) {
	m := richModel()
	out := format(t, m)
	c := parseString(t, out)
	assertEqual(t, c, m)

	golden := filepath.Join("testdata", "rich.golden.cf")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if out != string(want) {
		t.Errorf("Format output differs from %s (go test -update rewrites it):\n%s", golden, out)
	}
}

// The console's defaults differ from the parser's; a model built with them
// must still come back unchanged.
func TestRoundTripConsoleDefaults(t *testing.T) {
	m := config.Default()
	vs := config.NewVirtual("new")
	vs.Reals = []config.RealServer{config.NewReal("r1")}
	m.Virtuals = append(m.Virtuals, vs)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, parseString(t, format(t, m)), m)
}

// export(import(file)) is equivalent to the file: parsing it again gives the
// same model.
func TestRoundTripFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.cf")
	if len(files) < 2 {
		t.Fatalf("testdata has only %v", files)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			c := parseFile(t, name)
			assertEqual(t, parseString(t, format(t, c)), c)
		})
	}
}

func TestFormatPiranhaLayout(t *testing.T) {
	out := format(t, parseFile(t, "testdata/piranha-example.cf"))
	for _, line := range []string{
		"serial_no = 12\n",
		"virtual www {\n     active = 1\n     address = 192.168.1.100 eth0:1\n",
		"     vip_nmask = 255.255.255.0\n",
		"     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n",
		"     expect = \"HTTP\"\n",
		"     server web2 {\n         address = 10.10.0.12\n         active = 1\n         port = 8080\n         weight = 2\n     }\n}\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if !strings.HasPrefix(out, "serial_no = ") {
		t.Errorf("serial_no is not first:\n%s", out)
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`HTTP`, `HTTP`},
		{``, `""`},
		{`GET / HTTP/1.0\r\n\r\n`, `"GET / HTTP/1.0\r\n\r\n"`},
		{`a "b"`, `"a \"b\""`},
		{`x\`, `"x\\"`},
		{`x\\y`, `"x\\\y"`},
		{`\"`, `"\\\""`},
		{`it's`, `"it's"`},
		{`#x`, `"#x"`},
		{` lead`, `" lead"`},
	} {
		if got := quote(tc.in); got != tc.want {
			t.Errorf("quote(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestFormatRefusesUnrepresentable(t *testing.T) {
	for name, mod := range map[string]func(c *config.Config){
		"newline in send": func(c *config.Config) { c.Virtuals[0].Send = "GET /\n" },
		"CR in command":   func(c *config.Config) { c.Global.ActiveCmd = "/bin/true\r" },
		"tab in expect":   func(c *config.Config) { c.Virtuals[0].Expect = "a\tb" },
		"blank in device": func(c *config.Config) { c.Virtuals[0].Device = "eth 0" },
		"nameless block":  func(c *config.Config) { c.Virtuals[1].Reals[0].Name = "" },
		"device, no addr": func(c *config.Config) { c.Global.NATRouter = netip.Addr{} },
	} {
		c := richModel()
		mod(c)
		var b bytes.Buffer
		if err := Format(&b, c); err == nil {
			t.Errorf("%s: Format accepted it", name)
		} else if b.Len() != 0 {
			t.Errorf("%s: Format wrote %d bytes before failing: %v", name, b.Len(), err)
		}
	}
}

// Validate keeps out what lvs.cf could not carry: an IPv4 nat_nmask longer
// than /32 (which no dotted mask can write) and device names outside ASCII.
func TestValidateKeepsOutWhatCannotBeWritten(t *testing.T) {
	c := config.Default()
	c.Global.NATNetmask = config.MaskBits(64)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "nat_nmask") {
		t.Errorf("nat_nmask /64 without a router: %v", err)
	}
	c = richModel()
	c.Virtuals[0].Device = "eth\u00a00"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "device") {
		t.Errorf("device with a non-breaking space: %v", err)
	}
}

// TestRoundTripRich: every field of the registry, at its example value,
// comes back from lvs.cf; a field added to the registry is in this test
// without more.
func TestRoundTripRich(t *testing.T) {
	m := configtest.Rich()
	m.Serial = 7
	assertEqual(t, parseString(t, format(t, m)), m)
}

// TestRoundTripEachField: each field alone at its example, over the
// console's defaults, comes back too (where that alone is valid).
func TestRoundTripEachField(t *testing.T) {
	singles := configtest.Singles()
	n := 0
	for _, s := range singles {
		if s.Config.Validate() != nil {
			continue
		}
		n++
		if got := parseString(t, format(t, s.Config)); diff(got, s.Config) != "" {
			t.Errorf("%s at its example: %s", s.Field, diff(got, s.Config))
		}
	}
	if n < len(singles)*3/4 {
		t.Errorf("only %d of %d fields were valid alone at their example", n, len(singles))
	}
}

// TestLayoutNamesKeys: piranha's layout names only keys the registry has.
func TestLayoutNamesKeys(t *testing.T) {
	for _, name := range globalLayout {
		if globalKeys.lookup(name) == nil {
			t.Errorf("global layout: %s is no key", name)
		}
	}
	for _, name := range virtualLayout {
		if virtualKeys.lookup(name) == nil {
			t.Errorf("virtual layout: %s is no key", name)
		}
	}
	for _, name := range serverLayout {
		if serverKeys.lookup(name) == nil {
			t.Errorf("server layout: %s is no key", name)
		}
	}
}
