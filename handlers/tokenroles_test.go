package handlers

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
)

// TestTokenScopeAboveRole: an operator's session makes tokens of viewer
// and operator scope, not admin: the API answers 403 naming the field and
// the role, the TOKENS page offers only what the user may give and refuses
// the rest beside the field; nothing is made.
func TestTokenScopeAboveRole(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	if err := e.store.AddUser(ctx, "olga", store.ScopeOperator, "olga's password"); err != nil {
		t.Fatal(err)
	}
	c := e.loginAs(t, "olga", "olga's password")
	sess := e.api(t, c, "")

	a := sess.call("POST", "/tokens", map[string]any{"name": "ci", "scope": "admin"})
	ref := refusal(t, a)
	if a.code != http.StatusForbidden || ref.Error != "nothing was saved: scope: scope admin is above your role operator: choose viewer or operator" ||
		len(ref.Fields) != 1 || ref.Fields[0].Field != "scope" {
		t.Errorf("an operator making an admin token = %d %+v", a.code, ref)
	}
	// With another refusal, all are named at once (422).
	a = sess.call("POST", "/tokens", map[string]any{"name": "", "scope": "admin"})
	if ref := refusal(t, a); a.code != http.StatusUnprocessableEntity || len(ref.Fields) != 2 || !strings.Contains(ref.Error, "above your role operator") {
		t.Errorf("a blank name and an admin scope = %d %+v", a.code, ref)
	}
	if ts, _ := e.store.ListTokens(ctx); len(ts) != 0 {
		t.Fatalf("refused tokens were made: %+v", ts)
	}
	// The roles' names and read, the old name of viewer, are taken.
	for scope, want := range map[string]string{"viewer": "read", "read": "read", "operator": "operator"} {
		made := obj(t, sess.expect(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "t " + scope, "scope": scope}))
		if made["scope"] != want || made["owner"] != "olga" {
			t.Errorf("scope %s made %v", scope, made)
		}
	}

	page := get(t, c, e.srv.URL+"/tokens")
	for _, want := range []string{`id="scope-viewer" value="viewer"`, `id="scope-operator" value="operator"`, `<span id="your-role">operator</span>`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("olga's TOKENS page lacks %q", want)
		}
	}
	if strings.Contains(page.body, `id="scope-admin"`) {
		t.Error("olga's TOKENS page offers the admin scope")
	}
	if !regexp.MustCompile(`data-name="t viewer">(?s:.*?)<td class="scope">viewer</td>`).MatchString(page.body) {
		t.Error("the list does not name a read token's scope as the role viewer")
	}
	a = post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"sneaky"}, "scope": {"admin"}})
	if msg := fieldError(a.body, "scope"); a.code != http.StatusUnprocessableEntity || msg != "Scope admin is above your role operator: choose viewer or operator" {
		t.Errorf("the page making an admin token for olga = %d, %q", a.code, msg)
	}
	if ts, _ := e.store.ListTokens(ctx); len(ts) != 3 {
		t.Errorf("%d tokens, want 3", len(ts))
	}

	// The admin's page offers every scope.
	page = get(t, e.login(t), e.srv.URL+"/tokens")
	if !strings.Contains(page.body, `id="scope-admin" value="admin"`) || !strings.Contains(page.body, `<span id="your-role">admin</span>`) {
		t.Error("the admin's TOKENS page does not offer admin")
	}

	// Olga demoted to viewer: her operator token does only what a viewer
	// may, and is listed so.
	if err := e.store.SetRole(ctx, "olga", store.ScopeRead); err != nil {
		t.Fatal(err)
	}
	l := obj(t, e.api(t, e.login(t), "").expect(http.StatusOK, "GET", "/tokens", nil))
	for _, tk := range l["tokens"].([]any) {
		if m := tk.(map[string]any); m["scope"] != "read" {
			t.Errorf("after demoting olga to viewer: %v", m)
		}
	}
}

