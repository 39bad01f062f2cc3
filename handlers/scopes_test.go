package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/static"
	"github.com/lvsconsole/lvsconsole/store"
)

// scopedToken makes an API token of scope for admin, used once (see token).
func (e *testEnv) scopedToken(t *testing.T, scope store.Scope) string {
	t.Helper()
	_, text, err := e.store.CreateToken(context.Background(), "admin", scope.String()+" test", scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.LookupToken(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	return text
}

// forbidden checks a 403 of the API: in JSON, naming the scope needed and
// the credential's.
func forbidden(t *testing.T, a answer, need, have store.Scope) apiError {
	t.Helper()
	ref := refusal(t, a)
	if a.code != http.StatusForbidden || ref.Scope != need.String() || ref.TokenScope != have.String() ||
		!strings.Contains(ref.Error, store.RoleName(need)) || !strings.Contains(ref.Error, store.RoleName(have)) {
		t.Errorf("answer %d %+v, want 403 naming scopes %s and %s", a.code, ref, need, have)
	}
	return ref
}

// TestEveryAPIRouteHasAScope walks every route and method of the API:
// each has an entry in the scope table, so no route is left to whoever
// holds a token.
func TestEveryAPIRouteHasAScope(t *testing.T) {
	routes := apiRoutesOf(t)
	if len(routes) < 25 {
		t.Fatalf("walked only %d API routes", len(routes))
	}
	for _, rt := range routes {
		method, pattern, _ := strings.Cut(rt, " ")
		need, ok := apiScope(method, pattern)
		if !ok || need == store.ScopeNone {
			t.Errorf("API route %s has no scope: add it to apiScope", rt)
		}
		// Every read is the read scope's, but the caller's pending
		// changes (a write in preparation) and the audit trail (the
		// admins').
		draft := pattern == "/draft" || strings.HasPrefix(pattern, "/draft/")
		if pattern == "/audit" {
			if need != store.ScopeAdmin {
				t.Errorf("%s needs %s: the audit trail is the admins'", rt, need)
			}
			continue
		}
		if method == http.MethodGet && (need != store.ScopeRead) != draft {
			t.Errorf("%s needs %s: every read but of the draft is the read scope's", rt, need)
		}
		if draft && need != store.ScopeOperator {
			t.Errorf("%s needs %s: the draft's routes are the operator scope's", rt, need)
		}
	}
	for in, want := range map[string]string{
		"/":                      "/",
		"/config.cf":             "/config.cf",
		"/virtual/{vid:[0-9]+}/": "/virtual/{vid}",
		"/virtual/{vid:[0-9]+}/real/{rid:[0-9]+}": "/virtual/{vid}/real/{rid}",
		"/history/{serial:[0-9]+}/config.cf":      "/history/{serial}/config.cf",
	} {
		if got := routeKey(in); got != want {
			t.Errorf("routeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestARouteWithoutAScopeIsRefused: a route added to the API without an
// entry in the table is refused to every credential, even admin's.
func TestARouteWithoutAScopeIsRefused(t *testing.T) {
	c := &Console{log: discardLog()}
	r := chi.NewRouter()
	r.Route("/api/v1", func(r chi.Router) {
		c.apiRoutes(r)
		r.Get("/forgotten", func(w http.ResponseWriter, r *http.Request) { t.Error("the forgotten route ran") })
	})
	req := httptest.NewRequest("GET", "/api/v1/forgotten", nil)
	req = req.WithContext(context.WithValue(context.WithValue(req.Context(), userKey{}, "admin"), scopeKey{}, store.ScopeAdmin))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "no scope") {
		t.Errorf("a route without a scope = %d %s", w.Code, w.Body)
	}
}

// TestReadToken: a read token gets 200 on every read of the API and on
// /metrics, and 403 on every other route (the reads of the caller's draft
// among them), naming the scope it needs; nothing changes.
func TestReadToken(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	text := e.scopedToken(t, store.ScopeRead)
	read := e.api(t, nil, text)
	before := fileSum(t, e.store.Path())
	for _, rt := range apiRoutesOf(t) {
		method, pattern, _ := strings.Cut(rt, " ")
		path := concrete(pattern, vid, rid, 1)
		need, _ := apiScope(method, pattern)
		if method == http.MethodGet && need == store.ScopeRead {
			read.expect(http.StatusOK, method, path, nil)
			continue
		}
		a := read.call(method, path, `{"name":"x","serial":0}`)
		if a.code != http.StatusForbidden {
			t.Errorf("%s %s with a read token = %d, want 403: %s", method, path, a.code, a.body)
			continue
		}
		if rt == "POST /tokens" { // a session's, whatever its role: no token makes one
			if !strings.Contains(a.body, "an API token cannot make another") {
				t.Errorf("POST /tokens with a read token: %s", a.body)
			}
			continue
		}
		forbidden(t, a, need, store.ScopeRead)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+text)
	if a := do(t, e.client(t), req); a.code != http.StatusOK || !strings.Contains(a.body, "lvs_") {
		t.Errorf("/metrics with a read token = %d", a.code)
	}
	if fileSum(t, e.store.Path()) != before {
		t.Error("a read token changed the database")
	}
}

// TestOperatorToken: an operator token activates and deactivates virtual
// and real servers and changes a real server's weight; any other change,
// even one sent along with a weight through the same PUT, is refused
// whole, naming what it would have changed.
func TestOperatorToken(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	vp, rp := fmt.Sprintf("/virtual/%d", vid), fmt.Sprintf("/virtual/%d/real/%d", vid, rid)
	op := e.api(t, nil, e.scopedToken(t, store.ScopeOperator))
	real := func() config.RealServer { return e.config(t).Virtuals[0].Reals[0] }

	// A virtual server is a whole service: the admins'.
	forbidden(t, op.call("POST", vp+"/activate", nil), store.ScopeAdmin, store.ScopeOperator)
	forbidden(t, op.call("POST", vp+"/deactivate", nil), store.ScopeAdmin, store.ScopeOperator)
	op.expect(http.StatusOK, "POST", rp+"/activate", nil)
	if !real().Active {
		t.Error("activating the real server did not")
	}
	op.expect(http.StatusOK, "POST", rp+"/deactivate", nil)
	op.expect(http.StatusOK, "PUT", rp, map[string]any{"weight": 7})
	if real().Weight != 7 {
		t.Errorf("weight %d, want 7", real().Weight)
	}
	op.expect(http.StatusOK, "PUT", rp, map[string]any{"weight": 3, "active": true})
	if rs := real(); rs.Weight != 3 || !rs.Active {
		t.Errorf("after PUT weight 3 active: %+v", rs)
	}
	// Fields sent as they are change nothing: what counts is the change.
	op.expect(http.StatusOK, "PUT", rp, map[string]any{"name": "web1", "address": "10.0.0.1", "weight": 4})

	serial := e.config(t).Serial
	for _, tc := range []struct {
		method, path string
		body         any
		need         store.Scope
		says         string // in the refusal
	}{
		{"PUT", rp, map[string]any{"port": 8080}, store.ScopeAdmin, "Port (port) 0 -> 8080"},
		{"PUT", rp, map[string]any{"weight": 5, "address": "10.0.0.9"}, store.ScopeAdmin, "Address (address) 10.0.0.1 -> 10.0.0.9"},
		{"PUT", rp, map[string]any{"name": "renamed"}, store.ScopeAdmin, `Name (name) "web1" -> "renamed"`},
		{"PUT", rp, map[string]any{"fwd": "nat"}, store.ScopeAdmin, "Forward"},
		{"PUT", vp, map[string]any{"scheduler": "rr"}, store.ScopeAdmin, "PUT"},
		{"PUT", vp, map[string]any{"active": true}, store.ScopeAdmin, "PUT"},
		{"POST", "/virtual", map[string]any{"name": "new", "address": "192.0.2.77"}, store.ScopeAdmin, "POST"},
		{"DELETE", vp, nil, store.ScopeAdmin, "DELETE"},
		{"DELETE", rp, nil, store.ScopeAdmin, "DELETE"},
		{"POST", vp + "/real", map[string]any{"name": "web9", "address": "10.0.0.9"}, store.ScopeAdmin, "POST"},
		{"PUT", "/global", map[string]any{"tcp_timeout": 5}, store.ScopeAdmin, "PUT"},
		{"PUT", "/redundancy", map[string]any{"heartbeat_port": 540}, store.ScopeAdmin, "PUT"},
		{"POST", "/redundancy/reset", nil, store.ScopeAdmin, "POST"},
		{"PUT", "/config.cf", "serial_no = 1\n", store.ScopeAdmin, "PUT"},
		{"POST", "/history/1/restore", nil, store.ScopeAdmin, "POST"},
		{"DELETE", "/tokens/1", nil, store.ScopeAdmin, "DELETE"},
	} {
		a := op.call(tc.method, tc.path, tc.body)
		ref := forbidden(t, a, tc.need, store.ScopeOperator)
		if !strings.Contains(ref.Error, tc.says) {
			t.Errorf("%s %s %v: the refusal %q does not say %q", tc.method, tc.path, tc.body, ref.Error, tc.says)
		}
	}
	if got := e.config(t); got.Serial != serial || got.Virtuals[0].Reals[0].Weight != 4 {
		t.Errorf("refused requests changed the configuration: serial %d, weight %d", got.Serial, got.Virtuals[0].Reals[0].Weight)
	}
}

// TestOperatorChange is the rule an operator's change is checked by, on
// the change itself.
func TestOperatorChange(t *testing.T) {
	base := func() *config.Config {
		c := config.Default()
		vs := config.NewVirtual("www")
		vs.ID = 1
		rs := config.NewReal("web1")
		rs.ID = 2
		vs.Reals = []config.RealServer{rs}
		c.Virtuals = []config.VirtualServer{vs}
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want string // "" allowed, else in the error
	}{
		{"nothing", func(c *config.Config) {}, ""},
		{"activate a virtual server", func(c *config.Config) { c.Virtuals[0].Active = true }, "virtual server www: Active (active) off -> on"},
		{"activate a real server", func(c *config.Config) { c.Virtuals[0].Reals[0].Active = true }, ""},
		{"weight", func(c *config.Config) { c.Virtuals[0].Reals[0].Weight = 9 }, ""},
		{"weight and active", func(c *config.Config) { c.Virtuals[0].Reals[0].Weight, c.Virtuals[0].Reals[0].Active = 0, true }, ""},
		{"port of a real server", func(c *config.Config) { c.Virtuals[0].Reals[0].Port = 81 }, "real server web1: Port (port) 0 -> 81"},
		{"weight and threshold", func(c *config.Config) {
			c.Virtuals[0].Reals[0].Weight, c.Virtuals[0].Reals[0].UpperThreshold = 2, 10
		}, "Upper connection threshold (uthreshold) 0 -> 10"},
		{"scheduler", func(c *config.Config) { c.Virtuals[0].Scheduler = "rr" }, "virtual server www: Scheduling (scheduler) wlc -> rr"},
		{"send_program", func(c *config.Config) { c.Virtuals[0].SendProgram = "/bin/true" }, "Sending program (send_program)"},
		{"global", func(c *config.Config) { c.Global.ActiveCmd = "/bin/true" }, "global: Run when becoming active (active_cmd)"},
		{"redundancy", func(c *config.Config) { c.Redundancy.HeartbeatPort = 540 }, "redundancy: Heartbeat runs on port (heartbeat_port) 539 -> 540"},
		{"a real server added", func(c *config.Config) {
			c.Virtuals[0].Reals = append(c.Virtuals[0].Reals, config.NewReal("web2"))
		}, "server web2 added"},
		{"a real server deleted", func(c *config.Config) { c.Virtuals[0].Reals = nil }, "server web1 deleted"},
		{"a virtual server added", func(c *config.Config) {
			c.Virtuals = append(c.Virtuals, config.NewVirtual("dns"))
		}, "virtual server dns added"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, next := base(), base()
			tc.edit(next)
			err := store.Allowed(store.ScopeOperator, old, next)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want it to say %q", err, tc.want)
			}
			if err := store.Allowed(store.ScopeAdmin, old, next); err != nil {
				t.Errorf("admin refused: %v", err)
			}
			if tc.name != "nothing" {
				if err := store.Allowed(store.ScopeRead, old, next); err == nil {
					t.Error("a read scope may change it")
				}
			}
		})
	}
}

// TestAdminTokenCannotChangePrograms: an admin token changes everything
// but the programs the directors run as root, by any route that could
// bring one in (a PUT of a virtual server or of the global settings, a new
// virtual server, an lvs.cf, a restore); a console session on the API
// neither. It may remove one.
func TestAdminTokenCannotChangePrograms(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid := cfg.Virtuals[0].ID
	vp := fmt.Sprintf("/virtual/%d", vid)
	admin := e.api(t, nil, e.scopedToken(t, store.ScopeAdmin))
	session := e.api(t, e.login(t), "")

	admin.expect(http.StatusOK, "PUT", vp, map[string]any{"port": 8080})
	if e.config(t).Virtuals[0].Port != 8080 {
		t.Fatal("an admin token did not change a port")
	}
	// Revision withTrue has a send_program, the current one another.
	withTrue, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "root", Elevated: true}, func(c *config.Config) error {
		c.Virtuals[0].SendProgram = "/bin/true %h %p"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "root", Elevated: true}, func(c *config.Config) error {
		c.Virtuals[0].SendProgram = "/usr/bin/true %h"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cf := admin.expect(http.StatusOK, "GET", "/config.cf", nil).body
	before := fileSum(t, e.store.Path())

	for _, tc := range []struct {
		name         string
		who          apiCaller
		method, path string
		body         any
		field        string
	}{
		{"PUT virtual send_program", admin, "PUT", vp, map[string]any{"send_program": "/bin/true %h %p"}, "send_program"},
		{"PUT virtual with a check", admin, "PUT", vp, map[string]any{"check": "program", "send_program": "/bin/true"}, "send_program"},
		{"PUT global active_cmd", admin, "PUT", "/global", map[string]any{"active_cmd": "/usr/bin/logger up"}, "active_cmd"},
		{"PUT global inactive_cmd", admin, "PUT", "/global", map[string]any{"inactive_cmd": "/usr/bin/logger down"}, "inactive_cmd"},
		{"POST virtual with a program", admin, "POST", "/virtual", map[string]any{"name": "new", "address": "192.0.2.88", "send_program": "/bin/true"}, "send_program"},
		{"PUT config.cf with a program", admin, "PUT", "/config.cf", strings.Replace(cf, "/usr/bin/true %h", "/bin/true %p", 1), "send_program"},
		{"PUT config.cf with active_cmd", admin, "PUT", "/config.cf", "active_cmd = /usr/bin/logger up\n" + cf, "active_cmd"},
		{"restore of another program", admin, "POST", fmt.Sprintf("/history/%d/restore", withTrue.Serial), nil, "send_program"},
		{"a session on the API", session, "PUT", vp, map[string]any{"send_program": "/bin/true %h %p"}, "send_program"},
		{"a session on the API, global", session, "PUT", "/global", map[string]any{"active_cmd": "/usr/bin/logger up"}, "active_cmd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.who.call(tc.method, tc.path, tc.body)
			ref := refusal(t, a)
			if a.code != http.StatusForbidden || !strings.Contains(ref.Error, "programs can only be changed in the console with your password") ||
				len(ref.Fields) != 1 || ref.Fields[0].Field != tc.field {
				t.Errorf("= %d %+v, want 403 with the advice, naming %s", a.code, ref, tc.field)
			}
			if fileSum(t, e.store.Path()) != before {
				t.Fatal("the database changed")
			}
		})
	}
	// Removing a program is no danger.
	admin.expect(http.StatusOK, "PUT", vp, map[string]any{"send_program": ""})
	if p := e.config(t).Virtuals[0].SendProgram; p != "" {
		t.Errorf("send_program %q after removing it", p)
	}
}

// TestUnknownIDsAre404: a PUT, DELETE or (de)activation of an id that
// names nothing, 0 among them, is 404 and creates nothing; only a POST to
// a collection creates. The console's forms likewise.
func TestUnknownIDsAre404(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid := cfg.Virtuals[0].ID
	admin := e.api(t, nil, e.scopedToken(t, store.ScopeAdmin))
	for _, tc := range []struct{ method, path string }{
		{"PUT", "/virtual/0"}, {"PUT", "/virtual/999999"},
		{"PUT", fmt.Sprintf("/virtual/%d/real/0", vid)}, {"PUT", fmt.Sprintf("/virtual/%d/real/999999", vid)},
		{"PUT", "/virtual/0/real/0"}, {"DELETE", "/virtual/0"}, {"DELETE", fmt.Sprintf("/virtual/%d/real/0", vid)},
		{"POST", "/virtual/0/activate"}, {"POST", fmt.Sprintf("/virtual/%d/real/0/deactivate", vid)},
	} {
		var body any
		if tc.method == "PUT" {
			body = map[string]any{"name": "ghost", "address": "192.0.2.99"}
		}
		a := admin.call(tc.method, tc.path, body)
		if a.code != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404: %s", tc.method, tc.path, a.code, a.body)
			continue
		}
		refusal(t, a)
	}
	c := e.login(t)
	for _, path := range []string{"/virtual/0", fmt.Sprintf("/virtual/%d/real/0", vid)} {
		a := post(t, c, e.srv.URL+path, url.Values{"serial": {itoa(cfg.Serial)}, "name": {"ghost"}, "address": {"192.0.2.99"},
			"protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}, "weight": {"1"}})
		if a.code != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 404", path, a.code)
		}
	}
	if got := e.config(t); got.Serial != cfg.Serial || len(got.Virtuals) != 1 || len(got.Virtuals[0].Reals) != 1 {
		t.Errorf("requests for unknown ids changed the configuration: serial %d, %d virtual servers", got.Serial, len(got.Virtuals))
	}
	admin.expect(http.StatusCreated, "POST", "/virtual", map[string]any{"name": "made", "address": "192.0.2.98"})
	admin.expect(http.StatusCreated, "POST", fmt.Sprintf("/virtual/%d/real", vid), map[string]any{"name": "web2", "address": "10.0.0.2"})
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestTokenScopeIsChosen: a token is made with the scope chosen, on the
// API and the TOKENS page, which offers each with what it allows; a token
// without a scope, or with one that is not, is not made and the refusal
// names the field; the list shows each token's scope.
func TestTokenScopeIsChosen(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	sess := e.api(t, c, "")
	made := obj(t, sess.expect(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "grafana", "scope": "read"}))
	if made["scope"] != "read" {
		t.Errorf("POST /tokens = %v", made)
	}
	reader := e.api(t, nil, made["token"].(string))
	forbidden(t, reader.call("PUT", "/global", map[string]any{"tcp_timeout": 5}), store.ScopeAdmin, store.ScopeRead)
	for body, want := range map[string]struct {
		code int
		msg  string
	}{
		`{"name": "x"}`:                  {http.StatusUnprocessableEntity, "scope: is required: choose viewer, operator or admin"},
		`{"name": "x", "scope": "root"}`: {http.StatusUnprocessableEntity, `scope: "root" is not a scope: choose viewer (or read), operator or admin`},
		`{"name": "x", "scope": ""}`:     {http.StatusUnprocessableEntity, "scope: is required"},
		`{"name": "x", "scope": 3}`:      {http.StatusBadRequest, "scope: number is not allowed here: use a string"},
	} {
		a := sess.call("POST", "/tokens", body)
		ref := refusal(t, a)
		if a.code != want.code || !strings.Contains(ref.Error, want.msg) || len(ref.Fields) != 1 || ref.Fields[0].Field != "scope" {
			t.Errorf("POST /tokens %s = %d %+v, want %d saying %q", body, a.code, ref, want.code, want.msg)
		}
	}
	if a := sess.expect(http.StatusOK, "GET", "/tokens", nil); !strings.Contains(a.body, `"scope":"read"`) {
		t.Errorf("GET /tokens = %s", a.body)
	}

	page := get(t, c, e.srv.URL+"/tokens")
	for _, want := range []string{`role="radiogroup"`, `name="scope" id="scope-viewer" value="viewer"`, `id="scope-operator" value="operator"`, `id="scope-admin" value="admin"`,
		"dashboards", "weight", "your password"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the TOKENS page lacks %q", want)
		}
	}
	a := post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"on-call"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(fieldError(a.body, "scope"), "is required") || !strings.Contains(a.body, `value="on-call"`) {
		t.Errorf("a token without a scope = %d, message %q", a.code, fieldError(a.body, "scope"))
	}
	a = follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"on-call"}, "scope": {"operator"}}))
	if a.code != http.StatusOK || !strings.Contains(a.body, `id="new-token"`) {
		t.Fatalf("making an operator token = %d", a.code)
	}
	ts, _ := e.store.ListTokens(context.Background())
	if len(ts) != 2 || ts[0].Name != "on-call" || ts[0].Scope != store.ScopeOperator {
		t.Errorf("tokens %+v", ts)
	}
	if !regexp.MustCompile(`data-name="on-call">(?s:.*?)<td class="scope">operator</td>`).MatchString(a.body) {
		t.Error("the list does not show the token's scope")
	}
}

