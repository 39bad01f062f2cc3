package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

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
