package handlers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/static"
	"github.com/lvsconsole/lvsconsole/store"
)

// apiCaller sends requests to the API of a test console, with a session
// (c's cookies) or an API token.
type apiCaller struct {
	t     *testing.T
	c     *http.Client
	url   string
	token string
}

func (e *testEnv) api(t *testing.T, c *http.Client, token string) apiCaller {
	if c == nil {
		c = e.client(t)
	}
	return apiCaller{t: t, c: c, url: e.srv.URL, token: token}
}

// call sends method to /api/v1 + path with body (nil: none; a string: as
// is; else as JSON) and headers given as name, value pairs.
func (a apiCaller) call(method, path string, body any, hdr ...string) answer {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.url+"/api/v1"+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(a.t, a.c, req)
}

// expect fails the test unless the answer has code; it returns the answer.
func (a apiCaller) expect(code int, method, path string, body any, hdr ...string) answer {
	a.t.Helper()
	ans := a.call(method, path, body, hdr...)
	if ans.code != code {
		a.t.Fatalf("%s %s = %d, want %d: %s", method, path, ans.code, code, ans.body)
	}
	return ans
}

// obj decodes a JSON object answer.
func obj(t *testing.T, a answer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", a.code, err, a.body)
	}
	return m
}

func refusal(t *testing.T, a answer) apiError {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("a refusal (%d) comes as %q", a.code, ct)
	}
	var e apiError
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error == "" {
		t.Fatalf("answer %d is not an API error (%v): %s", a.code, err, a.body)
	}
	return e
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// token makes an API token for owner, used once: its first use records
// the time (a write, then none for a minute), which would otherwise count
// as a change of the database in tests that check there is none.
func (e *testEnv) token(t *testing.T, owner string) string {
	t.Helper()
	_, text, err := e.store.CreateToken(context.Background(), owner, "test", store.ScopeAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.LookupToken(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	return text
}

// apiRoutesOf walks the API's routes: "METHOD /path" with parameters as
// {name}, relative to /api/v1.
func apiRoutesOf(t *testing.T) []string {
	r := chi.NewRouter()
	(&Console{}).apiRoutes(r)
	param := regexp.MustCompile(`\{(\w+):[^}]*\}`)
	var routes []string
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = param.ReplaceAllString(route, "{$1}")
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(routes)
	return routes
}

// concrete fills a route's parameters.
func concrete(route string, vid, rid, tid int64) string {
	return strings.NewReplacer("{vid}", itoa(vid), "{rid}", itoa(rid), "{serial}", "1", "{tid}", itoa(tid)).Replace(route)
}

// TestAPIAuthentication: on every route and method of the API, no
// credentials, an unknown token and a revoked one get 401 in JSON and
// change nothing; a token and a session cookie each work, a token acts as
// its owner, and only on /api/ and /metrics; a cross-site POST is refused
// even with a valid cookie.
func TestAPIAuthentication(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	_, good, err := e.store.CreateToken(context.Background(), "admin", "unused yet", store.ScopeAdmin)
	if err != nil {
		t.Fatal(err)
	}
	revoked := e.token(t, "admin")
	rt, err := e.store.LookupToken(context.Background(), revoked)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.RevokeToken(context.Background(), rt.ID); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, e.store.Path())

	routes := apiRoutesOf(t)
	if len(routes) < 25 {
		t.Fatalf("walked only %d API routes", len(routes))
	}
	paths := []string{"", "/", "/nope", "/virtual/999999", "/tokens/1"}
	for _, rt := range routes {
		_, p, _ := strings.Cut(rt, " ")
		paths = append(paths, concrete(p, vid, rid, 1))
	}
	for name, auth := range map[string]string{
		"no credentials": "", "an unknown token": "Bearer lvs_" + strings.Repeat("A", 43), "a revoked token": "Bearer " + revoked,
		"an empty bearer": "Bearer", "a token without its prefix": "Bearer " + strings.TrimPrefix(good, "lvs_"),
	} {
		for _, p := range paths {
			for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
				req, _ := http.NewRequest(method, e.srv.URL+"/api/v1"+p, strings.NewReader(`{"name":"x","serial":0}`))
				req.Header.Set("Content-Type", "application/json")
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				a := do(t, e.client(t), req)
				if a.code != http.StatusUnauthorized || a.header.Get("Content-Type") != "application/json" ||
					!strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: %s %s = %d %s, want 401 in JSON", name, method, p, a.code, a.header.Get("Content-Type"))
					continue
				}
				if method != "HEAD" {
					refusal(t, a)
				}
			}
		}
	}
	if fileSum(t, e.store.Path()) != before {
		t.Fatal("refused requests changed the database")
	}

	// A token works, and a change made with it is its owner's.
	tok := e.api(t, nil, good)
	a := tok.expect(http.StatusOK, "GET", "/config", nil)
	if m := obj(t, a); num(m["serial"]) != cfg.Serial {
		t.Errorf("GET /config with a token = %s", a.body)
	}
	tok.expect(http.StatusOK, "PUT", "/global", map[string]any{"tcp_timeout": 900})
	revs, _ := e.store.Revisions(context.Background(), 0, 1)
	if revs[0].Author != "admin" || !strings.HasPrefix(revs[0].Summary, "api: ") {
		t.Errorf("a change with admin's token is recorded as %q by %q", revs[0].Summary, revs[0].Author)
	}
	if tk, _ := e.store.ListTokens(context.Background()); tk[1].Name != "unused yet" || tk[1].LastUsed.IsZero() {
		t.Errorf("the token's use was not recorded: %+v", tk)
	}
	// ... on the API and /metrics only: a page needs a session.
	req, _ := http.NewRequest("GET", e.srv.URL+"/control", nil)
	req.Header.Set("Authorization", "Bearer "+good)
	if a := do(t, e.client(t), req); a.code != http.StatusSeeOther || !strings.HasPrefix(a.location, "/login") {
		t.Errorf("a token opened the console's page /control: %d", a.code)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+good)
	if a := do(t, e.client(t), req); a.code == http.StatusSeeOther || a.code == http.StatusUnauthorized || a.code == http.StatusNotFound {
		t.Errorf("a token does not open /metrics: %d", a.code)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+revoked)
	if a := do(t, e.client(t), req); a.code != http.StatusUnauthorized || a.header.Get("Content-Type") != "application/json" {
		t.Errorf("a revoked token on /metrics = %d %s, want 401 in JSON", a.code, a.header.Get("Content-Type"))
	}

	// A bad token is refused even beside a good session cookie: the
	// program that sent it must learn that its token is bad.
	sess := e.login(t)
	withBad := e.api(t, sess, "lvs_bad")
	if a := withBad.call("GET", "/config", nil); a.code != http.StatusUnauthorized {
		t.Errorf("a bad token with a good cookie = %d, want 401", a.code)
	}

	// The session cookie works, for reads and writes.
	s := e.api(t, sess, "")
	s.expect(http.StatusOK, "GET", "/virtual", nil)
	serial := e.config(t).Serial
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "http://evil.example"},
	} {
		var hdr []string
		for k, v := range h {
			hdr = append(hdr, k, v)
		}
		if a := s.call("POST", "/virtual", map[string]any{"name": "evil", "address": "192.0.2.66"}, hdr...); a.code != http.StatusForbidden {
			t.Errorf("cross-site POST with the session cookie and %v = %d, want 403", h, a.code)
		}
		if a := s.call("POST", fmt.Sprintf("/virtual/%d/deactivate", vid), nil, hdr...); a.code != http.StatusForbidden {
			t.Errorf("cross-site POST deactivate with %v = %d, want 403", h, a.code)
		}
	}
	if e.config(t).Serial != serial {
		t.Fatal("a cross-site POST changed the configuration")
	}
	s.expect(http.StatusCreated, "POST", "/virtual", map[string]any{"name": "mine", "address": "192.0.2.67"},
		"Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL)
}

