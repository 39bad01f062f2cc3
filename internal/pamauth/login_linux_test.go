//go:build linux && cgo && !osusergo

package pamauth

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/store"
)

// syncBuffer is a log the handlers write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type answer struct {
	code     int
	body     string
	location string
}

func send(t *testing.T, c *http.Client, method, u string, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("Location")}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestPAMLogin logs in to the console over HTTP through pam_unix, with
// the test's system users: the right password gives a session with the
// role the user's groups map to, a wrong one or groups that map to none
// are refused alike; a local console user is checked by the console
// only; a PAM user whose groups no longer map is disabled, and enabled
// again when they map again; one disabled in the console stays out; a PAM
// user cannot change their password on the account page.
func TestPAMLogin(t *testing.T) {
	groupFile, ok := inNamespace(t)
	if !ok {
		return
	}
	ctx := context.Background()
	dir := services(t, map[string]string{"lvsconsole": "auth required pam_unix.so\naccount required pam_unix.so\n"})
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// lvst-cat is a system user and a local console user: the console's
	// password is hers.
	const localPassword = "local password 1"
	if err := st.SetPassword(ctx, "lvst-cat", localPassword); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	console, err := handlers.New(ctx, handlers.Options{Store: st, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		PAM: newAuth(t, dir, "lvsconsole")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()

	login := func(user, password string) (*http.Client, answer) {
		c := newClient()
		return c, send(t, c, http.MethodPost, srv.URL+"/login", url.Values{"user": {user}, "password": {password}})
	}
	loggedIn := func(user, password string) *http.Client {
		t.Helper()
		c, a := login(user, password)
		if a.code != http.StatusSeeOther || a.location != "/control" {
			t.Fatalf("%s's login: %d %s\n%s\nlog:\n%s", user, a.code, a.location, a.body, logs.String())
		}
		return c
	}
	refused := func(user, password string) {
		t.Helper()
		if _, a := login(user, password); a.code != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong user name or password.") {
			t.Errorf("%s's login: %d, want 401 and a wrong password\n%s", user, a.code, a.body)
		}
	}
	lastAudit := func(user string) store.AuditEntry {
		t.Helper()
		es, err := st.AuditQuery(ctx, store.AuditFilter{Actor: user, Limit: 1})
		if err != nil || len(es) == 0 {
			t.Fatalf("the audit trail of %s: %v, %v", user, es, err)
		}
		return es[0]
	}
	role := func(user string) string {
		t.Helper()
		r, err := st.UserRole(ctx, user)
		if err != nil {
			return err.Error()
		}
		return store.RoleName(r)
	}

	// Without a local user, the login page is there for PAM users, with
	// the setup notice (no local user would be lvst-cat's absence).
	if a := send(t, newClient(), http.MethodGet, srv.URL+"/login", nil); a.code != http.StatusOK {
		t.Errorf("GET /login = %d", a.code)
	}

	refused("lvst-ann", "system password 2")
	if e := lastAudit("lvst-ann"); e.Kind != store.AuditLoginFailed || e.Detail != "wrong user name or password (pam)" {
		t.Errorf("audit of a wrong PAM password: %+v", e)
	}
	ann := loggedIn("lvst-ann", systemPassword)
	if e := lastAudit("lvst-ann"); e.Kind != store.AuditLogin || e.Detail != "pam, as admin" {
		t.Errorf("audit of a PAM login: %+v", e)
	}
	if r := role("lvst-ann"); r != "admin" {
		t.Errorf("lvst-ann's role: %s, want admin", r)
	}
	a := send(t, ann, http.MethodGet, srv.URL+"/account", nil)
	if a.code != http.StatusOK || !strings.Contains(a.body, `id="your-role">admin<`) || !strings.Contains(a.body, `id="password-pam"`) ||
		strings.Contains(a.body, `name="current"`) {
		t.Errorf("lvst-ann's account page: %d, want her role admin and no password form\n%s", a.code, a.body)
	}
	if a := send(t, ann, http.MethodGet, srv.URL+"/users", nil); a.code != http.StatusOK || !strings.Contains(a.body, `>pam</span>`) {
		t.Errorf("admin lvst-ann's USERS page: %d, want her shown as a PAM user\n%s", a.code, a.body)
	}
	a = send(t, ann, http.MethodPost, srv.URL+"/users/password", url.Values{"user": {"lvst-ann"}, "password": {"new password 1"}, "password2": {"new password 1"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(a.body, "their password is the system&#39;s") {
		t.Errorf("USERS' password reset of a PAM user: %d, want 422\n%s", a.code, a.body)
	}
	a = send(t, ann, http.MethodPost, srv.URL+"/account", url.Values{"current": {systemPassword}, "password": {"new password 1"}, "password2": {"new password 1"}})
	if a.code != http.StatusForbidden || !strings.Contains(a.body, "change the password there") {
		t.Errorf("a PAM user's password change: %d, want 403\n%s", a.code, a.body)
	}
	if err := st.CheckPassword(ctx, "lvst-ann", "new password 1"); err == nil {
		t.Error("the console took a password for a PAM user")
	}

	// A program run as root needs the password re-entered: a PAM user's
	// is checked by PAM.
	cfg, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	global := func(pw string) url.Values {
		return url.Values{"serial": {itoa(cfg.Serial)}, "network": {"direct"}, "primary": {"192.0.2.1"}, "tcp_timeout": {"900"},
			"active_cmd": {"/usr/bin/logger now active"}, "password": {pw}}
	}
	if a := send(t, ann, http.MethodPost, srv.URL+"/global", global("system password 2")); a.code != http.StatusForbidden ||
		!strings.Contains(a.body, "This is not your password") {
		t.Errorf("a program with lvst-ann's wrong password: %d, want 403\n%s", a.code, a.body)
	}
	if a := send(t, ann, http.MethodPost, srv.URL+"/global", global(systemPassword)); a.code != http.StatusSeeOther {
		t.Errorf("a program with lvst-ann's system password: %d, want 303\n%s", a.code, a.body)
	}

	// The local user first: PAM is not asked for lvst-cat.
	refused("lvst-cat", systemPassword)
	if e := lastAudit("lvst-cat"); e.Detail != "wrong user name or password" {
		t.Errorf("audit of a local user's wrong password: %+v, want no pam", e)
	}
	loggedIn("lvst-cat", localPassword)

	// lvst-dan's password is right, his groups map to no role.
	refused("lvst-dan", systemPassword)
	if e := lastAudit("lvst-dan"); e.Kind != store.AuditLoginFailed || e.Detail != "no console role for the user's system groups (pam)" {
		t.Errorf("audit of a PAM user without a role: %+v", e)
	}
	if !strings.Contains(logs.String(), `msg="PAM login refused: the user's system groups map to no console role (serve -pam-roles)" user=lvst-dan`) {
		t.Errorf("no log line says why lvst-dan was refused:\n%s", logs.String())
	}

	// lvst-bob is an operator until he leaves lvst-op: then his session
	// ends at his next login's refusal, and he is disabled; back in the
	// group, he logs in again.
	bob := loggedIn("lvst-bob", systemPassword)
	if r := role("lvst-bob"); r != "operator" {
		t.Errorf("lvst-bob's role: %s, want operator", r)
	}
	if a := send(t, bob, http.MethodGet, srv.URL+"/users", nil); a.code != http.StatusForbidden {
		t.Errorf("operator lvst-bob's USERS page: %d, want 403", a.code)
	}
	groups, err := os.ReadFile(groupFile)
	if err != nil {
		t.Fatal(err)
	}
	without := bytes.Replace(groups, []byte(groupOp+":x:61101:lvst-bob\n"), []byte(groupOp+":x:61101:\n"), 1)
	if bytes.Equal(without, groups) {
		t.Fatal("lvst-bob is not in the test's group file")
	}
	if err := os.WriteFile(groupFile, without, 0o644); err != nil {
		t.Fatal(err)
	}
	refused("lvst-bob", systemPassword)
	if a := send(t, bob, http.MethodGet, srv.URL+"/control", nil); a.code != http.StatusSeeOther || !strings.HasPrefix(a.location, "/login") {
		t.Errorf("lvst-bob's session after his groups stopped mapping: %d %s, want the login page", a.code, a.location)
	}
	if r := role("lvst-bob"); !strings.Contains(r, store.ErrNoUser.Error()) {
		t.Errorf("lvst-bob without a mapped group: role %s, want disabled", r)
	}
	if err := os.WriteFile(groupFile, groups, 0o644); err != nil {
		t.Fatal(err)
	}
	loggedIn("lvst-bob", systemPassword)
	if r := role("lvst-bob"); r != "operator" {
		t.Errorf("lvst-bob back in %s: role %s, want operator", groupOp, r)
	}

	// Disabled in the console, lvst-eve stays out, her password right.
	loggedIn("lvst-eve", systemPassword)
	if err := st.DisableUser(ctx, "lvst-eve"); err != nil {
		t.Fatal(err)
	}
	refused("lvst-eve", systemPassword)
	if e := lastAudit("lvst-eve"); e.Detail != "user disabled in the console (pam)" {
		t.Errorf("audit of a PAM user disabled in the console: %+v", e)
	}

	us, err := st.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range us {
		got = append(got, u.Name+":"+u.Source)
	}
	if want := "lvst-ann:pam lvst-bob:pam lvst-cat:local lvst-eve:pam"; strings.Join(got, " ") != want {
		t.Errorf("users: %s, want %s", strings.Join(got, " "), want)
	}
}

// TestPAMLoginsGated: PAM runs in the hash gate's slots. Behind a service
// that takes 3 s (pam_exec running sleep) a burst of logins gets as
// many sessions as there are slots at most, and "busy" (429) for every
// other, at once or after the gate's half-second wait: slow PAM answers
// do not pile up.
func TestPAMLoginsGated(t *testing.T) {
	if _, ok := inNamespace(t); !ok {
		return
	}
	ctx := context.Background()
	dir := services(t, map[string]string{"slow": "auth required pam_exec.so quiet /bin/sleep 3\nauth required pam_permit.so\naccount required pam_permit.so\n"})
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	console, err := handlers.New(ctx, handlers.Options{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PAM: newAuth(t, dir, "slow")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	// handlers' hashSlots: one per core, 2 to 4.
	slots := min(max(runtime.GOMAXPROCS(0), 2), 4)
	users := []string{"lvst-ann", "lvst-bob", "lvst-cat", "lvst-eve"} // each maps to a role
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	for i := range 12 { // 3 a user: within the throttle's allowances
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := send(t, newClient(), http.MethodPost, srv.URL+"/login", url.Values{"user": {users[i%len(users)]}, "password": {"x"}})
			mu.Lock()
			codes[a.code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusSeeOther] < 1 || codes[http.StatusSeeOther] > slots || codes[http.StatusSeeOther]+codes[http.StatusTooManyRequests] != 12 {
		t.Errorf("12 logins at once behind a 3 s PAM: answers %v, want 1 to %d logged in (the gate's slots), the others 429", codes, slots)
	}
}

// TestPAMTimeout: a login whose PAM does not answer in time fails at the
// timeout, saying so in the log; the PAM call, which cannot be stopped,
// keeps its slot of the gate until it returns, so that timed-out calls do
// not pile up either.
func TestPAMTimeout(t *testing.T) {
	if _, ok := inNamespace(t); !ok {
		return
	}
	ctx := context.Background()
	dir := services(t, map[string]string{"slow": "auth required pam_exec.so quiet /bin/sleep 10\nauth required pam_permit.so\naccount required pam_permit.so\n"})
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs syncBuffer
	console, err := handlers.New(ctx, handlers.Options{Store: st, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		PAM: newAuth(t, dir, "slow"), PAMTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	login := func(user string) answer {
		return send(t, newClient(), http.MethodPost, srv.URL+"/login", url.Values{"user": {user}, "password": {"x"}})
	}
	slots := min(max(runtime.GOMAXPROCS(0), 2), 4) // handlers' hashSlots
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, slots)
	for i := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = login("lvst-ann").code
		}()
	}
	wg.Wait()
	took := time.Since(start)
	// Every slot is held by a PAM call that has not returned (sleep 10).
	busy := login("lvst-bob")
	if took >= 8*time.Second {
		t.Fatalf("the timed-out logins took %v: too slow a machine for this test's 10 s PAM", took)
	}
	for i, c := range codes {
		if c != http.StatusInternalServerError {
			t.Errorf("login %d behind a PAM slower than the timeout: %d, want 500", i, c)
		}
	}
	if !strings.Contains(logs.String(), "did not answer in time") {
		t.Errorf("the log does not say PAM timed out:\n%s", logs.String())
	}
	if busy.code != http.StatusTooManyRequests {
		t.Errorf("a login while every slot waits for PAM: %d, want 429", busy.code)
	}
}
