package keepalived

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
)

func importFile(t *testing.T, name string) (*config.Config, []*Warning) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	c, ws, err := Import(name, data, Options{Include: true})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c, ws
}

// importText imports src as the file a.conf of a temporary directory.
func importText(t *testing.T, src string) (*config.Config, []*Warning, error) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "a.conf")
	return Import(name, []byte(src), Options{Include: true})
}

func hasWarning(ws []*Warning, line int, key, text string) bool {
	for _, w := range ws {
		if w.Line == line && w.Key == key && strings.Contains(w.Msg, text) {
			return true
		}
	}
	return false
}

func TestFull(t *testing.T) {
	c, ws := importFile(t, "testdata/full.conf")
	g, r := c.Global, c.Redundancy
	if g.Primary != netip.MustParseAddr("192.0.2.1") || r.Backup != netip.MustParseAddr("192.0.2.2") || !r.BackupActive {
		t.Errorf("primary %v backup %v active %v: want 192.0.2.1, 192.0.2.2, active", g.Primary, r.Backup, r.BackupActive)
	}
	// master-down interval: 3 x 1s + (256-150)/256 s
	if r.Keepalive != time.Second || r.Deadtime != 3414*time.Millisecond || !r.Preempt {
		t.Errorf("keepalive %v deadtime %v preempt %v", r.Keepalive, r.Deadtime, r.Preempt)
	}
	if !r.SyncDaemon || r.SyncIface != "eth1" || g.TCPTimeout != 900 || g.TCPFinTimeout != 120 || g.UDPTimeout != 300 {
		t.Errorf("sync %v %q timeouts %d %d %d", r.SyncDaemon, r.SyncIface, g.TCPTimeout, g.TCPFinTimeout, g.UDPTimeout)
	}
	if g.Network != config.NAT && g.Network != config.Direct {
		t.Errorf("network %q", g.Network)
	}
	if len(c.Virtuals) != 2 {
		t.Fatalf("%d virtual servers, want 2 (one from the include)", len(c.Virtuals))
	}
	web := c.Virtual("vs_192.0.2.10_80")
	if web == nil {
		t.Fatalf("no vs_192.0.2.10_80 among %v", c.Virtuals)
	}
	want := config.VirtualServer{
		Name: "vs_192.0.2.10_80", Active: true, Address: netip.MustParseAddr("192.0.2.10"), Device: "eth0:1",
		Netmask: config.MaskBits(24), Protocol: config.TCP, Port: 80, Scheduler: "wrr", Persistence: 50,
		PersistenceNetmask: config.MaskBits(24), SorryServer: netip.MustParseAddr("10.0.0.99"),
		CheckTimeout: 3 * time.Second, Quiesce: true, LoadMonitor: "none", CheckKind: config.CheckHTTP,
		CheckInterval: 6 * time.Second, CheckFailures: 3, HTTPPath: "/health", HTTPHost: "www.example.org", HTTPStatus: "200,301-302",
		HTTPDigest: "9b3a0c85a887a256d6939da88aabd8cd", Announce: true,
	}
	reals := web.Reals
	got := *web
	got.Reals = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if len(reals) != 2 || reals[0].Name != "rs_10.0.0.1_80" || reals[0].Weight != 3 || reals[0].UpperThreshold != 100 ||
		reals[0].LowerThreshold != 10 || reals[0].EffectiveForward(&c.Global) != config.Direct ||
		reals[1].EffectiveForward(&c.Global) != config.NAT {
		t.Errorf("reals %+v", reals)
	}
	dns := c.Virtual("vs_192.0.2.10_53_udp")
	if dns == nil || dns.CheckKind != config.CheckProgram || dns.SendProgram != "/usr/local/bin/check_dns 10.0.0.1" ||
		dns.CheckTimeout != 2*time.Second || !dns.SchedPort || !dns.OnePacket || dns.Scheduler != "sh" {
		t.Errorf("dns %+v", dns)
	}
	for _, w := range []struct {
		line     int
		key, msg string
	}{
		{3, "router_id", "not supported"},
		{10, "virtual_router_id", "not supported"},
		{47, "delay_before_retry", "not supported"},
		{8, "state", "primary director's file"},
	} {
		if !hasWarning(ws, w.line, w.key, w.msg) {
			t.Errorf("no warning at line %d on %s (%q) in %v", w.line, w.key, w.msg, ws)
		}
	}
}

