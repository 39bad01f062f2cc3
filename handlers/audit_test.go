package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// testClock is a console clock a test moves.
type testClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.mu.Unlock()
}

func auditEntries(t *testing.T, e *testEnv, f store.AuditFilter) []store.AuditEntry {
	t.Helper()
	f.Limit = store.MaxAuditLimit
	es, err := e.store.AuditQuery(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestAuditRecordsEveryKind performs each action the trail records, over
// HTTP where there is a route for it, and looks for its entry: who, from
// where, what; every kind of store.AuditKinds is among them.
func TestAuditRecordsEveryKind(t *testing.T) {
	clock := &testClock{at: time.Now()}
	e := newEnvWith(t, true, func(o *Options) { o.Now, o.RollbackUnit = clock.now, time.Millisecond })
	ctx := context.Background()
	bearer := func(token, method, path string) answer {
		req, _ := http.NewRequest(method, e.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return do(t, e.client(t), req)
	}
	example, err := os.ReadFile(filepath.Join("..", "lvs", "lvscf", "testdata", "piranha-example.cf"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		c         *http.Client
		token     string
		sshForget string
	)
	steps := []struct {
		name   string
		do     func()
		actor  string
		kind   string
		detail string // a part of the entry's detail
		client string // "" is 127.0.0.1; "-" none
	}{
		{"wrong password", func() {
			post(t, e.client(t), e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {"wrong"}})
		}, "admin", store.AuditLoginFailed, "wrong user name or password", ""},
		{"login", func() { c = e.login(t) }, "admin", store.AuditLogin, "", ""},
		{"token created", func() {
			a := follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/tokens", url.Values{"name": {"ci"}, "scope": {"admin"}}))
			token = regexp.MustCompile(`id="new-token">(lvs_[A-Za-z0-9_-]{43})<`).FindStringSubmatch(a.body)[1]
		}, "admin", store.AuditTokenCreated, `"ci" (admin) for admin`, ""},
		{"token used", func() {
			if a := bearer(token, http.MethodGet, "/api/v1/config"); a.code != http.StatusOK {
				t.Fatalf("GET with the token = %d", a.code)
			}
		}, "token ci", store.AuditTokenUsed, `"ci" of admin`, ""},
		{"direct API write", func() {
			cur := e.config(t)
			req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/api/v1/global", strings.NewReader(`{"tcp_timeout": 77}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("If-Match", fmt.Sprintf(`"%d"`, cur.Serial))
			if a := do(t, e.client(t), req); a.code != http.StatusOK {
				t.Fatalf("PUT /api/v1/global = %d: %s", a.code, a.body)
			}
		}, "admin", store.AuditApply, "serial 2", ""},
		{"token revoked", func() {
			follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/tokens/1/revoke", nil))
		}, "admin", store.AuditTokenRevoked, "token 1", ""},
		{"peer secret", func() {
			follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/redundancy/secret", url.Values{"action": {"generate"}}))
		}, "admin", store.AuditSecret, "", ""},
		{"import and APPLY", func() {
			body, ct := multipartFile(t, "lvs.cf", string(example), strconv.FormatInt(e.config(t).Serial, 10))
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/import", body)
			req.Header.Set("Content-Type", ct)
			follow(t, c, e.srv.URL, do(t, c, req))
			e.applied(t, c)
		}, "admin", store.AuditImport, "import of lvs.cf", ""},
		{"restore and APPLY", func() {
			follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/history/1/restore", url.Values{"serial": {strconv.FormatInt(e.config(t).Serial, 10)}}))
			e.applied(t, c)
		}, "admin", store.AuditRestore, "restored revision 1", ""},
		{"account password", func() {
			a := post(t, c, e.srv.URL+"/account", url.Values{"current": {testPassword}, "password": {"another long one"}, "password2": {"another long one"}})
			if a.code != http.StatusSeeOther {
				t.Fatalf("password change = %d", a.code)
			}
		}, "admin", store.AuditUser, "password set for admin", ""},
		{"user added", func() {
			mustRedirect(t, "add", post(t, c, e.srv.URL+"/users", url.Values{"name": {"bob"}, "role": {"viewer"},
				"password": {"bob's password"}, "password2": {"bob's password"}}))
		}, "admin", store.AuditUser, "added bob as viewer", ""},
		{"role changed", func() {
			mustRedirect(t, "role", post(t, c, e.srv.URL+"/users/bob/role", url.Values{"role": {"operator"}}))
		}, "admin", store.AuditUser, "role of bob: viewer -> operator", ""},
		{"user disabled", func() { mustRedirect(t, "disable", post(t, c, e.srv.URL+"/users/bob/disable", nil)) },
			"admin", store.AuditUser, "disabled bob", ""},
		{"user enabled", func() { mustRedirect(t, "enable", post(t, c, e.srv.URL+"/users/bob/enable", nil)) },
			"admin", store.AuditUser, "enabled bob", ""},
		{"password reset by an admin", func() {
			mustRedirect(t, "reset", post(t, c, e.srv.URL+"/users/password", url.Values{"user": {"bob"},
				"password": {"bob's new password"}, "password2": {"bob's new password"}}))
		}, "admin", store.AuditUser, "password set for bob", ""},
		{"user removed", func() { mustRedirect(t, "remove", post(t, c, e.srv.URL+"/users/bob/remove", nil)) },
			"admin", store.AuditUser, "removed bob (operator)", ""},
		{"APPLY with rollback, not confirmed", func() {
			body, ct := multipartFile(t, "lvs.cf", string(example), strconv.FormatInt(e.config(t).Serial, 10))
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/import", body)
			req.Header.Set("Content-Type", ct)
			a := follow(t, c, e.srv.URL, do(t, c, req))
			draft := regexp.MustCompile(`name="draft" value="(\d+)"`).FindStringSubmatch(a.body)
			if draft == nil {
				t.Fatalf("REVIEW has no APPLY:\n%s", a.body)
			}
			mustRedirect(t, "APPLY", post(t, c, e.srv.URL+"/review/apply", url.Values{"draft": {draft[1]}, "rollback": {"1"}}))
			// What serve's rollbacks stage does at the deadline (1 ms).
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, _, err := e.store.RollBack(ctx)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no rollback: %v", err)
				}
				time.Sleep(time.Millisecond) // polling for the deadline, which is the store's clock
			}
		}, store.RollbackAuthor, store.AuditRollback, "rolled back automatically", "-"},
		{"session expired", func() {
			// The store meets a session past its expiry (TestAuditSessionExpired
			// does it over HTTP, in a second of real time).
			pol := store.SessionPolicy{Idle: time.Hour, Absolute: 0}
			tok, err := e.store.CreateSession(ctx, "admin", pol)
			if err != nil {
				t.Fatal(err)
			}
			e.store.Session(ctx, tok, pol)
		}, "admin", store.AuditSessionExpired, "session of admin ended", "-"},
		{"login throttled", func() {
			c2 := clientFrom("127.0.0.2")
			for i := range freeFailures + 1 {
				post(t, c2, e.srv.URL+"/login", url.Values{"user": {"mallory"}, "password": {"guess" + strconv.Itoa(i)}})
			}
			clock.add(time.Minute)
			e.console.flushThrottled(ctx)
		}, store.SystemActor, store.AuditLoginThrottled, "1 logins refused", "127.0.0.2"},
		{"accounts taken from the active director", func() {
			// What the standby writes when the sync changes its users
			// (lvs/failover's tests do it between two directors).
			a, err := e.store.Accounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			zed := slices.Clone(a.Users.Rows[0])
			zed[0], zed[2] = "zed", "viewer"
			a.Users.Rows = append(a.Users.Rows, zed)
			if _, err := e.store.AdoptAccounts(store.WithActor(ctx, store.Actor{Name: "peer 192.0.2.1"}), a); err != nil {
				t.Fatal(err)
			}
		}, "peer 192.0.2.1", store.AuditAccounts, "added zed as viewer", "-"},
		{"host key pinned", func() {
			// What the uptime monitor's first connection does (sshload
			// through the store's HostKeys), to a real server of its own.
			cfg, err := e.store.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
				vs := config.NewVirtual("sshmon")
				vs.Address, vs.LoadMonitor = netip.MustParseAddr("192.0.2.99"), "uptime"
				rs := config.NewReal("far")
				rs.Address = netip.MustParseAddr("10.9.9.9")
				vs.Reals = append(vs.Reals, rs)
				c.Virtuals = append(c.Virtuals, vs)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sshVS := cfg.Virtuals[len(cfg.Virtuals)-1]
			sshForget = fmt.Sprintf("%s/virtual/%d/real/%d/hostkey/forget", e.srv.URL, sshVS.ID, sshVS.Reals[0].ID)
			if err := e.store.Pin("10.9.9.9:22", testHostKey); err != nil {
				t.Fatal(err)
			}
		}, store.SystemActor, store.AuditHostKeyPinned, "10.9.9.9:22 pinned on first use", "-"},
		{"host key forgotten", func() { mustRedirect(t, "forget", post(t, c, sshForget, nil)) },
			"admin", store.AuditHostKeyForgotten, "SSH host key of 10.9.9.9:22 forgotten", ""},
		{"logout", func() { post(t, c, e.srv.URL+"/logout", nil) }, "admin", store.AuditLogout, "", ""},
	}
	seen := map[string]bool{}
	for _, s := range steps {
		before := auditEntries(t, e, store.AuditFilter{})
		s.do()
		after := auditEntries(t, e, store.AuditFilter{})
		var found *store.AuditEntry
		for i := range after[:len(after)-len(before)] {
			if after[i].Kind == s.kind {
				found = &after[i]
			}
		}
		if found == nil {
			t.Errorf("%s: no %q entry among %+v", s.name, s.kind, after[:len(after)-len(before)])
			continue
		}
		seen[s.kind] = true
		client := map[string]string{"": "127.0.0.1", "-": ""}[s.client]
		if s.client != "" && s.client != "-" {
			client = s.client
		}
		if found.Actor != s.actor || found.Client != client || !strings.Contains(found.Detail, s.detail) || found.Director == "" {
			t.Errorf("%s: entry %+v, want actor %q, client %q, detail with %q", s.name, *found, s.actor, client, s.detail)
		}
	}
	for _, k := range store.AuditKinds {
		if !seen[k] {
			t.Errorf("no step records an entry of kind %q", k)
		}
	}
	// The revisions' entries carry their serial and author.
	for _, en := range auditEntries(t, e, store.AuditFilter{Kind: store.AuditImport}) {
		if en.Fields["author"] != "admin" || en.Fields["serial"] == "" {
			t.Errorf("import entry fields = %v", en.Fields)
		}
	}
}

// TestAuditSessionExpired: a session met after it expired is recorded once.
func TestAuditSessionExpired(t *testing.T) {
	e := newEnvWith(t, true, func(o *Options) { o.Sessions = store.SessionPolicy{Idle: time.Second, Absolute: time.Second} })
	c := e.login(t)
	deadline := time.Now().Add(10 * time.Second)
	for get(t, c, e.srv.URL+"/control").code == http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the session of a second did not expire in 10 seconds")
		}
		time.Sleep(50 * time.Millisecond) // polling for the expiry, which is the store's clock
	}
	get(t, c, e.srv.URL+"/control")
	es := auditEntries(t, e, store.AuditFilter{Kind: store.AuditSessionExpired})
	if len(es) != 1 || es[0].Actor != "admin" || es[0].Client != "127.0.0.1" {
		t.Errorf("session expiry entries: %+v", es)
	}
}

