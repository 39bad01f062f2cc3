package handlers

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lvsconsole/lvsconsole/internal/testnet"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/store"
)

// logInAs logs the browser in as user.
func logInAs(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	step(t, ctx, "opening the login page", chromedp.Navigate(base+"/login"))
	fill(t, ctx, map[string]string{"user": user, "password": password})
	submit(t, ctx, "logging in as "+user, "#login")
}

// count returns how many elements match sel on the page.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	return run(t, ctx, "counting "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// postFormAnyway sends the page's form sel as the browser would, with
// every field it holds (disabled ones too), from the page itself, and
// returns the answer's status: what a viewer who edits the page gets.
func postFormAnyway(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	return run(t, ctx, "posting "+sel+" anyway", chromedp.Evaluate[int](fmt.Sprintf(`(async f => {
		const body = new URLSearchParams();
		for (const e of f.elements) if (e.name) body.append(e.name, e.type === "checkbox" ? (e.checked ? "1" : "") : e.value);
		const r = await fetch(f.action, {method: "POST", body, redirect: "manual"});
		return r.status;
	})(document.querySelector(%q))`, sel), chromedp.EvalAwaitPromise))
}

// TestBrowserViewer: a viewer sees every tab with no ACCEPT, no ADD, no
// DELETE and no (DE)ACTIVATE, the fields disabled and a note saying why,
// and gets 403 posting the forms anyway; nothing changes.
func TestBrowserViewer(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	if err := e.store.AddUser(context.Background(), "vera", store.ScopeRead, "vera's password"); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	logInAs(t, ctx, e.srv.URL, "vera", "vera's password")

	pages := []struct{ path, form string }{
		{"/global", `form[action="/global"]`},
		{"/redundancy", `form[action="/redundancy"]`},
		{fmt.Sprintf("/virtual/%d", vid), fmt.Sprintf(`form[action="/virtual/%d"]`, vid)},
		{fmt.Sprintf("/virtual/%d/scripts", vid), fmt.Sprintf(`form[action="/virtual/%d/scripts"]`, vid)},
		{fmt.Sprintf("/virtual/%d/real/%d", vid, rid), fmt.Sprintf(`form[action="/virtual/%d/real/%d"]`, vid, rid)},
	}
	for i, p := range pages {
		step(t, ctx, "opening "+p.path, chromedp.Navigate(e.srv.URL+p.path))
		if n := count(t, ctx, "#accept"); n != 0 {
			t.Errorf("%s shows the viewer %d ACCEPT buttons", p.path, n)
		}
		if n := count(t, ctx, p.form+" input:enabled:not([type=hidden]), "+p.form+" select:enabled"); n != 0 {
			t.Errorf("%s: %d fields of the form can be changed", p.path, n)
		}
		if body := run(t, ctx, "reading the page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "Read-only for your role, viewer") {
			t.Errorf("%s does not say why it is read-only:\n%.400s", p.path, body)
		}
		if i == 2 {
			shot(t, ctx, "roles-01-viewer-virtual")
		}
		if code := postFormAnyway(t, ctx, p.form); code != 403 {
			t.Errorf("the viewer posting %s anyway got %d, want 403", p.path, code)
		}
	}
	for _, p := range []string{"/virtual", fmt.Sprintf("/virtual/%d/real", vid)} {
		step(t, ctx, "opening "+p, chromedp.Navigate(e.srv.URL+p))
		if n := count(t, ctx, ".row-actions form, #add-virtual, #add-real"); n != 0 {
			t.Errorf("%s shows the viewer %d buttons that change something", p, n)
		}
	}
	if n := count(t, ctx, `nav a[href="/audit"]`); n != 0 {
		t.Error("the viewer's tabs have AUDIT")
	}
	if got := e.config(t); got.Serial != cfg.Serial {
		t.Errorf("the viewer changed the configuration: serial %d -> %d", cfg.Serial, got.Serial)
	}
	if _, err := e.store.Draft(context.Background(), "vera"); err == nil {
		t.Error("the viewer has pending changes")
	}
}