func TestFWMarkAndBackup(t *testing.T) {
	c, ws := importFile(t, "testdata/fwmark.conf")
	r := c.Redundancy
	if c.Global.Primary != netip.MustParseAddr("192.0.2.1") || r.Backup != netip.MustParseAddr("192.0.2.2") || r.Preempt {
		t.Errorf("backup's file: primary %v backup %v preempt %v", c.Global.Primary, r.Backup, r.Preempt)
	}
	// 3 x 0.5 s + (256-100) x 0.5 / 256 s
	if r.Keepalive != 500*time.Millisecond || r.Deadtime != 1805*time.Millisecond {
		t.Errorf("keepalive %v deadtime %v", r.Keepalive, r.Deadtime)
	}
	vs := c.Virtual("vs_fwm_7")
	if vs == nil || vs.FWMark != 7 || vs.Address != netip.MustParseAddr("192.0.2.20") || vs.Device != "eth0" || vs.Port != 443 ||
		c.Global.Network != config.Tunnel || vs.CheckKind != config.CheckTCP || vs.CheckTimeout != 2*time.Second || !vs.Active {
		t.Errorf("fwmark %+v network %v", vs, c.Global.Network)
	}
	if !hasWarning(ws, 15, "virtual_server", "192.0.2.20") {
		t.Errorf("the VIP taken for the fwmark service is not said: %v", ws)
	}
}

func TestGroup(t *testing.T) {
	c, ws := importFile(t, "testdata/group.conf")
	var names []string
	for _, vs := range c.Virtuals {
		names = append(names, vs.Name)
		if vs.Scheduler != "lc" || vs.CheckKind != config.CheckHTTPS || vs.HTTPPath != "/ping" || vs.HTTPStatus != "200-299" {
			t.Errorf("%s: %+v", vs.Name, vs)
		}
	}
	want := []string{"vs_192.0.2.30_80", "vs_192.0.2.31_80", "vs_192.0.2.32_80", "vs_fwm_9"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	if !hasWarning(ws, 5, "virtual_server", "4 virtual servers") {
		t.Errorf("no warning of the expansion: %v", ws)
	}
}

// The lexer: comments after values, { on the next line, quotes, braces on
// one line.
func TestSyntax(t *testing.T) {
	src := `virtual_server 192.0.2.1 80   # comment
{   ! comment
    lb_algo rr#comment without a blank
    real_server 10.0.0.1 80 { weight 4 }
    real_server 10.0.0.2 80
    {
        MISC_CHECK {
            misc_path "/usr/bin/check \# not a comment"
        }
    }
}
`
	c, _, err := importText(t, src)
	if err != nil {
		t.Fatal(err)
	}
	vs := c.Virtuals[0]
	if vs.Scheduler != "rr" || len(vs.Reals) != 2 || vs.Reals[0].Weight != 4 {
		t.Fatalf("%+v", vs)
	}
}

// Errors name the file and line; all of a file's errors come at once.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"placeholder", "virtual_server x.x.x.x 80 {\n}\nvirtual_server 192.0.2.1 80 {\n real_server 10.0.0.x 80 {\n }\n}\n",
			[]string{`a.conf:1: virtual_server: "x.x.x.x" is not an IP address`, `a.conf:4: real_server: "10.0.0.x" is not an IP address`}},
		{"scheduler", "virtual_server 192.0.2.1 80 {\n lb_algo roundrobin\n}\n", []string{`a.conf:2: lb_algo: "roundrobin" is not an IPVS scheduler`}},
		{"kind", "virtual_server 192.0.2.1 80 {\n lb_kind DSR\n}\n", []string{`a.conf:2: lb_kind: "DSR" is not a forwarding method`}},
		{"weight", "virtual_server 192.0.2.1 80 {\n real_server 10.0.0.1 80 {\n  weight -1\n }\n}\n", []string{`a.conf:3: weight: "-1" is not a weight`}},
		{"timer", "virtual_server 192.0.2.1 80 {\n delay_loop often\n}\n", []string{`a.conf:2: delay_loop: "often" is not a time`}},
		{"unclosed", "virtual_server 192.0.2.1 80 {\n", []string{"a.conf:1: virtual_server: the block of virtual_server is not closed"}},
		{"extra close", "}\n", []string{"a.conf:1: }: this } closes no block"}},
		{"quote", "virtual_server 192.0.2.1 80 {\n virtualhost \"www\n}\n", []string{"a.conf:2: a quote is not closed"}},
		{"model", "virtual_server 192.0.2.1 80 {\n delay_loop 7200\n}\n", []string{"a.conf:2: check_interval: 7200s is out of range"}},
		{"missing include", "include nothere.conf\n", []string{"a.conf:1: include:", "does not exist"}},
		{"group", "virtual_server group G {\n}\n", []string{`a.conf:1: virtual_server: group "G" is not defined`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := importText(t, tc.src)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want Errors", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
		})
	}
}

