package config_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestDiffSpeaksTheConsolesWords: HISTORY says what changed with the
// console's labels and the lvs.cf keys, never Go's field names.
func TestDiffSpeaksTheConsolesWords(t *testing.T) {
	a := config.Default()
	vs := config.NewVirtual("www")
	vs.CheckKind = "tcp"
	vs.Reals = []config.RealServer{config.NewReal("web1"), config.NewReal("web2")}
	a.Virtuals = []config.VirtualServer{vs}

	b := a.Clone()
	b.Global.NATRouter, b.Global.NATRouterDevice = netip.MustParseAddr("10.0.0.254"), "eth1:1"
	b.Redundancy.Keepalive = 2 * time.Second
	b.Redundancy.Heartbeat = false
	b.Virtuals[0].CheckKind = "http"
	b.Virtuals[0].SchedFallback = true
	b.Virtuals[0].Send = "HEAD /"
	b.Virtuals[0].Reals[0].Weight = 5
	b.Virtuals[0].Reals[1].Forward = config.Tunnel
	b.Virtuals[0].Reals = append(b.Virtuals[0].Reals, config.NewReal("web3"))
	b.Virtuals = append(b.Virtuals, config.NewVirtual("dns"))

	got := config.Diff(a, b)
	for _, want := range []string{
		"global: NAT router IP (nat_router) (none) -> 10.0.0.254",
		"global: NAT router device (nat_router) (none) -> \"eth1:1\"",
		"redundancy: Heartbeat on (heartbeat) on -> off",
		"redundancy: Heartbeat interval (keepalive) 6s -> 2s",
		"virtual server www: Check type (check) tcp -> http",
		"virtual server www: sh/mh: fall back to another server (sched_flags) off -> on",
		"virtual server www: Send (send) \"GET / HTTP/1.0\\r\\n\\r\\n\" -> \"HEAD /\"",
		"virtual server www, real server web1: Weight (weight) 1 -> 5",
		"virtual server www, real server web2: Forwarding method (fwd) (global setting) -> tunnel",
		"virtual server www, real server web3 added",
		"virtual server dns added",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("Diff lacks %q; it says:\n%q", want, got)
		}
	}
	if len(got) != 11 {
		t.Errorf("Diff says %d things, want 11:\n%q", len(got), got)
	}

	c := b.Clone()
	c.Virtuals = c.Virtuals[:1]
	c.Virtuals[0].Reals = c.Virtuals[0].Reals[:2]
	if got := config.Diff(b, c); !slices.Equal(got, []string{
		"virtual server www, real server web3 deleted",
		"virtual server dns deleted",
	}) {
		t.Errorf("deletions: %q", got)
	}
}

// TestDiffKeepsSecrets: HISTORY and REVIEW say that the BGP password was
// set, changed or removed, never what it is or was.
func TestDiffKeepsSecrets(t *testing.T) {
	a, b := config.Default(), config.Default()
	for _, tc := range []struct{ from, to, want string }{
		{"", "first-Secret", "redundancy: TCP MD5 password (bgp_password) set"},
		{"first-Secret", "second-Secret", "redundancy: TCP MD5 password (bgp_password) changed"},
		{"second-Secret", "", "redundancy: TCP MD5 password (bgp_password) removed"},
	} {
		a.Redundancy.BGPPassword, b.Redundancy.BGPPassword = tc.from, tc.to
		got := config.Diff(a, b)
		if !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%q -> %q: Diff = %q, want %q", tc.from, tc.to, got, tc.want)
		}
		for _, line := range got {
			if strings.Contains(line, "Secret") {
				t.Errorf("Diff shows the password: %q", line)
			}
		}
	}
}
