package handlers

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// offSiteTargets are the post-login targets that a browser would take off
// the console: every known way of sneaking a second slash, a scheme or a
// host past a check that looks at the raw text.
var offSiteTargets = []string{
	"",
	"/",
	"//evil.example",
	"//evil.example/x",
	"///evil.example",
	"/\\evil.example",
	"\\\\evil.example",
	"\\/evil.example",
	"/\t/evil.example",
	"\t//evil.example",
	"/\n/evil.example",
	"/\r\n/evil.example",
	"/\r/evil.example",
	"/%09/evil.example",
	"/%0a/evil.example",
	"/%0D/evil.example",
	"/%00/evil.example",
	"/%7f/evil.example",
	"/history%09/x",
	"/%2F/evil.example",
	"/%2f/evil.example",
	"/%5C/evil.example",
	"/%5c/evil.example",
	"https:evil.example",
	"https://evil.example",
	"http:/evil.example",
	"javascript:alert(1)",
	"evil.example",
	" //evil.example",
	"\x00//evil.example",
	"/\x00/evil.example",
	"/\x0b/evil.example",
	"/login",
	"/login?next=//evil.example",
	"/setup",
}

func TestSafeNextRefusesOffSiteTargets(t *testing.T) {
	for _, next := range offSiteTargets {
		if got := safeNext(next); got != "/control" {
			t.Errorf("safeNext(%q) = %q, want /control", next, got)
		}
	}
}

func TestSafeNextKeepsConsolePaths(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/control", "/control"},
		{"/virtual/3/real?x=1", "/virtual/3/real?x=1"},
		{"/history?before=20", "/history?before=20"},
		{"/virtual/3/re\tal", "/virtual/3/real"}, // what the browser asks for
		{"/virtual%2f3", "/virtual%2f3"},         // an encoded slash past the start stays in the path
		{"/x#//evil.example", "/x#//evil.example"},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

// browserTarget is where a browser on page base goes for a Location: it
// drops leading and trailing C0 controls and spaces and every tab, CR and
// LF, and reads a backslash as a slash (the WHATWG URL standard, for http
// and https).
func browserTarget(t *testing.T, base *url.URL, loc string) *url.URL {
	t.Helper()
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	loc = strings.NewReplacer("\t", "", "\r", "", "\n", "", `\`, "/").Replace(loc)
	u, err := url.Parse(loc)
	if err != nil {
		return nil // the browser would not go anywhere either
	}
	return base.ResolveReference(u)
}

// TestLoginRedirectStaysOnTheConsole logs in with each off-site target as
// next, over a real server, and follows the Location as a browser would.
func TestLoginRedirectStaysOnTheConsole(t *testing.T) {
	e := newEnv(t, true)
	base, _ := url.Parse(e.srv.URL + "/login")
	for _, next := range offSiteTargets {
		c := e.client(t)
		a := rawPost(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}, "next": {next}})
		if a.code != http.StatusSeeOther {
			t.Fatalf("login with next %q = %d: %s", next, a.code, a.body)
		}
		to := browserTarget(t, base, a.location)
		if to == nil || to.Host != base.Host || to.Scheme != base.Scheme {
			t.Errorf("login with next %q sends the browser to %q (%v)", next, a.location, to)
			continue
		}
		if b := get(t, c, to.String()); b.code >= 500 {
			t.Errorf("following %q: %d", a.location, b.code)
		}
	}
	// A console page is still where the login goes on.
	c := e.client(t)
	a := post(t, c, e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}, "next": {"/history"}})
	if a.location != "/history" {
		t.Errorf("login with next /history went to %q", a.location)
	}
	// And so does GET /login of a user already logged in.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/login?next="+url.QueryEscape("/\t/evil.example"), nil)
	a = roundTrip(t, c, req)
	if to := browserTarget(t, base, a.location); a.code != http.StatusSeeOther || to == nil || to.Host != base.Host {
		t.Errorf("GET /login when logged in = %d %q", a.code, a.location)
	}
}

// rawPost posts a form without following or even parsing the answer's
// Location, which Go's client refuses when it holds a control character
// (a browser does not: it drops them); cookies the answer sets go into c's
// jar.
func rawPost(t *testing.T, c *http.Client, u string, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return roundTrip(t, c, req)
}

// roundTrip sends req with c's cookies over one transport round trip.
func roundTrip(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	for _, ck := range c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.Jar.SetCookies(req.URL, resp.Cookies())
	return answer{code: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}