// What the console does not support is a warning at its line, never
// dropped silently.
func TestUnsupported(t *testing.T) {
	src := `vrrp_script chk {
    script "/bin/true"
}
virtual_server 192.0.2.1 80 {
    alpha
    quorum 2
    bogus_keyword 1
    real_server 10.0.0.1 80 {
        notify_up /bin/true
        BFD_CHECK {
        }
        TCP_CHECK {
            bindto 10.0.0.9
        }
        TCP_CHECK {
        }
    }
    real_server 10.0.0.2 80 {
    }
}
`
	c, ws, err := importText(t, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		line     int
		key, msg string
	}{
		{1, "vrrp_script", "block is left out"},
		{5, "alpha", "not supported"},
		{7, "bogus_keyword", "not a keepalived keyword"},
		{10, "BFD_CHECK", "not supported"},
		{13, "bindto", "not supported"},
		{15, "", "second checker"},
		{18, "real_server", "has no checker"},
		{18, "", "differs"},
	} {
		if !hasWarning(ws, w.line, w.key, w.msg) {
			t.Errorf("no warning at line %d on %q (%q) in %v", w.line, w.key, w.msg, ws)
		}
	}
	if c.Virtuals[0].CheckKind != config.CheckTCP {
		t.Errorf("check %q, want the first real server's tcp", c.Virtuals[0].CheckKind)
	}
	for _, w := range ws {
		if w.Key == "quorum" || w.Key == "notify_up" {
			t.Errorf("%s is supported, yet warned of: %v", w.Key, w)
		}
	}
}

