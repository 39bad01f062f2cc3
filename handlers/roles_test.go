package handlers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/store"
)

// roleRoute is a route and method of the console or the API, and the role
// it needs.
type roleRoute struct {
	method, pattern string // pattern as routeKey writes it, /api/v1 included
	need            store.Scope
}

// routeNeed is the role a route needs, from pageRole or apiScope.
func routeNeed(method, pattern string) (store.Scope, bool) {
	if rest, ok := strings.CutPrefix(pattern, "/api/v1"); ok {
		return apiScope(method, rest)
	}
	return pageRole(method, pattern)
}

// consoleRoutes lists every route of the console that needs a session or
// a token, with the role its table gives it.
func consoleRoutes(t *testing.T, c *Console) []roleRoute {
	t.Helper()
	var out []roleRoute
	err := chi.Walk(c.mux, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := routeKey(pattern)
		if publicPath(key) || strings.HasPrefix(key, "/static/") {
			return nil
		}
		need, ok := routeNeed(method, key)
		if !ok {
			t.Errorf("%s %s has no role: add it to pageRole or apiScope", method, key)
		}
		out = append(out, roleRoute{method, key, need})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b roleRoute) int {
		return strings.Compare(a.pattern+" "+a.method, b.pattern+" "+b.method)
	})
	return out
}

const (
	rolesBegin = "<!-- roles: made by TestRolesTableInREADME; LVS_UPDATE_README=1 rewrites it -->"
	rolesEnd   = "<!-- roles end -->"
)

