package handlers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lvsconsole/lvsconsole/lvs/direct"
)

// TestBrowserDirectRoutingCheck: on the REAL SERVER tab a person reads the
// snippet, presses CHECK beside the real server and reads the answer there.
func TestBrowserDirectRoutingCheck(t *testing.T) {
	dr := &fakeDR{outcome: direct.Silent}
	e := newEnvWith(t, true, func(o *Options) { o.DRProbe = dr })
	cfg := seedDirect(t, e)
	ctx := browser(t)
	logIn(t, ctx, e.srv.URL)

	step(t, ctx, "opening REAL SERVER", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real", e.srv.URL, cfg.Virtuals[0].ID)))
	cmds := run(t, ctx, "reading the snippet", chromedp.Text(chromedp.CSS("#direct-routing .dr-commands")))
	if !strings.Contains(cmds, "ip addr add 192.0.2.10/32 dev lo") || !strings.Contains(cmds, "ip addr add 192.0.2.25/32 dev lo") {
		t.Errorf("the snippet shown:\n%s", cmds)
	}
	shot(t, ctx, "direct-01-snippet")

	submit(t, ctx, "pressing CHECK", "#direct-routing .dr-check")
	if loc := location(t, ctx); !strings.HasSuffix(loc, fmt.Sprintf("/virtual/%d/real#direct-routing", cfg.Virtuals[0].ID)) {
		t.Errorf("after CHECK the browser is at %s", loc)
	}
	got := run(t, ctx, "reading the result", chromedp.Text(chromedp.CSS("#direct-routing .dr-result.bad")))
	if !strings.Contains(got, "10.0.0.1 did not answer a SYN for VIP 192.0.2.10 port 80") || !strings.Contains(got, "add the VIP on lo") {
		t.Errorf("the result beside the real server: %q", got)
	}
	shot(t, ctx, "direct-02-not-answered")
}
