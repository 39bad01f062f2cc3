package handlers

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/store"
)

// withSecret gives e's store a fresh peer secret and returns it.
func withSecret(t *testing.T, e *testEnv) []byte {
	t.Helper()
	key := NewSecret()
	if err := e.store.SetPeerSecret(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestPeerConfigReplay: a signed request captured on the wire and sent
// again (the same headers) is refused the second time.
func TestPeerConfigReplay(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	key := withSecret(t, e)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+failover.ConfigPath, nil)
	failover.SignRequest(req, key, time.Now())
	first := do(t, http.DefaultClient, req)
	if first.code != http.StatusOK {
		t.Fatalf("the genuine request: %d %s", first.code, first.body)
	}
	again, _ := http.NewRequest(http.MethodGet, e.srv.URL+failover.ConfigPath, nil)
	again.Header = req.Header.Clone()
	if a := do(t, http.DefaultClient, again); a.code != http.StatusUnauthorized {
		t.Errorf("the same request replayed: %d, want 401; body %q", a.code, a.body)
	}
}

// TestPeerConfigStrangers: whoever lacks the secret gets one and the same
// answer, whether this director has a secret or not and whatever the
// clock in the request: nothing tells a stranger the director's clock or
// whether a secret is set.
func TestPeerConfigStrangers(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	u := e.srv.URL + failover.ConfigPath
	stranger := NewSecret()
	requests := map[string]func() *http.Request{
		"no authorization": func() *http.Request { r, _ := http.NewRequest(http.MethodGet, u, nil); return r },
		"garbage": func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			r.Header.Set("Authorization", "LVS-HMAC x y z")
			return r
		},
		"another secret, now": func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			failover.SignRequest(r, stranger, time.Now())
			return r
		},
		"another secret, an hour ago": func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			failover.SignRequest(r, stranger, time.Now().Add(-time.Hour))
			return r
		},
		"another secret, in a day": func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			failover.SignRequest(r, stranger, time.Now().Add(24*time.Hour))
			return r
		},
	}
	type seen struct {
		code        int
		body, ctype string
	}
	var want *seen
	var wantName string
	check := func(secret string) {
		for name, mk := range requests {
			a := do(t, http.DefaultClient, mk())
			got := seen{a.code, a.body, a.header.Get("Content-Type")}
			if got.code != http.StatusUnauthorized {
				t.Errorf("%s, %s: %d, want 401", secret, name, got.code)
			}
			if want == nil {
				want, wantName = &got, secret+", "+name
				continue
			}
			if got != *want {
				t.Errorf("%s, %s answered %+v; %s answered %+v: a stranger can tell them apart", secret, name, got, wantName, *want)
			}
		}
	}
	check("no secret set")
	withSecret(t, e)
	check("a secret set")
	for _, word := range []string{"secret", "clock", "time", "MAC", "stamp"} {
		if want != nil && strings.Contains(want.body, word) {
			t.Errorf("the refusal %q mentions %q", want.body, word)
		}
	}
}

// recorder is a dialer that keeps every byte the client reads.
type recorder struct {
	mu  sync.Mutex
	got bytes.Buffer
}

type recordedConn struct {
	net.Conn
	r *recorder
}

func (c recordedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.r.got.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

func (r *recorder) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return recordedConn{c, r}, nil
	}}}
}