// TestAPIReadsAndWritesEverything walks every resource: reads, writes that
// keep the fields they do not send, creation from the console's defaults,
// (de)activation, deletion, lvs.cf export and import, the history and a
// restore; and 404 in JSON for what does not exist.
func TestAPIReadsAndWritesEverything(t *testing.T) {
	e := newEnv(t, true)
	api := e.api(t, nil, e.token(t, "admin"))
	ctx := context.Background()

	// GLOBAL SETTINGS: keys are lvs.cf's, and a PUT keeps what it does not send.
	a := api.expect(http.StatusOK, "GET", "/global", nil)
	g := obj(t, a)
	if g["network"] != "direct" || g["hard_shutdown"] != true || g["service"] != "lvs" || num(g["serial"]) != 1 || a.header.Get("ETag") != `"1"` {
		t.Errorf("GET /global = %s, ETag %s", a.body, a.header.Get("ETag"))
	}
	for _, k := range []string{"primary", "primary_private", "nat_router", "nat_router_device", "nat_nmask", "tcp_timeout",
		"tcpfin_timeout", "udp_timeout", "active_cmd", "inactive_cmd", "rsh_command", "debug_level"} {
		if _, ok := g[k]; !ok {
			t.Errorf("GET /global lacks %s", k)
		}
	}
	a = api.expect(http.StatusOK, "PUT", "/global", map[string]any{"serial": 1, "network": "nat", "primary": "192.0.2.1",
		"nat_router": "10.0.0.254", "nat_router_device": "eth1:1", "nat_nmask": "24", "tcp_timeout": 900})
	if g = obj(t, a); num(g["serial"]) != 2 || g["nat_nmask"] != "255.255.255.0" || g["hard_shutdown"] != true || a.header.Get("ETag") != `"2"` {
		t.Errorf("PUT /global = %s", a.body)
	}
	if got := e.config(t).Global; got.Network != config.NAT || got.TCPTimeout != 900 || got.NATNetmask.Bits() != 24 || !got.HardShutdown || got.Service != "lvs" {
		t.Errorf("saved global = %+v", got)
	}
	// The same values again change nothing and keep the serial.
	if a := api.expect(http.StatusOK, "PUT", "/global", map[string]any{"tcp_timeout": 900}); num(obj(t, a)["serial"]) != 2 {
		t.Errorf("a PUT that changes nothing = %s", a.body)
	}

	// REDUNDANCY: durations in seconds as numbers or strings, ports by name.
	a = api.expect(http.StatusOK, "PUT", "/redundancy", map[string]any{"backup_active": true, "backup": "192.0.2.2",
		"keepalive": 0.5, "deadtime": "2", "preempt": true, "preempt_delay": "1500ms"}, "If-Match", `"2"`)
	rd := obj(t, a)
	if rd["keepalive"] != 0.5 || rd["deadtime"] != 2.0 || rd["preempt_delay"] != 1.5 || rd["heartbeat_port"] != 539.0 || num(rd["serial"]) != 3 {
		t.Errorf("PUT /redundancy = %s", a.body)
	}
	if got := e.config(t).Redundancy; got.Keepalive != 500*time.Millisecond || got.Deadtime != 2*time.Second || got.PreemptDelay != 1500*time.Millisecond {
		t.Errorf("saved redundancy = %+v", got)
	}
	a = api.expect(http.StatusOK, "POST", "/redundancy/reset", nil)
	if got := e.config(t).Redundancy; got != config.DefaultRedundancy() || num(obj(t, a)["serial"]) != 4 {
		t.Errorf("RESET left %+v", got)
	}

	// VIRTUAL SERVERS: POST starts from ADD's defaults.
	a = api.expect(http.StatusCreated, "POST", "/virtual", map[string]any{"name": "www", "address": "192.0.2.80", "port": "http",
		"scheduler": "sh", "sched_flags": "fallback,port", "vip_nmask": "255.255.255.0"})
	v := obj(t, a)
	vid := num(v["id"])
	if vid == 0 || a.location != fmt.Sprintf("/api/v1/virtual/%d", vid) || v["port"] != 80.0 || v["device"] != "eth0:1" ||
		v["send"] != config.DefaultSend || v["timeout"] != 6.0 || v["reentry"] != 15.0 || v["active"] != false || v["sched_flags"] != "fallback,port" {
		t.Errorf("POST /virtual = %s (Location %q)", a.body, a.location)
	}
	vpath := fmt.Sprintf("/virtual/%d", vid)
	a = api.expect(http.StatusOK, "PUT", vpath, map[string]any{"scheduler": "wrr", "sched_flags": "", "persistent": 300, "pmask": "24",
		"check": "http", "http_path": "/healthz", "check_interval": 2.5, "id": 12345})
	v = obj(t, a)
	if v["name"] != "www" || v["pmask"] != "255.255.255.0" || v["check_interval"] != 2.5 || num(v["id"]) != vid {
		t.Errorf("PUT %s = %s", vpath, a.body)
	}
	if vs := e.config(t).Virtuals[0]; vs.Scheduler != "wrr" || vs.SchedFallback || vs.Persistence != 300 || vs.CheckKind != "http" ||
		vs.CheckInterval != 2500*time.Millisecond || vs.Address != netip.MustParseAddr("192.0.2.80") || vs.ID != vid {
		t.Errorf("saved virtual server = %+v", vs)
	}
	if l := obj(t, api.expect(http.StatusOK, "GET", "/virtual", nil)); len(l["virtuals"].([]any)) != 1 {
		t.Errorf("GET /virtual = %v", l)
	}
	if v := obj(t, api.expect(http.StatusOK, "GET", vpath, nil)); v["http_path"] != "/healthz" || num(v["serial"]) != e.config(t).Serial {
		t.Errorf("GET %s = %v", vpath, v)
	}

	// REAL SERVERS.
	var rids []int64
	for i, addr := range []string{"10.0.0.1", "10.0.0.2"} {
		a = api.expect(http.StatusCreated, "POST", vpath+"/real", map[string]any{"name": "web" + strconv.Itoa(i+1), "address": addr, "weight": 3, "active": true})
		r := obj(t, a)
		rids = append(rids, num(r["id"]))
		if r["weight"] != 3.0 || r["port"] != 0.0 || r["fwd"] != "" || a.location != fmt.Sprintf("/api/v1%s/real/%d", vpath, rids[i]) {
			t.Errorf("POST real = %s", a.body)
		}
	}
	r2 := fmt.Sprintf("%s/real/%d", vpath, rids[1])
	if r := obj(t, api.expect(http.StatusOK, "PUT", r2, map[string]any{"weight": 5, "port": 8080, "fwd": "nat"})); r["weight"] != 5.0 || r["address"] != "10.0.0.2" {
		t.Errorf("PUT real = %v", r)
	}
	if r := obj(t, api.expect(http.StatusOK, "POST", r2+"/deactivate", nil)); r["active"] != false || e.config(t).Virtuals[0].Reals[1].Active {
		t.Errorf("deactivate real = %v", r)
	}
	serial := e.config(t).Serial
	if r := obj(t, api.expect(http.StatusOK, "POST", r2+"/deactivate", map[string]any{"serial": serial})); num(r["serial"]) != serial {
		t.Errorf("deactivating an inactive server made a revision: %v", r)
	}
	api.expect(http.StatusOK, "POST", r2+"/activate", nil, "If-Match", etag(serial))
	if l := obj(t, api.expect(http.StatusOK, "GET", vpath+"/real", nil)); len(l["reals"].([]any)) != 2 || num(l["virtual_id"]) != vid {
		t.Errorf("GET reals = %v", l)
	}
	if v := obj(t, api.expect(http.StatusOK, "POST", vpath+"/activate", nil)); v["active"] != true {
		t.Errorf("activate virtual = %v", v)
	}
	api.expect(http.StatusOK, "POST", vpath+"/deactivate", nil)
	api.expect(http.StatusOK, "POST", vpath+"/activate", nil)
	a = api.expect(http.StatusOK, "DELETE", r2, nil)
	if num(obj(t, a)["serial"]) != e.config(t).Serial || len(e.config(t).Virtuals[0].Reals) != 1 {
		t.Errorf("DELETE real = %s", a.body)
	}
	api.expect(http.StatusNotFound, "GET", r2, nil)

	// The whole configuration, and lvs.cf out and in.
	c := obj(t, api.expect(http.StatusOK, "GET", "/config", nil))
	vs := c["virtuals"].([]any)[0].(map[string]any)
	if c["global"].(map[string]any)["network"] != "nat" || vs["name"] != "www" || len(vs["reals"].([]any)) != 1 || vs["serial"] != nil {
		t.Errorf("GET /config = %v", c)
	}
	a = api.expect(http.StatusOK, "GET", "/config.cf", nil)
	if !strings.Contains(a.body, "virtual www {") || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /config.cf = %s", a.body)
	}
	edited := strings.Replace(a.body, "weight = 3", "weight = 7", 1)
	a = api.expect(http.StatusOK, "PUT", "/config.cf", edited, "Content-Type", "text/plain", "If-Match", a.header.Get("ETag"))
	if got := e.config(t); got.Virtuals[0].Reals[0].Weight != 7 || got.Virtuals[0].ID != vid || got.Virtuals[0].Reals[0].ID != rids[0] {
		t.Errorf("after the import: %+v", got.Virtuals)
	}
	// Another virtual server, to delete.
	a = api.expect(http.StatusCreated, "POST", "/virtual", map[string]any{"name": "gone", "address": "192.0.2.81"})
	gone := fmt.Sprintf("/virtual/%d", num(obj(t, a)["id"]))
	api.expect(http.StatusOK, "DELETE", gone, nil)
	api.expect(http.StatusNotFound, "GET", gone, nil)

	// HISTORY: pages, one revision, a restore.
	h := obj(t, api.expect(http.StatusOK, "GET", "/history?limit=3", nil))
	revs := h["revisions"].([]any)
	top := revs[0].(map[string]any)
	if len(revs) != 3 || num(h["serial"]) != e.config(t).Serial || num(top["serial"]) != num(h["serial"]) || top["current"] != true ||
		top["author"] != "admin" || !strings.HasPrefix(top["summary"].(string), "api: ") || num(h["next_before"]) != num(revs[2].(map[string]any)["serial"]) {
		t.Errorf("GET /history = %v", h)
	}
	h2 := obj(t, api.expect(http.StatusOK, "GET", fmt.Sprintf("/history?before=%d&limit=1000", num(h["next_before"])), nil))
	if n := len(h2["revisions"].([]any)); int64(n) != num(h["next_before"])-1 || h2["next_before"] != nil {
		t.Errorf("the second page has %d revisions: %v", n, h2)
	}
	api.expect(http.StatusBadRequest, "GET", "/history?limit=0", nil)
	api.expect(http.StatusBadRequest, "GET", "/history?before=x", nil)
	r1 := obj(t, api.expect(http.StatusOK, "GET", "/history/1", nil))
	if r1["author"] != "lvsconsole" || r1["current"] != false || len(r1["config"].(map[string]any)["virtuals"].([]any)) != 0 {
		t.Errorf("GET /history/1 = %v", r1)
	}
	if a := api.expect(http.StatusOK, "GET", "/history/1/config.cf", nil); strings.Contains(a.body, "virtual") || !strings.Contains(a.body, "network = direct") {
		t.Errorf("GET /history/1/config.cf = %s", a.body)
	}
	before := e.config(t).Serial
	a = api.expect(http.StatusOK, "POST", "/history/1/restore", map[string]any{"serial": before})
	if got := e.config(t); len(got.Virtuals) != 0 || got.Serial != before+1 || num(obj(t, a)["serial"]) != before+1 {
		t.Errorf("after restoring revision 1: %d virtual servers, serial %d", len(got.Virtuals), got.Serial)
	}
	if revs, _ := e.store.Revisions(ctx, 0, 1); revs[0].Summary[:len("api: restored revision 1")] != "api: restored revision 1" {
		t.Errorf("the restore is recorded as %q", revs[0].Summary)
	}
	// Restoring it again changes nothing and is no error.
	if a := api.expect(http.StatusOK, "POST", "/history/1/restore", nil); num(obj(t, a)["serial"]) != before+1 {
		t.Errorf("a restore that changes nothing = %s", a.body)
	}

	// What does not exist is 404 in JSON, for reads and writes.
	for _, rq := range [][2]string{
		{"GET", "/virtual/999999"}, {"PUT", "/virtual/999999"}, {"DELETE", "/virtual/999999"}, {"POST", "/virtual/999999/activate"},
		{"GET", "/virtual/999999/real"}, {"POST", "/virtual/999999/real"}, {"GET", fmt.Sprintf("/virtual/%d/real/1", vid)},
		{"GET", "/history/999999"}, {"GET", "/history/999999/config.cf"}, {"POST", "/history/999999/restore"},
		{"DELETE", "/tokens/999999"}, {"GET", "/nope"}, {"GET", "/virtual/x"},
	} {
		var body any
		if rq[0] == "PUT" || rq[0] == "POST" && strings.HasSuffix(rq[1], "/real") {
			body = map[string]any{"name": "x"}
		}
		a := api.call(rq[0], rq[1], body)
		if a.code != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404", rq[0], rq[1], a.code)
			continue
		}
		refusal(t, a)
	}
	if a := api.call("PATCH", "/global", map[string]any{}); a.code != http.StatusMethodNotAllowed {
		t.Errorf("PATCH /global = %d", a.code)
	}
	if e.config(t).Serial != before+1 {
		t.Error("refused requests changed the configuration")
	}
}

