package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// follow is the page a POST's answer redirects to (POST, redirect, GET),
// failing the test when the answer is no redirect.
func follow(t *testing.T, c *http.Client, url string, a answer) answer {
	t.Helper()
	if a.code != http.StatusSeeOther {
		t.Fatalf("the POST answered %d, want a redirect (303):\n%s", a.code, a.body)
	}
	return get(t, c, url+a.location)
}

// TestSavesRedirect: every POST that saves, or finds nothing to change,
// answers with a redirect to a page (POST, redirect, GET), so that a
// reload never sends it again; what the answer must show once (a token or
// a peer secret just made, an import's warnings) is on that page, once.
func TestSavesRedirect(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	cfg := e.seed(t)
	vid := strconv.FormatInt(cfg.Virtuals[0].ID, 10)
	rid := strconv.FormatInt(cfg.Virtuals[0].Reals[0].ID, 10)

	// ACCEPT of a form as it was loaded: nothing changes.
	for _, path := range []string{"/virtual/" + vid, "/virtual/" + vid + "/real/" + rid, "/virtual/" + vid + "/scripts", "/global", "/redundancy"} {
		page := get(t, c, e.srv.URL+path).body
		form := url.Values{"serial": {formSerial(t, page)}}
		for _, name := range regexp.MustCompile(`<(?:input|select) (?:type="(?:text|checkbox)" )?id="([a-z_]+)"`).FindAllStringSubmatch(page, -1) {
			if v, ok := shownValue(page, name[1]); ok && (v != "" || !strings.Contains(page, `type="checkbox" id="`+name[1]+`"`)) {
				form.Set(name[1], v)
			}
		}
		a := post(t, c, e.srv.URL+path, form)
		if a.code != http.StatusSeeOther {
			t.Errorf("ACCEPT of %s unchanged = %d, want 303 to a page:\n%s", path, a.code, a.body)
			continue
		}
		if next := get(t, c, e.srv.URL+a.location); !strings.Contains(next.body, "Nothing changed") {
			t.Errorf("after ACCEPT of %s unchanged, %s does not say nothing changed", path, a.location)
		}
	}

	// A token: shown on the page the POST leads to, once.
	a := post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"ci"}, "scope": {"read"}})
	if a.code != http.StatusSeeOther || a.location != "/tokens" {
		t.Fatalf("making a token = %d %q, want 303 to /tokens", a.code, a.location)
	}
	page := get(t, c, e.srv.URL+"/tokens")
	m := regexp.MustCompile(`id="new-token">(lvs_[A-Za-z0-9_-]{43})<`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("the token is not shown after the redirect:\n%s", page.body)
	}
	if tk, err := e.store.LookupToken(t.Context(), m[1]); err != nil || tk.Name != "ci" {
		t.Errorf("the token shown: %+v, %v", tk, err)
	}
	if again := get(t, c, e.srv.URL+"/tokens"); strings.Contains(again.body, m[1]) {
		t.Error("the token is shown again on a reload")
	}
	if other := get(t, e.login(t), e.srv.URL+"/tokens"); strings.Contains(other.body, m[1]) {
		t.Error("the token is shown to another session")
	}

	// A peer secret: likewise.
	a = post(t, c, e.srv.URL+"/redundancy/secret", url.Values{"action": {"generate"}})
	if a.code != http.StatusSeeOther || a.location != "/redundancy" {
		t.Fatalf("generating a secret = %d %q, want 303 to /redundancy", a.code, a.location)
	}
	page = get(t, c, e.srv.URL+"/redundancy")
	m = regexp.MustCompile(`id="new-secret">([^<]+)<`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("the secret is not shown after the redirect")
	}
	if key, _, err := e.store.PeerSecret(t.Context()); err != nil || EncodeSecret(key) != m[1] {
		t.Errorf("the secret shown is not the one stored (%v)", err)
	}
	if again := get(t, c, e.srv.URL+"/redundancy"); strings.Contains(again.body, m[1]) {
		t.Error("the secret is shown again on a reload")
	}

	// An import with warnings.
	a = e.upload(t, c, "dup.cf", piranhaFixture(t, "duplicate-keys.cf"))
	if a.code != http.StatusSeeOther || a.location != "/review" {
		t.Fatalf("an import with warnings = %d %q, want 303 to /review", a.code, a.location)
	}
	page = get(t, c, e.srv.URL+"/review")
	if body := htmlUnescape(page.body); !strings.Contains(body, "dup.cf imported into your pending changes") || !strings.Contains(body, "line 15, column 1: backup_active: is given twice") {
		t.Errorf("the history after the import does not show its warnings:\n%s", body)
	}
	if again := get(t, c, e.srv.URL+"/history"); strings.Contains(again.body, "is given twice") {
		t.Error("the warnings are shown again on a reload")
	}

	// The account's password.
	a = post(t, c, e.srv.URL+"/account", url.Values{"current": {testPassword}, "password": {"a new pass phrase"}, "password2": {"a new pass phrase"}})
	if a.code != http.StatusSeeOther || a.location != "/account" {
		t.Fatalf("changing the password = %d %q, want 303 to /account", a.code, a.location)
	}
	if page := get(t, c, e.srv.URL+"/account"); page.code != http.StatusOK || !strings.Contains(page.body, "Password changed") {
		t.Errorf("after changing the password, /account = %d and does not say so", page.code)
	}
}