// TestTokenExpires: a token made with an expiry works until then and is
// then refused with a 401 that says it expired, and listed as expired on
// the API and the TOKENS page; a bad expiry is refused naming the field.
func TestTokenExpires(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	c := e.login(t)
	sess := e.api(t, c, "")
	for _, bad := range []struct{ expires, want string }{
		{"tomorrow", `expires: "tomorrow" is not a time: give one in RFC 3339`},
		{"2020-01-01T00:00:00Z", "expires: 2020-01-01T00:00:00Z is past"},
		{"2030-01-01", "is not a time"},
	} {
		a := sess.call("POST", "/tokens", map[string]any{"name": "x", "scope": "admin", "expires": bad.expires})
		if ref := refusal(t, a); a.code != http.StatusUnprocessableEntity || !strings.Contains(ref.Error, bad.want) || len(ref.Fields) != 1 || ref.Fields[0].Field != "expires" {
			t.Errorf("expires %q = %d %+v", bad.expires, a.code, ref)
		}
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	made := obj(t, sess.expect(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "deploy", "scope": "admin", "expires": until.Format(time.RFC3339)}))
	if made["expires"] != until.Format(time.RFC3339) || made["expired"] != nil {
		t.Fatalf("made %v", made)
	}
	tok := e.api(t, nil, made["token"].(string))
	tok.expect(http.StatusOK, "GET", "/config", nil)

	// Its expiry passes: the database says so, as the clock would.
	db, err := sql.Open("sqlite3", e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	past := time.Now().Add(-time.Minute).Unix()
	if _, err := db.Exec(`UPDATE api_tokens SET expires_at = ? WHERE name = 'deploy'`, past); err != nil {
		t.Fatal(err)
	}
	a := tok.call("GET", "/config", nil)
	want := fmt.Sprintf(`the API token "deploy" expired at %s: its owner may make another on the TOKENS page`, time.Unix(past, 0).UTC().Format(time.RFC3339))
	if ref := refusal(t, a); a.code != http.StatusUnauthorized || ref.Error != want ||
		!strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("an expired token = %d %q %q", a.code, ref.Error, a.header.Get("WWW-Authenticate"))
	}
	l := sess.expect(http.StatusOK, "GET", "/tokens", nil)
	if !strings.Contains(l.body, `"expired":true`) {
		t.Errorf("GET /tokens = %s", l.body)
	}
	page := get(t, c, e.srv.URL+"/tokens")
	if !regexp.MustCompile(`data-name="deploy">(?s:.*?)<td class="status"><span class="badge off" title="[^"]*">expired</span>`).MatchString(page.body) {
		t.Errorf("the TOKENS page does not show the token expired:\n%s", page.body)
	}

	// The page's choice of expiry.
	if !strings.Contains(page.body, `<option value="30d">in 30 days</option>`) {
		t.Error("the TOKENS page offers no expiry")
	}
	a = post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"x"}, "scope": {"viewer"}, "expires": {"2d"}})
	if msg := fieldError(a.body, "expires"); a.code != http.StatusUnprocessableEntity || !strings.Contains(msg, `Expires: &#34;2d&#34; is not allowed: choose never, in 1 day`) {
		t.Errorf("expires 2d = %d %q", a.code, msg)
	}
	before := time.Now()
	a = follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"week"}, "scope": {"viewer"}, "expires": {"7d"}}))
	if a.code != http.StatusOK || !strings.Contains(a.body, `id="new-token"`) || !strings.Contains(a.body, "Token week (viewer, until ") {
		t.Fatalf("making a token for 7 days = %d", a.code)
	}
	// Or a day: the token stops as it begins, in the director's time zone.
	for _, bad := range []struct {
		values url.Values
		want   string
	}{
		{url.Values{"expires_on": {"31/01/2027"}}, "Date of expiry: &#34;31/01/2027&#34; is not a date: give one as "},
		{url.Values{"expires_on": {time.Now().AddDate(0, 0, -1).Format(time.DateOnly)}}, "is not after today"},
		{url.Values{"expires": {"7d"}, "expires_on": {time.Now().AddDate(0, 0, 10).Format(time.DateOnly)}}, "is a second expiry"},
	} {
		bad.values.Set("name", "x")
		bad.values.Set("scope", "viewer")
		a := post(t, c, e.srv.URL+"/tokens", bad.values)
		if msg := fieldError(a.body, "expires_on"); a.code != http.StatusUnprocessableEntity || !strings.Contains(msg, bad.want) {
			t.Errorf("%v = %d %q", bad.values, a.code, msg)
		}
	}
	day := time.Now().AddDate(0, 0, 10).Format(time.DateOnly)
	a = follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"dated"}, "scope": {"viewer"}, "expires_on": {day}}))
	if a.code != http.StatusOK || !strings.Contains(a.body, `id="new-token"`) {
		t.Fatalf("making a token until %s = %d", day, a.code)
	}
	if !strings.Contains(a.body, `type="date" id="expires_on" name="expires_on"`) {
		t.Error("the TOKENS page has no date of expiry")
	}
	ts, _ := e.store.ListTokens(ctx)
	if start, _ := time.ParseInLocation(time.DateOnly, day, time.Local); len(ts) != 3 || ts[0].Name != "dated" || !ts[0].Expires.Equal(start) {
		t.Errorf("the dated token: %+v, want it to expire at %v", ts[0], start)
	}
	ts = ts[1:]
	if len(ts) != 2 || ts[0].Name != "week" || ts[0].Expires.Before(before.AddDate(0, 0, 7).Truncate(time.Second)) || ts[0].Expires.After(time.Now().AddDate(0, 0, 7).Add(time.Second)) {
		t.Errorf("tokens %+v", ts)
	}
}

