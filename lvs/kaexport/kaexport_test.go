package kaexport_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/kaexport"
	"github.com/lvsconsole/lvsconsole/lvs/keepalived"
)

var update = flag.Bool("update", false, "rewrite testdata/*.conf")

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// base is a valid pair of directors with nothing in the table yet.
func base() *config.Config {
	c := config.Default()
	c.Serial = 7
	c.Global.Primary = addr("192.0.2.1")
	c.Redundancy.BackupActive = true
	c.Redundancy.Backup = addr("192.0.2.2")
	c.Redundancy.Keepalive = 2 * time.Second
	c.Redundancy.Deadtime = 6 * time.Second
	return c
}

func virtual(name, vip string, port int, reals ...config.RealServer) config.VirtualServer {
	vs := config.NewVirtual(name)
	vs.Active = true
	vs.Address = addr(vip)
	vs.Device = "eth0:1"
	vs.Port = port
	vs.CheckKind = config.CheckTCP
	vs.CheckTimeout = 3 * time.Second
	vs.CheckInterval = 5 * time.Second
	vs.CheckFailures = 3
	vs.Reentry = 0
	vs.Reals = reals
	return vs
}

func real(name, a string, port int, weight int64) config.RealServer {
	rs := config.NewReal(name)
	rs.Active = true
	rs.Address = addr(a)
	rs.Port = port
	rs.Weight = weight
	return rs
}

// cases are the configurations of the golden files, each with the
// director it is written for.
var cases = []struct {
	name string
	node kaexport.Node
	cfg  func() *config.Config
}{
	{"nat-primary", kaexport.Primary, natConfig},
	{"nat-backup", kaexport.Backup, natConfig},
	{"dr", kaexport.Primary, func() *config.Config {
		c := base()
		c.Global.Network = config.Direct
		c.Redundancy.Preempt = false
		vs := virtual("www", "192.0.2.100", 80, real("a", "10.0.0.1", 0, 2), real("b", "10.0.0.2", 0, 1))
		vs.Netmask = config.MaskBits(24)
		vs.CheckKind = config.CheckHTTP
		vs.HTTPPath = "/health"
		vs.HTTPHost = "www.example.com"
		vs.HTTPStatus = "200-299,301"
		vs.HTTPBody = "^ok$"
		vs.Persistence = 300
		vs.PersistenceNetmask = config.MaskBits(24)
		vs.SorryServer = addr("10.0.0.99")
		vs.Quiesce = true
		off := real("off", "10.0.0.3", 0, 1)
		off.Active = false
		vs.Reals = append(vs.Reals, off)
		gone := virtual("old", "192.0.2.101", 80, real("x", "10.0.0.9", 0, 1))
		gone.Active = false
		// No real server in the table: the sorry server is, in both.
		maint := virtual("maint", "192.0.2.102", 80, off)
		maint.SorryServer = addr("10.0.0.98")
		c.Virtuals = []config.VirtualServer{vs, gone, maint}
		return c
	}},
	{"tun", kaexport.Primary, func() *config.Config {
		c := base()
		c.Global.Network = config.Tunnel
		c.Redundancy.Preempt = true
		c.Redundancy.PreemptDelay = 2500 * time.Millisecond
		vs := virtual("tls", "192.0.2.110", 443, real("a", "198.51.100.1", 0, 10), real("b", "198.51.100.2", 0, 20))
		vs.Scheduler = "mh"
		vs.SchedFallback = true
		vs.SchedPort = true
		vs.CheckKind = config.CheckHTTPS
		vs.HTTPHost = "tls.example.com"
		vs.TLSVerify = true
		nat := real("local", "10.0.0.5", 8443, 5)
		nat.Forward = config.NAT
		vs.Reals = append(vs.Reals, nat)
		c.Virtuals = []config.VirtualServer{vs}
		return c
	}},
	{"fwmark", kaexport.Primary, func() *config.Config {
		c := base()
		c.Global.Network = config.Direct
		vs := virtual("dns", "192.0.2.120", 53, real("a", "10.0.0.1", 0, 1), real("b", "10.0.0.2", 5353, 1))
		vs.FWMark = 5
		vs.Protocol = config.UDP
		vs.OnePacket = true
		vs.Scheduler = "rr"
		vs.CheckKind = config.CheckUDP
		vs.Send = `\n`
		vs.Expect = "ok"
		vs.Persistence = 60
		c.Virtuals = []config.VirtualServer{vs}
		return c
	}},
	{"ipv6", kaexport.Primary, func() *config.Config {
		c := base()
		c.Global.Network = config.Direct
		v6 := virtual("v6", "2001:db8::100", 80, real("a", "2001:db8:1::1", 0, 1), real("b", "2001:db8:1::2", 0, 3))
		v6.Device = "eth0"
		v6.Netmask = config.MaskBits(64)
		v6.Scheduler = "sh"
		v6.SchedFallback = true
		v6.Persistence = 120
		v6.PersistenceNetmask = config.MaskBits(64)
		v6.CheckKind = config.CheckProgram
		v6.SendProgram = "/bin/true %h %p"
		v6.Expect = "ok"
		v4 := virtual("v4", "192.0.2.130", 80, real("a", "10.0.0.1", 0, 1))
		c.Virtuals = []config.VirtualServer{v6, v4}
		return c
	}},
	{"checks", kaexport.Backup, func() *config.Config {
		c := base()
		c.Global.Network = config.Direct
		c.Redundancy.Keepalive = 500 * time.Millisecond
		c.Redundancy.Deadtime = 2 * time.Second
		c.Redundancy.MonitorLinks = true
		send := virtual("send", "192.0.2.140", 25, real("a", "10.0.0.1", 0, 1))
		send.CheckKind = config.CheckPiranha
		send.Send = "HELO x\\r\\n"
		send.Expect = "250"
		send.Reentry = 10 * time.Second
		syn := virtual("syn", "192.0.2.141", 22, real("a", "10.0.0.1", 0, 1))
		syn.CheckKind = config.CheckSYN
		syn.LoadMonitor = "ruptime"
		c.Virtuals = []config.VirtualServer{send, syn}
		return c
	}},
	{"quorum", kaexport.Primary, func() *config.Config {
		c := base()
		c.Global.Network = config.Direct
		a, b := real("a", "10.0.0.1", 0, 3), real("b", "10.0.0.2", 0, 2)
		a.NotifyUp, a.NotifyDown = "/usr/bin/logger -t lvs a-up", "/usr/bin/logger -t lvs a-down"
		held := virtual("held", "192.0.2.170", 80, a, b)
		held.SorryServer = addr("10.0.0.99")
		held.Quorum, held.Hysteresis = 4, 1
		held.QuorumUp, held.QuorumDown = "/usr/bin/logger -t lvs quorum-up", "/usr/bin/logger -t lvs quorum-down"
		// 3 < 4+1: keepalived starts with the quorum down, the sorry
		// server in their place, as engine.Desired decides at a start.
		lost := virtual("lost", "192.0.2.171", 80, real("a", "10.0.0.1", 0, 3))
		lost.SorryServer = addr("10.0.0.99")
		lost.Quorum, lost.Hysteresis = 3, 1
		c.Virtuals = []config.VirtualServer{held, lost}
		return c
	}},
	{"kachecks", kaexport.Primary, keepalivedChecks},
	{"single", kaexport.Primary, func() *config.Config {
		c := base()
		c.Redundancy.BackupActive = false
		c.Global.Network = config.Direct
		c.Global.ActiveCmd = "/usr/bin/logger -t lvs active"
		vs := virtual("www", "192.0.2.150", 80, real("a", "10.0.0.1", 8080, 1))
		c.Virtuals = []config.VirtualServer{vs}
		return c
	}},
}

