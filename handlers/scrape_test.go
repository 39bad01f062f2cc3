package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// TestMetricsWithoutCredentials: a scraper without credentials, or with a
// token that is no good, gets 401 with a Bearer challenge and a short
// text, never the HTML login page.
func TestMetricsWithoutCredentials(t *testing.T) {
	e := newEnv(t, true)
	for _, tc := range []struct {
		name, method, auth string
	}{
		{"no credentials", http.MethodGet, ""},
		{"no credentials, HEAD", http.MethodHead, ""},
		{"an unknown token", http.MethodGet, "Bearer lvs_not_a_token"},
		{"an empty token", http.MethodGet, "Bearer "},
		{"basic authentication", http.MethodGet, "Basic YWRtaW46eA=="},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+"/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		a := do(t, e.client(t), req)
		ct := a.header.Get("Content-Type")
		if a.code != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), `Bearer realm="lvsconsole"`) {
			t.Errorf("%s: %d, WWW-Authenticate %q: want 401 with a Bearer challenge", tc.name, a.code, a.header.Get("WWW-Authenticate"))
		}
		if strings.Contains(ct, "html") || strings.Contains(a.body, "<!doctype") || strings.Contains(a.body, "<a ") || len(a.body) > 200 {
			t.Errorf("%s: %s body %q: want a short text", tc.name, ct, a.body)
		}
	}
	// With a session it answers.
	if a := get(t, e.login(t), e.srv.URL+"/metrics"); a.code != http.StatusOK {
		t.Errorf("with a session: %d", a.code)
	}
}
