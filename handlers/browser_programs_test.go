package handlers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserProgramNeedsPassword: a person sets a sending program on
// MONITORING SCRIPTS; ACCEPT without the password brings the form back
// with the program still typed and the reason beside "Your password";
// with the password it is saved.
func TestBrowserProgramNeedsPassword(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	prog := program + " %h %p"
	ctx := browser(t)

	step(t, ctx, "opening the login page", chromedp.Navigate(e.srv.URL+"/login"))
	fill(t, ctx, map[string]string{"user": "admin", "password": testPassword})
	submit(t, ctx, "logging in", "#login")

	scripts := fmt.Sprintf("%s/virtual/%d/scripts", e.srv.URL, cfg.Virtuals[0].ID)
	step(t, ctx, "opening MONITORING SCRIPTS", chromedp.Navigate(scripts))
	fill(t, ctx, map[string]string{"send_program": prog, "expect": "PONG"})
	submit(t, ctx, "accepting without the password", "#accept")
	shot(t, ctx, "01-program-without-password")
	if msg := run(t, ctx, "reading the password's error", chromedp.Text(chromedp.ID("password-error"))); !strings.Contains(msg, "a program the directors run as root") {
		t.Errorf("beside the password field: %q", msg)
	}
	if v := run(t, ctx, "reading the program field", chromedp.Value(chromedp.ID("send_program"))); v != prog {
		t.Errorf("the program field holds %q after the refusal, want %q", v, prog)
	}
	if v := run(t, ctx, "reading the expect field", chromedp.Value(chromedp.ID("expect"))); v != "PONG" {
		t.Errorf("the expect field holds %q after the refusal", v)
	}
	if got := e.config(t).Virtuals[0].SendProgram; got != "" {
		t.Fatalf("saved %q without the password", got)
	}

	fill(t, ctx, map[string]string{"password": testPassword})
	submit(t, ctx, "accepting with the password", "#accept")
	shot(t, ctx, "02-program-saved")
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/scripts") {
		t.Errorf("after ACCEPT the browser is at %s", loc)
	}
	// APPLY carries the password given in the draft: the program is live.
	reviewAndApply(t, ctx, "02-program-review")
	if got := e.config(t).Virtuals[0]; got.SendProgram != prog || got.Expect != "PONG" {
		t.Errorf("with the password saved %q, %q", got.SendProgram, got.Expect)
	}

	step(t, ctx, "opening HISTORY", chromedp.Navigate(e.srv.URL+"/history"))
	shot(t, ctx, "03-history")
	step(t, ctx, "opening a revision", chromedp.Navigate(e.srv.URL+"/history/1"))
	shot(t, ctx, "04-revision")
}
