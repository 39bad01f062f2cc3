package cluster

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

func vsOf(name, vip string, port int, announce bool, reals ...string) config.VirtualServer {
	vs := config.VirtualServer{Name: name, Active: true, Address: netip.MustParseAddr(vip), Port: port,
		Protocol: config.TCP, Announce: announce, Scheduler: "mh", CheckTimeout: 10 * time.Second, SorryServer: netip.MustParseAddr("192.0.2.99")}
	for i, r := range reals {
		vs.Reals = append(vs.Reals, config.RealServer{Name: name + "-r" + string(rune('0'+i)), Active: true,
			Address: netip.MustParseAddr(r), Weight: 1})
	}
	return vs
}

// table is the engine's desired table: for each virtual server, its
// destinations "addr=weight".
func table(svcs map[string][]string) *engine.Table {
	t := &engine.Table{}
	for name, dests := range svcs {
		s := &engine.Service{Virtual: name}
		for _, d := range dests {
			var w int32
			a, ws, _ := cut(d)
			for _, c := range ws {
				w = w*10 + int32(c-'0')
			}
			s.Dests = append(s.Dests, ipvs.Destination{Addr: netip.MustParseAddr(a), Weight: w})
		}
		t.Services = append(t.Services, s)
	}
	return t
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestDecide(t *testing.T) {
	web := vsOf("web", "10.0.0.1", 80, true, "192.0.2.1", "192.0.2.2")
	tls := vsOf("tls", "10.0.0.1", 443, true, "192.0.2.3")
	dns := vsOf("dns", "2001:db8::53", 53, true, "2001:db8::1")
	off := vsOf("off", "10.0.0.2", 80, false, "192.0.2.4")
	offShared := vsOf("offshared", "10.0.0.1", 8080, false, "192.0.2.5")
	mark := vsOf("mark", "10.0.0.3", 0, true, "192.0.2.6")
	mark.FWMark = 7
	inactive := vsOf("inactive", "10.0.0.4", 80, true, "192.0.2.7")
	inactive.Active = false
	draining := vsOf("draining", "10.0.0.5", 80, true, "192.0.2.8")
	draining.Reals[0].Draining = true

	cfgOf := func(cluster bool, vss ...config.VirtualServer) *config.Config {
		c := &config.Config{Serial: 7, Virtuals: vss}
		c.Redundancy.Cluster = cluster
		return c
	}
	ok := func(svcs map[string][]string) engine.Status {
		return engine.Status{Available: true, Serial: 7, Desired: table(svcs)}
	}
	tests := []struct {
		name     string
		cfg      *config.Config
		eng      engine.Status
		draining bool
		announce []netip.Prefix
		withheld []Withheld
	}{
		{name: "pair mode announces nothing", cfg: cfgOf(false, web),
			eng: ok(map[string][]string{"web": {"192.0.2.1=1"}})},
		{name: "healthy", cfg: cfgOf(true, web, dns),
			eng:      ok(map[string][]string{"web": {"192.0.2.1=1"}, "dns": {"2001:db8::1=5"}}),
			announce: pfx("10.0.0.1/32", "2001:db8::53/128")},
		{name: "engine behind the configuration", cfg: cfgOf(true, web),
			eng:      engine.Status{Available: true, Serial: 6, Desired: table(map[string][]string{"web": {"192.0.2.1=1"}})},
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyNotReconciled}}},
		{name: "no IPVS", cfg: cfgOf(true, web),
			eng:      engine.Status{Available: false, Serial: 7, Desired: table(map[string][]string{"web": {"192.0.2.1=1"}})},
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyNotReconciled}}},
		{name: "every real server down", cfg: cfgOf(true, web),
			eng:      ok(map[string][]string{"web": {}}),
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyNoRealServer}}},
		{name: "the sorry server alone is not healthy", cfg: cfgOf(true, web),
			eng:      ok(map[string][]string{"web": {"192.0.2.99=1"}}),
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyNoRealServer}}},
		{name: "quiesced real servers (weight 0) are not up", cfg: cfgOf(true, web),
			eng:      ok(map[string][]string{"web": {"192.0.2.1=0", "192.0.2.2=0"}}),
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyNoRealServer}}},
		{name: "a draining real server is not up", cfg: cfgOf(true, draining),
			eng:      ok(map[string][]string{"draining": {"192.0.2.8=1"}}),
			withheld: []Withheld{{pfx("10.0.0.5/32")[0], WhyNoRealServer}}},
		{name: "a shared VIP is announced while any of its services is up", cfg: cfgOf(true, web, tls),
			eng:      ok(map[string][]string{"web": {}, "tls": {"192.0.2.3=2"}}),
			announce: pfx("10.0.0.1/32")},
		{name: "a shared VIP withheld when all its services are down", cfg: cfgOf(true, web, tls),
			eng:      ok(map[string][]string{"web": {}, "tls": {"192.0.2.99=1"}}),
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyNoRealServer}}},
		{name: "announce off", cfg: cfgOf(true, off),
			eng:      ok(map[string][]string{"off": {"192.0.2.4=1"}}),
			withheld: []Withheld{{pfx("10.0.0.2/32")[0], WhyAnnounceOff}}},
		{name: "a service with announce off does not make its shared VIP healthy", cfg: cfgOf(true, web, offShared),
			eng:      ok(map[string][]string{"web": {}, "offshared": {"192.0.2.5=1"}}),
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyNoRealServer}}},
		{name: "firewall mark service: its address", cfg: cfgOf(true, mark),
			eng:      ok(map[string][]string{"mark": {"192.0.2.6=1"}}),
			announce: pfx("10.0.0.3/32")},
		{name: "inactive virtual servers are not listed", cfg: cfgOf(true, inactive),
			eng: ok(map[string][]string{})},
		{name: "draining withholds everything", cfg: cfgOf(true, web, off), draining: true,
			eng:      ok(map[string][]string{"web": {"192.0.2.1=1"}}),
			withheld: []Withheld{{pfx("10.0.0.1/32")[0], WhyDraining}, {pfx("10.0.0.2/32")[0], WhyAnnounceOff}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.cfg, tt.eng, tt.draining)
			if !slices.Equal(d.Announce, tt.announce) {
				t.Errorf("announce %v, want %v", d.Announce, tt.announce)
			}
			if !slices.Equal(d.Withheld, tt.withheld) {
				t.Errorf("withheld %v, want %v", d.Withheld, tt.withheld)
			}
		})
	}
}