// TestAuditThrottleStorm: 100 failed logins from one client within a
// minute are the failures before the throttle, then one "login throttled"
// entry with the count of the refusals, written when the minute ends.
func TestAuditThrottleStorm(t *testing.T) {
	clock := &testClock{at: time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)}
	e := newEnvWith(t, true, func(o *Options) { o.Now = clock.now })
	c := e.client(t)
	codes := map[int]int{}
	for i := range 100 {
		a := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {"wrong" + strconv.Itoa(i)}})
		codes[a.code]++
	}
	if codes[http.StatusUnauthorized] != freeFailures || codes[http.StatusTooManyRequests] != 100-freeFailures {
		t.Fatalf("answers: %v", codes)
	}
	if es := auditEntries(t, e, store.AuditFilter{Kind: store.AuditLoginThrottled}); len(es) != 0 {
		t.Fatalf("written before the minute ended: %+v", es)
	}
	clock.add(time.Minute)
	// Read as another user, from another address: 127.0.0.1 is locked out.
	e.store.SetPassword(context.Background(), "reader", testPassword)
	c2 := clientFrom("127.0.0.2")
	if a := post(t, c2, e.srv.URL+"/login", url.Values{"user": {"reader"}, "password": {testPassword}}); a.code != http.StatusSeeOther {
		t.Fatalf("login from 127.0.0.2 = %d", a.code)
	}
	a := get(t, c2, e.srv.URL+"/audit?kind="+url.QueryEscape(store.AuditLoginThrottled))
	if a.code != http.StatusOK || !strings.Contains(a.body, "95 logins refused") {
		t.Errorf("the AUDIT page = %d, lacks the storm:\n%s", a.code, a.body)
	}
	throttled := auditEntries(t, e, store.AuditFilter{Kind: store.AuditLoginThrottled})
	if len(throttled) != 1 || throttled[0].Fields["count"] != "95" || throttled[0].Client != "127.0.0.1" ||
		!throttled[0].Time.Equal(time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)) {
		t.Errorf("throttled entries: %+v", throttled)
	}
	if failed := auditEntries(t, e, store.AuditFilter{Kind: store.AuditLoginFailed}); len(failed) != freeFailures {
		t.Errorf("%d failed-login entries, want %d", len(failed), freeFailures)
	}
	// Flushing again writes nothing more.
	e.console.flushThrottled(context.Background())
	if n := len(auditEntries(t, e, store.AuditFilter{Kind: store.AuditLoginThrottled})); n != 1 {
		t.Errorf("%d throttled entries after a second flush", n)
	}
}