// rolesMarkdown is the README's table of what each role may do.
func rolesMarkdown(routes []roleRoute) string {
	var b strings.Builder
	b.WriteString(rolesBegin + "\n\n| Method | Route | viewer | operator | admin |\n|---|---|:-:|:-:|:-:|\n")
	for _, r := range routes {
		fmt.Fprintf(&b, "| %s | `%s` |", r.method, r.pattern)
		for _, role := range store.Scopes() {
			mark := " "
			if role.Allows(r.need) {
				mark = "✓"
			}
			fmt.Fprintf(&b, " %s |", mark)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n" + rolesEnd)
	return b.String()
}

// TestRolesTableInREADME: the README's table of roles is the one the
// middlewares consult, route for route.
func TestRolesTableInREADME(t *testing.T) {
	e := newEnv(t, true)
	want := rolesMarkdown(consoleRoutes(t, e.console))
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	begin, end := strings.Index(string(readme), rolesBegin), strings.Index(string(readme), rolesEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md has no table of roles between %q and %q", rolesBegin, rolesEnd)
	}
	got := string(readme[begin : end+len(rolesEnd)])
	if got == want {
		return
	}
	if os.Getenv("LVS_UPDATE_README") == "1" {
		out := string(readme[:begin]) + want + string(readme[end+len(rolesEnd):])
		if err := os.WriteFile("../README.md", []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's table of roles is not the routes' (LVS_UPDATE_README=1 go test -run TestRolesTableInREADME ./handlers/ rewrites it); want:\n%s", want)
}

// TestRolesWalk walks every route and method with a console session of
// each role, and the API and /metrics with an API token of each scope: a
// role below the route's is refused with 403 before anything runs, a role
// at or above it is not refused for its role. What a change does is the
// store's check (store.Allowed), tested in TestOperatorChange and
// TestRolesInTheWritePath.
func TestRolesWalk(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	routes := consoleRoutes(t, e.console)
	if len(routes) < 60 {
		t.Fatalf("walked only %d routes", len(routes))
	}
	users := map[store.Scope]string{store.ScopeRead: "vera", store.ScopeOperator: "otto", store.ScopeAdmin: "adam"}
	for role, name := range users {
		if err := e.store.AddUser(ctx, name, role, name+"'s password"); err != nil {
			t.Fatal(err)
		}
	}
	param := regexp.MustCompile(`\{(\w+)\}`)
	path := func(pattern string) string {
		return param.ReplaceAllStringFunc(pattern, func(m string) string {
			switch m {
			case "{vid}":
				return strconv.FormatInt(vid, 10)
			case "{rid}":
				return strconv.FormatInt(rid, 10)
			case "{name}":
				return "nobody" // not a user: no walk removes one
			}
			return "1"
		})
	}
	// A request as the console's forms or the API's clients send it; a
	// new session each time, since some routes end theirs (/logout).
	send := func(role store.Scope, token string, rt roleRoute) answer {
		t.Helper()
		u := e.srv.URL + path(rt.pattern)
		var body *strings.Reader
		switch {
		case rt.method == http.MethodGet || rt.method == http.MethodHead:
			body = strings.NewReader("")
		case strings.HasPrefix(rt.pattern, "/api/v1"):
			body = strings.NewReader("{}")
		default:
			body = strings.NewReader("serial=0")
		}
		req, _ := http.NewRequest(rt.method, u, body)
		switch {
		case strings.HasPrefix(rt.pattern, "/api/v1") && rt.method != http.MethodGet:
			req.Header.Set("Content-Type", "application/json")
		case rt.method != http.MethodGet:
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		} else {
			sess, err := e.store.CreateSession(ctx, users[role], e.console.policy)
			if err != nil {
				t.Fatal(err)
			}
			req.AddCookie(&http.Cookie{Name: "lvsconsole", Value: sess})
		}
		if rt.pattern == "/control/stream" {
			// A stream that does not end: its first answer is enough.
			resp, err := e.client(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return answer{code: resp.StatusCode}
		}
		return do(t, e.client(t), req)
	}
	// Refusals for something other than the role, which a credential of
	// any role meets: a token cannot make a token.
	tokenRefused := map[string]bool{"POST /api/v1/tokens": true}

	check := func(who string, have store.Scope, token string, rt roleRoute) {
		t.Helper()
		a := send(have, token, rt)
		key := rt.method + " " + rt.pattern
		switch {
		case !have.Allows(rt.need) && a.code != http.StatusForbidden:
			t.Errorf("%s %s = %d, want 403 (needs %s)", who, key, a.code, store.RoleName(rt.need))
		case !have.Allows(rt.need) && !strings.Contains(a.body, store.RoleName(rt.need)):
			t.Errorf("%s %s: the refusal does not name the role %s: %.300s", who, key, store.RoleName(rt.need), a.body)
		case have.Allows(rt.need) && (a.code == http.StatusForbidden) != (token != "" && tokenRefused[key]):
			t.Errorf("%s %s = %d: %.300s", who, key, a.code, a.body)
		case a.code == http.StatusUnauthorized || a.code == http.StatusSeeOther && strings.HasPrefix(a.location, "/login") && key != "POST /logout":
			t.Errorf("%s %s = %d %s: the credential was not taken", who, key, a.code, a.location)
		}
	}
	walked := 0
	for _, role := range store.Scopes() {
		// Admin last: its changes (a deleted server) would turn the
		// others' answers into 404s.
		for _, rt := range routes {
			check(store.RoleName(role)+"'s session", role, "", rt)
			walked++
		}
		token := e.scopedToken(t, role)
		for _, rt := range routes {
			if !bearerPath(rt.pattern) {
				continue
			}
			check("token of scope "+role.String(), role, token, rt)
			walked++
		}
	}
	t.Logf("%d requests over %d routes", walked, len(routes))
}

// TestTokensAreTheirOwners: a user who is no admin sees and revokes their
// own tokens only; another's is not found, and stays valid. An admin sees
// and revokes everyone's.
func TestTokensAreTheirOwners(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	if err := e.store.AddUser(ctx, "vera", store.ScopeRead, "vera's password"); err != nil {
		t.Fatal(err)
	}
	adminsToken := e.scopedToken(t, store.ScopeRead)
	ts, _ := e.store.ListTokens(ctx)
	theirs := ts[0].ID
	vera := e.loginAs(t, "vera", "vera's password")
	mine := obj(t, e.api(t, vera, "").expect(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "vera's", "scope": "viewer"}))

	list := e.api(t, vera, "").expect(http.StatusOK, "GET", "/tokens", nil).body
	if !strings.Contains(list, `"vera's"`) || strings.Contains(list, `"owner":"admin"`) {
		t.Errorf("vera's list of tokens: %s", list)
	}
	if page := get(t, vera, e.srv.URL+"/tokens"); page.code != http.StatusOK || strings.Contains(page.body, "read test") {
		t.Errorf("vera's TOKENS page = %d, or lists admin's token", page.code)
	}
	if a := post(t, vera, fmt.Sprintf("%s/tokens/%d/revoke", e.srv.URL, theirs), nil); a.code != http.StatusNotFound {
		t.Errorf("vera revoking admin's token = %d, want 404", a.code)
	}
	if _, err := e.store.LookupToken(ctx, adminsToken); err != nil {
		t.Errorf("admin's token after vera's attempt: %v", err)
	}
	if a := post(t, vera, fmt.Sprintf("%s/tokens/%d/revoke", e.srv.URL, int64(num(mine["id"]))), nil); a.code != http.StatusSeeOther {
		t.Errorf("vera revoking her own token = %d", a.code)
	}
	admin := e.login(t)
	if list := e.api(t, admin, "").expect(http.StatusOK, "GET", "/tokens", nil).body; !strings.Contains(list, `"vera's"`) || !strings.Contains(list, `"owner":"admin"`) {
		t.Errorf("admin's list of tokens: %s", list)
	}
	if a := post(t, admin, fmt.Sprintf("%s/tokens/%d/revoke", e.srv.URL, theirs), nil); a.code != http.StatusSeeOther {
		t.Errorf("admin revoking a token = %d", a.code)
	}
}