// apiCase is a refused change made through the console's form and through
// the API, which must give the same message for field.
type apiCase struct {
	form   string
	values url.Values
	method string
	path   string
	body   map[string]any
	field  string
}

// TestAPIRefusesWhatTheConsoleRefuses: a refused value gets 422 with the
// very message the console shows beside its field, placed in its section
// and entry; nothing is written to the database.
func TestAPIRefusesWhatTheConsoleRefuses(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	c := e.login(t)
	api := e.api(t, nil, e.token(t, "admin"))
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	vp, rp := fmt.Sprintf("/virtual/%d", vid), fmt.Sprintf("/virtual/%d/real/%d", vid, rid)
	cases := []apiCase{
		{"/global", url.Values{"primary": {"1.2.3"}, "network": {"direct"}}, "PUT", "/global", map[string]any{"primary": "1.2.3"}, "primary"},
		{"/global", url.Values{"network": {"bogus"}}, "PUT", "/global", map[string]any{"network": "bogus"}, "network"},
		{"/global", url.Values{"network": {"nat"}, "active_cmd": {"notify-send up"}}, "PUT", "/global", map[string]any{"active_cmd": "notify-send up"}, "active_cmd"},
		// The heartbeat's timing is checked while a backup is active.
		{"/redundancy", url.Values{"backup_active": {"1"}, "backup": {"192.0.2.2"}, "keepalive": {"5"}, "deadtime": {"2"}, "heartbeat_port": {"539"}},
			"PUT", "/redundancy", map[string]any{"backup_active": true, "backup": "192.0.2.2", "keepalive": 5, "deadtime": 2}, "deadtime"},
		{"/redundancy", url.Values{"keepalive": {"six"}, "deadtime": {"18"}, "heartbeat_port": {"539"}}, "PUT", "/redundancy", map[string]any{"keepalive": "six"}, "keepalive"},
		{"/redundancy", url.Values{"keepalive": {"6"}, "deadtime": {"18"}, "heartbeat_port": {"70000"}}, "PUT", "/redundancy", map[string]any{"heartbeat_port": 70000}, "heartbeat_port"},
		{"/virtual/new", url.Values{"name": {"bad name"}, "address": {"192.0.2.20"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}},
			"POST", "/virtual", map[string]any{"name": "bad name", "address": "192.0.2.20"}, "name"},
		{"/virtual/new", url.Values{"name": {"www"}, "address": {"192.0.2.20"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}},
			"POST", "/virtual", map[string]any{"name": "www", "address": "192.0.2.20"}, "name"},
		{"/virtual/new", url.Values{"name": {"w2"}, "address": {"192.0.2.20"}, "protocol": {"tcp"}, "port": {"htttp"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}},
			"POST", "/virtual", map[string]any{"name": "w2", "address": "192.0.2.20", "port": "htttp"}, "port"},
		{vp, url.Values{"name": {"www"}, "address": {"192.0.2.10"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"fastest"}, "timeout": {"6"}, "reentry": {"15"}},
			"PUT", vp, map[string]any{"scheduler": "fastest"}, "scheduler"},
		{vp, url.Values{"name": {"www"}, "address": {"192.0.2.10"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"}, "timeout": {"0.001"}, "reentry": {"15"}},
			"PUT", vp, map[string]any{"timeout": 0.001}, "timeout"},
		{vp, url.Values{"name": {"www"}, "address": {"192.0.2.10"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}, "pmask": {"255.0.255.0"}},
			"PUT", vp, map[string]any{"pmask": "255.0.255.0"}, "pmask"},
		{rp, url.Values{"name": {"web1"}, "address": {"10.0.0.1"}, "weight": {"-1"}}, "PUT", rp, map[string]any{"weight": -1}, "weight"},
		{vp + "/real/new", url.Values{"name": {"web2"}, "address": {"2001:db8::2"}, "weight": {"1"}}, "POST", vp + "/real", map[string]any{"name": "web2", "address": "2001:db8::2"}, "address"},
		{vp + "/scripts", url.Values{"expect": {"(unclosed"}, "use_regex": {"1"}}, "PUT", vp, map[string]any{"expect": "(unclosed", "use_regex": true}, "expect"},
		{vp + "/scripts", url.Values{"check": {"https"}, "http_status": {"2xx"}}, "PUT", vp, map[string]any{"check": "https", "http_status": "2xx"}, "http_status"},
		{vp + "/scripts", url.Values{"check": {"udp"}, "send": {""}}, "PUT", vp, map[string]any{"check": "udp", "send": ""}, "send"},
		{vp + "/scripts", url.Values{"check": {"http"}, "check_failures": {"500"}}, "PUT", vp, map[string]any{"check": "http", "check_failures": 500}, "check_failures"},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.path+"/"+tc.field, func(t *testing.T) {
			before := fileSum(t, e.store.Path())
			tc.values.Set("serial", itoa(cfg.Serial))
			page := post(t, c, e.srv.URL+tc.form, tc.values)
			want := html.UnescapeString(fieldError(page.body, tc.field))
			if page.code != http.StatusUnprocessableEntity || want == "" {
				t.Fatalf("the console's form %s = %d with %q beside %s", tc.form, page.code, want, tc.field)
			}
			a := api.call(tc.method, tc.path, tc.body)
			if a.code != http.StatusUnprocessableEntity {
				t.Fatalf("%s %s = %d, want 422: %s", tc.method, tc.path, a.code, a.body)
			}
			ref := refusal(t, a)
			var got *apiFieldError
			for i := range ref.Fields {
				if ref.Fields[i].Field == tc.field {
					got = &ref.Fields[i]
				}
			}
			if got == nil || got.Message != want {
				t.Fatalf("the API's message for %s = %+v, the console's %q", tc.field, ref.Fields, want)
			}
			if !strings.Contains(ref.Error, tc.field+": "+want) || !strings.HasPrefix(ref.Error, "nothing was saved") {
				t.Errorf("the error %q does not say it", ref.Error)
			}
			if after := fileSum(t, e.store.Path()); after != before {
				t.Errorf("the database changed")
			}
		})
	}

	// Several bad values at once: all are listed, each in its section and
	// entry, with the entry's id when it has one.
	before := fileSum(t, e.store.Path())
	a := api.call("PUT", vp, map[string]any{"scheduler": "fastest", "port": 70000, "persistent": -1})
	ref := refusal(t, a)
	if a.code != http.StatusUnprocessableEntity || len(ref.Fields) != 3 {
		t.Fatalf("three bad values = %d: %s", a.code, a.body)
	}
	for _, f := range ref.Fields {
		if f.Section != "virtual" || f.Virtual != "www" || f.VirtualID != vid || f.RealID != 0 {
			t.Errorf("field error %+v is not placed on virtual server www (%d)", f, vid)
		}
	}
	a = api.call("PUT", vp, map[string]any{"address": "1.2.3", "timeout": "soon", "port": "nope", "vip_nmask": "255.0.255.0"})
	if ref = refusal(t, a); a.code != http.StatusUnprocessableEntity || len(ref.Fields) != 4 {
		t.Errorf("four values of the wrong kind = %d: %s", a.code, a.body)
	}
	a = api.call("PUT", rp, map[string]any{"weight": -1, "lthreshold": 5})
	ref = refusal(t, a)
	if len(ref.Fields) != 2 || ref.Fields[0].Section != "server" || ref.Fields[0].Real != "web1" || ref.Fields[0].RealID != rid || ref.Fields[0].VirtualID != vid {
		t.Errorf("bad real server values: %s", a.body)
	}
	if !strings.Contains(a.body, `"section":"server","virtual":"www","virtual_id":`) {
		t.Errorf("the refusal's keys are not the documented ones: %s", a.body)
	}
	// A new entry has no id yet.
	a = api.call("POST", vp+"/real", map[string]any{"name": "web9", "weight": -1, "address": "10.0.0.9"})
	if ref = refusal(t, a); len(ref.Fields) != 1 || ref.Fields[0].RealID != 0 || ref.Fields[0].Real != "web9" || ref.Fields[0].VirtualID != vid {
		t.Errorf("a refused new real server: %s", a.body)
	}
	// Activating a placeholder is refused with the reason, as on the console.
	if a := api.call("POST", "/virtual", map[string]any{"name": "later", "active": true}); a.code != http.StatusUnprocessableEntity || !strings.Contains(a.body, "placeholder") {
		t.Errorf("an active placeholder = %d: %s", a.code, a.body)
	}
	if after := fileSum(t, e.store.Path()); after != before {
		t.Errorf("refused changes changed the database")
	}
}

// TestAPIMalformedBodies: a body that is not what the route takes is 400,
// naming the field when there is one, and saves nothing.
func TestAPIMalformedBodies(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	api := e.api(t, nil, e.token(t, "admin"))
	vp := fmt.Sprintf("/virtual/%d", cfg.Virtuals[0].ID)
	before := fileSum(t, e.store.Path())
	for _, tc := range []struct {
		method, path, body string
		hdr                []string
		field, says        string
	}{
		{"PUT", "/global", `{"network": "nat",`, nil, "", "ends in the middle"},
		{"PUT", "/global", `{"network": nat}`, nil, "", "not valid JSON"},
		{"PUT", "/global", ``, nil, "", "empty"},
		{"PUT", "/global", `[]`, nil, "", "send a JSON object"},
		{"PUT", "/global", `{"network": "nat"} {"network": "tunnel"}`, nil, "", "more than one"},
		{"PUT", "/global", `{"primary": 1}`, nil, "primary", "primary: number is not allowed here: use a string"},
		{"PUT", "/global", `{"tcp_timeout": "900"}`, nil, "tcp_timeout", "use a whole number"},
		{"PUT", "/global", `{"tcp_timeout": 1.5}`, nil, "tcp_timeout", "use a whole number"},
		{"PUT", "/global", `{"hard_shutdown": "yes"}`, nil, "hard_shutdown", "true or false"},
		{"PUT", "/global", `{"bogus": 1}`, nil, "bogus", `"bogus" is not a field`},
		{"PUT", "/redundancy", `{"keepalive": true}`, nil, "keepalive", "a number or a string"},
		{"PUT", vp, `{"reals": []}`, nil, "reals", `"reals" is not a field`},
		{"PUT", vp, `{"port": [80]}`, nil, "port", "a number or a string"},
		{"PUT", "/global", `{"network": "nat"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, "", "send JSON"},
		{"PUT", "/global", `{"network": "nat"}`, []string{"If-Match", "yesterday"}, "", "is not a serial"},
		{"PUT", "/global", `{"network": "nat", "serial": 3}`, []string{"If-Match", `"2"`}, "serial", "differ"},
		{"POST", vp + "/activate", `{"active": true}`, nil, "active", `"active" is not a field`},
		{"DELETE", vp, `{"serial": "2"}`, nil, "serial", "use a whole number"},
		{"POST", "/history/1/restore", `nonsense`, nil, "", "not valid JSON"},
		{"PUT", "/config.cf", "  \n", nil, "", "empty"},
		{"GET", "/history?limit=5000", "", nil, "limit", "1-1000"},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+"/api/v1"+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+api.token)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		a := do(t, e.client(t), req)
		if a.code != http.StatusBadRequest {
			t.Errorf("%s %s %s = %d, want 400: %s", tc.method, tc.path, tc.body, a.code, a.body)
			continue
		}
		ref := refusal(t, a)
		if !strings.Contains(ref.Error, tc.says) {
			t.Errorf("%s %s: the error %q does not say %q", tc.method, tc.body, ref.Error, tc.says)
		}
		if tc.field != "" && (len(ref.Fields) != 1 || ref.Fields[0].Field != tc.field) {
			t.Errorf("%s %s: fields %+v, want %s named", tc.method, tc.body, ref.Fields, tc.field)
		}
	}
	if fileSum(t, e.store.Path()) != before {
		t.Error("malformed requests changed the database")
	}
}

// TestAPIConflict: a write based on an older serial is refused with 409,
// saying who saved what since, and saves nothing; read again, it goes
// through. A write without a serial applies to the current configuration.
func TestAPIConflict(t *testing.T) {
	e := newEnv(t, true)
	one, two := e.api(t, e.login(t), ""), e.api(t, nil, e.token(t, "admin"))
	serial := e.config(t).Serial
	one.expect(http.StatusOK, "PUT", "/global", map[string]any{"serial": serial, "network": "nat", "tcp_timeout": 900})
	for _, tc := range []struct {
		body map[string]any
		hdr  []string
	}{
		{map[string]any{"serial": serial, "network": "tunnel", "udp_timeout": 60}, nil},
		{map[string]any{"network": "tunnel", "udp_timeout": 60}, []string{"If-Match", etag(serial)}},
	} {
		before := fileSum(t, e.store.Path())
		a := two.call("PUT", "/global", tc.body, tc.hdr...)
		ref := refusal(t, a)
		if a.code != http.StatusConflict || ref.Base != serial || ref.Current == nil || ref.Current.Serial != serial+1 ||
			ref.Current.Author != "admin" || !strings.Contains(ref.Error, "changed the configuration") {
			t.Fatalf("a write on an old serial = %d: %s", a.code, a.body)
		}
		if fileSum(t, e.store.Path()) != before {
			t.Error("a refused write changed the database")
		}
	}
	if g := e.config(t).Global; g.Network != config.NAT || g.TCPTimeout != 900 || g.UDPTimeout != 0 {
		t.Errorf("the second write overwrote the first: %+v", g)
	}
	// Read again, written again.
	a := two.expect(http.StatusOK, "GET", "/global", nil)
	two.expect(http.StatusOK, "PUT", "/global", map[string]any{"network": "tunnel"}, "If-Match", a.header.Get("ETag"))
	// Without a serial: applied to whatever is current, keeping the rest.
	one.expect(http.StatusOK, "PUT", "/global", map[string]any{"udp_timeout": 60})
	if g := e.config(t).Global; g.Network != config.Tunnel || g.TCPTimeout != 900 || g.UDPTimeout != 60 {
		t.Errorf("after three writes: %+v", g)
	}
	// Deletes, activations and restores take the serial too.
	e.seed(t)
	cur := e.config(t)
	for _, rq := range [][2]string{
		{"DELETE", fmt.Sprintf("/virtual/%d", cur.Virtuals[0].ID)},
		{"POST", fmt.Sprintf("/virtual/%d/activate", cur.Virtuals[0].ID)},
		{"POST", fmt.Sprintf("/virtual/%d/real/%d/deactivate", cur.Virtuals[0].ID, cur.Virtuals[0].Reals[0].ID)},
		{"POST", "/history/1/restore"},
		{"POST", "/redundancy/reset"},
		{"PUT", "/config.cf"},
	} {
		var body any = map[string]any{"serial": cur.Serial - 1}
		if rq[1] == "/config.cf" {
			body = "network = nat\n"
		}
		if a := two.call(rq[0], rq[1], body, "If-Match", etag(cur.Serial-1)); a.code != http.StatusConflict {
			t.Errorf("%s %s on an old serial = %d, want 409", rq[0], rq[1], a.code)
		}
	}
	if e.config(t).Serial != cur.Serial {
		t.Error("writes on an old serial changed the configuration")
	}
}

// TestAPIStandbyIsReadOnly: on the standby director every configuration
// write of the API is refused with 409 and the active's console, reads
// work, and tokens (local to each director) can still be managed.
func TestAPIStandbyIsReadOnly(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	e.console.failover = fixedFailover{Pair: true, Role: failover.Standby, PeerConsole: "http://192.0.2.1:3636"}
	sess := e.api(t, e.login(t), "")
	api := e.api(t, nil, e.token(t, "admin"))
	before := fileSum(t, e.store.Path())
	writes := 0
	for _, rt := range apiRoutesOf(t) {
		method, p, _ := strings.Cut(rt, " ")
		if method == "GET" || strings.HasPrefix(p, "/tokens") {
			continue
		}
		writes++
		var body any = map[string]any{"serial": cfg.Serial}
		if p == "/config.cf" {
			body = "network = nat\n"
		}
		a := api.call(method, concrete(p, vid, rid, 1), body)
		ref := refusal(t, a)
		if a.code != http.StatusConflict || !strings.Contains(ref.Error, "standby") || ref.ActiveConsole != "http://192.0.2.1:3636" {
			t.Errorf("%s %s on the standby = %d: %s", method, p, a.code, a.body)
		}
	}
	if writes < 15 {
		t.Fatalf("only %d write routes", writes)
	}
	if fileSum(t, e.store.Path()) != before {
		t.Fatal("the standby's database changed")
	}
	api.expect(http.StatusOK, "GET", "/config", nil)
	api.expect(http.StatusOK, "GET", "/status", nil)
	tk := obj(t, sess.expect(http.StatusCreated, "POST", "/tokens", map[string]any{"name": "on the standby", "scope": "read"}))
	api.expect(http.StatusOK, "DELETE", fmt.Sprintf("/tokens/%d", num(tk["id"])), nil)

	e.console.failover = fixedFailover{Pair: true, Role: failover.Active}
	api.expect(http.StatusOK, "POST", fmt.Sprintf("/virtual/%d/deactivate", vid), map[string]any{"serial": cfg.Serial})
}

// TestAPIImportRefusesWithLines: a bad lvs.cf is refused with the line and
// column of each problem, as the console's import says them, and saves
// nothing.
func TestAPIImportRefusesWithLines(t *testing.T) {
	e := newEnv(t, true)
	api := e.api(t, nil, e.token(t, "admin"))
	example, err := os.ReadFile(filepath.Join("..", "lvs", "lvscf", "testdata", "piranha-example.cf"))
	if err != nil {
		t.Fatal(err)
	}
	a := api.expect(http.StatusOK, "PUT", "/config.cf", string(example))
	if c := obj(t, a); len(c["virtuals"].([]any)) != 1 || c["global"].(map[string]any)["primary"] != "192.168.1.10" {
		t.Fatalf("import of the example = %s", a.body)
	}
	if revs, _ := e.store.Revisions(context.Background(), 0, 1); !strings.HasPrefix(revs[0].Summary, "api: import of lvs.cf") {
		t.Errorf("the import is recorded as %q", revs[0].Summary)
	}

	bad := "primary = 192.168.1.10\nvirtual www {\n  address = 192.168.1.100 eth0:1\n  weight = 3\n  port = 70000\n}\nbogus = 1\n"
	_, perr := lvscf.Parse(strings.NewReader(bad))
	want, ok := perr.(lvscf.Errors)
	if !ok || len(want) < 3 {
		t.Fatalf("the bad file parses with %v", perr)
	}
	before := fileSum(t, e.store.Path())
	a = api.call("PUT", "/config.cf", bad)
	ref := refusal(t, a)
	if a.code != http.StatusUnprocessableEntity || len(ref.Lines) != len(want) {
		t.Fatalf("bad import = %d: %s", a.code, a.body)
	}
	for i, w := range want {
		got := ref.Lines[i]
		if got.Line != w.Line || got.Column != w.Col || got.Key != w.Key || got.Message != w.Msg || !strings.Contains(ref.Error, w.Error()) {
			t.Errorf("problem %d = %+v, the console says %q", i, got, w.Error())
		}
	}
	if ref.Lines[0].Line != 4 || !strings.Contains(ref.Error, "line 4, column") {
		t.Errorf("the first problem is not on line 4: %s", a.body)
	}
	if fileSum(t, e.store.Path()) != before {
		t.Error("a refused import changed the database")
	}
}

type apiEngine0 engine.Status

func (s apiEngine0) Status() engine.Status { return engine.Status(s) }

type apiHealth0 struct{}

func (apiHealth0) Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool) {
	if !rs.Active {
		return engine.ServerHealth{}, false
	}
	return engine.ServerHealth{State: "down", Reason: "connect refused", Since: time.Unix(1700000000, 0), Weight: 0}, true
}

func (apiHealth0) Events(n int) []engine.Event {
	return []engine.Event{{Time: time.Now().Add(time.Hour), Server: "10.0.0.1:80", From: "up", To: "down", Reason: "connect refused"}}
}

// TestAPIStatus: the status has what CONTROL/MONITORING shows from each
// source given, and leaves out the parts whose source does not run.
func TestAPIStatus(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	if _, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtuals[0].Active, c.Virtuals[0].Reals[0].Active = true, true
		c.Virtuals[0].Reals = append(c.Virtuals[0].Reals, config.RealServer{Name: "web2", Address: netip.MustParseAddr("10.0.0.2"), Weight: 1})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(t)
	api := e.api(t, nil, e.token(t, "admin"))

	// No sources: configuration only.
	s := obj(t, api.expect(http.StatusOK, "GET", "/status", nil))
	if s["engine"] != nil || s["failover"] != nil || num(s["serial"]) != cfg.Serial {
		t.Errorf("status without sources = %v", s)
	}
	r0 := s["virtuals"].([]any)[0].(map[string]any)["reals"].([]any)[0].(map[string]any)
	if r0["health"] != nil || r0["address"] != "10.0.0.1:80" || r0["fwd"] != "direct" {
		t.Errorf("real server without checks = %v", r0)
	}

	st := engine.Status{Running: true, Available: false, Serial: cfg.Serial, Reason: "IPVS is not available in this kernel",
		Desired: engine.Desired(cfg, engine.Configured{}), Changes: []string{"added TCP 192.0.2.10:80"}}
	fs := failover.Status{Pair: true, Role: failover.Active, Reason: "peer is standby", Primary: true,
		Self: netip.MustParseAddr("192.0.2.1"), Serial: cfg.Serial, InSync: true, VIPs: []string{"192.0.2.10/24 on eth0"}}
	fs.Pulse.Peer = pulse.PeerStatus{Addr: netip.MustParseAddr("192.0.2.2"), Role: pulse.Standby, Heard: true, Serial: cfg.Serial, LastHeard: time.Now()}
	fs.Pulse.Counters = pulse.Counters{Sent: 10, Received: 9, BadAuth: 1}
	e.console.engine, e.console.health, e.console.failover = apiEngine0(st), apiHealth0{}, fixedFailover(fs)
	a := api.expect(http.StatusOK, "GET", "/status", nil)
	var got apiStatus
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Engine == nil || !got.Engine.Running || got.Engine.Live || got.Engine.Applied != cfg.Serial || len(got.Engine.Table) != 1 ||
		got.Engine.Table[0].Service != "TCP 192.0.2.10:80" || got.Engine.Table[0].Virtual != "www" || len(got.Engine.Table[0].Dests) != 1 ||
		got.Engine.Table[0].Dests[0].Address != "10.0.0.1:80" || got.Engine.Changes[0] != "added TCP 192.0.2.10:80" {
		t.Errorf("engine status = %+v", got.Engine)
	}
	reals := got.Virtuals[0].Reals
	if len(reals) != 2 || reals[0].Health == nil || reals[0].Health.State != "down" || reals[0].Health.Reason != "connect refused" || reals[1].Health != nil {
		t.Errorf("health = %+v", reals)
	}
	if f := got.Failover; f == nil || f.Role != "active" || f.Peer.Address != "192.0.2.2" || f.Peer.Role != "standby" || !f.Peer.Heard ||
		f.Heartbeats.BadAuth != 1 || f.VIPs[0] != "192.0.2.10/24 on eth0" || !f.InSync {
		t.Errorf("failover = %+v", got.Failover)
	}
	if len(got.Events) < 2 || got.Events[0].Kind != "health" || got.Events[0].Text != "up -> down: connect refused" || got.Events[1].Kind != "config" {
		t.Errorf("events = %+v", got.Events)
	}
}

// TestOpenAPIDescribesEveryRoute: static/openapi.yaml, served without a
// login, describes each route and method of the API, and nothing else.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	spec, err := static.FS.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var described []string
	pathRE := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodRE := regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):\s*$`)
	in, path := false, ""
	sc := bufio.NewScanner(bytes.NewReader(spec))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' && line[0] != '#' {
			in = strings.HasPrefix(line, "paths:")
			continue
		}
		if !in {
			continue
		}
		if m := pathRE.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := methodRE.FindStringSubmatch(line); m != nil {
			described = append(described, strings.ToUpper(m[1])+" "+path)
		}
	}
	slices.Sort(described)
	routes := apiRoutesOf(t)
	for _, r := range routes {
		if _, ok := slices.BinarySearch(described, r); !ok {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range described {
		if _, ok := slices.BinarySearch(routes, d); !ok {
			t.Errorf("openapi.yaml describes %s, which is no route", d)
		}
	}
	if !bytes.HasPrefix(spec, []byte("openapi: 3.1")) || len(described) < 25 {
		t.Errorf("openapi.yaml: %d operations", len(described))
	}

	e := newEnv(t, true)
	if a := get(t, e.client(t), e.srv.URL+"/static/openapi.yaml"); a.code != http.StatusOK || a.body != string(spec) {
		t.Errorf("/static/openapi.yaml without login = %d", a.code)
	}
}

// TestOpenAPISchemasAreTheRegistrys: the schemas of the configuration's
// resources in static/openapi.yaml have exactly the API's keys, made from
// the field registry, each with the JSON type the API takes, and an enum's
// values where the description lists them. A field added to the registry
// without its line in openapi.yaml fails here.
func TestOpenAPISchemasAreTheRegistrys(t *testing.T) {
	spec, err := static.FS.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	schemas := openAPIProperties(t, spec)
	checkSchema(t, "Global", schemas["Global"], apiGlobal)
	checkSchema(t, "Redundancy", schemas["Redundancy"], apiRedundancy)
	checkSchema(t, "Virtual", schemas["Virtual"], apiVirtual)
	checkSchema(t, "Real", schemas["Real"], apiReal)
}

// openAPIProperties reads the properties of each schema of components:
// schema name -> property -> its flow mapping ("{type: string}").
func openAPIProperties(t *testing.T, spec []byte) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	schemaRE := regexp.MustCompile(`^    ([A-Za-z]+):\s*$`)
	propRE := regexp.MustCompile(`^        ([a-z_]+): (\{.*\})\s*$`)
	in, schema, props := false, "", false
	sc := bufio.NewScanner(bytes.NewReader(spec))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "  schemas:":
			in = true
		case !in:
		case line != "" && !strings.HasPrefix(line, "    "):
			in = false
		case schemaRE.MatchString(line):
			schema, props = schemaRE.FindStringSubmatch(line)[1], false
			out[schema] = map[string]string{}
		case line == "      properties:":
			props = true
		case strings.HasPrefix(line, "      ") && !strings.HasPrefix(line, "       "):
			props = false
		case props:
			if m := propRE.FindStringSubmatch(line); m != nil {
				out[schema][m[1]] = m[2]
			}
		}
	}
	return out
}

