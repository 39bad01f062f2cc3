package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// route is one method and path of the router, its parameters filled in.
type route struct{ method, path string }

// walkRoutes lists every route of the console, with vid and rid for the
// ids of a virtual and a real server, 1 for other ids.
func walkRoutes(t *testing.T, c *Console, vid, rid int64) []route {
	t.Helper()
	param := regexp.MustCompile(`\{(\w+)(:[^}]*)?\}`)
	var out []route
	err := chi.Walk(c.mux, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		p := param.ReplaceAllStringFunc(pattern, func(m string) string {
			switch param.FindStringSubmatch(m)[1] {
			case "vid":
				return strconv.FormatInt(vid, 10)
			case "rid":
				return strconv.FormatInt(rid, 10)
			case "serial", "tid":
				return "1"
			case "name":
				return "admin"
			}
			t.Fatalf("route %s has a parameter this test does not know", pattern)
			return ""
		})
		out = append(out, route{method, strings.ReplaceAll(p, "/*", "/console.css")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 30 {
		t.Fatalf("walked only %d routes", len(out))
	}
	return out
}

// multipartFiles returns the temporary files Go's multipart parser left in
// dir.
func multipartFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "multipart-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// bigMultipart is a multipart body with a file part of n bytes.
func bigMultipart(n int) (*bytes.Buffer, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("serial", "1")
	mw.WriteField("user", "admin")
	fw, _ := mw.CreateFormFile("file", "lvs.cf")
	fw.Write(bytes.Repeat([]byte("# padding line of an lvs.cf\n"), n/28+1))
	mw.Close()
	return &b, mw.FormDataContentType()
}

// hideLength makes a body of unknown length: it goes chunked, past any
// check of Content-Length.
type hideLength struct{ io.Reader }

// TestMultipartLeavesNoTempFiles: a large multipart body, to a form that
// takes none or to the lvs.cf import, leaves no temporary file behind:
// whether it is refused, accepted, larger than the limit, or cut off by a
// client that goes away midway. (Go removes the files of the request it
// made only, and the router hands handlers a copy: golang/go#58809.)
func TestMultipartLeavesNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newEnv(t, true)
	c := e.login(t)
	anon := e.client(t)

	// 40 MB to the login page, which takes a small urlencoded form: over
	// Go's default 32 MB in memory, so the rest would go to a file.
	body, ct := bigMultipart(40 << 20)
	for _, chunked := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(body.Bytes())
		if chunked {
			r = hideLength{r}
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", r)
		req.Header.Set("Content-Type", ct)
		// The server may answer and close before the client has sent it
		// all: the client then sees its write fail.
		resp, err := anon.Do(req)
		switch {
		case err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE):
			t.Fatal(err)
		case err == nil:
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType && resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("40 MB multipart to /login (chunked %v) = %d, want 415 or 413", chunked, resp.StatusCode)
			}
		}
		if f := multipartFiles(t, tmp); len(f) > 0 {
			t.Fatalf("40 MB multipart to /login (chunked %v) left %v", chunked, f)
		}
	}

	// The import takes a multipart upload: one larger than what it keeps
	// in memory goes to a file, which must go when the answer is sent.
	upload := func(n int, chunked bool) answer {
		body, ct := bigMultipart(n)
		var r io.Reader = body
		if chunked {
			r = hideLength{r}
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/import", r)
		req.Header.Set("Content-Type", ct)
		return do(t, c, req)
	}
	if a := upload(6<<20, false); a.code != http.StatusSeeOther {
		t.Errorf("6 MB upload = %d: %.300s", a.code, a.body)
	}
	if f := multipartFiles(t, tmp); len(f) > 0 {
		t.Errorf("an accepted upload left %v", f)
	}
	a := upload(maxUpload+1<<20, true)
	if a.code != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "larger than") {
		t.Errorf("an upload over the limit = %d, want 413 saying so: %.300s", a.code, a.body)
	}
	if f := multipartFiles(t, tmp); len(f) > 0 {
		t.Errorf("an upload over the limit left %v", f)
	}

	// A client that goes away midway, once the upload has reached a file.
	body, ct = bigMultipart(6 << 20)
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.srv.URL)
	var cookies []string
	for _, ck := range c.Jar.Cookies(u) {
		cookies = append(cookies, ck.String())
	}
	fmt.Fprintf(conn, "POST /import HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nCookie: %s\r\n\r\n",
		u.Host, ct, body.Len(), strings.Join(cookies, "; "))
	deadline := time.Now().Add(20 * time.Second)
	for len(multipartFiles(t, tmp)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sent %d bytes of the upload and no temporary file appeared", 6<<20-body.Len())
		}
		if body.Len() > 0 {
			if _, err := conn.Write(body.Next(64 << 10)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		time.Sleep(10 * time.Millisecond) // polling the directory, with a deadline
	}
	conn.Close()
	for f := multipartFiles(t, tmp); len(f) > 0; f = multipartFiles(t, tmp) {
		if time.Now().After(deadline) {
			t.Fatalf("a client that went away midway left %v", f)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBodyOverLimitIs413 walks the router: on every route and method that
// takes a body, one over the route's limit is refused with 413 and a
// message that says so, whether the client announced its length or not.
func TestBodyOverLimitIs413(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	c := e.login(t)
	routes := walkRoutes(t, e.console, cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID)
	checked := 0
	for _, rt := range routes {
		if rt.method == http.MethodGet || rt.method == http.MethodHead {
			continue
		}
		limit, ct := int64(maxForm), "application/x-www-form-urlencoded"
		switch {
		case rt.path == "/import":
			limit = maxUpload
		case rt.path == "/api/v1/config.cf":
			limit, ct = maxUpload, "text/plain"
		case apiPath(rt.path):
			limit, ct = maxJSON, "application/json"
		}
		for _, chunked := range []bool{false, true} {
			over := append([]byte("a="), bytes.Repeat([]byte("x"), int(limit))...)
			if rt.path == "/import" {
				b, mct := bigMultipart(int(limit))
				over, ct = b.Bytes(), mct
			}
			var r io.Reader = bytes.NewReader(over)
			if chunked {
				r = hideLength{r}
			}
			req, _ := http.NewRequest(rt.method, e.srv.URL+rt.path, r)
			req.Header.Set("Content-Type", ct)
			a := do(t, c, req)
			checked++
			if a.code != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "larger than") {
				t.Errorf("%s %s with %d bytes (chunked %v) = %d, want 413 saying the body is too large: %.200s",
					rt.method, rt.path, len(over), chunked, a.code, a.body)
			}
		}
	}
	if checked < 40 {
		t.Errorf("checked only %d routes", checked)
	}
}

// TestFormsTakeURLEncodedOnly: a form route refuses a multipart or any
// other body than a urlencoded form, saying what it takes; the import
// takes multipart only.
func TestFormsTakeURLEncodedOnly(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	for _, tc := range []struct {
		path, ct, body, want string
	}{
		{"/global", "multipart/form-data; boundary=xyz", "--xyz--\r\n", "application/x-www-form-urlencoded"},
		{"/login", "multipart/form-data; boundary=xyz", "--xyz--\r\n", "application/x-www-form-urlencoded"},
		{"/global", "text/plain", "network=nat", "application/x-www-form-urlencoded"},
		{"/global", "", "network=nat", "application/x-www-form-urlencoded"},
		{"/import", "application/x-www-form-urlencoded", "file=x", "multipart/form-data"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		a := do(t, c, req)
		if a.code != http.StatusUnsupportedMediaType || !strings.Contains(a.body, tc.want) {
			t.Errorf("POST %s as %q = %d %q, want 415 naming %s", tc.path, tc.ct, a.code, a.body, tc.want)
		}
	}
	// A urlencoded form with a charset, and an empty POST, are fine.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/logout", nil)
	if a := do(t, c, req); a.code != http.StatusSeeOther {
		t.Errorf("an empty POST /logout = %d", a.code)
	}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader(url.Values{"user": {"admin"}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	if a := do(t, c, req); a.code != http.StatusSeeOther {
		t.Errorf("login with a charset = %d", a.code)
	}
}

func TestPolicyFor(t *testing.T) {
	to := Timeouts{}.withDefaults()
	for _, tc := range []struct {
		path   string
		kind   bodyKind
		limit  int64
		read   time.Duration
		stream bool
	}{
		{"/login", formBody, maxForm, to.Body, false},
		{"/global", formBody, maxForm, to.Body, false},
		{"/a/route/added/later", formBody, maxForm, to.Body, false},
		{"/import", uploadBody, maxUpload, to.Upload, false},
		{"/api/v1/config.cf", rawBody, maxUpload, to.Upload, false},
		{"/api/v1/virtual/3", rawBody, maxJSON, to.Body, false},
		{"/api", rawBody, maxJSON, to.Body, false},
		{"/control/stream", formBody, maxForm, to.Body, true},
		{"/control", formBody, maxForm, to.Body, false},
	} {
		p := policyFor(tc.path, to)
		if p.kind != tc.kind || p.limit != tc.limit || p.read != tc.read || p.stream != tc.stream {
			t.Errorf("policyFor(%s) = %+v", tc.path, p)
		}
	}
}
