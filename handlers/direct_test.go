package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/direct"
	"github.com/lvsconsole/lvsconsole/store"
)

// fakeDR stands in for drcheck (whose own tests send real SYNs between
// network namespaces): it answers outcome and remembers what was asked.
type fakeDR struct {
	mu      sync.Mutex
	outcome direct.Outcome
	asked   []direct.Target
	last    map[direct.Target]direct.Result
}

func (f *fakeDR) Check(_ context.Context, t direct.Target) direct.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, t)
	r := direct.Result{Target: t, Outcome: f.outcome, RTT: 400 * time.Microsecond, At: time.Now()}
	if f.outcome == direct.Silent {
		r.RTT = time.Second
	}
	if f.last == nil {
		f.last = map[direct.Target]direct.Result{}
	}
	f.last[t] = r
	return r
}

func (f *fakeDR) Last(t direct.Target) (direct.Result, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.last[t]
	return r, ok
}

// seedDirect: www (192.0.2.10:80) with web1 by direct routing and db by
// NAT; mail (192.0.2.25:25) with web1 too, by direct routing.
func seedDirect(t *testing.T, e *testEnv) *config.Config {
	t.Helper()
	cfg, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Global.Network = config.NAT
		www := config.NewVirtual("www")
		www.Address, www.Port = netip.MustParseAddr("192.0.2.10"), 80
		web1, db := config.NewReal("web1"), config.NewReal("db")
		web1.Address, web1.Forward = netip.MustParseAddr("10.0.0.1"), config.Direct
		db.Address = netip.MustParseAddr("10.0.0.2")
		www.Reals = []config.RealServer{web1, db}
		mail := config.NewVirtual("mail")
		mail.Address, mail.Port = netip.MustParseAddr("192.0.2.25"), 25
		mail.Reals = []config.RealServer{web1}
		c.Virtuals = append(c.Virtuals, www, mail)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDirectRoutingPanel: the REAL SERVER tab shows what a direct-routing
// real server needs, with every VIP it serves; CHECK checks the VIP and
// port from the configuration and shows the answer.
func TestDirectRoutingPanel(t *testing.T) {
	dr := &fakeDR{outcome: direct.Accepted}
	e := newEnvWith(t, true, func(o *Options) { o.DRProbe = dr })
	cfg := seedDirect(t, e)
	www := &cfg.Virtuals[0]
	c := e.login(t)
	list := fmt.Sprintf("%s/virtual/%d/real", e.srv.URL, www.ID)

	a := get(t, c, list)
	body := html.UnescapeString(a.body)
	for _, want := range []string{
		`id="direct-routing"`, "web1 (10.0.0.1)",
		"ip addr add 192.0.2.10/32 dev lo", "ip addr add 192.0.2.25/32 dev lo",
		"sysctl -w net.ipv4.conf.all.arp_ignore=1", "/etc/sysctl.d/90-lvs-dr.conf",
		fmt.Sprintf(`action="/virtual/%d/real/%d/drcheck"`, www.ID, www.Reals[0].ID),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("REAL SERVER tab lacks %q", want)
		}
	}
	if strings.Contains(body, `data-real="10.0.0.2"`) {
		t.Error("the NAT real server has a direct-routing snippet")
	}
	if strings.Contains(body, "accepts traffic") {
		t.Error("a result is shown before any check")
	}

	a = post(t, c, fmt.Sprintf("%s/virtual/%d/real/%d/drcheck", e.srv.URL, www.ID, www.Reals[0].ID), url.Values{})
	if a.code != http.StatusSeeOther || a.location != fmt.Sprintf("/virtual/%d/real#direct-routing", www.ID) {
		t.Fatalf("CHECK = %d to %q: %s", a.code, a.location, a.body)
	}
	want := direct.Target{VIP: netip.MustParseAddr("192.0.2.10"), Port: 80, Real: netip.MustParseAddr("10.0.0.1")}
	if len(dr.asked) != 1 || dr.asked[0] != want {
		t.Fatalf("checked %v, want %v", dr.asked, want)
	}
	body = html.UnescapeString(get(t, c, list).body)
	if n := strings.Count(body, "10.0.0.1 accepts traffic for VIP 192.0.2.10 (SYN-ACK from port 80 in 0.4 ms)"); n != 1 {
		t.Errorf("the result is shown %d times, want once, beside the server:\n%s", n, body)
	}
	if !strings.Contains(body, "Checked real server web1 (10.0.0.1) for VIP 192.0.2.10") {
		t.Error("no message says what was checked")
	}
	if !strings.Contains(body, `class="dr-result ok"`) {
		t.Error("the result is not marked ok")
	}

	// Silence says what to do.
	dr.outcome = direct.Silent
	delete(dr.last, want)
	post(t, c, fmt.Sprintf("%s/virtual/%d/real/%d/drcheck", e.srv.URL, www.ID, www.Reals[0].ID), url.Values{})
	body = html.UnescapeString(get(t, c, list).body)
	if !strings.Contains(body, "did not answer a SYN for VIP 192.0.2.10 port 80 within 1s: add the VIP on lo") ||
		!strings.Contains(body, `class="dr-result bad"`) {
		t.Errorf("silence not shown:\n%s", body)
	}

	// The NAT real server is not checked.
	a = post(t, c, fmt.Sprintf("%s/virtual/%d/real/%d/drcheck", e.srv.URL, www.ID, www.Reals[1].ID), url.Values{})
	if a.code != http.StatusSeeOther || len(dr.asked) != 2 {
		t.Errorf("CHECK of a NAT real server = %d, %d checks run, want a redirect and none", a.code, len(dr.asked)-2)
	}
	if body := html.UnescapeString(get(t, c, list).body); !strings.Contains(body, "db is not forwarded by direct routing") {
		t.Error("CHECK of a NAT real server does not say why nothing was checked")
	}
	// A real server of another virtual server is not found here.
	mail := &cfg.Virtuals[1]
	if a := post(t, c, fmt.Sprintf("%s/virtual/%d/real/%d/drcheck", e.srv.URL, www.ID, mail.Reals[0].ID), url.Values{}); a.code != http.StatusNotFound {
		t.Errorf("CHECK of another virtual server's real server = %d, want 404", a.code)
	}
}

