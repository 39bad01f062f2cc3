package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

const (
	testSetupCode = "TEST-CODE"
	testPassword  = "correct horse"
)

type testEnv struct {
	store   *store.Store
	console *Console
	srv     *httptest.Server
	now     time.Time
}

// newEnv starts a console on a real socket over a real database; with
// admin, the user admin exists with testPassword.
func newEnv(t *testing.T, admin bool) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	guardShared(t, st)
	if admin {
		if err := st.SetPassword(ctx, "admin", testPassword); err != nil {
			t.Fatal(err)
		}
	}
	e := &testEnv{store: st, now: time.Now()}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e.console, err = New(ctx, Options{Store: st, Log: log, SetupCode: testSetupCode})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.console)
	t.Cleanup(e.srv.Close)
	return e
}

// guardShared fails t when anything changed a configuration st lent:
// pages read the store's own (SharedConfig, SharedDraft).
func guardShared(t *testing.T, st *store.Store) {
	st.GuardShared()
	t.Cleanup(func() {
		if err := st.SharedChanged(); err != nil {
			t.Error(err)
		}
	})
}

// client returns an HTTP client that keeps cookies and does not follow
// redirects, so that tests see every answer.
func (e *testEnv) client(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login returns a client logged in as admin.
func (e *testEnv) login(t testing.TB) *http.Client {
	t.Helper()
	c := e.client(t)
	resp := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}})
	if resp.code != http.StatusSeeOther {
		t.Fatalf("login answered %d: %s", resp.code, resp.body)
	}
	return c
}

type answer struct {
	code     int
	body     string
	location string
	header   http.Header
}