// TestTokenNamedInHistory: a change made with an API token is recorded
// with its owner and the token's name: in GET /history, on the HISTORY
// page and the revision's, and in the audit trail's entry; a change made
// in a session names no token.
func TestTokenNamedInHistory(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	_, text, err := e.store.CreateToken(ctx, "admin", "deploy", store.ScopeAdmin)
	if err != nil {
		t.Fatal(err)
	}
	tok := e.api(t, nil, text)
	saved := obj(t, tok.expect(http.StatusOK, "PUT", "/global", map[string]any{"tcp_timeout": 5}))
	serial := num(saved["serial"])
	c := e.login(t)
	sess := e.api(t, c, "")
	sess.expect(http.StatusOK, "PUT", "/global", map[string]any{"tcp_timeout": 6})

	h := obj(t, sess.expect(http.StatusOK, "GET", "/history", nil))
	revs := h["revisions"].([]any)
	byToken, bySession := revs[1].(map[string]any), revs[0].(map[string]any)
	if num(byToken["serial"]) != serial || byToken["author"] != "admin" || byToken["token"] != "deploy" {
		t.Errorf("the token's revision: %v", byToken)
	}
	if bySession["author"] != "admin" || bySession["token"] != nil {
		t.Errorf("the session's revision: %v", bySession)
	}
	if r := obj(t, sess.expect(http.StatusOK, "GET", fmt.Sprintf("/history/%d", serial), nil)); r["token"] != "deploy" {
		t.Errorf("GET /history/%d: token %v", serial, r["token"])
	}

	page := get(t, c, e.srv.URL+"/history")
	if !regexp.MustCompile(fmt.Sprintf(`>%d</a></td>(?s:.*?)<td>admin \(token deploy\)</td>`, serial)).MatchString(page.body) {
		t.Errorf("HISTORY does not name the token:\n%s", page.body)
	}
	if n := strings.Count(page.body, "(token deploy)"); n != 1 {
		t.Errorf("HISTORY names the token %d times, want once", n)
	}
	if r := get(t, c, e.srv.URL+fmt.Sprintf("/history/%d", serial)); !strings.Contains(r.body, "<dd>admin (token deploy)</dd>") {
		t.Error("the revision's page does not name the token")
	}

	es, err := e.store.AuditQuery(ctx, store.AuditFilter{Kind: store.AuditApply})
	if err != nil || len(es) != 2 || es[1].Fields["token"] != "deploy" || !strings.Contains(es[1].Detail, "(token deploy)") || es[0].Fields["token"] != "" {
		t.Errorf("audit: %+v, %v", es, err)
	}
}