// TestBrowserOperatorDrains: an operator cannot open a virtual server's
// EDIT (the list offers VIEW, the page has no ACCEPT, and posting it
// anyway is 403), drains a real server (DRAIN, REVIEW, APPLY: weight 0 in
// the kernel, its configured weight kept) and changes another's weight on
// its form, whose other fields are disabled.
func TestBrowserOperatorDrains(t *testing.T) {
	web1, web2 := testnet.Listen(t, "127.0.0.1:0"), testnet.Listen(t, "127.0.0.1:0")
	port1, port2 := web1.Addr().(*net.TCPAddr).Port, web2.Addr().(*net.TCPAddr).Port
	ctx := context.Background()
	k := ipvstest.New()
	svc := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	d := startDirector(t, ctx, filepath.Join(t.TempDir(), "lvs.db"), k)
	if err := d.st.SetPassword(ctx, "admin", testPassword); err != nil {
		t.Fatal(err)
	}
	if err := d.st.AddUser(ctx, "otto", store.ScopeOperator, "otto's password"); err != nil {
		t.Fatal(err)
	}
	cfg, err := d.st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Global.Network = config.NAT
		vs := config.NewVirtual("www")
		vs.Active, vs.Address, vs.CheckKind = true, svc.Addr, "tcp"
		vs.CheckTimeout, vs.Reentry = 200*time.Millisecond, 200*time.Millisecond
		for i, port := range []int{port1, port2} {
			rs := config.NewReal(fmt.Sprintf("web%d", i+1))
			rs.Active, rs.Address, rs.Port, rs.Weight = true, netip.MustParseAddr("127.0.0.1"), port, int64(i+1)
			vs.Reals = append(vs.Reals, rs)
		}
		c.Virtuals = append(c.Virtuals, vs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitKernel(t, k, svc, "web1 and web2", func(ds []ipvs.Destination) bool { return weightOf(ds, port1) == 1 && weightOf(ds, port2) == 2 })
	vid, rid2 := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[1].ID
	b := browser(t)
	logInAs(t, b, d.srv.URL, "otto", "otto's password")

	// The virtual server: VIEW, not EDIT; read-only; 403 posted anyway.
	step(t, b, "opening VIRTUAL SERVERS", chromedp.Navigate(d.srv.URL+"/virtual"))
	buttons := run(t, b, "reading the row's buttons", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#virtuals .row-actions a, #virtuals .row-actions button')].map(e => e.textContent.trim())`))
	if !slices.Equal(buttons, []string{"VIEW"}) {
		t.Errorf("the operator's virtual server row offers %q, want only VIEW", buttons)
	}
	submit(t, b, "opening VIEW", `#virtuals .row-actions a`)
	if n := count(t, b, "#accept"); n != 0 {
		t.Error("the operator's virtual server page has ACCEPT")
	}
	if body := run(t, b, "reading the page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "Read-only for your role, operator") {
		t.Errorf("the virtual server page does not say it is read-only:\n%.400s", body)
	}
	if code := postFormAnyway(t, b, fmt.Sprintf(`form[action="/virtual/%d"]`, vid)); code != 403 {
		t.Errorf("the operator posting the virtual server's form got %d, want 403", code)
	}

	// DRAIN web1, REVIEW, APPLY: weight 0 in the kernel.
	step(t, b, "opening REAL SERVER", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real", d.srv.URL, vid)))
	if n := count(t, b, "#add-real, .row-actions .danger"); n != 0 {
		t.Errorf("the operator's REAL SERVER list has %d ADD or DELETE buttons", n)
	}
	submit(t, b, "pressing DRAIN for web1", `tr[data-name="web1"] button.drain`)
	shot(t, b, "roles-02-operator-drain-pending")
	submit(t, b, "opening REVIEW", "#review")
	submit(t, b, "applying", "#apply")
	waitKernel(t, k, svc, "web1 at weight 0", func(ds []ipvs.Destination) bool { return weightOf(ds, port1) == 0 && weightOf(ds, port2) == 2 })
	if rs := *d.config(t).Virtuals[0].Real("web1"); !rs.Draining || !rs.Active || rs.Weight != 1 {
		t.Errorf("drained, web1 is %+v: want draining, active, its weight 1 kept", rs)
	}

	// web2's weight on its form: the other fields are disabled.
	step(t, b, "opening web2", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real/%d", d.srv.URL, vid, rid2)))
	if n := count(t, b, "#name:enabled, #address:enabled, #port:enabled, #notify_up:enabled"); n != 0 {
		t.Errorf("%d fields an operator may not change are enabled", n)
	}
	fill(t, b, map[string]string{"weight": "4"})
	submit(t, b, "accepting the weight", "#accept")
	submit(t, b, "opening REVIEW", "#review")
	submit(t, b, "applying", "#apply")
	waitKernel(t, k, svc, "web2 at weight 4", func(ds []ipvs.Destination) bool { return weightOf(ds, port2) == 4 })
	if rs := *d.config(t).Virtuals[0].Real("web2"); rs.Name != "web2" || rs.Port != port2 || !rs.Active {
		t.Errorf("after the operator's ACCEPT web2 is %+v", rs)
	}
	revs, err := d.st.Revisions(ctx, 0, 2)
	if err != nil || len(revs) != 2 || revs[0].Author != "otto" || revs[1].Author != "otto" {
		t.Errorf("the last revisions: %+v, %v; want both by otto", revs, err)
	}
}

func (d *director) config(t *testing.T) *config.Config {
	t.Helper()
	c, err := d.st.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
