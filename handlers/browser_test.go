package handlers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

// The browser tests need Debian's chromium: see internal/testenv.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// browser starts headless chromium for a test and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(testenv.Chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// This machine reaches no network but package registries: keep the
		// browser from trying.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// stepTimeout bounds one step, so that a missing element fails the test
// with what was being done instead of at the test's deadline.
const stepTimeout = 20 * time.Second

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, stepTimeout)
}

// step runs browser actions, failing the test with what was being done.
func step(t *testing.T, ctx context.Context, doing string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := bounded(ctx)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		shot(t, ctx, "failed-"+strings.ReplaceAll(doing, " ", "-"))
		t.Fatalf("%s: %v", doing, err)
	}
}

// submit clicks a button that submits a form and waits for the page the
// browser lands on.
func submit(t *testing.T, ctx context.Context, doing, sel string) {
	t.Helper()
	// Wait for the load event of the page the click leads to, not just its
	// response, so that the next query sees the new document.
	sctx, cancel := bounded(ctx)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		shot(t, ctx, "failed-"+strings.ReplaceAll(doing, " ", "-"))
		t.Fatalf("%s: %v", doing, err)
	}
}

func run[T any](t *testing.T, ctx context.Context, doing string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := bounded(ctx)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", doing, err)
	}
	return v
}

// shot keeps a screenshot in the test's artifact directory (kept under
// out/ by `make test`).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Errorf("saving screenshot: %v", err)
	}
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "reading the location", chromedp.Location())
}

func fill(t *testing.T, ctx context.Context, fields map[string]string) {
	t.Helper()
	for id, v := range fields {
		// Clear, then type as a person would (key events, not a value set
		// from outside). SetValue(""), chromedp's way to clear, reports a
		// failure on an empty result, so the clearing is a script.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(document.getElementById(%q).value = "") === ""`, id))); err != nil {
			t.Fatalf("clearing %s: %v", id, err)
		}
		step(t, ctx, "typing into "+id, chromedp.SendKeys(chromedp.ID(id), v))
	}
}

