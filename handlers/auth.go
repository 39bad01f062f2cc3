package handlers

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// safeNext keeps a post-login redirect on this site: a path, never a URL
// elsewhere. It judges the target as a browser reads it: browsers drop tab,
// CR and LF anywhere in a URL and take a backslash for a slash, so
// "/\t/evil.example" and "/\\evil.example" are "//evil.example", another
// host. What is left must be a path with a single leading slash that
// url.Parse finds no scheme or host in; percent-encoded control characters
// (which some servers and proxies decode) and an encoded slash or backslash
// at the start are refused too. It returns the target as the browser will
// read it, or /control.
func safeNext(next string) string {
	const fallback = "/control"
	s := strings.NewReplacer("\t", "", "\r", "", "\n", "", `\`, "/").Replace(next)
	if len(s) < 2 || s[0] != '/' || s[1] == '/' {
		return fallback
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return fallback
		}
		if s[i] == '%' && i+2 < len(s) && encodedControl(s[i+1], s[i+2]) {
			return fallback
		}
	}
	if lead := strings.ToLower(s[1:min(len(s), 4)]); lead == "%2f" || lead == "%5c" {
		return fallback
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	if strings.HasPrefix(u.Path, "/login") || strings.HasPrefix(u.Path, "/setup") {
		return fallback
	}
	return s
}

// encodedControl reports whether %hi lo encodes an ASCII control character.
func encodedControl(hi, lo byte) bool {
	lo |= 0x20 // lower case
	isHex := lo >= '0' && lo <= '9' || lo >= 'a' && lo <= 'f'
	return isHex && (hi == '0' || hi == '1') || hi == '7' && lo == 'f'
}

// setupOpen reports whether first-time setup is still possible: no user
// exists (lvsconsole passwd may have made one meanwhile) and the code is
// unused.
func (c *Console) setupOpen(r *http.Request) bool {
	if c.setup == nil || !c.setup.open() {
		return false
	}
	has, err := c.store.HasUsers(r.Context())
	if err != nil {
		c.log.Error("counting users", "err", err)
		return false
	}
	if has {
		c.setup.close()
		return false
	}
	return true
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.sessionUser(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	if c.setupOpen(r) {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	f := web.NewForm(0)
	f.Values["user"] = "admin"
	f.Values["next"] = r.URL.Query().Get("next")
	c.render(w, r, http.StatusOK, web.Login(web.Page{Title: "Log in"}, f, false))
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	f := web.NewForm(0)
	f.Values["user"] = strings.TrimSpace(r.PostFormValue("user"))
	f.Values["next"] = r.PostFormValue("next")
	p := web.Page{Title: "Log in"}
	client := clientIP(r)
	if wait := c.throttle.wait(client); wait > 0 {
		p.Errors = []string{fmt.Sprintf("Too many failed logins from %s; try again in %s.", client, wait.Round(time.Second))}
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+1)))
		c.render(w, r, http.StatusTooManyRequests, web.Login(p, f, c.setupOpen(r)))
		return
	}
	user := f.Values["user"]
	err := c.store.CheckPassword(r.Context(), user, r.PostFormValue("password"))
	if errors.Is(err, store.ErrBadPassword) {
		c.throttle.fail(client)
		c.log.Warn("failed login", "user", user, "client", client)
		p.Errors = []string{"Wrong user name or password."}
		c.render(w, r, http.StatusUnauthorized, web.Login(p, f, c.setupOpen(r)))
		return
	}
	if err != nil {
		c.serverError(w, r, "checking the password", err)
		return
	}
	c.throttle.succeed(client)
	if err := c.startSession(w, r, user); err != nil {
		c.serverError(w, r, "starting a session", err)
		return
	}
	c.log.Info("login", "user", user, "client", client)
	http.Redirect(w, r, safeNext(f.Values["next"]), http.StatusSeeOther)
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, user string) error {
	token, err := c.store.CreateSession(r.Context(), user, c.policy)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     c.sessionCookie(),
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   int(c.policy.Absolute.Seconds()),
	})
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.sessionCookie()); err == nil {
		if err := c.store.DeleteSession(r.Context(), ck.Value); err != nil {
			c.serverError(w, r, "ending the session", err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: c.sessionCookie(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	c.log.Info("logout", "user", userOf(r))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) setupPage(w http.ResponseWriter, r *http.Request) {
	if !c.setupOpen(r) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	f := web.NewForm(0)
	f.Values["user"] = "admin"
	c.render(w, r, http.StatusOK, web.Setup(web.Page{Title: "First-time setup"}, f))
}

func (c *Console) doSetup(w http.ResponseWriter, r *http.Request) {
	if !c.setupOpen(r) {
		http.Error(w, "setup is closed: a console user exists", http.StatusForbidden)
		return
	}
	p := web.Page{Title: "First-time setup"}
	f := web.NewForm(0)
	f.Values["code"] = strings.TrimSpace(r.PostFormValue("code"))
	f.Values["user"] = strings.TrimSpace(r.PostFormValue("user"))
	client := clientIP(r)
	if wait := c.throttle.wait(client); wait > 0 {
		p.Errors = []string{fmt.Sprintf("Too many wrong setup codes; try again in %s.", wait.Round(time.Second))}
		c.render(w, r, http.StatusTooManyRequests, web.Setup(p, f))
		return
	}
	pw, pw2 := r.PostFormValue("password"), r.PostFormValue("password2")
	if !c.setup.matches(f.Values["code"]) {
		c.throttle.fail(client)
		c.log.Warn("wrong setup code", "client", client)
		f.Errs["code"] = "This is not the setup code in the log of lvsconsole serve."
	}
	if err := store.ValidateUserName(f.Values["user"]); err != nil {
		f.Errs["user"] = err.Error()
	}
	if err := store.ValidatePassword(pw); err != nil {
		f.Errs["password"] = err.Error()
	} else if pw != pw2 {
		f.Errs["password2"] = "The two passwords differ."
	}
	if f.HasErrors() {
		c.render(w, r, http.StatusUnprocessableEntity, web.Setup(p, f))
		return
	}
	// Close setup before the password is set, so that two racing requests
	// cannot both create an administrator.
	if !c.setup.close() {
		http.Error(w, "setup is closed: a console user exists", http.StatusForbidden)
		return
	}
	if err := c.store.SetPassword(r.Context(), f.Values["user"], pw); err != nil {
		c.setup.reopen()
		c.serverError(w, r, "creating the administrator", err)
		return
	}
	c.log.Info("first-time setup done", "user", f.Values["user"], "client", client)
	if err := c.startSession(w, r, f.Values["user"]); err != nil {
		c.serverError(w, r, "starting a session", err)
		return
	}
	http.Redirect(w, r, "/control", http.StatusSeeOther)
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, web.Account(c.page(w, r, "Account "+userOf(r), "", 0), web.NewForm(0)))
}

func (c *Console) changePassword(w http.ResponseWriter, r *http.Request) {
	user := userOf(r)
	p := c.page(w, r, "Account "+user, "", 0)
	f := web.NewForm(0)
	pw, pw2 := r.PostFormValue("password"), r.PostFormValue("password2")
	err := c.store.CheckPassword(r.Context(), user, r.PostFormValue("current"))
	switch {
	case errors.Is(err, store.ErrBadPassword):
		f.Errs["current"] = "This is not your current password."
	case err != nil:
		c.serverError(w, r, "checking the password", err)
		return
	}
	if err := store.ValidatePassword(pw); err != nil {
		f.Errs["password"] = err.Error()
	} else if pw != pw2 {
		f.Errs["password2"] = "The two passwords differ."
	}
	if f.HasErrors() {
		c.render(w, r, http.StatusUnprocessableEntity, web.Account(p, f))
		return
	}
	if err := c.store.SetPassword(r.Context(), user, pw); err != nil {
		c.serverError(w, r, "saving the password", err)
		return
	}
	// SetPassword ended every session of the user; this one starts afresh.
	if err := c.startSession(w, r, user); err != nil {
		c.serverError(w, r, "starting a session", err)
		return
	}
	p.Flash = "Password changed. Your other sessions were logged out."
	c.render(w, r, http.StatusOK, web.Account(p, web.NewForm(0)))
}

func (s *setupCode) matches(code string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToUpper(code)), []byte(s.code)) == 1
}

// open reports whether the setup code may still be used.
func (s *setupCode) open() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed
}

// close uses the code up; it reports false when someone else did first.
func (s *setupCode) close() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	return true
}

func (s *setupCode) reopen() {
	s.mu.Lock()
	s.closed = false
	s.mu.Unlock()
}

// clientIP is the peer's address; headers such as X-Forwarded-For are not
// trusted, since anyone can send them.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttle slows password and setup-code guessing per client address:
// after 5 failures each further attempt waits twice as long as the last,
// up to 15 minutes. A success clears the count.
type throttle struct {
	mu      sync.Mutex
	now     func() time.Time
	clients map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

const (
	freeFailures = 5
	maxLockout   = 15 * time.Minute
	forgetAfter  = time.Hour
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, clients: map[string]*failures{}}
}

// wait returns how long client must wait before its next attempt.
func (t *throttle) wait(client string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.clients[client]
	if f == nil || f.count < freeFailures {
		return 0
	}
	lock := time.Second << min(f.count-freeFailures, 10)
	lock = min(lock, maxLockout)
	if left := f.last.Add(lock).Sub(t.now()); left > 0 {
		return left
	}
	return 0
}

func (t *throttle) fail(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	// Forget clients that have been quiet for long, so the map stays small.
	if len(t.clients) > 10000 {
		for k, f := range t.clients {
			if now.Sub(f.last) > forgetAfter {
				delete(t.clients, k)
			}
		}
	}
	f := t.clients[client]
	if f == nil || now.Sub(f.last) > forgetAfter {
		f = &failures{}
		t.clients[client] = f
	}
	f.count++
	f.last = now
}

func (t *throttle) succeed(client string) {
	t.mu.Lock()
	delete(t.clients, client)
	t.mu.Unlock()
}
