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
	if a.code != http.StatusSeeOther || a.location != "/history" {
		t.Fatalf("an import with warnings = %d %q, want 303 to /history", a.code, a.location)
	}
	page = get(t, c, e.srv.URL+"/history")
	if body := htmlUnescape(page.body); !strings.Contains(body, "dup.cf imported as serial") || !strings.Contains(body, "line 15, column 1: backup_active: is given twice") {
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
