package handlers

// API tokens: credentials for scripts and tools, made on the TOKENS page
// (linked from the account page) and sent as "Authorization: Bearer
// <token>". They are accepted on /api/ and /metrics only; every other page
// needs a session. A token acts as the console user who made it: the
// history names that user as the author of its changes.
//
// A token has a scope, chosen when it is made (scopes.go): a role, viewer
// (the API's "read" of before roles, still taken), operator or admin, no
// higher than its maker's (the store refuses it, and lowers a user's tokens
// with their role). It may expire: from then on it is refused with a 401
// that says so. The history names the token beside its owner, e.g. "alice
// (token deploy)". Whatever its scope it cannot make another token: that needs a
// session, that is someone who knows a password. Nor can it change a
// program the directors run as root (the store asks for the password).
// So a leaked token, once revoked, is the end of it: it cannot have left a
// successor behind, in the tokens or through a program. Tokens are local to each
// director, as users and the peer secret are: they are not part of the
// configuration, its history or its sync, and the standby takes them too.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

type tokenKey struct{}

// bearerPath reports whether a request to path may authenticate with an
// API token instead of a session.
func bearerPath(path string) bool {
	return apiPath(path) || path == "/metrics"
}

// bearerToken returns the token of an "Authorization: Bearer" header, and
// whether there is such a header (with or without a token).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// serveWithToken lets a request carrying an API token through as the
// token's owner, or refuses it: 401 in JSON, never a redirect to a login
// page a program cannot use. The token itself is never logged.
func (c *Console) serveWithToken(w http.ResponseWriter, r *http.Request, token string, next http.Handler) {
	t, err := c.store.LookupToken(r.Context(), token)
	if errors.Is(err, store.ErrTokenExpired) {
		c.log.Warn("refused an expired API token", "client", clientIP(r), "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="lvsconsole", error="invalid_token", error_description="the token has expired"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "the " + err.Error() + ": its owner may make another on the TOKENS page"})
		return
	}
	if errors.Is(err, store.ErrNoToken) {
		c.log.Warn("refused an API token", "client", clientIP(r), "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="lvsconsole", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "the API token is unknown or revoked"})
		return
	}
	if err != nil {
		c.apiServerError(w, r, "checking the API token", err)
		return
	}
	ctx := context.WithValue(r.Context(), userKey{}, t.Owner)
	ctx = context.WithValue(ctx, tokenKey{}, t)
	ctx = withScope(ctx, t.Scope)
	ctx = store.WithActor(ctx, store.Actor{Name: "token " + t.Name, Client: clientIP(r)})
	next.ServeHTTP(w, r.WithContext(ctx))
}

// tokenOf returns the id of the API token a request was authenticated
// with; false for a session.
func tokenOf(r *http.Request) (int64, bool) {
	t, ok := r.Context().Value(tokenKey{}).(store.Token)
	return t.ID, ok
}

// tokenNameOf returns the name of the API token a request was
// authenticated with, for store.Change.Token; "" for a session.
func tokenNameOf(r *http.Request) string {
	t, _ := r.Context().Value(tokenKey{}).(store.Token)
	return t.Name
}

// apiToken is an API token as the API lists it; Token, the text, is in the
// answer that creates it only.
type apiToken struct {
	ID       int64       `json:"id"`
	Name     string      `json:"name"`
	Owner    string      `json:"owner"`
	Scope    store.Scope `json:"scope"`
	Created  time.Time   `json:"created"`
	LastUsed time.Time   `json:"last_used,omitzero"`
	Revoked  time.Time   `json:"revoked,omitzero"`
	Expires  time.Time   `json:"expires,omitzero"`
	Expired  bool        `json:"expired,omitempty"`
	Token    string      `json:"token,omitempty"`
}

func apiTokenOf(t store.Token, now time.Time) apiToken {
	return apiToken{ID: t.ID, Name: t.Name, Owner: t.Owner, Scope: t.Scope, Created: t.Created.UTC(), LastUsed: t.LastUsed.UTC(),
		Revoked: t.Revoked.UTC(), Expires: t.Expires.UTC(), Expired: t.Expired(now)}
}

func (c *Console) apiTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := c.tokensOf(r)
	if err != nil {
		c.apiServerError(w, r, "listing the API tokens", err)
		return
	}
	out := struct {
		Tokens []apiToken `json:"tokens"`
	}{make([]apiToken, len(ts))}
	for i, t := range ts {
		out.Tokens[i] = apiTokenOf(t, c.now())
	}
	writeJSON(w, http.StatusOK, out)
}

// apiCreateToken makes a token ({"name": "...", "scope": "viewer",
// "expires": "2027-01-31T00:00:00Z"}), with a session only. A scope above
// the caller's role is 403; other refusals are 422, all at once.
func (c *Console) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	if _, ok := tokenOf(r); ok {
		writeJSON(w, http.StatusForbidden, apiError{Error: "an API token cannot make another: log in to the console " +
			"(the TOKENS page, or this route with the session cookie), so that a leaked token cannot leave a successor behind"})
		return
	}
	body, err := readBody(r, maxJSON, true)
	var in struct {
		Name    string `json:"name"`
		Scope   string `json:"scope"`
		Expires string `json:"expires"` // RFC 3339; "" or absent: never
	}
	if err == nil {
		err = decodeStrict(body, &in)
	}
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	role := requestScope(r)
	scope, refused, aboveRole := checkToken(in.Name, in.Scope, role)
	expires, err := parseExpires(in.Expires, c.now())
	if err != nil {
		refused["expires"] = err.Error()
	}
	if len(refused) > 0 {
		var e apiError
		var msgs []string
		for _, f := range []string{"name", "scope", "expires"} {
			if msg, ok := refused[f]; ok {
				msgs = append(msgs, f+": "+msg)
				e.Fields = append(e.Fields, apiFieldError{Field: f, Message: msg})
			}
		}
		e.Error = "nothing was saved: " + strings.Join(msgs, "; ")
		code := http.StatusUnprocessableEntity
		if aboveRole && len(refused) == 1 {
			code = http.StatusForbidden // the request is sound; the caller may not
		}
		writeJSON(w, code, e)
		return
	}
	t, text, err := c.store.CreateTokenUntil(r.Context(), userOf(r), in.Name, scope, expires)
	if se := (*store.ScopeAboveRoleError)(nil); errors.As(err, &se) { // the role lowered meanwhile
		writeJSON(w, http.StatusForbidden, apiError{Error: "nothing was saved: scope: " + se.Error(),
			Fields: []apiFieldError{{Field: "scope", Message: se.Error()}}})
		return
	}
	if err != nil {
		c.apiServerError(w, r, "making the API token", err)
		return
	}
	c.log.Info("API token created", "user", userOf(r), "token_id", t.ID, "name", t.Name, "scope", t.Scope, "expires", t.Expires)
	out := apiTokenOf(t, c.now())
	out.Token = text
	writeJSON(w, http.StatusCreated, out)
}

