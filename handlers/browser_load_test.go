package handlers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserLoadWeights: in a browser, the REAL SERVER tab shows a real
// server at the weight its load monitor gives, with why; its page shows
// the monitor's reading and the pinned host key, which the admin FORGETs;
// the VIRTUAL SERVER tab shows the line to install the director's key.
func TestBrowserLoadWeights(t *testing.T) {
	e := newEnvWith(t, true, func(o *Options) { o.LoadKey = fixedKey{key: testLoadKey} })
	cfg, h := e.seedLoad(t)
	e.console.health = h
	if err := e.store.Pin("10.0.0.1:2222", testHostKey); err != nil {
		t.Fatal(err)
	}
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	ctx := browser(t)
	logInAs(t, ctx, e.srv.URL, "admin", testPassword)

	step(t, ctx, "opening the REAL SERVER tab", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real", e.srv.URL, vid)))
	weight := run(t, ctx, "reading web1's weight", chromedp.Text(chromedp.CSS(`tr[data-name="web1"] td.weight`)))
	if !strings.Contains(weight, "2") || !strings.Contains(weight, "→ 7") || !strings.Contains(weight, "load 0.20 (uptime)") {
		t.Errorf("web1's weight reads %q: want 2, → 7 and why", weight)
	}
	if w2 := run(t, ctx, "reading web2's weight", chromedp.Text(chromedp.CSS(`tr[data-name="web2"] td.weight`))); !strings.Contains(w2, "load unread") || strings.Contains(w2, "→") {
		t.Errorf("web2's weight reads %q: want its own and its unread load", w2)
	}
	shot(t, ctx, "load-01-real-list")

	step(t, ctx, "opening web1", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real/%d", e.srv.URL, vid, rid)))
	card := run(t, ctx, "reading the weight card", chromedp.Text(chromedp.ID("load")))
	for _, want := range []string{"In IPVS", "7", "load 0.20 (uptime)", testLoadRead, testHostKey} {
		if !strings.Contains(card, want) {
			t.Errorf("the weight card lacks %q:\n%s", want, card)
		}
	}
	shot(t, ctx, "load-02-real-page")
	run(t, ctx, "answering yes", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	submit(t, ctx, "FORGET", "#forget-hostkey")
	if key := run(t, ctx, "reading the host key", chromedp.Text(chromedp.ID("load-hostkey"))); !strings.Contains(key, "none pinned for 10.0.0.1:2222") {
		t.Errorf("after FORGET the host key reads %q", key)
	}
	if _, ok := e.store.Pinned("10.0.0.1:2222"); ok {
		t.Error("FORGET left the pin")
	}

	step(t, ctx, "opening the VIRTUAL SERVER tab", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d", e.srv.URL, vid)))
	line := run(t, ctx, "reading the key line", chromedp.Value(chromedp.ID("load-key-line")))
	if want := `restrict,command="cat /proc/loadavg" ` + testLoadKey; line != want {
		t.Errorf("the key line is %q, want %q", line, want)
	}
	step(t, ctx, "scrolling to the load monitor", chromedp.ScrollIntoView(chromedp.ID("load")))
	shot(t, ctx, "load-03-virtual-key")
}
