package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
)

// countingPasswords wraps the store's password checks, counting how many
// run at once: each is an argon2id hash of 19 MiB.
type countingPasswords struct {
	passwordStore
	running, most, calls atomic.Int64
}

func (p *countingPasswords) track() func() {
	p.calls.Add(1)
	n := p.running.Add(1)
	for {
		m := p.most.Load()
		if n <= m || p.most.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { p.running.Add(-1) }
}

func (p *countingPasswords) CheckPassword(ctx context.Context, user, password string) error {
	defer p.track()()
	return p.passwordStore.CheckPassword(ctx, user, password)
}

func (p *countingPasswords) SetPassword(ctx context.Context, user, password string) error {
	defer p.track()()
	return p.passwordStore.SetPassword(ctx, user, password)
}

func countHashes(e *testEnv) *countingPasswords {
	p := &countingPasswords{passwordStore: e.console.passwords}
	e.console.passwords = p
	return p
}

// mostHashes is the most hashes the tests allow at once ("a few").
const mostHashes = 4

// procStatus reads a field of /proc/self/status, in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// memoryWatch measures how far the process's resident memory rises above
// where it is now: the kernel's peak (VmHWM) is reset first.
func memoryWatch(t *testing.T) (rise func() int64) {
	t.Helper()
	debug.FreeOSMemory() // what earlier tests left goes back to the system
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("resetting the peak resident memory: %v", err)
	}
	base := procStatus(t, "VmRSS")
	return func() int64 { return procStatus(t, "VmHWM") - base }
}

// memoryBound is how far memory may rise while 100 logins are tried: a
// few hashes at once. 100 at once take about 1.9 GB.
const memoryBound = 400 << 20

// clientFrom returns a client whose connections come from the loopback
// address ip: another client address, as the server sees it.
func clientFrom(ip string) *http.Client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 200},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// parallel runs n requests at once and returns their answers.
func parallel(t *testing.T, n int, req func(i int) answer) []answer {
	t.Helper()
	out := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = req(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// tally counts answers by status, checking that each 429 says when to
// come back.
func tally(t *testing.T, as []answer) map[int]int {
	t.Helper()
	n := map[int]int{}
	for _, a := range as {
		n[a.code]++
		if a.code == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("429 with Retry-After %q", a.header.Get("Retry-After"))
			}
		}
	}
	return n
}

// TestParallelWrongLogins: 100 wrong passwords for admin at once from one
// address are counted before any is checked: five are checked, the others
// refused at once (429), and memory stays bounded.
func TestParallelWrongLogins(t *testing.T) {
	e := newEnvWith(t, true, frozenClock)
	pw := countHashes(e)
	rise := memoryWatch(t)
	c := clientFrom("127.0.0.1")
	as := parallel(t, 100, func(i int) answer {
		return post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {fmt.Sprint("wrong", i)}})
	})
	n := tally(t, as)
	t.Logf("answers %v, %d hashes, at most %d at once, memory rose %d MiB", n, pw.calls.Load(), pw.most.Load(), rise()>>20)
	if n[http.StatusTooManyRequests] < 90 || n[http.StatusUnauthorized]+n[http.StatusTooManyRequests] != 100 {
		t.Errorf("answers %v: want at least 90 refused at once (429), the rest 401", n)
	}
	if m := pw.most.Load(); m > mostHashes {
		t.Errorf("%d hashes ran at once, want at most %d", m, mostHashes)
	}
	if r := rise(); r > memoryBound {
		t.Errorf("resident memory rose by %d MiB, want under %d MiB", r>>20, memoryBound>>20)
	}
}

// TestParallelLoginsFromManyAddresses: 100 logins at once from 100
// addresses for 100 names pass every throttle; the hashes still run a few
// at a time, and what cannot get a turn soon is refused (429), not queued.
func TestParallelLoginsFromManyAddresses(t *testing.T) {
	e := newEnv(t, true)
	pw := countHashes(e)
	rise := memoryWatch(t)
	as := parallel(t, 100, func(i int) answer {
		c := clientFrom(fmt.Sprintf("127.0.1.%d", i+1))
		return post(t, c, e.srv.URL+"/login", url.Values{"user": {fmt.Sprint("user", i)}, "password": {"wrong password"}})
	})
	n := tally(t, as)
	t.Logf("answers %v, %d hashes, at most %d at once, memory rose %d MiB", n, pw.calls.Load(), pw.most.Load(), rise()>>20)
	if n[http.StatusUnauthorized]+n[http.StatusTooManyRequests] != 100 {
		t.Errorf("answers %v: want only 401 and 429", n)
	}
	if m := pw.most.Load(); m > mostHashes {
		t.Errorf("%d hashes ran at once, want at most %d", m, mostHashes)
	}
	if r := rise(); r > memoryBound {
		t.Errorf("resident memory rose by %d MiB, want under %d MiB", r>>20, memoryBound>>20)
	}
}

// TestSetupCodeThrottled: 100 wrong setup codes at once from one address:
// most are refused before they are looked at.
func TestSetupCodeThrottled(t *testing.T) {
	e := newEnvWith(t, false, frozenClock)
	c := clientFrom("127.0.0.1")
	as := parallel(t, 100, func(i int) answer {
		return post(t, c, e.srv.URL+"/setup", url.Values{"code": {fmt.Sprintf("AAAA-%04d", i)}, "user": {"admin"},
			"password": {"long enough"}, "password2": {"long enough"}})
	})
	n := tally(t, as)
	if n[http.StatusTooManyRequests] < 90 || n[http.StatusUnprocessableEntity]+n[http.StatusTooManyRequests] != 100 {
		t.Errorf("answers %v: want at least 90 refused at once (429), the rest 422", n)
	}
	// The right code from another address still works.
	a := post(t, clientFrom("127.0.0.2"), e.srv.URL+"/setup", url.Values{"code": {testSetupCode}, "user": {"admin"},
		"password": {"long enough"}, "password2": {"long enough"}})
	if a.code != http.StatusSeeOther {
		t.Errorf("setup with the right code from another address = %d", a.code)
	}
}