// checkToken checks the name and scope of a new token made by a user of
// role, returning the scope, each refusal by field, and whether the scope
// was refused for being above role.
func checkToken(name, scope string, role store.Scope) (store.Scope, map[string]string, bool) {
	refused := map[string]string{}
	if err := store.ValidateTokenName(name); err != nil {
		refused["name"] = err.Error()
	}
	s, err := store.ParseTokenScope(scope)
	if err != nil {
		refused["scope"] = err.Error()
		return s, refused, false
	}
	if !role.Allows(s) {
		refused["scope"] = (&store.ScopeAboveRoleError{Scope: s, Role: role}).Error()
		return s, refused, true
	}
	return s, refused, false
}

// parseExpires reads the API's expiry of a new token: a time in RFC 3339,
// after now; "" is none.
func parseExpires(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time: give one in RFC 3339, e.g. %s, or none for a token that does not expire",
			v, now.UTC().AddDate(0, 0, 30).Truncate(24*time.Hour).Format(time.RFC3339))
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is past: give a time to come, or none for a token that does not expire", v)
	}
	return t, nil
}

// tokenLifetimes are the TOKENS page's choices of expiry.
func tokenLifetimes() []struct {
	value, label string
	days         int
} {
	return []struct {
		value, label string
		days         int
	}{
		{"", "never", 0}, {"1d", "in 1 day", 1}, {"7d", "in 7 days", 7}, {"30d", "in 30 days", 30},
		{"90d", "in 90 days", 90}, {"1y", "in 1 year", 365},
	}
}