func natConfig() *config.Config {
	c := base()
	c.Global.Network = config.NAT
	c.Global.NATRouter = addr("10.0.0.254")
	c.Global.NATRouterDevice = "eth1:1"
	c.Global.NATNetmask = config.MaskBits(24)
	c.Global.TCPTimeout = 900
	c.Global.UDPTimeout = 300
	c.Global.ActiveCmd = "/usr/bin/logger -t lvs became-active"
	c.Global.InactiveCmd = "/usr/bin/logger -t lvs became-standby"
	c.Redundancy.Preempt = true
	c.Redundancy.SyncDaemon = true
	c.Redundancy.SyncIface = "eth1"
	c.Redundancy.SyncID = 7
	a := real("a", "10.0.0.1", 8080, 3)
	a.UpperThreshold = 100
	a.LowerThreshold = 10
	vs := virtual("www", "192.0.2.100", 80, a, real("b", "10.0.0.2", 8080, 1))
	vs.Netmask = config.MaskBits(24)
	vs.Scheduler = "wlc"
	c.Virtuals = []config.VirtualServer{vs}
	return c
}

// write exports a case, failing the test on an invalid configuration or
// an error.
func write(t *testing.T, name string, node kaexport.Node, cfg *config.Config) (string, []kaexport.Omission) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: the test's configuration is invalid: %v", name, err)
	}
	var b bytes.Buffer
	omitted, err := kaexport.Write(&b, cfg, node)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.String(), omitted
}

