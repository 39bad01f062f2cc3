package handlers

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/failover"
)

func piranhaFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "lvs", "lvscf", "testdata", "piranha", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// upload posts an lvs.cf to the console's import, on the current serial.
func (e *testEnv) upload(t *testing.T, c *http.Client, name, content string) answer {
	t.Helper()
	body, ct := multipartFile(t, name, content, itoa(e.config(t).Serial))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/import", body)
	req.Header.Set("Content-Type", ct)
	return do(t, c, req)
}

// The console's upload shows the import's warnings, with their lines, after
// saying it imported the file, on the page it redirects to.
func TestUploadShowsWarnings(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	a := follow(t, c, e.srv.URL, e.upload(t, c, "dup.cf", piranhaFixture(t, "duplicate-keys.cf")))
	if a.code != http.StatusOK {
		t.Fatalf("upload = %d, want the page with its warnings: %s", a.code, a.body)
	}
	body := html.UnescapeString(a.body)
	flash := strings.Index(body, "dup.cf imported into your pending changes")
	warn := strings.Index(body, `id="warnings"`)
	if flash < 0 || warn < flash {
		t.Errorf("the page does not say it imported, then the warnings:\n%s", body)
	}
	for _, w := range []string{
		"line 15, column 1: backup_active: is given twice",
		"line 23, column 6: port: is given twice",
		"backup_active = 1, but this director has no peer secret",
	} {
		if !strings.Contains(body, w) {
			t.Errorf("the page lacks the warning %q", w)
		}
	}
	if got := e.applied(t, c); got.Serial != 5 || got.Virtuals[0].Port != 80 {
		t.Errorf("imported serial %d port %d", got.Serial, got.Virtuals[0].Port)
	}
	// Without warnings the upload goes back to the history as before.
	if a := e.upload(t, c, "plain.cf", piranhaFixture(t, "syncdaemon.cf")); a.code != http.StatusSeeOther {
		t.Errorf("a file without warnings: %d, want 303", a.code)
	}
}

// PUT /api/v1/config.cf answers with the warnings, [] when there are none.
func TestAPIImportReturnsWarnings(t *testing.T) {
	e := newEnv(t, true)
	api := e.api(t, nil, e.token(t, "admin"))
	put := func(src string) []apiLineError {
		t.Helper()
		a := api.expect(http.StatusOK, "PUT", "/config.cf", src, "Content-Type", "text/plain")
		var out struct {
			Serial   *int64          `json:"serial"`
			Warnings *[]apiLineError `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(a.body), &out); err != nil || out.Warnings == nil || out.Serial == nil {
			t.Fatalf("PUT /config.cf = %s (%v), want the configuration and a warnings array", a.body, err)
		}
		return *out.Warnings
	}
	ws := put(piranhaFixture(t, "drafts.cf"))
	if len(ws) != 2 || ws[0].Line != 13 || ws[0].Key != "address" || !strings.Contains(ws[0].Message, "is required") ||
		ws[1].Key != "port" || ws[1].Column != 6 {
		t.Errorf("warnings = %+v", ws)
	}
	if ws := put(piranhaFixture(t, "syncdaemon.cf")); len(ws) != 0 {
		t.Errorf("a file without warnings answers %+v", ws)
	}
}

// ACTIVATE of an imported draft is refused with the message the import
// warned with.
func TestActivateDraftSaysWhy(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	if a := e.upload(t, c, "drafts.cf", piranhaFixture(t, "drafts.cf")); a.code != http.StatusSeeOther {
		t.Fatalf("upload = %d", a.code)
	}
	cfg := e.applied(t, c)
	a := post(t, c, e.srv.URL+"/virtual/"+itoa(cfg.Virtuals[0].ID)+"/activate", url.Values{"serial": {itoa(cfg.Serial)}, "active": {"1"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(a.body), "virtual unfinished: address: is required: the virtual IP address") {
		t.Errorf("activating the draft: %d\n%s", a.code, a.body)
	}
	if e.config(t).Virtuals[0].Active {
		t.Error("the draft was activated")
	}
}

// With backup_active on and no peer secret, REDUNDANCY says so beside the
// field after ACCEPT, and CONTROL/MONITORING says what to run.
func TestNoPeerSecretIsExplained(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	cfg := e.config(t)
	form := url.Values{"serial": {itoa(cfg.Serial)}, "backup_active": {"1"}, "backup": {"192.0.2.11"}, "heartbeat": {"1"},
		"keepalive": {"6"}, "deadtime": {"18"}, "heartbeat_port": {"539"}, "syncd_iface": {"eth0"}, "syncd_id": {"0"}}
	if a := post(t, c, e.srv.URL+"/global", url.Values{"serial": {itoa(cfg.Serial)}, "primary": {"192.0.2.10"}, "network": {"direct"}}); a.code != http.StatusSeeOther {
		t.Fatalf("global = %d: %s", a.code, a.body)
	}
	form.Set("serial", itoa(e.applied(t, c).Serial))
	a := post(t, c, e.srv.URL+"/redundancy", form)
	if a.code != http.StatusSeeOther {
		t.Fatalf("ACCEPT = %d: %s", a.code, a.body)
	}
	page := html.UnescapeString(get(t, c, e.srv.URL+a.location).body)
	note := strings.Index(page, `id="backup_active-note"`)
	if note < 0 || !strings.Contains(page[note:], "no peer secret") || !strings.Contains(page[note:], "GENERATE A NEW SECRET") {
		t.Errorf("REDUNDANCY after ACCEPT does not say beside backup_active that the secret is missing:\n%s", page)
	}
	e.applied(t, c)
	e.console.failover = fixedFailover{Pair: false, Role: failover.Starting, Reason: "no peer secret"}
	ctl := html.UnescapeString(get(t, c, e.srv.URL+"/control").body)
	for _, want := range []string{"lvsconsole secret -generate", "lvsconsole secret -set"} {
		if !strings.Contains(ctl, want) {
			t.Errorf("CONTROL/MONITORING does not say to run %q", want)
		}
	}

	// Once the secret is set, neither says it.
	if err := e.store.SetPeerSecret(context.Background(), NewSecret()); err != nil {
		t.Fatal(err)
	}
	if page := get(t, c, e.srv.URL+"/redundancy").body; strings.Contains(page, `id="backup_active-note"`) {
		t.Error("REDUNDANCY still says the secret is missing")
	}
	if ctl := get(t, c, e.srv.URL+"/control").body; strings.Contains(ctl, "lvsconsole secret -generate") {
		t.Error("CONTROL/MONITORING still says the secret is missing")
	}
}