func checkSchema[T any](t *testing.T, name string, props map[string]string, res *resource[T]) {
	t.Helper()
	if len(props) == 0 {
		t.Fatalf("openapi.yaml has no schema %s", name)
	}
	keys := res.keys()
	for _, k := range keys {
		if _, ok := props[k]; !ok {
			t.Errorf("schema %s lacks %s", name, k)
		}
	}
	for k := range props {
		if !slices.Contains(keys, k) {
			t.Errorf("schema %s has %s, which the API has not", name, k)
		}
	}
	for i := range res.typ.NumField() {
		f := res.typ.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		want := map[string]string{"bool": "type: boolean", "int": "type: integer", "int64": "type: integer",
			"flexNumber": `$ref: "#/components/schemas/FlexNumber"`, "string": "type: string"}[f.Type.Name()]
		if p, ok := props[key]; ok && !strings.Contains(p, want) {
			t.Errorf("schema %s: %s is %s, want %s", name, key, p, want)
		}
	}
	for _, rf := range res.fields {
		p, ok := props[rf.f.JSON]
		if !ok || rf.f.Kind != config.KindEnum || !strings.Contains(p, "enum: [") {
			continue
		}
		var vals []string
		for _, c := range rf.f.Choices {
			v := c.Value
			if v == "" {
				v = `""`
			}
			vals = append(vals, v)
		}
		if want := "enum: [" + strings.Join(vals, ", ") + "]"; !strings.Contains(p, want) {
			t.Errorf("schema %s: %s is %s, want %s", name, rf.f.JSON, p, want)
		}
	}
}
