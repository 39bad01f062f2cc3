package handlers

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// cookieNamed returns the Set-Cookie line of an answer for cookie name.
func cookieNamed(h http.Header, name string) string {
	for _, sc := range h.Values("Set-Cookie") {
		if strings.HasPrefix(sc, name+"=") {
			return sc
		}
	}
	return ""
}

// withHeaders posts a form with extra headers.
func postWith(t *testing.T, c *http.Client, u string, form url.Values, h map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

func getWith(t *testing.T, c *http.Client, u string, h map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

// TestForwardedHeadersFromAnUntrustedPeer: X-Forwarded-For and
// X-Forwarded-Proto from a peer that is not a trusted proxy change
// nothing: not the address the throttle counts, not the cookies, not HSTS.
func TestForwardedHeadersFromAnUntrustedPeer(t *testing.T) {
	var logs bytes.Buffer
	e := newEnvWith(t, true, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c := e.client(t)
	for i := range freeFailures {
		a := postWith(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {"wrong"}},
			map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i+1)})
		if a.code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d", i, a.code)
		}
	}
	a := postWith(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}},
		map[string]string{"X-Forwarded-For": "203.0.113.99", "X-Forwarded-Proto": "https"})
	if a.code != http.StatusTooManyRequests {
		t.Errorf("a new X-Forwarded-For got past the throttle: %d", a.code)
	}
	if strings.Contains(logs.String(), "203.0.113.") || !strings.Contains(logs.String(), "client=127.0.0.1") {
		t.Errorf("the log believes X-Forwarded-For:\n%s", logs.String())
	}
	e2 := newEnvWith(t, true, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	a = postWith(t, e2.client(t), e2.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}},
		map[string]string{"X-Forwarded-Proto": "https"})
	if sc := cookieNamed(a.header, "lvsconsole"); a.code != http.StatusSeeOther || sc == "" || strings.Contains(sc, "Secure") {
		t.Errorf("login with a spoofed X-Forwarded-Proto = %d, cookie %q: want the plain HTTP cookie", a.code, a.header.Values("Set-Cookie"))
	}
	if h := a.header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS over plain HTTP: %q", h)
	}
}

// TestTrustedProxy: from a trusted proxy, the client is the right-most
// address of X-Forwarded-For that is not a trusted proxy, and
// X-Forwarded-Proto: https makes cookies Secure (and __Host-) and sends
// HSTS.
func TestTrustedProxy(t *testing.T) {
	var logs bytes.Buffer
	e := newEnvWith(t, true, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
		o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	https := func(client string) map[string]string {
		return map[string]string{"X-Forwarded-For": "198.51.100.1, " + client + ", 10.1.1.1", "X-Forwarded-Proto": "https"}
	}
	c := e.client(t)
	a := postWith(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}}, https("203.0.113.9"))
	sc := cookieNamed(a.header, "__Host-lvsconsole")
	if a.code != http.StatusSeeOther || !strings.Contains(sc, "Secure") {
		t.Fatalf("login through the proxy = %d, cookies %q: want a Secure __Host- cookie", a.code, a.header.Values("Set-Cookie"))
	}
	if !strings.Contains(a.header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("no HSTS through an https proxy")
	}
	if !strings.Contains(logs.String(), "client=203.0.113.9") {
		t.Errorf("the log does not name the client behind the proxy:\n%s", logs.String())
	}
	// The session goes on under the same cookie; the Go client's jar keeps
	// Secure cookies for https only, so send it by hand.
	cookie := map[string]string{"Cookie": strings.SplitN(sc, ";", 2)[0]}
	for k, v := range https("203.0.113.9") {
		cookie[k] = v
	}
	if a := getWith(t, e.client(t), e.srv.URL+"/control", cookie); a.code != http.StatusOK {
		t.Errorf("the session through the proxy = %d", a.code)
	}
	// The flash cookie is Secure too.
	serial := strconv.FormatInt(e.config(t).Serial, 10)
	a = postWith(t, e.client(t), e.srv.URL+"/global", url.Values{"serial": {serial}, "network": {"nat"}}, cookie)
	if fc := cookieNamed(a.header, flashCookie); a.code != http.StatusSeeOther || !strings.Contains(fc, "Secure") {
		t.Errorf("saving through the proxy = %d, flash cookie %q: want Secure", a.code, fc)
	}
	// Plain HTTP through the proxy: plain cookies.
	a = postWith(t, e.client(t), e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}},
		map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"})
	if sc := cookieNamed(a.header, "lvsconsole"); sc == "" || strings.Contains(sc, "Secure") || a.header.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain HTTP through the proxy: cookies %q, HSTS %q", a.header.Values("Set-Cookie"), a.header.Get("Strict-Transport-Security"))
	}
	// The throttle counts the client behind the proxy, not the proxy.
	for i := range freeFailures {
		postWith(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {"wrong" + strconv.Itoa(i)}}, https("203.0.113.66"))
	}
	if a := postWith(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}}, https("203.0.113.66")); a.code != http.StatusTooManyRequests {
		t.Errorf("the guessing client behind the proxy = %d, want 429", a.code)
	}
	if a := postWith(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}}, https("203.0.113.67")); a.code != http.StatusSeeOther {
		t.Errorf("another client behind the same proxy = %d, want in", a.code)
	}
}