// TestGolden compares each case with testdata/NAME.conf (go test
// -update rewrites them), and checks that every omission is in the file.
func TestGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, omitted := write(t, tc.name, tc.node, tc.cfg())
			golden := filepath.Join("testdata", tc.name+".conf")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from what is written now (go test -update rewrites it):\n%s", golden, got)
			}
			for _, o := range omitted {
				if !strings.Contains(got, "# not expressed: "+o.Field+": "+o.Why) {
					t.Errorf("omission %q is not a comment of the file", o)
				}
			}
			if n := strings.Count(got, "# not expressed: "); n != len(omitted) {
				t.Errorf("%d comments of what is not expressed, %d omissions returned", n, len(omitted))
			}
		})
	}
}

// TestOmissions checks that what keepalived cannot say is reported, by
// field.
func TestOmissions(t *testing.T) {
	want := map[string][]string{
		"nat-primary": nil,
		"dr":          {"real servers"},
		"tun":         {"tls_verify"},
		"fwmark":      {"port"},
		"ipv6":        {"expect"},
		"checks":      {"deadtime", "monitor_links", "reentry", "send/expect", "load_monitor", "check"},
		"single":      {"active_cmd", "port"},
	}
	for _, tc := range cases {
		w, ok := want[tc.name]
		if !ok {
			continue
		}
		_, omitted := write(t, tc.name, tc.node, tc.cfg())
		var got []string
		for _, o := range omitted {
			got = append(got, o.Field)
		}
		if strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s: omitted %q, want %q", tc.name, got, w)
		}
	}
}

// TestSorryQuorum: keepalived serves the sorry server while the weights
// of the real servers sum to less than its quorum of 1, and so does
// engine.Desired: nothing to say. A quorum above the weight of all the
// real servers, which keepalived lowers, is said.
func TestSorryQuorum(t *testing.T) {
	c := base()
	vs := virtual("drain", "192.0.2.160", 80, real("a", "10.0.0.1", 0, 0))
	vs.SorryServer = addr("10.0.0.99")
	c.Virtuals = []config.VirtualServer{vs}
	if _, omitted := write(t, "drain", kaexport.Primary, c); len(omitted) != 0 {
		t.Errorf("omitted %q, want nothing", omitted)
	}
	c.Virtuals[0].Quorum = 2
	conf, omitted := write(t, "drain", kaexport.Primary, c)
	if len(omitted) != 1 || omitted[0].Field != "quorum" || !strings.Contains(conf, "quorum 2\n") {
		t.Errorf("omitted %q, want the quorum, in\n%s", omitted, conf)
	}
}

func TestNodeErrors(t *testing.T) {
	var b bytes.Buffer
	if _, err := kaexport.Write(&b, natConfig(), "tertiary"); !errors.Is(err, kaexport.ErrNode) {
		t.Errorf("node tertiary: %v, want ErrNode", err)
	}
	c := natConfig()
	c.Redundancy.BackupActive = false
	if _, err := kaexport.Write(&b, c, kaexport.Backup); !errors.Is(err, kaexport.ErrNoBackup) {
		t.Errorf("backup without backup_active: %v, want ErrNoBackup", err)
	}
}

