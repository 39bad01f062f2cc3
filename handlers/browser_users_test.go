package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserUsersPage: an admin adds an operator on the USERS page, makes
// them admin, removes them (answering the question yes), then is refused
// demoting themselves, the last admin, with the reason on the page.
func TestBrowserUsersPage(t *testing.T) {
	e := newEnv(t, true)
	ctx := browser(t)
	logIn(t, ctx, e.srv.URL)

	step(t, ctx, "opening the account page", chromedp.Navigate(e.srv.URL+"/account"))
	if role := run(t, ctx, "reading the role", chromedp.Text(chromedp.ID("your-role"))); role != "admin" {
		t.Errorf("the account page says the role is %q", role)
	}
	submit(t, ctx, "following the USERS link", "#users-link")
	fill(t, ctx, map[string]string{"name": "ops", "password": "ops password", "password2": "ops password"})
	step(t, ctx, "choosing operator", chromedp.Click(chromedp.ID("role-operator")))
	submit(t, ctx, "adding the user", "#add-user-button")
	if role := run(t, ctx, "reading ops's role", chromedp.Text(chromedp.CSS(`tr[data-name="ops"] .role`))); role != "operator" {
		t.Fatalf("ops is listed as %q", role)
	}
	shot(t, ctx, "users-01-added")

	choose(t, ctx, "role-of-ops", "admin")
	submit(t, ctx, "changing ops's role", `tr[data-name="ops"] form[action$="/role"] button`)
	if role := run(t, ctx, "reading ops's role", chromedp.Text(chromedp.CSS(`tr[data-name="ops"] .role`))); role != "admin" {
		t.Errorf("after the change ops is %q", role)
	}

	run(t, ctx, "answering yes", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	submit(t, ctx, "removing ops", `tr[data-name="ops"] form[action$="/remove"] button`)
	if body := run(t, ctx, "reading the page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "User ops removed") {
		t.Errorf("after REMOVE the page says:\n%s", body)
	}

	choose(t, ctx, "role-of-admin", "viewer")
	submit(t, ctx, "demoting the last admin", `tr[data-name="admin"] form[action$="/role"] button`)
	if body := run(t, ctx, "reading the page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "admin is the last enabled admin") {
		t.Errorf("demoting the last admin, the page says:\n%s", body)
	}
	if role := run(t, ctx, "reading admin's role", chromedp.Text(chromedp.CSS(`tr[data-name="admin"] .role`))); role != "admin" {
		t.Errorf("admin is %q after the refusal", role)
	}
	shot(t, ctx, "users-02-last-admin")
}
