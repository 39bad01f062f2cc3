package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/store"
)

// TestTokensPage: the account page links to TOKENS; a token made there is
// shown once and works on the API; a refused name says why and makes
// nothing; REVOKE (post, redirect, get) ends it and the list says so.
func TestTokensPage(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	if a := get(t, c, e.srv.URL+"/account"); !strings.Contains(a.body, `href="/tokens"`) {
		t.Error("the account page does not link to the tokens page")
	}
	if a := get(t, c, e.srv.URL+"/tokens"); a.code != http.StatusOK || !strings.Contains(a.body, "No API token yet") {
		t.Fatalf("GET /tokens = %d", a.code)
	}

	a := post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"  "}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(fieldError(a.body, "name"), "is required") || !strings.Contains(a.body, "Nothing was saved") {
		t.Errorf("a blank name = %d, message %q", a.code, fieldError(a.body, "name"))
	}
	if ts, _ := e.store.ListTokens(context.Background()); len(ts) != 0 {
		t.Fatal("a refused name made a token")
	}

	a = follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"ci <pipeline>"}, "scope": {"admin"}}))
	m := regexp.MustCompile(`id="new-token">(lvs_[A-Za-z0-9_-]{43})<`).FindStringSubmatch(a.body)
	if a.code != http.StatusOK || m == nil {
		t.Fatalf("create = %d: %s", a.code, a.body)
	}
	token := m[1]
	if !strings.Contains(a.body, "ci &lt;pipeline&gt;") || strings.Contains(a.body, "ci <pipeline>") {
		t.Error("the token's name is not escaped on the page")
	}
	tk, err := e.store.LookupToken(context.Background(), token)
	if err != nil || tk.Owner != "admin" || tk.Name != "ci <pipeline>" {
		t.Fatalf("the shown token: %+v, %v", tk, err)
	}
	page := get(t, c, e.srv.URL+"/tokens")
	if strings.Contains(page.body, token) || strings.Contains(page.body, token[4:]) {
		t.Error("the token is shown again on a later page")
	}
	if !strings.Contains(page.body, "ci &lt;pipeline&gt;") || !strings.Contains(page.body, "in force") || !strings.Contains(page.body, "admin") {
		t.Errorf("the list does not show the token")
	}

	api := e.api(t, nil, token)
	api.expect(http.StatusOK, "GET", "/config", nil)

	// A token does not open the tokens page (nor any page): it needs a
	// session.
	req, _ := http.NewRequest("POST", e.srv.URL+"/tokens", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	if a := do(t, e.client(t), req); a.code != http.StatusUnauthorized {
		t.Errorf("POST /tokens with a token = %d, want 401", a.code)
	}

	a = post(t, c, e.srv.URL+fmt.Sprintf("/tokens/%d/revoke", tk.ID), nil)
	if a.code != http.StatusSeeOther || a.location != "/tokens" {
		t.Fatalf("revoke = %d %q", a.code, a.location)
	}
	page = get(t, c, e.srv.URL+"/tokens")
	if !strings.Contains(page.body, "revoked: it no longer opens anything") || !strings.Contains(page.body, ">revoked<") || strings.Contains(page.body, "REVOKE</button>") {
		t.Errorf("after revoke the page shows:\n%s", page.body)
	}
	if a := api.call("GET", "/config", nil); a.code != http.StatusUnauthorized {
		t.Errorf("a revoked token = %d, want 401", a.code)
	}
	if a := post(t, c, e.srv.URL+"/tokens/999999/revoke", nil); a.code != http.StatusNotFound {
		t.Errorf("revoking an unknown token = %d", a.code)
	}
}

// TestAPITokens: tokens are listed (never their text) and revoked through
// the API, with a session or a token; they are made with a session only.
func TestAPITokens(t *testing.T) {
	e := newEnv(t, true)
	sess := e.api(t, e.login(t), "")
	a := sess.expect(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "prometheus", "scope": "admin"})
	made := obj(t, a)
	text, _ := made["token"].(string)
	if !strings.HasPrefix(text, store.TokenPrefix) || made["owner"] != "admin" || made["name"] != "prometheus" || made["revoked"] != nil {
		t.Fatalf("POST /tokens = %s", a.body)
	}
	tok := e.api(t, nil, text)

	l := tok.expect(http.StatusOK, "GET", "/tokens", nil)
	if strings.Contains(l.body, text) || strings.Contains(l.body, `"token"`) || !strings.Contains(l.body, `"name":"prometheus"`) {
		t.Errorf("GET /tokens = %s", l.body)
	}
	if a := tok.call("POST", "/tokens", map[string]any{"name": "successor"}); a.code != http.StatusForbidden {
		t.Errorf("a token made a token: %d %s", a.code, a.body)
	}
	if ts, _ := e.store.ListTokens(context.Background()); len(ts) != 1 {
		t.Errorf("%d tokens", len(ts))
	}
	for body, code := range map[string]int{
		`{"name": "", "scope": "read"}`: http.StatusUnprocessableEntity, `{"name": "` + strings.Repeat("x", 65) + `", "scope": "read"}`: http.StatusUnprocessableEntity,
		`{"name": "x", "owner": "root"}`: http.StatusBadRequest, `{"scope": "read"}`: http.StatusUnprocessableEntity,
	} {
		a := sess.call("POST", "/tokens", body)
		if ref := refusal(t, a); a.code != code || len(ref.Fields) != 1 {
			t.Errorf("POST /tokens %s = %d: %s", body, a.code, a.body)
		}
	}

	id := int64(made["id"].(float64))
	r := obj(t, tok.expect(http.StatusOK, "DELETE", fmt.Sprintf("/tokens/%d", id), nil))
	if r["revoked"] == nil {
		t.Errorf("DELETE /tokens = %v", r)
	}
	if a := tok.call("GET", "/tokens", nil); a.code != http.StatusUnauthorized {
		t.Errorf("a token that revoked itself still works: %d", a.code)
	}
	again := obj(t, sess.expect(http.StatusOK, "DELETE", fmt.Sprintf("/tokens/%d", id), nil))
	if again["revoked"] != r["revoked"] {
		t.Errorf("revoking again moved the time: %v then %v", r["revoked"], again["revoked"])
	}
	sess.expect(http.StatusNotFound, "DELETE", "/tokens/999999", nil)
}
