package handlers

import (
	"context"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

// fakeHost is a director with the interfaces given and forwarding off.
type fakeHost []string

func (h fakeHost) Interfaces() ([]string, error) { return h, nil }
func (fakeHost) Forwarding(bool) (bool, error)   { return false, nil }

// downProbe: every one-off check fails, and is counted.
type downProbe struct{ n *int }

func (p downProbe) Probe(ctx context.Context, vs *config.VirtualServer, rs *config.RealServer) (bool, string) {
	*p.n++
	return false, "connection refused"
}

// upHealth: every checked real server is up.
type upHealth struct{}

func (upHealth) Of(*config.VirtualServer, *config.RealServer) (engine.ServerHealth, bool) {
	return engine.ServerHealth{State: "up", Since: time.Now()}, true
}
func (upHealth) Events(int) []engine.Event { return nil }

// stubPreview plans nothing but says so.
type stubPreview struct{}

func (stubPreview) Preview(context.Context, *config.Config) (*engine.Plan, error) {
	return &engine.Plan{}, nil
}

// TestReviewSaysWhatWillHappen: REVIEW of a change that moves a VIP to
// an interface this director lacks, turns on NAT without forwarding,
// adds a real server that does not answer, sets a program, and takes the
// last healthy real server out of an active service lists each effect
// and each warning, and sends nothing.
func TestReviewSaysWhatWillHappen(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	if _, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtuals[0].Active, c.Virtuals[0].Reals[0].Active = true, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	probes := 0
	e.console.host = fakeHost{"lo", "eth0"}
	e.console.probe = downProbe{&probes}
	e.console.health = upHealth{}
	e.console.preview = stubPreview{}
	e.console.failover = fixedFailover{Pair: true, Role: failover.Active, Pulse: pulse.Status{Peer: pulse.PeerStatus{Heard: true}}, InSync: true}
	c := e.login(t)
	vs := cfg.Virtuals[0]
	_, err := e.store.EditDraft(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "admin", Elevated: true}, 0, func(c *config.Config) error {
		www := &c.Virtuals[0]
		www.Device = "eth7:1"
		www.Reals[0].Active = false
		www.Reals = append(www.Reals, config.RealServer{Name: "web9", Active: false, Address: netip.MustParseAddr("10.0.0.9"), Weight: 1})
		c.Global.Network = config.NAT
		c.Global.ActiveCmd = "/usr/bin/logger active"
		mail := config.NewVirtual("mail")
		mail.Active, mail.Address, mail.Port = true, netip.MustParseAddr("192.0.2.25"), 25
		mail.Reals = []config.RealServer{{Name: "m1", Active: true, Address: netip.MustParseAddr("10.0.0.25"), Weight: 1}}
		c.Virtuals = append(c.Virtuals, mail)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before := e.config(t).Serial
	a := get(t, c, e.srv.URL+"/review")
	if a.code != http.StatusOK {
		t.Fatalf("REVIEW = %d", a.code)
	}
	body := html.UnescapeString(a.body)
	for _, want := range []string{
		"virtual server " + vs.Name + ": Device (device)",
		"up on this director, the active, now (on the standby only after a failover): 192.0.2.10 on eth7:1",
		"down on this director, the active, now",
		"start: real server m1 of mail (10.0.0.25:25)",
		"stop: real server web1 of www",
		"active_cmd: /usr/bin/logger active",
		"The standby is heard and in sync: it takes the change at once.",
		"there is no interface eth7 on this director",
		"NAT needs net.ipv4.ip_forward = 1",
		"real server m1 of mail does not answer its check now: connection refused",
		"virtual server www: the change removes every real server that is up now",
		"Nothing: the kernel's table stays as it is.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("REVIEW lacks %q", want)
		}
	}
	if probes != 1 {
		t.Errorf("%d one-off checks, want 1 (m1 only: web1 is checked already, web9 inactive)", probes)
	}
	if e.config(t).Serial != before {
		t.Error("REVIEW changed the configuration")
	}
	// DISCARD drops the pending changes.
	if a := post(t, c, e.srv.URL+"/review/discard", url.Values{}); a.code != http.StatusSeeOther {
		t.Fatalf("DISCARD = %d", a.code)
	}
	if _, err := e.store.Draft(context.Background(), "admin"); err != store.ErrNoDraft {
		t.Fatalf("after DISCARD: %v", err)
	}
	if a := get(t, c, e.srv.URL+"/review"); !strings.Contains(a.body, `id="no-pending"`) {
		t.Error("REVIEW without pending changes does not say so")
	}
}

// An edit that brings the pending changes back to the running
// configuration leaves nothing pending, and says so.
func TestEditBackToRunningLeavesNothingPending(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	c := e.login(t)
	path := e.srv.URL + "/virtual/" + itoa(cfg.Virtuals[0].ID) + "/activate"
	if a := post(t, c, path, url.Values{"serial": {itoa(cfg.Serial)}, "active": {"1"}}); a.code != http.StatusSeeOther {
		t.Fatalf("ACTIVATE = %d", a.code)
	}
	page := get(t, c, e.srv.URL+"/virtual")
	if !strings.Contains(page.body, "1 pending change") || !strings.Contains(page.body, "It is pending") {
		t.Fatalf("after ACTIVATE the list does not show the pending change:\n%s", page.body)
	}
	if a := post(t, c, path, url.Values{"serial": {itoa(cfg.Serial)}, "draft": {formDraft(t, page.body)}, "active": {"0"}}); a.code != http.StatusSeeOther {
		t.Fatalf("DEACTIVATE = %d", a.code)
	}
	page = get(t, c, e.srv.URL+"/virtual")
	if strings.Contains(page.body, `id="pending-bar"`) || !strings.Contains(page.body, "nothing is pending") {
		t.Errorf("back to the running configuration, the page says:\n%s", page.body)
	}
}

// TestReviewWarnsClusterFlows: REVIEW of a change to cluster mode warns
// of the active, announced virtual servers whose flows would break when
// the routers move them to another director (a scheduler that is not a
// consistent hash, NAT), and of no other.
func TestReviewWarnsClusterFlows(t *testing.T) {
	e := newEnv(t, true)
	e.seedActive(t)
	e.console.cluster = fixedCluster{Directors: []cluster.Director{
		{Addr: netip.MustParseAddr("192.0.2.1"), Self: true, Reachable: true},
		{Addr: netip.MustParseAddr("192.0.2.2"), Err: "connection refused"},
	}}
	c := e.login(t)
	_, err := e.store.EditDraft(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "admin", Elevated: true}, 0, func(c *config.Config) error {
		r := &c.Redundancy
		r.BackupActive, r.Cluster = false, true
		r.ClusterDirectors, r.BGPAS, r.BGPPeers = "192.0.2.1 192.0.2.2", 65001, "192.0.2.254 65000"
		www := &c.Virtuals[0]
		www.Scheduler = "wlc"
		www.Reals[0].Forward = config.Direct
		quiet := config.NewVirtual("quiet")
		quiet.Active, quiet.Announce, quiet.Address, quiet.Port = true, false, netip.MustParseAddr("192.0.2.26"), 25
		quiet.Reals = []config.RealServer{{Name: "q1", Active: true, Address: netip.MustParseAddr("10.0.0.26"), Weight: 1}}
		c.Virtuals = append(c.Virtuals, quiet)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a := get(t, c, e.srv.URL+"/review")
	if a.code != http.StatusOK {
		t.Fatalf("REVIEW = %d", a.code)
	}
	body := html.UnescapeString(a.body)
	for _, want := range []string{
		"virtual server www: scheduler wlc chooses from each director's own state",
		"up on every director of the cluster (on lo, announced over BGP while healthy): 192.0.2.26",
		"The other directors of the cluster take the change at their next poll",
		"192.0.2.2 not reachable now: it takes it when reachable again.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("REVIEW lacks %q", want)
		}
	}
	for _, not := range []string{"uses NAT", "virtual server quiet:"} {
		if strings.Contains(body, not) {
			t.Errorf("REVIEW says %q", not)
		}
	}
}