// TestOpenAPIScopes: static/openapi.yaml gives each operation the scope
// apiScope gives its route (x-scope), and a 403 to each that a token can
// be refused.
func TestOpenAPIScopes(t *testing.T) {
	spec, err := static.FS.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pathRE := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodRE := regexp.MustCompile(`^    (get|put|post|delete):\s*$`)
	scopeRE := regexp.MustCompile(`^      x-scope: (\w+)\s*$`)
	forbidRE := regexp.MustCompile(`^        "403":`)
	var path, op string
	scopes, forbids := map[string]string{}, map[string]bool{}
	for line := range strings.SplitSeq(string(spec), "\n") {
		if line != "" && line[0] != ' ' && line[0] != '#' && !strings.HasPrefix(line, "paths:") {
			path, op = "", ""
		}
		switch m := pathRE.FindStringSubmatch(line); {
		case m != nil:
			path = m[1]
		case methodRE.MatchString(line) && path != "":
			op = strings.ToUpper(methodRE.FindStringSubmatch(line)[1]) + " " + path
		case scopeRE.MatchString(line) && op != "":
			scopes[op] = scopeRE.FindStringSubmatch(line)[1]
		case forbidRE.MatchString(line) && op != "":
			forbids[op] = true
		}
	}
	for _, rt := range apiRoutesOf(t) {
		method, pattern, _ := strings.Cut(rt, " ")
		need, _ := apiScope(method, pattern)
		if scopes[rt] != need.String() {
			t.Errorf("openapi.yaml: %s has x-scope %q, the route needs %s", rt, scopes[rt], need)
		}
		if need != store.ScopeRead && !forbids[rt] {
			t.Errorf("openapi.yaml: %s lacks its 403", rt)
		}
	}
}