// TestHeaderSerial: the header's serial is the configuration's on every
// page, not "serial 0" where the page does not show the configuration.
func TestHeaderSerial(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	want := "serial " + strconv.FormatInt(e.seed(t).Serial, 10) + "<"
	for _, path := range []string{"/account", "/tokens", "/nope", "/virtual/999"} {
		a := get(t, c, e.srv.URL+path)
		if !strings.Contains(a.body, want) || strings.Contains(a.body, "serial 0<") {
			t.Errorf("GET %s (%d): the header does not say %q", path, a.code, strings.TrimSuffix(want, "<"))
		}
	}
}

// TestFormWording: a form speaks of its fields, not of lvs.cf: a blank
// required field "is required" (not `"" is not allowed`, nor "0 is out of
// range" for a port read as 0), the NAT router's device without its
// address asks for the address (not to "write \"ADDRESS eth1:1\""); the
// API and lvs.cf keep their words. A failed login is not headed "Nothing
// was saved".
func TestFormWording(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	cfg := e.seed(t)
	vid := strconv.FormatInt(cfg.Virtuals[0].ID, 10)
	serial := strconv.FormatInt(cfg.Serial, 10)
	cases := []struct {
		path      string
		form      url.Values
		field     string
		want, not string
	}{
		{"/virtual/new", url.Values{"name": {""}, "address": {"192.0.2.30"}, "port": {"80"}, "protocol": {"tcp"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}},
			"name", "is required", `""`},
		{"/virtual/new", url.Values{"name": {"x"}, "address": {"192.0.2.30"}, "port": {" "}, "protocol": {"tcp"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}},
			"port", "is required: use 1-65535", "0 is out of range"},
		{"/virtual/new", url.Values{"name": {"x"}, "address": {"192.0.2.30"}, "port": {"80"}, "protocol": {"tcp"}, "scheduler": {"wlc"}, "timeout": {""}, "reentry": {"15"}},
			"timeout", "is required: use 0.01 to 3600 seconds", "0s"},
		{"/redundancy", url.Values{"keepalive": {"6"}, "deadtime": {"18"}, "heartbeat_port": {""}},
			"heartbeat_port", "is required: use 1-65535", "0 is out of range"},
		{"/virtual/" + vid + "/real/new", url.Values{"name": {""}, "address": {"10.0.0.7"}, "weight": {"1"}},
			"name", "is required", `""`},
		{"/global", url.Values{"network": {"nat"}, "nat_router": {""}, "nat_router_device": {"eth1:1"}},
			"nat_router", "give the NAT router's address", "write"},
		{"/global", url.Values{"network": {"nat"}, "nat_router": {"10.0.0.254"}, "nat_router_device": {""}},
			"nat_router", "needs a device as well", "after the address"},
	}
	for _, tc := range cases {
		t.Run(tc.path+"/"+tc.field, func(t *testing.T) {
			tc.form.Set("serial", serial)
			a := post(t, c, e.srv.URL+tc.path, tc.form)
			msg := htmlUnescape(fieldError(a.body, tc.field))
			if a.code != http.StatusUnprocessableEntity || !strings.Contains(msg, tc.want) || strings.Contains(msg, tc.not) {
				t.Errorf("= %d, beside %s: %q; want it to say %q, not %q", a.code, tc.field, msg, tc.want, tc.not)
			}
		})
	}

	// The API and lvs.cf keep lvs.cf's words for the same values.
	api := e.api(t, c, "")
	ans := api.call("POST", "/virtual", `{"name": "x", "address": "192.0.2.31", "port": ""}`)
	if ref := refusal(t, ans); len(ref.Fields) != 1 || ref.Fields[0].Message != "0 is out of range: use 1-65535" {
		t.Errorf("the API's refusal of a blank port: %s", ans.body)
	}

	// A failed login is no unsaved change.
	a := post(t, e.client(t), e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {"wrong"}})
	if a.code != http.StatusUnauthorized || strings.Contains(a.body, "Nothing was saved") || !strings.Contains(a.body, "Wrong user name or password") {
		t.Errorf("a failed login = %d:\n%s", a.code, a.body)
	}
}

