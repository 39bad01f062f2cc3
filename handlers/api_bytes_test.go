package handlers

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

var updateAPI = flag.Bool("update-api", false, "rewrite testdata/api/*.json from the API's answers")

// bytesConfig sets every field of the model, with the values that are
// hardest to write (quotes, backslashes, IPv6, placeholders, a firewall
// mark), and is valid. It is written out here, not built from the
// registry, so that the answers below stay what they were when they were
// recorded.
func bytesConfig() *config.Config {
	a := netip.MustParseAddr
	c := config.Default()
	c.Global = config.Global{
		Primary: a("192.0.2.1"), PrimaryPrivate: a("10.0.0.1"), Network: config.NAT,
		NATRouter: a("10.10.0.254"), NATRouterDevice: "eth1:1", NATNetmask: config.MaskBits(24),
		TCPTimeout: 900, TCPFinTimeout: 120, UDPTimeout: 300,
		ActiveCmd: `/usr/bin/logger -t lvs "became active"`, InactiveCmd: `/usr/bin/logger -t lvs 'standby # now' \\host`,
		Service: "lvs", HardShutdown: false, RshCommand: "ssh", DebugLevel: "3",
	}
	c.Redundancy = config.Redundancy{
		BackupActive: true, Backup: a("192.0.2.2"), BackupPrivate: a("10.0.0.2"), Heartbeat: true,
		Keepalive: 200 * time.Millisecond, Deadtime: 600 * time.Millisecond, HeartbeatPort: 1539,
		MonitorLinks: true, Preempt: true, PreemptDelay: 2500 * time.Millisecond, SyncDaemon: true, SyncIface: "eth2", SyncID: 7,
	}
	c.Virtuals = []config.VirtualServer{
		{
			Name: "www6", Active: true, Address: a("2001:db8::80"), Device: "eth0", Netmask: config.MaskBits(64),
			Protocol: config.TCP, Port: 443, Scheduler: "wrr", Persistence: 600, PersistenceNetmask: config.MaskBits(48),
			SorryServer: a("2001:db8::99"), CheckTimeout: 2500 * time.Millisecond, Reentry: 30 * time.Second, Quiesce: true,
			LoadMonitor: "none", Send: `GET /health HTTP/1.1\r\nHost: "www"\r\n\r\n`, Expect: `^HTTP/1\.[01] 200`, UseRegex: true,
			CheckKind: "https", CheckInterval: 2500 * time.Millisecond, CheckFailures: 3, HTTPPath: "/health?full=1",
			HTTPHost: "www.example.org", HTTPStatus: "200-299,301", HTTPBody: `"status": *"ok" <&>`, TLSVerify: true,
			Reals: []config.RealServer{
				{Name: "web6a", Active: true, Address: a("2001:db8:1::a"), Weight: 100, UpperThreshold: 1000, LowerThreshold: 100},
				{Name: "web6b", Address: a("2001:db8:1::b"), Port: 8443, Weight: 0, Forward: config.NAT},
			},
		},
		{
			Name: "fwm", Active: true, Address: a("192.0.2.100"), Device: "eth0:2", Netmask: config.MaskBits(32),
			FWMark: 5, Protocol: config.TCP, Port: 0, Scheduler: "sh", SchedFallback: true, SchedPort: true,
			CheckTimeout: 6 * time.Second, LoadMonitor: "ruptime",
			SendProgram: `/bin/true --host %h --port %p --name 'a b' "q\"uote"`, Expect: "OK", CheckKind: "program",
			Reals: []config.RealServer{
				{Name: "app1", Active: true, Address: a("10.10.0.21"), Port: 8080, Weight: 3, Forward: config.Direct},
				{Name: "app2", Active: true, Address: a("2001:db8:2::21"), Port: 8443, Weight: 5, Forward: config.Tunnel},
			},
		},
		{
			Name: "dns", Active: true, Address: a("192.0.2.53"), Protocol: config.UDP, Port: 53, Scheduler: "mh",
			SchedPort: true, OnePacket: true, CheckTimeout: 10 * time.Second, Reentry: 180 * time.Second,
			Send: `\`, Expect: `it's "quoted" \\ and \" done\`, CheckKind: "udp",
			Reals: []config.RealServer{{Name: "ns1", Active: true, Address: a("10.10.0.53"), Weight: 1}},
		},
		{
			Name: "placeholder", Address: netip.IPv4Unspecified(), Device: "eth0:9", Protocol: config.SCTP, Port: 80,
			Scheduler: "wlc", CheckTimeout: 1500 * time.Millisecond, Reentry: 15 * time.Second,
			Reals: []config.RealServer{{Name: "new", Address: netip.IPv4Unspecified(), Weight: 1}},
		},
	}
	// Cluster mode's settings (issue 19) at their defaults, but the
	// placeholder is not announced.
	c.Redundancy.BGPHoldTime, c.Redundancy.BGPDrain = 9*time.Second, 10*time.Second
	for i := range c.Virtuals[:3] {
		c.Virtuals[i].Announce = true
	}
	return c
}