// TestAccountPasswordThrottled: the current-password check of the account
// page is throttled too, and hashes a few at a time.
func TestAccountPasswordThrottled(t *testing.T) {
	e := newEnvWith(t, true, frozenClock)
	c := e.login(t)
	pw := countHashes(e)
	as := parallel(t, 100, func(i int) answer {
		return post(t, c, e.srv.URL+"/account", url.Values{"current": {fmt.Sprint("wrong", i)},
			"password": {"new password 1"}, "password2": {"new password 1"}})
	})
	n := tally(t, as)
	t.Logf("answers %v, %d hashes, at most %d at once", n, pw.calls.Load(), pw.most.Load())
	if n[http.StatusTooManyRequests] < 90 || n[http.StatusUnprocessableEntity]+n[http.StatusTooManyRequests] != 100 {
		t.Errorf("answers %v: want at least 90 refused at once (429), the rest 422", n)
	}
	if m := pw.most.Load(); m > mostHashes {
		t.Errorf("%d hashes ran at once, want at most %d", m, mostHashes)
	}
	if err := e.store.CheckPassword(context.Background(), "admin", testPassword); err != nil {
		t.Errorf("the password changed: %v", err)
	}
}

// TestAttackerCannotLockAdminOut: failures for admin from many addresses
// lock the name for those addresses and, briefly, for new ones; the
// address admin logged in from before keeps working.
func TestAttackerCannotLockAdminOut(t *testing.T) {
	e := newEnvWith(t, true, frozenClock)
	admin := clientFrom("127.0.0.1")
	if a := post(t, admin, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}}); a.code != http.StatusSeeOther {
		t.Fatalf("login = %d", a.code)
	}
	// 5 failures from each of 10 addresses: as many as each pair is
	// allowed, and more than the name is allowed from everywhere.
	for i := range 10 {
		c := clientFrom(fmt.Sprintf("127.0.2.%d", i+1))
		for j := range freeFailures {
			if a := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {fmt.Sprint("guess", i, j)}}); a.code != http.StatusUnauthorized && a.code != http.StatusTooManyRequests {
				t.Fatalf("guess = %d", a.code)
			}
		}
	}
	// The attackers' addresses are locked out for admin now.
	if a := post(t, clientFrom("127.0.2.1"), e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}}); a.code != http.StatusTooManyRequests {
		t.Errorf("an attacker's address with the right password = %d, want 429", a.code)
	}
	// A new address waits a minute at most.
	a := post(t, clientFrom("127.0.3.1"), e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}})
	if s, _ := strconv.Atoi(a.header.Get("Retry-After")); a.code == http.StatusTooManyRequests && s > 61 {
		t.Errorf("a new address for admin must wait %ds", s)
	}
	// The address admin used before is not locked out at all.
	if a := post(t, admin, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}}); a.code != http.StatusSeeOther {
		t.Errorf("admin from the usual address = %d, want in", a.code)
	}
	// Nor are other users.
	if err := e.store.SetPassword(context.Background(), "ops", testPassword); err != nil {
		t.Fatal(err)
	}
	if a := post(t, clientFrom("127.0.2.2"), e.srv.URL+"/login", url.Values{"user": {"ops"}, "password": {testPassword}}); a.code != http.StatusSeeOther {
		t.Errorf("another user from an attacker's address = %d, want in", a.code)
	}
}

// TestSecretsNeverLogged: a password and a token sent to the console
// appear in none of its log lines nor its answers.
func TestSecretsNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	e := newEnvWith(t, true, func(o *Options) { o.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	const pw, token = "Very-Secret-Password-123", "lvs_very_secret_token_abc"
	lc := e.login(t)
	c := e.client(t)
	var bodies []string
	for i := range freeFailures + 2 {
		a := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {pw + strconv.Itoa(i)}})
		bodies = append(bodies, a.body)
	}
	// A malformed form, the password in it: the refusal does not quote it.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader("user=admin&password=%zz"+pw))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a := do(t, c, req)
	if a.code != http.StatusBadRequest {
		t.Errorf("a malformed form = %d", a.code)
	}
	bodies = append(bodies, a.body)
	for _, path := range []string{"/metrics", "/api/v1/config"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		bodies = append(bodies, do(t, c, req).body)
	}
	a = post(t, lc, e.srv.URL+"/account", url.Values{"current": {pw}, "password": {pw + "new"}, "password2": {pw + "new2"}})
	bodies = append(bodies, a.body)
	for _, s := range append(bodies, logs.String()) {
		if strings.Contains(s, "Very-Secret") || strings.Contains(s, "very_secret") {
			t.Errorf("a secret is echoed: %s", s)
		}
	}
	if !strings.Contains(logs.String(), "failed login") {
		t.Errorf("the failed logins were not logged:\n%s", logs.String())
	}
}

// frozenClock stops the console's clock, which the throttle counts by: a
// lockout then lasts the whole test, however slow the machine.
func frozenClock(o *Options) {
	at := time.Now()
	o.Now = func() time.Time { return at }
}

// newEnvWith is newEnv with options of the test's own.
func newEnvWith(t *testing.T, admin bool, opt func(*Options)) *testEnv {
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
	o := Options{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SetupCode: testSetupCode}
	opt(&o)
	e := &testEnv{store: st, now: time.Now()}
	if e.console, err = New(ctx, o); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.console)
	t.Cleanup(e.srv.Close)
	return e
}