// TestVirtualListShowsDefaultNetmask: a virtual server without a netmask
// shows the one its address goes up with (the whole address: /32, /128),
// not an empty NETMASK column.
func TestVirtualListShowsDefaultNetmask(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	e.seed(t) // www: 192.0.2.10, no netmask
	a := get(t, c, e.srv.URL+"/virtual")
	row := regexp.MustCompile(`(?s)<tr data-name="www">.*?</tr>`).FindString(a.body)
	if !strings.Contains(row, "255.255.255.255") || !strings.Contains(row, "default") {
		t.Errorf("the row of www does not show the default netmask:\n%s", row)
	}
}

// TestControlAutoUpdateByDefault: CONTROL/MONITORING updates itself unless
// told not to: the switch is on, and without JavaScript the page reloads;
// ?auto=0 (the switch's form, unticked) turns both off.
func TestControlAutoUpdateByDefault(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	refresh := regexp.MustCompile(`<noscript><meta http-equiv="refresh" content="(\d+)">`)
	a := get(t, c, e.srv.URL+"/control")
	if v, _ := shownValue(a.body, "auto"); v != "1" {
		t.Error("auto update is off on a plain /control")
	}
	if m := refresh.FindStringSubmatch(a.body); m == nil || m[1] != "10" {
		t.Errorf("a plain /control does not reload every 10 s without JavaScript: %v", m)
	}
	// The switch's form sends auto=0, then auto=1 when ticked.
	if !strings.Contains(a.body, `<input type="hidden" name="auto" value="0">`) {
		t.Error("the switch's form cannot say off without JavaScript")
	}
	a = get(t, c, e.srv.URL+"/control?auto=0&every=30")
	if v, _ := shownValue(a.body, "auto"); v != "" || refresh.MatchString(a.body) {
		t.Errorf("?auto=0 leaves auto update on")
	}
	a = get(t, c, e.srv.URL+"/control?auto=0&auto=1&every=30")
	if m := refresh.FindStringSubmatch(a.body); m == nil || m[1] != "30" {
		t.Errorf("the ticked switch (auto=0&auto=1, every 30) does not reload every 30 s: %v", m)
	}
}

// TestAccountShowsTheFingerprint: the account page shows the SHA-256
// fingerprint of the console's certificate, to compare with the browser's,
// and says when there is none (plain HTTP).
func TestAccountShowsTheFingerprint(t *testing.T) {
	const fp = "AB:CD:EF"
	e := newEnvWith(t, true, func(o *Options) { o.Fingerprint = func() string { return fp } })
	c := e.login(t)
	page := get(t, c, e.srv.URL+"/account")
	if !strings.Contains(page.body, `<code id="cert-fingerprint" class="fingerprint">`+fp+`</code>`) {
		t.Errorf("the account page does not show the fingerprint:\n%s", page.body)
	}
	plain := newEnv(t, true)
	page = get(t, plain.login(t), plain.srv.URL+"/account")
	if strings.Contains(page.body, "cert-fingerprint") || !strings.Contains(page.body, `id="cert-none"`) {
		t.Errorf("plain HTTP: the account page shows a fingerprint, or does not say there is none")
	}
}