// TestTLSCookiesAndHSTS: over TLS every answer carries HSTS, and every
// cookie is Secure: the session's and the flash message's.
func TestTLSCookiesAndHSTS(t *testing.T) {
	e := newEnv(t, true)
	console, err := New(context.Background(), Options{Store: e.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(console)
	defer ts.Close()
	c := ts.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	a := post(t, c, ts.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}})
	if sc := cookieNamed(a.header, "__Host-lvsconsole"); !strings.Contains(sc, "Secure") {
		t.Errorf("session cookie under TLS: %q", a.header.Values("Set-Cookie"))
	}
	for _, path := range []string{"/login", "/control", "/healthz", "/static/console.css", "/nope"} {
		if a := get(t, c, ts.URL+path); !strings.HasPrefix(a.header.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("GET %s under TLS: no HSTS", path)
		}
	}
	serial := strconv.FormatInt(e.config(t).Serial, 10)
	a = post(t, c, ts.URL+"/global", url.Values{"serial": {serial}, "network": {"nat"}})
	if fc := cookieNamed(a.header, flashCookie); a.code != http.StatusSeeOther || !strings.Contains(fc, "Secure") {
		t.Errorf("flash cookie under TLS = %q (%d)", fc, a.code)
	}
	// Taking the flash clears it with a Secure cookie too.
	a = get(t, c, ts.URL+"/global")
	if fc := cookieNamed(a.header, flashCookie); !strings.Contains(fc, "Secure") {
		t.Errorf("clearing the flash under TLS: %q", fc)
	}
}

func TestForwardedFor(t *testing.T) {
	trusted := func(a netip.Addr) bool {
		return netip.MustParsePrefix("10.0.0.0/8").Contains(a) || a == netip.MustParseAddr("192.0.2.1")
	}
	for _, tc := range []struct {
		peer    string
		headers []string
		want    string
	}{
		{"10.0.0.1", nil, "10.0.0.1"},
		{"10.0.0.1", []string{"203.0.113.1"}, "203.0.113.1"},
		{"10.0.0.1", []string{"203.0.113.1, 198.51.100.2"}, "198.51.100.2"},         // the right-most: the proxy wrote it
		{"10.0.0.1", []string{"203.0.113.1, 10.0.0.2"}, "203.0.113.1"},              // skipping a trusted proxy
		{"10.0.0.1", []string{"203.0.113.1", "10.0.0.2, 192.0.2.1"}, "203.0.113.1"}, // over several headers
		{"10.0.0.1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},                    // all trusted: the left-most
		{"10.0.0.1", []string{"garbage, 10.0.0.2"}, "10.0.0.2"},                     // not an address: stop at the last good hop
		{"10.0.0.1", []string{"203.0.113.1:4711"}, "203.0.113.1"},
		{"10.0.0.1", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"10.0.0.1", []string{" 2001:db8::2 "}, "2001:db8::2"},
		{"10.0.0.1", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"10.0.0.1", []string{""}, "10.0.0.1"},
	} {
		got := forwardedFor(netip.MustParseAddr(tc.peer), tc.headers, trusted)
		if got.String() != tc.want {
			t.Errorf("forwardedFor(%s, %q) = %s, want %s", tc.peer, tc.headers, got, tc.want)
		}
	}
}
