package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// handoffRequest is a GET of path by user, carrying the cookies set on w.
func handoffRequest(path, user string, w *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if w != nil {
		for _, ck := range w.Result().Cookies() {
			r.AddCookie(ck)
		}
	}
	return r.WithContext(context.WithValue(r.Context(), userKey{}, user))
}

// TestHandoffs: what a POST leaves for the page it redirects to is shown
// once, to its user, within a minute; at most maxHandoffs wait.
func TestHandoffs(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	h := newHandoffs(func() time.Time { return now })
	give := func(user, secret string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.give(w, handoffRequest("/tokens", user, nil), "/tokens", handed{Secret: secret})
		return w
	}

	w := give("admin", "s1")
	ck := w.Result().Cookies()
	if len(ck) != 1 || ck[0].Path != "/tokens" || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].MaxAge != 60 {
		t.Fatalf("the cookie: %+v", ck)
	}
	if got := h.take(httptest.NewRecorder(), handoffRequest("/tokens", "admin", w)); got.Secret != "s1" {
		t.Errorf("taken once: %q, want s1", got.Secret)
	}
	if got := h.take(httptest.NewRecorder(), handoffRequest("/tokens", "admin", w)); got.Secret != "" {
		t.Errorf("taken twice: %q", got.Secret)
	}

	w = give("admin", "s2")
	if got := h.take(httptest.NewRecorder(), handoffRequest("/tokens", "mallory", w)); got.Secret != "" {
		t.Errorf("another user took %q", got.Secret)
	}
	if got := h.take(httptest.NewRecorder(), handoffRequest("/tokens", "admin", w)); got.Secret != "" {
		t.Errorf("taken after another user's try: %q", got.Secret)
	}

	w = give("admin", "s3")
	now = now.Add(handoffLife + time.Second)
	if got := h.take(httptest.NewRecorder(), handoffRequest("/tokens", "admin", w)); got.Secret != "" {
		t.Errorf("taken after its minute: %q", got.Secret)
	}

	first := give("admin", "first")
	for range maxHandoffs {
		now = now.Add(time.Millisecond)
		give("admin", "more")
	}
	if n := len(h.items); n != maxHandoffs {
		t.Errorf("%d wait, want at most %d", n, maxHandoffs)
	}
	if got := h.take(httptest.NewRecorder(), handoffRequest("/tokens", "admin", first)); got.Secret != "" {
		t.Errorf("the oldest was kept beyond the bound: %q", got.Secret)
	}
}