// TestDirectRoutingWithoutCheck: without a DRProbe the snippet is shown,
// CHECK is not, and its route is 404.
func TestDirectRoutingWithoutCheck(t *testing.T) {
	e := newEnv(t, true)
	cfg := seedDirect(t, e)
	www := &cfg.Virtuals[0]
	c := e.login(t)
	body := get(t, c, fmt.Sprintf("%s/virtual/%d/real", e.srv.URL, www.ID)).body
	if !strings.Contains(body, "ip addr add 192.0.2.10/32 dev lo") || strings.Contains(body, "drcheck") {
		t.Errorf("without a check: snippet shown %v, CHECK shown %v", strings.Contains(body, "ip addr add"), strings.Contains(body, "drcheck"))
	}
	if a := post(t, c, fmt.Sprintf("%s/virtual/%d/real/%d/drcheck", e.srv.URL, www.ID, www.Reals[0].ID), url.Values{}); a.code != http.StatusNotFound {
		t.Errorf("CHECK without a checker = %d, want 404", a.code)
	}
}

// TestAPIDirect: GET /virtual/{vid}/direct gives the panel's snippets and
// the latest check, to a read token.
func TestAPIDirect(t *testing.T) {
	dr := &fakeDR{outcome: direct.Refused}
	e := newEnvWith(t, true, func(o *Options) { o.DRProbe = dr })
	cfg := seedDirect(t, e)
	www := &cfg.Virtuals[0]
	dr.Check(context.Background(), direct.Target{VIP: www.Address, Port: 80, Real: www.Reals[0].Address})
	api := e.api(t, nil, e.scopedToken(t, store.ScopeRead))
	var out struct {
		Servers []struct {
			Address  string
			Names    []string
			VIPs     []struct{ Address string }
			Commands string
			Files    []struct{ Path string }
			Check    *struct {
				Outcome    string
				AcceptsVIP bool `json:"accepts_vip"`
				Text       string
			}
		}
	}
	a := api.expect(http.StatusOK, "GET", fmt.Sprintf("/virtual/%d/direct", www.ID), nil)
	if err := json.Unmarshal([]byte(a.body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Servers) != 1 {
		t.Fatalf("%d servers, want web1 only: %s", len(out.Servers), a.body)
	}
	s := out.Servers[0]
	if s.Address != "10.0.0.1" || len(s.VIPs) != 2 || s.VIPs[0].Address != "192.0.2.10" || s.VIPs[1].Address != "192.0.2.25" ||
		!strings.Contains(s.Commands, "ip addr add 192.0.2.25/32 dev lo") || len(s.Files) != 3 {
		t.Errorf("server %+v", s)
	}
	if s.Check == nil || s.Check.Outcome != "refused" || !s.Check.AcceptsVIP || !strings.Contains(s.Check.Text, "port 80/tcp is closed") {
		t.Errorf("check %+v", s.Check)
	}
	api.expect(http.StatusNotFound, "GET", "/virtual/999999/direct", nil)
}