// TestKeepalivedAccepts runs Debian's keepalived's configuration test on
// every case, in a network namespace that has the interfaces the files
// name (keepalived -t refuses an interface that does not exist, and fails
// on any warning).
func TestKeepalivedAccepts(t *testing.T) {
	testenv.NetNS(t)
	testenv.Commands(t, "keepalived")
	ns := fmt.Sprintf("kaexport%d", os.Getpid())
	exec.Command("ip", "netns", "del", ns).Run() // left by a killed run
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := write(t, tc.name, tc.node, tc.cfg())
			file := filepath.Join(dir, tc.name+".conf")
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // keepalived -t only reads the file
			out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "keepalived", "-t", "-f", file).CombinedOutput()
			cancel()
			if err != nil || len(bytes.TrimSpace(out)) != 0 {
				t.Errorf("keepalived -t -f %s: %v\n%s\nthe file:\n%s", file, err, out, got)
			}
		})
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestQuorumBackIn: the quorum, its programs and the real servers'
// programs come back from the exported file through the keepalived import.
func TestQuorumBackIn(t *testing.T) {
	var c *config.Config
	for _, tc := range cases {
		if tc.name == "quorum" {
			c = tc.cfg()
		}
	}
	conf, _ := write(t, "quorum", kaexport.Primary, c)
	back, _, err := keepalived.Import(filepath.Join(t.TempDir(), "keepalived.conf"), []byte(conf), keepalived.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, vs := range c.Virtuals {
		got := back.Virtuals[i]
		if got.Quorum != vs.Quorum || got.Hysteresis != vs.Hysteresis || got.QuorumUp != vs.QuorumUp || got.QuorumDown != vs.QuorumDown {
			t.Errorf("%s: quorum %d/%d %q %q, want %d/%d %q %q", vs.Name, got.Quorum, got.Hysteresis, got.QuorumUp, got.QuorumDown,
				vs.Quorum, vs.Hysteresis, vs.QuorumUp, vs.QuorumDown)
		}
		for j, rs := range vs.Reals {
			if g := got.Reals[j]; g.NotifyUp != rs.NotifyUp || g.NotifyDown != rs.NotifyDown {
				t.Errorf("%s %s: notify %q %q, want %q %q", vs.Name, rs.Name, g.NotifyUp, g.NotifyDown, rs.NotifyUp, rs.NotifyDown)
			}
		}
	}
}

// keepalivedChecks has a virtual server for each check keepalived has that
// piranha had not.
func keepalivedChecks() *config.Config {
	c := base()
	c.Global.Network = config.Direct
	smtp := virtual("smtp", "192.0.2.160", 25, real("a", "10.0.0.1", 0, 1))
	smtp.CheckKind, smtp.SMTPHelo = config.CheckSMTP, "director.example.org"
	dns := virtual("dns", "192.0.2.161", 53, real("a", "10.0.0.1", 0, 1))
	dns.Protocol, dns.CheckKind, dns.DNSType, dns.DNSName = config.UDP, config.CheckDNS, "AAAA", "www.example.org"
	ping := virtual("ping", "192.0.2.162", 80, real("a", "10.0.0.1", 0, 1))
	ping.CheckKind = config.CheckPing
	weight := virtual("weight", "192.0.2.163", 80, real("a", "10.0.0.1", 0, 1))
	weight.CheckKind, weight.SendProgram, weight.ProgramWeight, weight.Expect = config.CheckProgram, "/usr/local/bin/weight %h", true, ""
	digest := virtual("digest", "192.0.2.164", 80, real("a", "10.0.0.1", 0, 1))
	digest.CheckKind, digest.HTTPDigest = config.CheckHTTP, "9b3a0c85a887a256d6939da88aabd8cd"
	c.Virtuals = []config.VirtualServer{smtp, dns, ping, weight, digest}
	return c
}

// TestKeepalivedChecksRoundTrip: exported, then imported, the checks
// keepalived has come back as they were, and nothing about them is
// reported as not expressed.
func TestKeepalivedChecksRoundTrip(t *testing.T) {
	cfg := keepalivedChecks()
	got, omitted := write(t, "kachecks", kaexport.Primary, cfg)
	for _, o := range omitted {
		t.Errorf("omitted: %v", o)
	}
	back, _, err := keepalived.Import(filepath.Join(t.TempDir(), "k.conf"), []byte(got), keepalived.Options{})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, got)
	}
	for _, want := range cfg.Virtuals {
		var vs *config.VirtualServer
		for i := range back.Virtuals {
			if back.Virtuals[i].Address == want.Address {
				vs = &back.Virtuals[i]
			}
		}
		if vs == nil {
			t.Errorf("%s: not imported", want.Name)
			continue
		}
		if vs.CheckKind != want.CheckKind || vs.SMTPHelo != want.SMTPHelo || vs.DNSType != want.DNSType || vs.DNSName != want.DNSName ||
			vs.ProgramWeight != want.ProgramWeight || vs.HTTPDigest != want.HTTPDigest {
			t.Errorf("%s: came back as %+v", want.Name, vs)
		}
	}
}

// TestClusterNotExpressed: keepalived has no BGP, so a cluster's export
// says that its announcements are not expressed, and serves the VIPs on
// the director alone.
func TestClusterNotExpressed(t *testing.T) {
	c := base()
	c.Redundancy.BackupActive = false
	c.Redundancy.Cluster = true
	c.Redundancy.ClusterDirectors = "192.0.2.11 192.0.2.12"
	c.Redundancy.BGPAS = 64512
	c.Redundancy.BGPPeers = "192.0.2.254 64500"
	c.Global.Network = config.Direct
	c.Virtuals = []config.VirtualServer{virtual("www", "192.0.2.150", 80, real("a", "10.0.0.1", 0, 1))}
	c.Virtuals[0].Scheduler = "mh"
	conf, omitted := write(t, "cluster", kaexport.Primary, c)
	if len(omitted) != 1 || omitted[0].Field != "cluster" || !strings.Contains(conf, "# not expressed: cluster: keepalived has no BGP") {
		t.Errorf("omitted %q, want cluster, in\n%s", omitted, conf)
	}
	if !strings.Contains(conf, "static_ipaddress {") {
		t.Errorf("the VIPs are not static addresses:\n%s", conf)
	}
}