// TestQuorumAndNotify: quorum, hysteresis, quorum_up, quorum_down,
// notify_up and notify_down map to their fields; a quorum above the
// weight of all the real servers, and a hysteresis not below the quorum,
// are lowered as keepalived lowers them, with a warning at their line.
func TestQuorumAndNotify(t *testing.T) {
	src := `virtual_server 192.0.2.1 80 {
    quorum 3
    hysteresis 1
    quorum_up "/usr/local/sbin/page up www"
    quorum_down /usr/local/sbin/page-down root
    real_server 10.0.0.1 80 {
        weight 2
        notify_up "/usr/local/sbin/note 'web 1' up"
        notify_down "/usr/local/sbin/note down" nobody
        TCP_CHECK {
        }
    }
    real_server 10.0.0.2 80 {
        weight 2
        TCP_CHECK {
        }
    }
}
virtual_server 192.0.2.2 80 {
    quorum 9
    hysteresis 12
    real_server 10.0.0.3 80 {
        weight 4
        TCP_CHECK {
        }
    }
}
`
	c, ws, err := importText(t, src)
	if err != nil {
		t.Fatal(err)
	}
	vs := c.Virtuals[0]
	if vs.Quorum != 3 || vs.Hysteresis != 1 || vs.QuorumUp != "/usr/local/sbin/page up www" || vs.QuorumDown != "/usr/local/sbin/page-down" {
		t.Errorf("quorum %d, hysteresis %d, quorum_up %q, quorum_down %q", vs.Quorum, vs.Hysteresis, vs.QuorumUp, vs.QuorumDown)
	}
	if rs := vs.Reals[0]; rs.NotifyUp != "/usr/local/sbin/note 'web 1' up" || rs.NotifyDown != "/usr/local/sbin/note down" {
		t.Errorf("notify_up %q, notify_down %q", rs.NotifyUp, rs.NotifyDown)
	}
	if args, err := config.SplitArgs(vs.Reals[0].NotifyUp); err != nil || len(args) != 3 || args[1] != "web 1" {
		t.Errorf("notify_up splits into %q, %v", args, err)
	}
	if vs := c.Virtuals[1]; vs.Quorum != 4 || vs.Hysteresis != 3 {
		t.Errorf("quorum %d, hysteresis %d: want 4 (the weight of all) and 3 (below it)", vs.Quorum, vs.Hysteresis)
	}
	for _, w := range []struct {
		line     int
		key, msg string
	}{
		{9, "notify_down", "user nobody is left out"},
		{20, "quorum", "lowered to 4"},
		{21, "hysteresis", "lowered to 3"},
	} {
		if !hasWarning(ws, w.line, w.key, w.msg) {
			t.Errorf("no warning at line %d on %q (%q) in %v", w.line, w.key, w.msg, ws)
		}
	}
	if len(ws) != 3 {
		t.Errorf("warnings %v, want the three above", ws)
	}
}