// TestPeerConfigNotInClear: the configuration crosses the wire sealed:
// nothing of it (a VIP address, a server's name) is in the bytes the
// client receives, and the client opens it.
func TestPeerConfigNotInClear(t *testing.T) {
	e := newEnv(t, true)
	want := e.seed(t)
	key := withSecret(t, e)
	var rec recorder
	got, err := failover.Fetch(context.Background(), rec.client(), e.srv.URL, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != want.Serial || len(got.Virtuals) != 1 || got.Virtuals[0].Address.String() != "192.0.2.10" {
		t.Fatalf("fetched serial %d with %d virtual servers, want %d with 192.0.2.10", got.Serial, len(got.Virtuals), want.Serial)
	}
	rec.mu.Lock()
	wire := rec.got.Bytes()
	rec.mu.Unlock()
	if len(wire) == 0 {
		t.Fatal("nothing recorded")
	}
	for _, clear := range []string{"192.0.2.10", "10.0.0.1", "web1", "www", "serial_no"} {
		if bytes.Contains(wire, []byte(clear)) {
			t.Errorf("%q is in clear in the answer on the wire:\n%q", clear, wire[:min(len(wire), 600)])
		}
	}
}

// middle stands between the standby and the active, as someone on the
// path can: it passes requests on and lets the test change the answers.
type middle struct {
	target string
	mu     sync.Mutex
	// alter, if set, returns the answer to give instead of the real one
	// (status, headers, body).
	alter func(n int, h http.Header, body []byte) (http.Header, []byte)
	n     int
}

func (m *middle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, _ := http.NewRequest(r.Method, m.target+r.URL.Path, nil)
	out.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h := resp.Header
	m.mu.Lock()
	if m.alter != nil {
		h, body = m.alter(m.n, h, body)
	}
	m.n++
	m.mu.Unlock()
	for k, v := range h {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

// TestPeerConfigOldAnswer: an answer recorded for an earlier request does
// not open for a later one, even one made in the same second.
func TestPeerConfigOldAnswer(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	key := withSecret(t, e)
	var first struct {
		h    http.Header
		body []byte
	}
	m := &middle{target: e.srv.URL}
	m.alter = func(n int, h http.Header, body []byte) (http.Header, []byte) {
		if n == 0 {
			first.h, first.body = h.Clone(), bytes.Clone(body)
			return h, body
		}
		return first.h, first.body
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	now := time.Now()
	if _, err := failover.Fetch(context.Background(), http.DefaultClient, srv.URL, key, now); err != nil {
		t.Fatalf("the first fetch: %v", err)
	}
	if _, err := failover.Fetch(context.Background(), http.DefaultClient, srv.URL, key, now); err == nil {
		t.Error("the earlier answer was taken for a later request")
	}
}

// TestPeerConfigTampered: changing any byte of the answer on the way makes
// the standby refuse it.
func TestPeerConfigTampered(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	key := withSecret(t, e)
	flip := -1
	var size int
	m := &middle{target: e.srv.URL}
	m.alter = func(n int, h http.Header, body []byte) (http.Header, []byte) {
		size = len(body)
		if flip >= 0 && flip < len(body) {
			body[flip] ^= 0x01
		}
		return h, body
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	if _, err := failover.Fetch(context.Background(), http.DefaultClient, srv.URL, key, time.Now()); err != nil {
		t.Fatalf("unaltered: %v", err)
	}
	if size == 0 {
		t.Fatal("empty answer")
	}
	for flip = range size {
		if _, err := failover.Fetch(context.Background(), http.DefaultClient, srv.URL, key, time.Now()); err == nil {
			t.Errorf("the answer with byte %d of %d changed was taken", flip, size)
		}
	}
}

// lockedBuffer is a log destination tests read while the server writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		if containsAll(sc.Text(), words) {
			out = append(out, sc.Text())
		}
	}
	return out
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// TestPeerConfigRefusalLog: the reason of a refusal is in the log, with
// the client's address; a flood of refused requests writes a bounded
// number of lines, and a later line counts the ones left out.
func TestPeerConfigRefusalLog(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	withSecret(t, e)
	var logs lockedBuffer
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	c, err := New(context.Background(), Options{Store: e.store, Now: now, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	u := srv.URL + failover.ConfigPath
	stranger := NewSecret()
	refuse := func(i int) {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		failover.SignRequest(r, stranger, now())
		if a := do(t, http.DefaultClient, r); a.code != http.StatusUnauthorized {
			t.Fatalf("request %d: %d", i, a.code)
		}
	}
	const flood = 500
	for i := range flood {
		refuse(i)
	}
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	refused := logs.lines("configuration request")
	if len(refused) == 0 {
		t.Fatal("no refusal logged")
	}
	if !containsAll(refused[0], []string{"remote=" + host, "MAC"}) {
		t.Errorf("the first refusal does not name the client %s and the reason: %q", host, refused[0])
	}
	if len(refused) > 20 {
		t.Errorf("%d refused requests wrote %d log lines, want at most 20", flood, len(refused))
	}
	// A minute later the log has room again, and says what it left out.
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	refuse(flood)
	all := logs.lines("configuration request")
	if len(all) != len(refused)+1 {
		t.Fatalf("a refusal a minute after the flood wrote %d lines, want 1", len(all)-len(refused))
	}
	last := all[len(all)-1]
	i := strings.Index(last, "not_logged=")
	if i < 0 {
		t.Fatalf("the line after the flood does not count the refusals left out: %q", last)
	}
	n, _ := strconv.Atoi(strings.Fields(last[i+len("not_logged="):])[0])
	if len(refused)+n != flood {
		t.Errorf("%d refusals logged and %d counted as left out, want %d in all", len(refused), n, flood)
	}
	t.Logf("%d refused requests: %d log lines, then one counting %d left out", flood, len(refused), n)
}

// TestLogRefusal: the refusal log's budget, step by step: a burst of 10,
// then 10 a minute; each logged line after a gap counts the refusals left
// out; a clock going back gives nothing back.
func TestLogRefusal(t *testing.T) {
	p := newPeerEndpoint()
	t0 := time.Unix(1_800_000_000, 0)
	for _, step := range []struct {
		at      time.Duration
		n       int // refusals at that time
		logged  int
		counted int // not_logged in the first line logged
	}{
		{0, 15, 10, 0},
		{3 * time.Second, 1, 0, 0}, // half a line's worth of time
		{6 * time.Second, 1, 1, 6}, // one line: 5 + 1 left out before
		{-time.Hour, 5, 0, 0},      // the clock went back: no new budget
		{time.Minute, 20, 9, 5},    // 54 s at 10 a minute: 9 lines
		{time.Hour, 10, 10, 11},
	} {
		logged, counted := 0, -1
		for range step.n {
			ok, dropped := p.logRefusal(t0.Add(step.at))
			if ok {
				logged++
				if counted < 0 {
					counted = dropped
				}
			}
		}
		if counted < 0 {
			counted = 0
		}
		if logged != step.logged || counted != step.counted {
			t.Errorf("at %v, %d refusals: %d logged, the first counting %d left out; want %d and %d", step.at, step.n, logged, counted, step.logged, step.counted)
		}
	}
}

// TestPeerAccounts: the users and API tokens are served to the peer as the
// configuration is: only to a request signed with the peer secret, sealed
// (no user name, hash or token in the clear), with the hashes as stored
// and never a password or a token's text; an answer of the configuration's
// path does not open as the accounts'.
func TestPeerAccounts(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	if err := e.store.AddUser(ctx, "bob", store.ScopeOperator, "bob's password"); err != nil {
		t.Fatal(err)
	}
	_, text, err := e.store.CreateToken(ctx, "bob", "nightly-deploy", store.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	u := e.srv.URL + failover.AccountsPath
	if a := get(t, &http.Client{}, u); a.code != http.StatusUnauthorized {
		t.Errorf("without a secret set: %d, want 401", a.code)
	}
	key := withSecret(t, e)
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	failover.SignRequest(req, NewSecret(), time.Now())
	if a := do(t, &http.Client{}, req); a.code != http.StatusUnauthorized {
		t.Errorf("another secret: %d, want 401", a.code)
	}
	var rec recorder
	got, err := failover.FetchAccounts(ctx, rec.client(), e.srv.URL, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.store.Accounts(ctx)
	if len(got.Users.Rows) != 2 || len(got.Tokens.Rows) != 1 || got.Version != store.AccountsVersion {
		t.Errorf("accounts %+v, want %+v", got, want)
	}
	wire := rec.got.String()
	for _, clear := range []string{"argon2id", "nightly-deploy", text, "bob's password"} {
		if strings.Contains(wire, clear) {
			t.Errorf("%q is in the clear on the wire", clear)
		}
	}
	// Taken by another store, they open it with bob's password and token.
	other, err := store.Open(ctx, filepath.Join(t.TempDir(), "standby.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.AdoptAccounts(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := other.CheckPassword(ctx, "bob", "bob's password"); err != nil {
		t.Errorf("bob on the other store: %v", err)
	}
	if _, err := other.LookupToken(ctx, text); err != nil {
		t.Errorf("bob's token on the other store: %v", err)
	}
	// The configuration's answer, sent in place of the accounts', does
	// not open.
	creq, _ := http.NewRequest(http.MethodGet, e.srv.URL+failover.ConfigPath, nil)
	q := failover.SignRequest(creq, key, time.Now())
	a := do(t, &http.Client{}, creq)
	if a.code != http.StatusOK {
		t.Fatalf("the configuration: %d", a.code)
	}
	if _, err := failover.OpenAnswer(key, failover.Request{Method: q.Method, Path: failover.AccountsPath, Time: q.Time, Nonce: q.Nonce}, []byte(a.body)); err == nil {
		t.Error("the configuration's answer opens as the accounts'")
	}
}