// lifetimeOptions are the choices of expiry, for the TOKENS page.
func lifetimeOptions() []web.Option {
	var opts []web.Option
	for _, l := range tokenLifetimes() {
		opts = append(opts, web.Option{Value: l.value, Label: l.label})
	}
	return opts
}

// parseLifetime reads the TOKENS page's choice of expiry: the time the
// token expires, counted from now; zero for never.
func parseLifetime(v string, now time.Time) (time.Time, error) {
	var names []string
	for _, l := range tokenLifetimes() {
		if v == l.value {
			if l.days == 0 {
				return time.Time{}, nil
			}
			return now.AddDate(0, 0, l.days), nil
		}
		names = append(names, l.label)
	}
	return time.Time{}, fmt.Errorf("%q is not allowed: choose %s", v, strings.Join(names, ", "))
}

// parseExpiryDate reads the TOKENS page's date of expiry (YYYY-MM-DD, as a
// date input sends it): the token stops at the start of that day, in the
// director's time zone; it must be a day after today. "" is none.
func parseExpiryDate(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, now.Location())
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date: give one as %s", v, now.AddDate(0, 0, 30).Format(time.DateOnly))
	}
	if !d.After(now) {
		return time.Time{}, fmt.Errorf("%s is not after today: give a later day, or none", v)
	}
	return d, nil
}

// scopeOptions are the scopes a user of role may give a token, named as
// roles.
func scopeOptions(role store.Scope) []web.Option {
	words := map[store.Scope]string{
		store.ScopeRead:     "reads everything (the API's GETs and /metrics), for dashboards and scrapers",
		store.ScopeOperator: "viewer, and activates or deactivates servers and changes a real server's weight, for on-call people and drain scripts",
		store.ScopeAdmin:    "the whole API, for scripts that manage the configuration",
	}
	var opts []web.Option
	for _, s := range store.Scopes() {
		if role.Allows(s) {
			opts = append(opts, web.Option{Value: store.RoleName(s), Label: store.RoleName(s) + ": " + words[s]})
		}
	}
	return opts
}

func (c *Console) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	id := idParam(r, "tid")
	t, err := c.revoke(r, id)
	if errors.Is(err, store.ErrNoToken) {
		c.apiRefuse(w, r, goneError(fmt.Sprintf("there is no API token %d", id)), nil)
		return
	}
	if err != nil {
		c.apiServerError(w, r, "revoking the API token", err)
		return
	}
	c.log.Info("API token revoked", "user", userOf(r), "token_id", t.ID, "name", t.Name)
	writeJSON(w, http.StatusOK, apiTokenOf(t, c.now()))
}

// The TOKENS page.

func (c *Console) tokensPage(w http.ResponseWriter, r *http.Request) {
	made := c.handoffs.take(w, r) // a token just made, shown this once
	v := web.TokensView{Form: web.NewForm(0), Shown: made.Secret, ShownName: made.SecretName}
	c.renderTokens(w, r, c.page(w, r, "", "", 0), v, http.StatusOK)
}

func (c *Console) renderTokens(w http.ResponseWriter, r *http.Request, p web.Page, v web.TokensView, code int) {
	ts, err := c.tokensOf(r)
	if err != nil {
		c.serverError(w, r, "listing the API tokens", err)
		return
	}
	role := requestScope(r)
	p.Title = "API tokens"
	v.Scopes, v.Lifetimes, v.Role = scopeOptions(role), lifetimeOptions(), store.RoleName(role)
	now := c.now()
	for _, t := range ts {
		v.Rows = append(v.Rows, web.TokenRow{ID: t.ID, Name: t.Name, Owner: t.Owner, Scope: store.RoleName(t.Scope),
			Created: t.Created, LastUsed: t.LastUsed, Revoked: t.Revoked, Expires: t.Expires, Expired: t.Expired(now)})
	}
	c.render(w, r, code, web.Tokens(p, v))
}

