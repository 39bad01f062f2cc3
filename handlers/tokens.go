package handlers

// API tokens: credentials for scripts and tools, made on the TOKENS page
// (linked from the account page) and sent as "Authorization: Bearer
// <token>". They are accepted on /api/ and /metrics only; every other page
// needs a session. A token acts as the console user who made it: the
// history names that user as the author of its changes.
//
// A token may read everything, change the configuration, list tokens and
// revoke them, but not make another token: that needs a session, that is
// someone who knows a password. So a leaked token, once revoked, is the end
// of it: it cannot have left a successor behind. Tokens are local to each
// director, as users and the peer secret are: they are not part of the
// configuration, its history or its sync, and the standby takes them too.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	ctx = context.WithValue(ctx, tokenKey{}, t.ID)
	next.ServeHTTP(w, r.WithContext(ctx))
}

// tokenOf returns the id of the API token a request was authenticated
// with; false for a session.
func tokenOf(r *http.Request) (int64, bool) {
	id, ok := r.Context().Value(tokenKey{}).(int64)
	return id, ok
}

// apiToken is an API token as the API lists it; Token, the text, is in the
// answer that creates it only.
type apiToken struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Owner    string    `json:"owner"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Revoked  time.Time `json:"revoked,omitzero"`
	Token    string    `json:"token,omitempty"`
}

func apiTokenOf(t store.Token) apiToken {
	return apiToken{ID: t.ID, Name: t.Name, Owner: t.Owner, Created: t.Created.UTC(), LastUsed: t.LastUsed.UTC(), Revoked: t.Revoked.UTC()}
}

func (c *Console) apiTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := c.store.ListTokens(r.Context())
	if err != nil {
		c.apiServerError(w, r, "listing the API tokens", err)
		return
	}
	out := struct {
		Tokens []apiToken `json:"tokens"`
	}{make([]apiToken, len(ts))}
	for i, t := range ts {
		out.Tokens[i] = apiTokenOf(t)
	}
	writeJSON(w, http.StatusOK, out)
}

// apiCreateToken makes a token ({"name": "..."}), with a session only.
func (c *Console) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	if _, ok := tokenOf(r); ok {
		writeJSON(w, http.StatusForbidden, apiError{Error: "an API token cannot make another: log in to the console " +
			"(the TOKENS page, or this route with the session cookie), so that a leaked token cannot leave a successor behind"})
		return
	}
	body, err := readBody(r, maxJSON, true)
	var in struct {
		Name string `json:"name"`
	}
	if err == nil {
		err = decodeStrict(body, &in)
	}
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	if err := store.ValidateTokenName(in.Name); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "nothing was saved: name: " + err.Error(),
			Fields: []apiFieldError{{Field: "name", Message: err.Error()}}})
		return
	}
	t, text, err := c.store.CreateToken(r.Context(), userOf(r), in.Name)
	if err != nil {
		c.apiServerError(w, r, "making the API token", err)
		return
	}
	c.log.Info("API token created", "user", userOf(r), "token_id", t.ID, "name", t.Name)
	out := apiTokenOf(t)
	out.Token = text
	writeJSON(w, http.StatusCreated, out)
}

func (c *Console) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	id := idParam(r, "tid")
	t, err := c.store.RevokeToken(r.Context(), id)
	if errors.Is(err, store.ErrNoToken) {
		c.apiRefuse(w, r, goneError(fmt.Sprintf("there is no API token %d", id)), nil)
		return
	}
	if err != nil {
		c.apiServerError(w, r, "revoking the API token", err)
		return
	}
	c.log.Info("API token revoked", "user", userOf(r), "token_id", t.ID, "name", t.Name)
	writeJSON(w, http.StatusOK, apiTokenOf(t))
}

// The TOKENS page.

func (c *Console) tokensPage(w http.ResponseWriter, r *http.Request) {
	c.renderTokens(w, r, c.page(w, r, "", "", 0), web.TokensView{Form: web.NewForm(0)}, http.StatusOK)
}

func (c *Console) renderTokens(w http.ResponseWriter, r *http.Request, p web.Page, v web.TokensView, code int) {
	ts, err := c.store.ListTokens(r.Context())
	if err != nil {
		c.serverError(w, r, "listing the API tokens", err)
		return
	}
	if serial, err := c.store.Serial(r.Context()); err == nil {
		p.Serial = serial
	}
	p.Title = "API tokens"
	for _, t := range ts {
		v.Rows = append(v.Rows, web.TokenRow{ID: t.ID, Name: t.Name, Owner: t.Owner, Created: t.Created, LastUsed: t.LastUsed, Revoked: t.Revoked})
	}
	c.render(w, r, code, web.Tokens(p, v))
}

// createToken makes a token and shows it, this once: the answer is the
// page itself, not a redirect, since the token is kept nowhere a later
// page could show it from.
func (c *Console) createToken(w http.ResponseWriter, r *http.Request) {
	f := web.NewForm(0)
	name := r.PostFormValue("name")
	f.Values["name"] = name
	p := c.page(w, r, "", "", 0)
	if err := store.ValidateTokenName(name); err != nil {
		f.Errs["name"] = "Token name " + err.Error()
		p.Errors = []string{"Some values were refused: see the messages beside the fields."}
		c.renderTokens(w, r, p, web.TokensView{Form: f}, http.StatusUnprocessableEntity)
		return
	}
	t, text, err := c.store.CreateToken(r.Context(), userOf(r), name)
	if err != nil {
		c.serverError(w, r, "making the API token", err)
		return
	}
	c.log.Info("API token created", "user", userOf(r), "token_id", t.ID, "name", t.Name)
	p.Flash = fmt.Sprintf("Token %s created. Copy it now: it is not shown again.", t.Name)
	c.renderTokens(w, r, p, web.TokensView{Form: web.NewForm(0), Shown: text, ShownName: t.Name}, http.StatusOK)
}

// revokeToken is REVOKE: post, redirect, get.
func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) {
	t, err := c.store.RevokeToken(r.Context(), idParam(r, "tid"))
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