func TestAuditPageAndExport(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 250 {
		actor := "alice"
		if i%2 == 1 {
			actor = "bob"
		}
		if err := e.store.Audit(ctx, store.AuditEntry{Time: base.Add(time.Duration(i) * time.Hour), Actor: actor,
			Kind: store.AuditLogin, Detail: fmt.Sprintf("n%03d <b>", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.login(t)
	if a := get(t, c, e.srv.URL+"/control"); !strings.Contains(a.body, `href="/audit"`) {
		t.Error("the navigation has no link to the AUDIT page")
	}
	a := get(t, c, e.srv.URL+"/audit?user=bob&kind=login")
	if a.code != http.StatusOK || !strings.Contains(a.body, "n249 &lt;b&gt;") || strings.Contains(a.body, "n248") || strings.Contains(a.body, "<b>") {
		t.Fatalf("the AUDIT page for bob = %d", a.code)
	}
	next := regexp.MustCompile(`id="audit-next" href="/audit\?([^"]+)"|href="/audit\?([^"]+)" id="audit-next"`).FindStringSubmatch(a.body)
	if next == nil {
		t.Fatal("125 entries of bob, no link to the next page")
	}
	q := strings.ReplaceAll(next[1]+next[2], "&amp;", "&")
	a = get(t, c, e.srv.URL+"/audit?"+q)
	if !strings.Contains(a.body, "n049 &lt;b&gt;") || strings.Contains(a.body, "n051 ") || strings.Contains(a.body, "n249") {
		t.Errorf("the second page (%s) is not the older entries", q)
	}
	a = get(t, c, e.srv.URL+"/audit?since=2026-01-02&until=2026-01-02T02:00")
	if !strings.Contains(a.body, "n024") || !strings.Contains(a.body, "n025") || strings.Contains(a.body, "n026") || strings.Contains(a.body, "n023") {
		t.Errorf("the time range is not applied")
	}
	a = get(t, c, e.srv.URL+"/audit?since=yesterday&kind=nope&before=-1")
	if a.code != http.StatusBadRequest || !strings.Contains(a.body, "since &#34;yesterday&#34;") || !strings.Contains(a.body, "kind &#34;nope&#34;") || !strings.Contains(a.body, "before &#34;-1&#34;") {
		t.Errorf("bad filters = %d: %s", a.code, a.body)
	}

	// The export: JSON lines, every entry bob's, newest first.
	a = get(t, c, e.srv.URL+"/audit.jsonl?user=bob")
	if a.code != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "application/jsonl") {
		t.Fatalf("export = %d %s", a.code, a.header.Get("Content-Type"))
	}
	var lines []store.AuditEntry
	sc := bufio.NewScanner(strings.NewReader(a.body))
	for sc.Scan() {
		var en store.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &en); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, en)
	}
	if len(lines) != 125 || lines[0].Detail != "n249 <b>" || lines[124].Detail != "n001 <b>" || lines[0].Actor != "bob" {
		t.Errorf("export: %d lines", len(lines))
	}
	if a := get(t, c, e.srv.URL+"/audit.jsonl?limit=3"); strings.Count(a.body, "\n") != 3 {
		t.Errorf("export with limit=3: %q", a.body)
	}

	// The API: a page and the query of the next.
	a = get(t, c, e.srv.URL+"/api/v1/audit?user=alice&limit=100")
	var page apiAuditPage
	if err := json.Unmarshal([]byte(a.body), &page); err != nil || a.code != http.StatusOK {
		t.Fatalf("GET /api/v1/audit = %d %v", a.code, err)
	}
	if len(page.Entries) != 100 || page.Entries[0].Detail != "n248 <b>" || page.Next == "" {
		t.Fatalf("API page: %d entries, next %q", len(page.Entries), page.Next)
	}
	a = get(t, c, e.srv.URL+"/api/v1/audit?"+page.Next)
	page = apiAuditPage{}
	json.Unmarshal([]byte(a.body), &page)
	if len(page.Entries) != 25 || page.Entries[24].Detail != "n000 <b>" || page.Next != "" {
		t.Errorf("API next page: %d entries, next %q", len(page.Entries), page.Next)
	}
}

// TestAuditAPIScope: the trail is the admins'.
func TestAuditAPIScope(t *testing.T) {
	e := newEnv(t, true)
	for scope, want := range map[store.Scope]int{store.ScopeRead: http.StatusForbidden, store.ScopeOperator: http.StatusForbidden, store.ScopeAdmin: http.StatusOK} {
		_, text, err := e.store.CreateToken(context.Background(), "admin", "t"+scope.String(), scope)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/audit", nil)
		req.Header.Set("Authorization", "Bearer "+text)
		if a := do(t, e.client(t), req); a.code != want {
			t.Errorf("GET /api/v1/audit with a %v token = %d, want %d", scope, a.code, want)
		}
	}
	if a := get(t, e.client(t), e.srv.URL+"/api/v1/audit"); a.code != http.StatusUnauthorized {
		t.Errorf("without credentials = %d", a.code)
	}
}

// TestAuditSetup: the first-time setup's user is in the trail, as
// themselves, from the client's address.
func TestAuditSetup(t *testing.T) {
	e := newEnv(t, false)
	a := post(t, e.client(t), e.srv.URL+"/setup", url.Values{"code": {testSetupCode}, "user": {"root"}, "password": {"long enough"}, "password2": {"long enough"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("setup = %d", a.code)
	}
	es := auditEntries(t, e, store.AuditFilter{Kind: store.AuditUser})
	if len(es) != 1 || es[0].Actor != "root" || es[0].Client != "127.0.0.1" || es[0].Detail != "password set for root" {
		t.Errorf("setup's entries: %+v", es)
	}
}

// mustRedirect fails unless a is the redirect of a form that was taken.
func mustRedirect(t *testing.T, what string, a answer) {
	t.Helper()
	if a.code != http.StatusSeeOther {
		t.Fatalf("%s = %d:\n%s", what, a.code, a.body)
	}
}