// TestAPIBytes: the API writes every configuration resource byte for byte
// as testdata/api holds, recorded from the API as it was before the field
// registry made its resources (go test -update-api rewrites them, for a
// change meant to show). Answers changed since: several refusals of one
// real server come in the order of its form, fwd after port and weight
// (it was first); a refusal lists the values that could not be read and
// those refused as read at once (keepalive "six" and syncd_id 300: it
// listed the first only); a body with several fields of the wrong type or
// unknown lists each (a write added then).
func TestAPIBytes(t *testing.T) {
	e := newEnv(t, true)
	saved, err := e.store.Replace(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, bytesConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := e.api(t, e.login(t), "")
	paths := []string{"/config", "/global", "/redundancy", "/virtual", fmt.Sprintf("/history/%d", saved.Serial)}
	for _, vs := range saved.Virtuals {
		paths = append(paths, fmt.Sprintf("/virtual/%d", vs.ID), fmt.Sprintf("/virtual/%d/real", vs.ID))
		for _, rs := range vs.Reals {
			paths = append(paths, fmt.Sprintf("/virtual/%d/real/%d", vs.ID, rs.ID))
		}
	}
	for _, p := range paths {
		ans := a.expect(http.StatusOK, "GET", p, nil)
		body := ans.body
		if strings.HasPrefix(p, "/history/") {
			// The revision's time is the test's, and its summary HISTORY's
			// words, which the registry changed.
			body = blankJSON(body, "created")
			body = blankJSON(body, "summary")
		}
		golden := filepath.Join("testdata", "api", strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "_")+".json")
		if *updateAPI {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test -update-api records it)", err)
		}
		if body != string(want) {
			t.Errorf("GET %s differs from %s:\n got %s\nwant %s", p, golden, body, want)
		}
	}

	// Writes, refused and accepted, answer as they did.
	vid, rid := saved.Virtuals[0].ID, saved.Virtuals[0].Reals[0].ID
	vp, rp := fmt.Sprintf("/virtual/%d", vid), fmt.Sprintf("/virtual/%d/real/%d", vid, rid)
	var got strings.Builder
	for _, w := range []struct{ method, path, body string }{
		{"PUT", vp, `{"port": true}`},
		{"PUT", vp, `{"nope": 1}`},
		{"PUT", vp, `{"fwmark": "3"}`},
		{"PUT", vp, `{"fwmark": 1e99}`},
		{"PUT", vp, `{"timeout": -1}`},
		{"PUT", vp, `{"timeout": "six", "vip_nmask": "255.0.255.0", "sorry_server": "x", "port": "nope"}`},
		{"PUT", vp, `{"address": 7}`},
		{"PUT", vp, `{"sched_flags": "fallback,x"}`},
		{"PUT", vp, `{"scheduler": "foo", "check": "smtp", "load_monitor": "x", "protocol": "icmp"}`},
		{"PUT", vp, `{"Name": "www7", "TIMEOUT": "3"}`},
		{"PUT", vp, `{"port": "https", "timeout": "200ms", "check_interval": null}`},
		{"PUT", "/redundancy", `{"keepalive": "six", "heartbeat_port": "http", "syncd_id": 300}`},
		{"PUT", "/redundancy", `{"heartbeat_port": "http"}`},
		{"PUT", "/global", `{"network": "bogus", "nat_nmask": "255.0.255.0", "tcp_timeout": -1, "hard_shutdown": "yes"}`},
		{"PUT", "/global", `{"hard_shutdown": "yes", "tcp_timeout": "x", "nope": 1}`},
		{"PUT", "/global", `{"debug_level": "7", "rsh_command": ""}`},
		{"PUT", rp, `{"port": 70000, "weight": -1, "fwd": "x", "lthreshold": 5}`},
		{"PUT", rp, `{"weight": 42, "fwd": "tunnel"}`},
		{"POST", "/virtual", `{"name": "new2", "port": "ssh", "sched_flags": ""}`},
		{"POST", fmt.Sprintf("/virtual/%d/real", vid), `{"name": "web6c", "address": "2001:db8:1::c", "port": "8080"}`},
	} {
		ans := a.call(w.method, w.path, w.body)
		fmt.Fprintf(&got, "%s %s %s\n%d %s\n", w.method, w.path, w.body, ans.code, ans.body)
	}
	golden := filepath.Join("testdata", "api", "writes.txt")
	if *updateAPI {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update-api records it)", err)
	}
	if got.String() != string(want) {
		t.Errorf("the writes' answers differ from %s:\n%s", golden, got.String())
	}
}

// blankJSON replaces the string value of key in body (JSON without
// escaped quotes in that value's key) by "-".
func blankJSON(body, key string) string {
	k := `"` + key + `":"`
	i := strings.Index(body, k)
	if i < 0 {
		return body
	}
	j := i + len(k)
	for j < len(body) && body[j] != '"' {
		if body[j] == '\\' {
			j++
		}
		j++
	}
	return body[:i] + k + `-"` + body[j+1:]
}