// TestBrowserFirstUse is the walk: a new user sets the password with
// the setup code, adds a virtual server with two real servers, activates
// them, sees them listed, logs out and finds the pages closed.
func TestBrowserFirstUse(t *testing.T) {
	e := newEnv(t, false)
	ctx := browser(t)

	step(t, ctx, "opening the console", chromedp.Navigate(e.srv.URL+"/"))
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/setup") {
		t.Fatalf("a new console sent the browser to %s, want the setup page", loc)
	}
	shot(t, ctx, "01-setup")
	fill(t, ctx, map[string]string{"code": "wrong-code", "password": "s3cret-pass", "password2": "s3cret-pass"})
	submit(t, ctx, "submitting a wrong setup code", "#setup")
	if msg := run(t, ctx, "reading the code's error", chromedp.Text(chromedp.ID("code-error"))); !strings.Contains(msg, "not the setup code") {
		t.Errorf("wrong code message = %q", msg)
	}
	fill(t, ctx, map[string]string{"code": testSetupCode, "password": "s3cret-pass", "password2": "s3cret-pass"})
	submit(t, ctx, "setting up the administrator", "#setup")
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/control") {
		t.Fatalf("after setup the browser is at %s", loc)
	}
	shot(t, ctx, "02-control-empty")

	// ADD a virtual server.
	submit(t, ctx, "opening VIRTUAL SERVERS", `a.tab[href="/virtual"]`)
	submit(t, ctx, "clicking ADD", "#add-virtual")
	fill(t, ctx, map[string]string{"name": "www", "address": "192.0.2.100", "vip_nmask": "255.255.255.0", "device": "eth0:1", "port": "http"})
	shot(t, ctx, "03-new-virtual")
	submit(t, ctx, "accepting the virtual server", "#accept")
	if loc := location(t, ctx); !strings.Contains(loc, "/real") {
		t.Fatalf("after adding the virtual server the browser is at %s, want its real servers", loc)
	}

	// ADD two real servers, and activate them.
	for _, rs := range []struct{ name, addr, weight string }{{"web1", "10.0.0.11", "1"}, {"web2", "10.0.0.12", "2"}} {
		submit(t, ctx, "clicking ADD real server", "#add-real")
		fill(t, ctx, map[string]string{"name": rs.name, "address": rs.addr, "weight": rs.weight})
		submit(t, ctx, "accepting real server "+rs.name, "#accept")
		submit(t, ctx, "activating "+rs.name, `button.toggle[data-name="`+rs.name+`"]`)
	}
	shot(t, ctx, "04-real-servers")
	text := run(t, ctx, "reading the real servers", chromedp.Text(chromedp.ID("reals")))
	for _, want := range []string{"web1", "10.0.0.11", "web2", "10.0.0.12"} {
		if !strings.Contains(text, want) {
			t.Errorf("real server list lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "inactive"); n != 0 {
		t.Errorf("%d real servers still inactive:\n%s", n, text)
	}

	// A bad value comes back beside its field, with what was typed.
	submit(t, ctx, "opening VIRTUAL SERVER", `nav.subtabs a.tab:first-child`)
	step(t, ctx, "going to the virtual server's tab", chromedp.WaitVisible(chromedp.ID("port")))
	fill(t, ctx, map[string]string{"port": "99999"})
	submit(t, ctx, "accepting a bad port", "#accept")
	if msg := run(t, ctx, "reading the port's error", chromedp.Text(chromedp.ID("port-error"))); !strings.Contains(msg, "1-65535") {
		t.Errorf("bad port message = %q", msg)
	}
	if v := run(t, ctx, "reading the port field", chromedp.Value(chromedp.ID("port"))); v != "99999" {
		t.Errorf("the port field shows %q, want what was typed", v)
	}
	shot(t, ctx, "05-bad-port")

	// Activate the virtual server from the list.
	submit(t, ctx, "opening VIRTUAL SERVERS", `a.tab[href="/virtual"]`)
	submit(t, ctx, "activating www", `button.toggle[data-name="www"]`)
	row := run(t, ctx, "reading the list", chromedp.Text(chromedp.CSS(`tr[data-name="www"]`)))
	for _, want := range []string{"active", "192.0.2.100", "255.255.255.0", "80", "tcp", "eth0:1", "2 of 2 active"} {
		if !strings.Contains(row, want) {
			t.Errorf("the list's row lacks %q: %s", want, row)
		}
	}
	if strings.Contains(row, "inactive") {
		t.Errorf("www is still inactive: %s", row)
	}
	shot(t, ctx, "06-virtual-list")
	// Nothing runs differently until APPLY on REVIEW.
	if cfg, _ := e.store.Config(context.Background()); len(cfg.Virtuals) != 0 {
		t.Errorf("before APPLY the running configuration has %d virtual servers", len(cfg.Virtuals))
	}
	reviewAndApply(t, ctx, "07-review")
	shot(t, ctx, "07-control")

	// What the browser did is in the database.
	cfg, err := e.store.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Virtuals) != 1 || !cfg.Virtuals[0].Active || len(cfg.Virtuals[0].Reals) != 2 ||
		!cfg.Virtuals[0].Reals[0].Active || !cfg.Virtuals[0].Reals[1].Active || cfg.Virtuals[0].Reals[1].Weight != 2 {
		t.Errorf("stored configuration: %+v", cfg.Virtuals)
	}

	// Log out: the pages are closed.
	submit(t, ctx, "logging out", "#logout")
	for _, path := range []string{"/control", "/global", "/virtual"} {
		step(t, ctx, "opening "+path+" after logout", chromedp.Navigate(e.srv.URL+path))
		if loc := location(t, ctx); !strings.Contains(loc, "/login") {
			t.Errorf("after logout %s showed %s, want the login page", path, loc)
		}
	}
	shot(t, ctx, "08-logged-out")

	// And the password logs in again.
	fill(t, ctx, map[string]string{"user": "admin", "password": "s3cret-pass"})
	submit(t, ctx, "logging in", "#login")
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/virtual") {
		t.Errorf("after login the browser is at %s, want the page it asked for", loc)
	}
}

// reviewAndApply presses REVIEW in the pending bar, then APPLY, leaving a
// screenshot of REVIEW named name (none when "").
func reviewAndApply(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	submit(t, ctx, "opening REVIEW", "#review")
	if name != "" {
		shot(t, ctx, name)
	}
	submit(t, ctx, "pressing APPLY", "#apply")
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/control") {
		shot(t, ctx, "failed-apply")
		t.Fatalf("after APPLY the browser is at %s", loc)
	}
}