func do(t testing.TB, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func get(t testing.TB, c *http.Client, u string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return do(t, c, req)
}

func post(t testing.TB, c *http.Client, u string, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

func (e *testEnv) config(t *testing.T) *config.Config {
	t.Helper()
	c, err := e.store.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// applied presses APPLY on REVIEW for the user of client c, whose edits
// went to their pending changes, and returns the running configuration.
func (e *testEnv) applied(t *testing.T, c *http.Client) *config.Config {
	t.Helper()
	draft := regexp.MustCompile(`name="draft" value="(\d+)"`).FindStringSubmatch(get(t, c, e.srv.URL+"/review").body)
	if draft == nil {
		t.Fatal("REVIEW has no APPLY")
	}
	if a := post(t, c, e.srv.URL+"/review/apply", url.Values{"draft": {draft[1]}, "rollback": {"0"}}); a.code != http.StatusSeeOther {
		t.Fatalf("APPLY = %d: %s", a.code, a.body)
	}
	return e.config(t)
}

// seed gives the console a virtual server with one real server.
func (e *testEnv) seed(t *testing.T) *config.Config {
	t.Helper()
	c, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		vs := config.NewVirtual("www")
		vs.Address = netip.MustParseAddr("192.0.2.10")
		rs := config.NewReal("web1")
		rs.Address = netip.MustParseAddr("10.0.0.1")
		vs.Reals = append(vs.Reals, rs)
		c.Virtuals = append(c.Virtuals, vs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryRouteRequiresLogin walks the router, so a route added later is
// covered without anyone remembering to: without a session, no method on no
// path but the public ones does anything (CVE-2013-6492 was authentication
// on GET only).
func TestEveryRouteRequiresLogin(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	param := regexp.MustCompile(`\{(\w+)(:[^}]*)?\}`)
	var paths []string
	err := chi.Walk(e.console.mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		p := param.ReplaceAllStringFunc(route, func(m string) string {
			switch param.FindStringSubmatch(m)[1] {
			case "vid":
				return strconv.FormatInt(vid, 10)
			case "rid":
				return strconv.FormatInt(rid, 10)
			case "serial":
				return "1"
			case "tid":
				return "1"
			case "name": // a user's
				return "admin"
			}
			t.Fatalf("route %s has a parameter this test does not know", route)
			return ""
		})
		paths = append(paths, strings.ReplaceAll(p, "/*", "/console.css"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 30 {
		t.Fatalf("walked only %d routes", len(paths))
	}
	paths = append(paths, "/nope", "/virtual/999999", "/virtual/"+strconv.FormatInt(vid, 10)+"/real/999999/delete")

	c := e.client(t)
	before := e.config(t)
	checked := 0
	for _, path := range paths {
		public := publicPath(path)
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader("serial=0&active=1&name=x&user=admin"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			a := do(t, c, req)
			if public {
				if a.code >= 500 {
					t.Errorf("%s %s (public) = %d", method, path, a.code)
				}
				continue
			}
			checked++
			switch {
			case apiPath(path):
				// The API answers programs: 401 in JSON, not a redirect.
				if a.code != http.StatusUnauthorized || a.header.Get("Content-Type") != "application/json" {
					t.Errorf("%s %s without login = %d %s, want 401 in JSON", method, path, a.code, a.header.Get("Content-Type"))
				}
			case path == "/metrics":
				// Scrapers get a challenge, not the login page.
				if a.code != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s without login = %d, want 401 with a challenge", method, path, a.code)
				}
			case method == "GET", method == "HEAD":
				if a.code != http.StatusSeeOther || !strings.HasPrefix(a.location, "/login?next=") {
					t.Errorf("%s %s without login = %d %q, want 303 to /login", method, path, a.code, a.location)
				}
			default:
				if a.code != http.StatusUnauthorized {
					t.Errorf("%s %s without login = %d, want 401", method, path, a.code)
				}
			}
		}
	}
	if after := e.config(t); after.Serial != before.Serial {
		t.Errorf("requests without login changed the configuration: serial %d -> %d", before.Serial, after.Serial)
	}
	t.Logf("%d unauthenticated requests refused over %d paths", checked, len(paths))

	// The same requests with a session reach the handlers (a control that
	// the refusals above came from the session check).
	lc := e.login(t)
	if a := get(t, lc, e.srv.URL+"/virtual/"+strconv.FormatInt(vid, 10)); a.code != 200 {
		t.Errorf("logged in, GET virtual = %d", a.code)
	}
}

func TestCrossSiteRequestsRefused(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	serial := e.config(t).Serial
	form := url.Values{"serial": {strconv.FormatInt(serial, 10)}, "network": {"nat"}, "primary": {"192.0.2.1"}}
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "http://evil.example"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://sub.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/global", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		if a := do(t, c, req); a.code != http.StatusForbidden {
			t.Errorf("cross-site POST with %v = %d, want 403", h, a.code)
		}
	}
	if got := e.config(t).Serial; got != serial {
		t.Fatalf("a cross-site POST changed the configuration")
	}
	// The same POST from the console's own page goes through.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/global", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", e.srv.URL)
	if a := do(t, c, req); a.code != http.StatusSeeOther {
		t.Errorf("same-origin POST = %d: %s", a.code, a.body)
	}
	if got := e.applied(t, c); got.Serial != serial+1 || got.Global.Network != config.NAT {
		t.Errorf("same-origin POST did not save")
	}
}

// fieldError returns the message shown beside field name.
func fieldError(body, name string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(name) + `-error">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func fileSum(t *testing.T, path string) string {
	var b bytes.Buffer
	for _, f := range []string{path, path + "-wal"} {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

func TestBadFieldsShowMessagesAndSaveNothing(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	cfg := e.seed(t)
	vid := strconv.FormatInt(cfg.Virtuals[0].ID, 10)
	rid := strconv.FormatInt(cfg.Virtuals[0].Reals[0].ID, 10)
	serial := strconv.FormatInt(cfg.Serial, 10)
	cases := []struct {
		path  string
		form  url.Values
		field string
		want  string // in the message
	}{
		{"/global", url.Values{"primary": {"1.2.3"}, "network": {"direct"}}, "primary", "not an IP address"},
		{"/global", url.Values{"network": {"bogus"}}, "network", "nat, direct or tunnel"},
		{"/global", url.Values{"network": {"nat"}, "active_cmd": {"notify-send up"}}, "active_cmd", "absolute path"},
		{"/redundancy", url.Values{"backup_active": {"1"}, "backup": {"192.0.2.2"}, "keepalive": {"5"}, "deadtime": {"2"}, "heartbeat_port": {"539"}}, "deadtime", "longer than keepalive"},
		{"/redundancy", url.Values{"keepalive": {"six"}, "deadtime": {"18"}, "heartbeat_port": {"539"}}, "keepalive", "not a number of seconds"},
		{"/redundancy", url.Values{"keepalive": {"6"}, "deadtime": {"18"}, "heartbeat_port": {"70000"}}, "heartbeat_port", "1-65535"},
		{"/virtual/new", url.Values{"name": {"bad name"}, "address": {"192.0.2.20"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}}, "name", "letters, digits"},
		{"/virtual/new", url.Values{"name": {"www"}, "address": {"192.0.2.20"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}}, "name", "already the name"},
		{"/virtual/" + vid, url.Values{"name": {"www"}, "address": {"192.0.2.10"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"fastest"}, "timeout": {"6"}, "reentry": {"15"}}, "scheduler", "rr wrr lc"},
		{"/virtual/" + vid + "/real/" + rid, url.Values{"name": {"web1"}, "address": {"10.0.0.1"}, "weight": {"-1"}}, "weight", "0-2147483647"},
		{"/virtual/" + vid + "/real/new", url.Values{"name": {"web2"}, "address": {"2001:db8::2"}, "weight": {"1"}}, "address", "address family"},
		{"/virtual/" + vid + "/scripts", url.Values{"expect": {"(unclosed"}, "use_regex": {"1"}}, "expect", "regular expression"},
		{"/virtual/" + vid + "/scripts", url.Values{"check": {"https"}, "http_status": {"2xx"}}, "http_status", "status code or range"},
		{"/virtual/" + vid + "/scripts", url.Values{"check": {"udp"}, "send": {""}}, "send", "required by a udp check"},
		{"/virtual/" + vid + "/scripts", url.Values{"check": {"http"}, "check_failures": {"500"}}, "check_failures", "0-100"},
	}
	for _, tc := range cases {
		t.Run(tc.path+"/"+tc.field, func(t *testing.T) {
			before := fileSum(t, e.store.Path())
			tc.form.Set("serial", serial)
			a := post(t, c, e.srv.URL+tc.path, tc.form)
			if a.code != http.StatusUnprocessableEntity {
				t.Fatalf("POST %s = %d, want 422", tc.path, a.code)
			}
			if msg := fieldError(a.body, tc.field); !strings.Contains(msg, tc.want) {
				t.Errorf("message beside %s = %q, want it to say %q", tc.field, msg, tc.want)
			}
			for k, vs := range tc.form {
				if k == "serial" || strings.HasPrefix(k, "use_") {
					continue
				}
				if !strings.Contains(a.body, `value="`+htmlEscape(vs[0])+`"`) {
					t.Errorf("the form does not show %s = %q again", k, vs[0])
				}
			}
			if !strings.Contains(a.body, "Nothing was saved") {
				t.Errorf("the page does not say nothing was saved")
			}
			if after := fileSum(t, e.store.Path()); after != before {
				t.Errorf("the database changed")
			}
		})
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestConcurrentEditIsRefused(t *testing.T) {
	e := newEnv(t, true)
	tab1, tab2 := e.login(t), e.login(t)
	serial := strconv.FormatInt(e.config(t).Serial, 10)
	a := post(t, tab1, e.srv.URL+"/global", url.Values{"serial": {serial}, "network": {"nat"}, "tcp_timeout": {"900"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("first edit = %d %s", a.code, a.body)
	}
	e.applied(t, tab1) // the first is live: the second was made on what ran before
	a = post(t, tab2, e.srv.URL+"/global", url.Values{"serial": {serial}, "network": {"tunnel"}, "udp_timeout": {"60"}})
	if a.code != http.StatusConflict || !strings.Contains(a.body, "changed the configuration") || !strings.Contains(a.body, `value="60"`) {
		t.Fatalf("second edit on the old serial = %d, want 409 with the values kept:\n%s", a.code, a.body)
	}
	if g := e.config(t).Global; g.Network != config.NAT || g.TCPTimeout != 900 || g.UDPTimeout != 0 {
		t.Errorf("the second edit overwrote the first: %+v", g)
	}
	// The refused form carries the new serial, so ACCEPT again applies it.
	m := regexp.MustCompile(`name="serial" value="(\d+)"`).FindStringSubmatch(a.body)
	if m == nil || m[1] == serial {
		t.Fatalf("the refused form carries serial %v", m)
	}
	a = post(t, tab2, e.srv.URL+"/global", url.Values{"serial": {m[1]}, "network": {"tunnel"}, "udp_timeout": {"60"}})
	if a.code != http.StatusSeeOther || e.applied(t, tab2).Global.Network != config.Tunnel {
		t.Errorf("accepting again = %d", a.code)
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, true)
	c := e.client(t)
	for i := range freeFailures {
		a := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {"wrong" + strconv.Itoa(i)}})
		if a.code != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong user name or password") {
			t.Fatalf("failure %d = %d", i, a.code)
		}
	}
	a := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}})
	if a.code != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("after %d failures the right password = %d, want 429 with Retry-After", freeFailures, a.code)
	}
	// Unknown users are refused the same way as wrong passwords.
	e2 := newEnv(t, true)
	a = post(t, e2.client(t), e2.srv.URL+"/login", url.Values{"user": {"nobody"}, "password": {testPassword}})
	if a.code != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong user name or password") {
		t.Errorf("unknown user = %d", a.code)
	}
}

func TestFirstTimeSetup(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	if a := get(t, c, e.srv.URL+"/login"); a.code != http.StatusSeeOther || a.location != "/setup" {
		t.Errorf("login page without users = %d %q, want the setup page", a.code, a.location)
	}
	a := post(t, c, e.srv.URL+"/setup", url.Values{"code": {"AAAA-BBBB"}, "user": {"admin"}, "password": {"long enough"}, "password2": {"long enough"}})
	if a.code != http.StatusUnprocessableEntity || fieldError(a.body, "code") == "" {
		t.Errorf("wrong code = %d", a.code)
	}
	a = post(t, c, e.srv.URL+"/setup", url.Values{"code": {testSetupCode}, "user": {"admin"}, "password": {"long enough"}, "password2": {"different!"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(fieldError(a.body, "password2"), "differ") {
		t.Errorf("mismatched passwords = %d", a.code)
	}
	if has, _ := e.store.HasUsers(context.Background()); has {
		t.Fatal("a refused setup created a user")
	}
	a = post(t, c, e.srv.URL+"/setup", url.Values{"code": {strings.ToLower(testSetupCode)}, "user": {"root"}, "password": {"long enough"}, "password2": {"long enough"}})
	if a.code != http.StatusSeeOther || a.location != "/control" {
		t.Fatalf("setup = %d %q: %s", a.code, a.location, a.body)
	}
	if a := get(t, c, e.srv.URL+"/control"); a.code != 200 || !strings.Contains(a.body, "root") {
		t.Errorf("after setup the console = %d", a.code)
	}
	// Setup is closed for good.
	other := e.client(t)
	if a := post(t, other, e.srv.URL+"/setup", url.Values{"code": {testSetupCode}, "user": {"evil"}, "password": {"long enough"}, "password2": {"long enough"}}); a.code != http.StatusForbidden {
		t.Errorf("second setup = %d, want 403", a.code)
	}
	if a := get(t, other, e.srv.URL+"/setup"); a.code != http.StatusSeeOther || a.location != "/login" {
		t.Errorf("setup page after setup = %d %q", a.code, a.location)
	}
	if err := e.store.CheckPassword(context.Background(), "evil", "long enough"); err == nil {
		t.Error("a second administrator was created")
	}
}

func TestSessionCookieAndLogout(t *testing.T) {
	e := newEnv(t, true)
	c := e.client(t)
	a := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}, "next": {"//evil.example/"}})
	if a.location != "/control" {
		t.Errorf("login with an off-site next went to %q", a.location)
	}
	sc := a.header.Get("Set-Cookie")
	for _, want := range []string{"lvsconsole=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if a.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	u, _ := url.Parse(e.srv.URL)
	old := c.Jar.Cookies(u)
	if a := post(t, c, e.srv.URL+"/logout", nil); a.code != http.StatusSeeOther {
		t.Fatalf("logout = %d", a.code)
	}
	// The old cookie no longer opens anything.
	replay := e.client(t)
	replay.Jar.SetCookies(u, old)
	if a := get(t, replay, e.srv.URL+"/control"); a.code != http.StatusSeeOther {
		t.Errorf("a logged-out session's cookie still works: %d", a.code)
	}

	// Under TLS the cookie is Secure and host-only.
	st := e.store
	tc, err := New(context.Background(), Options{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Secure: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(tc)
	defer ts.Close()
	cl := ts.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	a = post(t, cl, ts.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}})
	if sc := a.header.Get("Set-Cookie"); !strings.HasPrefix(sc, "__Host-lvsconsole=") || !strings.Contains(sc, "Secure") {
		t.Errorf("cookie under TLS = %q", sc)
	}
}

func TestWalkThroughOverHTTP(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	s := func() string { return strconv.FormatInt(e.config(t).Serial, 10) }
	// Each change is applied at once, as an admin who APPLYs after each.
	write := func(path string, v url.Values) answer {
		t.Helper()
		a := post(t, c, e.srv.URL+path, v)
		if _, err := e.store.Draft(context.Background(), "admin"); err == nil {
			e.applied(t, c)
		}
		return a
	}

	a := post(t, c, e.srv.URL+"/virtual/new", url.Values{"serial": {s()}, "name": {"www"}, "address": {"192.0.2.80"}, "device": {"eth0:1"},
		"protocol": {"tcp"}, "port": {"http"}, "scheduler": {"wrr"}, "timeout": {"6"}, "reentry": {"15"}, "load_monitor": {"none"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("add virtual = %d: %s", a.code, a.body)
	}
	if page := get(t, c, e.srv.URL+a.location); !strings.Contains(page.body, "Virtual server www added") {
		t.Errorf("the next page does not say what happened")
	}
	if !strings.HasPrefix(a.location, "/virtual/-") || !strings.HasSuffix(a.location, "/real") {
		t.Errorf("after ADD the browser goes to %q, want the new entry's real servers (a provisional id)", a.location)
	}
	vs := e.applied(t, c).Virtuals[0]
	if vs.Port != 80 || vs.Scheduler != "wrr" || vs.Active || vs.Send != config.DefaultSend {
		t.Errorf("new virtual server = %+v", vs)
	}
	vid := strconv.FormatInt(vs.ID, 10)
	// Activating a virtual server with a placeholder address is refused with the reason.
	a = write("/virtual/new", url.Values{"serial": {s()}, "name": {"later"}, "protocol": {"tcp"}, "port": {"443"},
		"scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}, "address": {"0.0.0.0"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("add a placeholder = %d: %s", a.code, a.body)
	}
	later := strconv.FormatInt(e.config(t).Virtuals[1].ID, 10)
	a = write("/virtual/"+later+"/activate", url.Values{"serial": {s()}, "active": {"1"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(a.body, "placeholder") {
		t.Errorf("activating a placeholder = %d", a.code)
	}
	a = write("/virtual/"+later+"/delete", url.Values{"serial": {s()}})
	if a.code != http.StatusSeeOther || len(e.config(t).Virtuals) != 1 {
		t.Errorf("delete = %d", a.code)
	}

	for i, addr := range []string{"10.0.0.1", "10.0.0.2"} {
		a = write("/virtual/"+vid+"/real/new", url.Values{"serial": {s()}, "name": {"web" + strconv.Itoa(i+1)},
			"address": {addr}, "weight": {"3"}, "active": {"1"}})
		if a.code != http.StatusSeeOther {
			t.Fatalf("add real = %d: %s", a.code, a.body)
		}
	}
	rid := strconv.FormatInt(e.config(t).Virtuals[0].Reals[1].ID, 10)
	a = write("/virtual/"+vid+"/real/"+rid+"/activate", url.Values{"serial": {s()}, "active": {"0"}})
	if a.code != http.StatusSeeOther || e.config(t).Virtuals[0].Reals[1].Active {
		t.Errorf("deactivate real = %d", a.code)
	}
	a = write("/virtual/"+vid+"/activate", url.Values{"serial": {s()}, "active": {"1"}})
	if a.code != http.StatusSeeOther || !e.config(t).Virtuals[0].Active {
		t.Errorf("activate virtual = %d %s", a.code, a.body)
	}
	// MONITORING SCRIPTS: a blank button clears the field on the form only.
	a = write("/virtual/"+vid+"/scripts", url.Values{"serial": {s()}, "send": {"HEAD / HTTP/1.0\\r\\n\\r\\n"}, "expect": {"HTTP/1.[01] 200"}, "blank": {"send"}})
	if a.code != 200 || strings.Contains(a.body, "HEAD /") || e.config(t).Virtuals[0].Send != config.DefaultSend {
		t.Errorf("BLANK SEND = %d", a.code)
	}
	a = write("/virtual/"+vid+"/scripts", url.Values{"serial": {s()}, "send": {"HEAD / HTTP/1.0\\r\\n\\r\\n"}, "expect": {"HTTP/1.[01] 200"}, "use_regex": {"1"}})
	if got := e.config(t).Virtuals[0]; a.code != http.StatusSeeOther || got.Send != `HEAD / HTTP/1.0\r\n\r\n` || !got.UseRegex {
		t.Errorf("save scripts = %d, %+v", a.code, got)
	}
	a = write("/redundancy/reset", url.Values{"serial": {s()}})
	if a.code != http.StatusSeeOther && a.code != http.StatusOK {
		t.Errorf("RESET = %d", a.code)
	}
	for _, page := range []string{"/control", "/global", "/redundancy", "/virtual", "/virtual/" + vid, "/virtual/" + vid + "/real",
		"/virtual/" + vid + "/real/" + rid, "/virtual/" + vid + "/scripts", "/virtual/new", "/virtual/" + vid + "/real/new", "/history", "/history/1", "/account"} {
		if a := get(t, c, e.srv.URL+page); a.code != 200 {
			t.Errorf("GET %s = %d", page, a.code)
		}
	}
	if a := get(t, c, e.srv.URL+"/control"); !strings.Contains(a.body, "web1") || !strings.Contains(a.body, "TCP 192.0.2.80:80") {
		t.Errorf("the control page does not show the table")
	}
}

func multipartFile(t *testing.T, name, content, serial string) (*bytes.Buffer, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("serial", serial)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte(content))
	mw.Close()
	return &b, mw.FormDataContentType()
}

func TestImportExportAndRestore(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	example, err := os.ReadFile(filepath.Join("..", "lvs", "lvscf", "testdata", "piranha-example.cf"))
	if err != nil {
		t.Fatal(err)
	}
	upload := func(name, content string) answer {
		body, ct := multipartFile(t, name, content, strconv.FormatInt(e.config(t).Serial, 10))
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/import", body)
		req.Header.Set("Content-Type", ct)
		return do(t, c, req)
	}
	a := follow(t, c, e.srv.URL, upload("lvs.cf", string(example)))
	if a.code != http.StatusOK || !strings.Contains(a.body, "no peer secret") { // backup_active = 1
		t.Fatalf("import = %d: %s", a.code, a.body)
	}
	cfg := e.applied(t, c)
	if len(cfg.Virtuals) != 1 || cfg.Virtuals[0].Name != "www" || len(cfg.Virtuals[0].Reals) != 2 {
		t.Fatalf("imported %+v", cfg.Virtuals)
	}
	a = upload("bad.cf", "primary = 192.168.1.10\nvirtual www {\n  address = 192.168.1.100 eth0:1\n  weight = 3\n}\n")
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(a.body, "line 4") {
		t.Errorf("bad import = %d: %s", a.code, a.body)
	}
	if e.config(t).Serial != cfg.Serial {
		t.Errorf("a refused import changed the configuration")
	}
	a = get(t, c, e.srv.URL+"/export")
	if a.code != 200 || !strings.Contains(a.body, "virtual www {") || !strings.Contains(a.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("export = %d %q", a.code, a.header.Get("Content-Disposition"))
	}
	hist := get(t, c, e.srv.URL+"/history")
	if !strings.Contains(hist.body, "import of lvs.cf") {
		t.Errorf("history does not show the import")
	}
	a = post(t, c, e.srv.URL+"/history/1/restore", url.Values{"serial": {strconv.FormatInt(cfg.Serial, 10)}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("restore = %d: %s", a.code, a.body)
	}
	if a.location != "/review" {
		t.Errorf("RESTORE goes to %s, want REVIEW", a.location)
	}
	if got := e.applied(t, c); len(got.Virtuals) != 0 || got.Serial != cfg.Serial+1 {
		t.Errorf("after restoring revision 1: %d virtual servers, serial %d", len(got.Virtuals), got.Serial)
	}
	if a := get(t, c, e.srv.URL+"/export?serial="+strconv.FormatInt(cfg.Serial, 10)); !strings.Contains(a.body, "virtual www {") {
		t.Errorf("export of an old revision lacks its content")
	}
}