// createToken makes a token, and redirects to the TOKENS page, which shows
// it this once (handoffs: it is kept nowhere else).
func (c *Console) createToken(w http.ResponseWriter, r *http.Request) {
	f := web.NewForm(0)
	name, scopeName, lifetime, on := r.PostFormValue("name"), r.PostFormValue("scope"), r.PostFormValue("expires"), r.PostFormValue("expires_on")
	f.Values["name"], f.Values["scope"], f.Values["expires"], f.Values["expires_on"] = name, scopeName, lifetime, on
	role := requestScope(r)
	scope, refused, _ := checkToken(name, scopeName, role)
	expires, err := parseLifetime(lifetime, c.now())
	if err != nil {
		refused["expires"] = err.Error()
	}
	if day, err := parseExpiryDate(on, c.now()); err != nil {
		refused["expires_on"] = err.Error()
	} else if !day.IsZero() && lifetime != "" {
		refused["expires_on"] = "is a second expiry: choose never above, or leave the date empty"
	} else if !day.IsZero() {
		expires = day
	}
	if len(refused) == 0 {
		var t store.Token
		var text string
		t, text, err = c.store.CreateTokenUntil(r.Context(), userOf(r), name, scope, expires)
		if se := (*store.ScopeAboveRoleError)(nil); errors.As(err, &se) { // the role lowered meanwhile
			refused["scope"] = se.Error()
		} else if err != nil {
			c.serverError(w, r, "making the API token", err)
			return
		} else {
			c.log.Info("API token created", "user", userOf(r), "token_id", t.ID, "name", t.Name, "scope", t.Scope, "expires", t.Expires)
			c.handoffs.give(w, r, "/tokens", handed{Secret: text, SecretName: t.Name})
			until := ""
			if !t.Expires.IsZero() {
				until = ", until " + web.Stamp(t.Expires)
			}
			setFlash(w, r, fmt.Sprintf("Token %s (%s%s) created. Copy it now: it is not shown again.", t.Name, store.RoleName(t.Scope), until))
			http.Redirect(w, r, "/tokens", http.StatusSeeOther)
			return
		}
	}
	p := c.page(w, r, "", "", 0)
	if msg, ok := refused["name"]; ok {
		f.Errs["name"] = "Token name " + msg
	}
	if msg, ok := refused["scope"]; ok {
		if rest, above := strings.CutPrefix(msg, "scope "); above { // "scope admin is above your role ..."
			f.Errs["scope"] = "Scope " + rest
		} else {
			f.Errs["scope"] = "Scope " + msg
		}
	}
	if msg, ok := refused["expires"]; ok {
		f.Errs["expires"] = "Expires: " + msg
	}
	if msg, ok := refused["expires_on"]; ok {
		f.Errs["expires_on"] = "Date of expiry: " + msg
	}
	p.Errors = []string{"Some values were refused: see the messages beside the fields."}
	c.renderTokens(w, r, p, web.TokensView{Form: f}, http.StatusUnprocessableEntity)
}

// revokeToken is REVOKE: post, redirect, get.
func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) {
	t, err := c.revoke(r, idParam(r, "tid"))
	if errors.Is(err, store.ErrNoToken) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.serverError(w, r, "revoking the API token", err)
		return
	}
	c.log.Info("API token revoked", "user", userOf(r), "token_id", t.ID, "name", t.Name)
	setFlash(w, r, fmt.Sprintf("Token %s revoked: it no longer opens anything.", t.Name))
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}

// tokensOf lists the tokens the request's user manages: an admin every
// token of this director, another role their own.
func (c *Console) tokensOf(r *http.Request) ([]store.Token, error) {
	ts, err := c.store.ListTokens(r.Context())
	if err != nil || requestScope(r).Allows(store.ScopeAdmin) {
		return ts, err
	}
	own := ts[:0]
	for _, t := range ts {
		if t.Owner == userOf(r) {
			own = append(own, t)
		}
	}
	return own, nil
}

// revoke revokes token id if the request's user manages it; another
// user's token is ErrNoToken to a non-admin, as if it did not exist.
func (c *Console) revoke(r *http.Request, id int64) (store.Token, error) {
	ts, err := c.tokensOf(r)
	if err != nil {
		return store.Token{}, err
	}
	if !slices.ContainsFunc(ts, func(t store.Token) bool { return t.ID == id }) {
		return store.Token{}, store.ErrNoToken
	}
	return c.store.RevokeToken(r.Context(), id)
}