// Includes are globs relative to the including file, bounded in depth.
func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", "include sub/*.conf\ninclude none/*.conf\n")
	write("sub/a.conf", "virtual_server 192.0.2.1 80 {\n include ../rs/*.conf\n}\n")
	write("sub/b.conf", "virtual_server 192.0.2.2 80 {\n}\n")
	write("rs/x.conf", "real_server 10.0.0.1 80 {\n bad_key\n}\n")
	main := filepath.Join(dir, "main.conf")
	data, _ := os.ReadFile(main)
	c, ws, err := Import(main, data, Options{Include: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Virtuals) != 2 || len(c.Virtuals[0].Reals) != 1 {
		t.Fatalf("%+v", c.Virtuals)
	}
	found := false
	for _, w := range ws {
		if w.File == filepath.Join(dir, "rs/x.conf") && w.Line == 2 && w.Key == "bad_key" {
			found = true
		}
	}
	if !found || !hasWarning(ws, 2, "include", "no file matches") {
		t.Errorf("warnings do not name the included file and line: %v", ws)
	}

	_, _, err = Import(main, data, Options{})
	if err == nil || !strings.Contains(err.Error(), "main.conf:1: include: includes are not followed") {
		t.Errorf("without Include: %v", err)
	}

	write("loop.conf", "include loop.conf\n")
	loop := filepath.Join(dir, "loop.conf")
	_, _, err = Import(loop, []byte("include loop.conf\n"), Options{Include: true})
	if err == nil || !strings.Contains(err.Error(), "nested deeper than") {
		t.Errorf("include loop: %v", err)
	}
}

func TestLooks(t *testing.T) {
	for src, want := range map[string]bool{
		"! keepalived\nglobal_defs {\n}\n":       true,
		"# x\nvirtual_server 1.2.3.4 80 {\n}\n":  true,
		"serial_no = 1\nprimary = 192.0.2.1\n":   false,
		"virtual www {\n address = 192.0.2.1\n}": false,
		"":                                       false,
	} {
		if got := Looks([]byte(src)); got != want {
			t.Errorf("Looks(%q) = %v", src, got)
		}
	}
}

// keepalived.conf -> model -> lvs.cf -> model is the same model.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"testdata/full.conf", "testdata/fwmark.conf", "testdata/group.conf", "testdata/roundtrip.conf"} {
		c, _ := importFile(t, name)
		var b bytes.Buffer
		if err := lvscf.Format(&b, c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := lvscf.Parse(&b)
		if err != nil {
			t.Fatalf("%s: lvs.cf of the import: %v\n%s", name, err, b.String())
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s: lvs.cf round trip differs:\n got %+v\nwant %+v", name, back, c)
		}
	}
}

// The checkers the console runs as keepalived does: SMTP_CHECK with its
// helo_name, DNS_CHECK with type and name, PING_CHECK, MISC_CHECK with
// misc_dynamic, and HTTP_GET's digest; none is reported as left out.
func TestKeepalivedCheckers(t *testing.T) {
	checker := func(block string) string {
		return "virtual_server 192.0.2.1 25 {\n  protocol TCP\n  real_server 10.0.0.1 25 {\n" + block + "\n  }\n}\n"
	}
	for _, tc := range []struct {
		block string
		want  func(vs *config.VirtualServer) bool
	}{
		{"SMTP_CHECK {\n helo_name director.example.org\n connect_timeout 3\n}", func(vs *config.VirtualServer) bool {
			return vs.CheckKind == config.CheckSMTP && vs.SMTPHelo == "director.example.org" && vs.CheckTimeout == 3*time.Second
		}},
		{"SMTP_CHECK {\n}", func(vs *config.VirtualServer) bool { return vs.CheckKind == config.CheckSMTP && vs.SMTPHelo == "" }},
		{"DNS_CHECK {\n type aaaa\n name www.example.org\n}", func(vs *config.VirtualServer) bool {
			return vs.CheckKind == config.CheckDNS && vs.DNSType == "AAAA" && vs.DNSName == "www.example.org"
		}},
		{"DNS_CHECK {\n}", func(vs *config.VirtualServer) bool {
			return vs.CheckKind == config.CheckDNS && vs.DNSType == "" && vs.DNSName == ""
		}},
		{"PING_CHECK {\n}", func(vs *config.VirtualServer) bool { return vs.CheckKind == config.CheckPing }},
		{"MISC_CHECK {\n misc_path \"/usr/local/bin/w 1\"\n misc_dynamic\n}", func(vs *config.VirtualServer) bool {
			return vs.CheckKind == config.CheckProgram && vs.ProgramWeight && vs.SendProgram == "/usr/local/bin/w 1"
		}},
		{"HTTP_GET {\n url {\n path /\n digest 9B3A0C85A887A256D6939DA88AABD8CD\n }\n}", func(vs *config.VirtualServer) bool {
			return vs.CheckKind == config.CheckHTTP && vs.HTTPDigest == "9b3a0c85a887a256d6939da88aabd8cd"
		}},
	} {
		c, ws, err := importText(t, checker(tc.block))
		if err != nil {
			t.Errorf("%s: %v", tc.block, err)
			continue
		}
		if len(c.Virtuals) != 1 || !tc.want(&c.Virtuals[0]) {
			t.Errorf("%s: got %+v", tc.block, c.Virtuals)
		}
		for _, w := range ws {
			if strings.Contains(w.String(), "left out") || strings.Contains(w.String(), "not supported") {
				t.Errorf("%s: warning %v", tc.block, w)
			}
		}
	}
	for _, tc := range []struct{ block, msg string }{
		{"DNS_CHECK {\n type PTR\n}", `"PTR" is not a query type`},
		{"DNS_CHECK {\n name a..b\n}", "not a domain name"},
		{"HTTP_GET {\n url {\n digest 123\n }\n}", "not an MD5 digest"},
	} {
		_, ws, err := importText(t, checker(tc.block))
		if (err == nil || !strings.Contains(err.Error(), tc.msg)) && !slices.ContainsFunc(ws, func(w *Warning) bool { return strings.Contains(w.Msg, tc.msg) }) {
			t.Errorf("%s: no error saying %q (%v, %v)", tc.block, tc.msg, err, ws)
		}
	}
}
