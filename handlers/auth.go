package handlers

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	if _, err := c.session(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	if c.setupOpen(r) && c.sysAuth == nil { // with PAM, system users may log in: the page links to setup
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
	p := web.Page{Title: "Log in", ErrorsHead: "Not logged in:"}
	user, client := f.Values["user"], clientIP(r)
	pam := false // checked by PAM (pam.go)
	err := c.guess(r, throttleName(user), func() error {
		if store.ValidateUserName(user) != nil {
			return store.ErrBadPassword // no such user can exist: no hash
		}
		var err error
		pam, err = c.checkPassword(r, user, r.PostFormValue("password"))
		return err
	})
	var refusal *pamRefusal
	var th *throttled
	switch {
	case errors.As(err, &th):
		if !th.busy {
			c.throttledLogin(r, logName(user))
		}
		p.Errors = []string{th.message("logins")}
		th.header(w)
		c.render(w, r, http.StatusTooManyRequests, web.Login(p, f, c.setupOpen(r)))
		return
	case errors.As(err, &refusal):
		c.log.Warn("failed login", "user", logName(user), "client", client, "pam", refusal.err)
		c.audit(r, store.AuditEntry{Actor: logName(user), Kind: store.AuditLoginFailed, Detail: refusal.reason + " (pam)"})
		p.Errors = []string{"Wrong user name or password."}
		c.render(w, r, http.StatusUnauthorized, web.Login(p, f, c.setupOpen(r)))
		return
	case errors.Is(err, store.ErrBadPassword):
		c.log.Warn("failed login", "user", logName(user), "client", client)
		c.audit(r, store.AuditEntry{Actor: logName(user), Kind: store.AuditLoginFailed, Detail: "wrong user name or password"})
		p.Errors = []string{"Wrong user name or password."}
		c.render(w, r, http.StatusUnauthorized, web.Login(p, f, c.setupOpen(r)))
		return
	case err != nil:
		c.serverError(w, r, "checking the password", err)
		return
	}
	if err := c.startSession(w, r, user); err != nil {
		c.serverError(w, r, "starting a session", err)
		return
	}
	if pam {
		role, _ := c.store.UserRole(r.Context(), user)
		c.log.Info("login", "user", user, "client", client, "pam", true, "role", store.RoleName(role))
		c.audit(r, store.AuditEntry{Actor: user, Kind: store.AuditLogin, Detail: "pam, as " + store.RoleName(role)})
	} else {
		c.log.Info("login", "user", user, "client", client)
		c.audit(r, store.AuditEntry{Actor: user, Kind: store.AuditLogin})
	}
	http.Redirect(w, r, safeNext(f.Values["next"]), http.StatusSeeOther)
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, user string) error {
	token, err := c.store.CreateSession(r.Context(), user, c.policy)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     c.sessionCookie(r),
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   secureRequest(r),
		SameSite: http.SameSiteStrictMode,
		MaxAge:   int(c.policy.Absolute.Seconds()),
	})
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.sessionCookie(r)); err == nil {
		if err := c.store.DeleteSession(r.Context(), ck.Value); err != nil {
			c.serverError(w, r, "ending the session", err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: c.sessionCookie(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
	c.log.Info("logout", "user", userOf(r))
	c.audit(r, store.AuditEntry{Actor: userOf(r), Kind: store.AuditLogout})
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
	err := c.guess(r, setupKey, func() error {
		if !c.setup.matches(f.Values["code"]) {
			return errWrongCode
		}
		return nil
	})
	var th *throttled
	switch {
	case errors.As(err, &th):
		if !th.busy {
			c.throttledLogin(r, "(setup code)")
		}
		p.Errors = []string{th.message("setup codes")}
		th.header(w)
		c.render(w, r, http.StatusTooManyRequests, web.Setup(p, f))
		return
	case err != nil:
		c.log.Warn("wrong setup code", "client", client)
		f.Errs["code"] = "This is not the setup code in the log of lvsconsole serve."
	}
	pw, pw2 := r.PostFormValue("password"), r.PostFormValue("password2")
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
	if !c.hashes.enter(r.Context()) {
		th := &throttled{wait: time.Second, busy: true}
		p.Errors = []string{th.message("")}
		th.header(w)
		c.render(w, r, http.StatusTooManyRequests, web.Setup(p, f))
		return
	}
	defer c.hashes.leave()
	if !c.setup.close() {
		http.Error(w, "setup is closed: a console user exists", http.StatusForbidden)
		return
	}
	ctx := store.WithActor(r.Context(), store.Actor{Name: f.Values["user"], Client: client})
	if err := c.passwords.SetPassword(ctx, f.Values["user"], pw); err != nil {
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
	c.render(w, r, http.StatusOK, web.Account(c.page(w, r, "Account "+userOf(r), "", 0), web.NewForm(0), c.certFingerprint(), c.roleName(r), c.isPAMUser(r)))
}

// certFingerprint is the fingerprint of the console's certificate, "" over
// plain HTTP.
func (c *Console) certFingerprint() string {
	if c.fingerprint == nil {
		return ""
	}
	return c.fingerprint()
}

// changePassword checks the current password, then sets the new one,
// both in one turn of the hash gate. The current password is not checked
// while the new one is refused: nothing is hashed for nothing.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request) {
	user := userOf(r)
	p := c.page(w, r, "Account "+user, "", 0)
	f := web.NewForm(0)
	if c.isPAMUser(r) {
		p.Errors = []string{store.ErrPAMUser.Error() + "."}
		c.render(w, r, http.StatusForbidden, web.Account(p, f, c.certFingerprint(), c.roleName(r), true))
		return
	}
	pw, pw2 := r.PostFormValue("password"), r.PostFormValue("password2")
	if err := store.ValidatePassword(pw); err != nil {
		f.Errs["password"] = err.Error()
	} else if pw != pw2 {
		f.Errs["password2"] = "The two passwords differ."
	}
	if f.HasErrors() {
		c.render(w, r, http.StatusUnprocessableEntity, web.Account(p, f, c.certFingerprint(), c.roleName(r), false))
		return
	}
	saved := false
	err := c.guess(r, throttleName(user), func() error {
		if !c.hashes.enter(r.Context()) {
			return errBusy
		}
		defer c.hashes.leave()
		if err := c.passwords.CheckPassword(r.Context(), user, r.PostFormValue("current")); err != nil {
			return err
		}
		saved = true
		return c.passwords.SetPassword(r.Context(), user, pw)
	})
	var th *throttled
	switch {
	case errors.As(err, &th):
		if !th.busy {
			c.throttledLogin(r, logName(user))
		}
		p.Errors = []string{th.message("password checks")}
		th.header(w)
		c.render(w, r, http.StatusTooManyRequests, web.Account(p, f, c.certFingerprint(), c.roleName(r), false))
		return
	case errors.Is(err, store.ErrBadPassword):
		c.log.Warn("wrong current password on the account page", "user", user, "client", clientIP(r))
		f.Errs["current"] = "This is not your current password."
		c.render(w, r, http.StatusUnprocessableEntity, web.Account(p, f, c.certFingerprint(), c.roleName(r), false))
		return
	case err != nil && saved:
		c.serverError(w, r, "saving the password", err)
		return
	case err != nil:
		c.serverError(w, r, "checking the password", err)
		return
	}
	// SetPassword ended every session of the user; this one starts afresh.
	if err := c.startSession(w, r, user); err != nil {
		c.serverError(w, r, "starting a session", err)
		return
	}
	setFlash(w, r, "Password changed. Your other sessions were logged out.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
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

// Keys of the throttle for what is not a user name.
const (
	setupKey   = "\x00setup code"
	invalidKey = "\x00invalid name" // every name no user can have
)

// throttleName is the throttle's key for a user name typed at login: the name,
// or one key for all that cannot be a user's (so that junk names do not
// fill the throttle's tables).
func throttleName(name string) string {
	if store.ValidateUserName(name) != nil {
		return invalidKey
	}
	return name
}

// logName is a typed user name as it may be logged: not one that cannot be
// a user's, which may be a password typed in the wrong field.
func logName(name string) string {
	if store.ValidateUserName(name) != nil {
		return "(not a valid user name)"
	}
	return name
}

var (
	errWrongCode = errors.New("wrong setup code")
	// errBusy: no hash could run soon; the attempt was not made.
	errBusy = errors.New("too many password checks at once")
)

// throttled is an attempt refused before it was made.
type throttled struct {
	wait time.Duration
	busy bool // the hash gate's refusal, not the throttle's
}

func (e *throttled) Error() string { return "throttled" }

func (e *throttled) message(what string) string {
	if e.busy {
		return "The console is busy checking other passwords; try again in a second."
	}
	return fmt.Sprintf("Too many failed %s; try again in %s.", what, max(e.wait.Round(time.Second), time.Second))
}

// header says when to come back, in whole seconds, rounded up.
func (e *throttled) header(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int((e.wait+time.Second-1)/time.Second)))
}

// guess makes one attempt of r's client at user's password or the setup
// code: counted before check runs, refused (*throttled) while the
// throttle says wait. check returns nil for a right guess,
// store.ErrBadPassword or errWrongCode for a wrong one, errBusy when it
// could not run; an attempt that did not run, or failed for another
// reason, is not counted.
func (c *Console) guess(r *http.Request, user string, check func() error) error {
	client := clientAddr(r)
	if wait := c.throttle.attempt(client, user); wait > 0 {
		return &throttled{wait: wait}
	}
	err := check()
	switch {
	case err == nil:
		c.throttle.succeed(client, user)
	case errors.Is(err, errBusy):
		c.throttle.refund(client, user)
		return &throttled{wait: time.Second, busy: true}
	case errors.Is(err, store.ErrBadPassword), errors.Is(err, errWrongCode):
	default:
		c.throttle.refund(client, user)
	}
	return err
}
