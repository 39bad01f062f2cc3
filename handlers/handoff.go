package handlers

import (
	"crypto/rand"
	"net/http"
	"sync"
	"time"
)

// A POST that saves answers with a redirect to a page (POST, redirect,
// GET), so that reloading what the browser shows is a GET and never sends
// the POST again. A short message rides in the flash cookie. What a page
// must show once and cannot put in a cookie, a token or peer secret just
// made (kept nowhere else) or an import's warnings (which may be many),
// waits here, in memory, for that page: for the user who made it, whose
// browser holds its id in a cookie, for a minute at most.

// handed is what a page shows once, after the POST that made it.
type handed struct {
	Secret     string   // a peer secret or API token just made
	SecretName string   // the token's name
	Warnings   []string // an import's
}

const (
	handoffCookie = "lvsconsole_handoff"
	handoffLife   = time.Minute
	maxHandoffs   = 64 // the oldest waiting is dropped beyond
)

type handoffEntry struct {
	user string
	at   time.Time
	show handed
}

// handoffs keeps what waits for the page a POST redirects to.
type handoffs struct {
	now   func() time.Time
	mu    sync.Mutex
	items map[string]handoffEntry
}

func newHandoffs(now func() time.Time) *handoffs {
	return &handoffs{now: now, items: map[string]handoffEntry{}}
}

// give keeps show for the page at path, which the browser of the request's
// user is redirected to next.
func (h *handoffs) give(w http.ResponseWriter, r *http.Request, path string, show handed) {
	id := rand.Text()
	now := h.now()
	h.mu.Lock()
	for k, e := range h.items {
		if now.Sub(e.at) > handoffLife {
			delete(h.items, k)
		}
	}
	if len(h.items) >= maxHandoffs {
		oldest := ""
		for k, e := range h.items {
			if oldest == "" || e.at.Before(h.items[oldest].at) {
				oldest = k
			}
		}
		delete(h.items, oldest)
	}
	h.items[id] = handoffEntry{user: userOf(r), at: now, show: show}
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: handoffCookie, Value: id, Path: path, MaxAge: int(handoffLife / time.Second),
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
}

// take returns what waits for this page, once: a reload shows nothing.
func (h *handoffs) take(w http.ResponseWriter, r *http.Request) handed {
	ck, err := r.Cookie(handoffCookie)
	if err != nil {
		return handed{}
	}
	http.SetCookie(w, &http.Cookie{Name: handoffCookie, Value: "", Path: r.URL.Path, MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.items[ck.Value]
	if !ok {
		return handed{}
	}
	delete(h.items, ck.Value)
	if e.user != userOf(r) || h.now().Sub(e.at) > handoffLife {
		return handed{}
	}
	return e.show
}
