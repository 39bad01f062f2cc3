package handlers

// API tokens: credentials for scripts and tools, made on the TOKENS page
// (linked from the account page) and sent as "Authorization: Bearer
// <token>". They are accepted on /api/ and /metrics only; every other page
// needs a session. A token acts as the console user who made it: the
// history names that user as the author of its changes.
//
// A token has a scope, chosen when it is made (scopes.go): read, operator
// or admin. Whatever its scope it cannot make another token: that needs a
// session, that is someone who knows a password. Nor can it change a
// program the directors run as root (the store asks for the password).
// So a leaked token, once revoked, is the end of it: it cannot have left a
// successor behind, in the tokens or through a program. Tokens are not part
// of the configuration or its history; the standby director takes the
// active's (their hashes) with the configuration sync, as it takes the
// users, and refuses changes of its own (accountsWritable).

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
	ctx = withScope(ctx, t.Scope)
	ctx = store.WithActor(ctx, store.Actor{Name: "token " + t.Name, Client: clientIP(r)})
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
	ID       int64       `json:"id"`
	Name     string      `json:"name"`
	Owner    string      `json:"owner"`
	Scope    store.Scope `json:"scope"`
	Created  time.Time   `json:"created"`
	LastUsed time.Time   `json:"last_used,omitzero"`
	Revoked  time.Time   `json:"revoked,omitzero"`
	Token    string      `json:"token,omitempty"`
}

func apiTokenOf(t store.Token) apiToken {
	return apiToken{ID: t.ID, Name: t.Name, Owner: t.Owner, Scope: t.Scope, Created: t.Created.UTC(), LastUsed: t.LastUsed.UTC(), Revoked: t.Revoked.UTC()}
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

// apiCreateToken makes a token ({"name": "...", "scope": "read"}), with a
// session only.
func (c *Console) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	if _, ok := tokenOf(r); ok {
		writeJSON(w, http.StatusForbidden, apiError{Error: "an API token cannot make another: log in to the console " +
			"(the TOKENS page, or this route with the session cookie), so that a leaked token cannot leave a successor behind"})
		return
	}
	body, err := readBody(r, maxJSON, true)
	var in struct {
		Name  string `json:"name"`
		Scope string `json:"scope"`
	}
	if err == nil {
		err = decodeStrict(body, &in)
	}
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	scope, refused := checkToken(in.Name, in.Scope)
	if len(refused) > 0 {
		var e apiError
		var msgs []string
		for _, f := range []string{"name", "scope"} {
			if msg, ok := refused[f]; ok {
				msgs = append(msgs, f+": "+msg)
				e.Fields = append(e.Fields, apiFieldError{Field: f, Message: msg})
			}
		}
		e.Error = "nothing was saved: " + strings.Join(msgs, "; ")
		writeJSON(w, http.StatusUnprocessableEntity, e)
		return
	}
	t, text, err := c.store.CreateToken(r.Context(), userOf(r), in.Name, scope)
	if err != nil {
		c.apiServerError(w, r, "making the API token", err)
		return
	}
	c.log.Info("API token created", "user", userOf(r), "token_id", t.ID, "name", t.Name, "scope", t.Scope)
	out := apiTokenOf(t)
	out.Token = text
	writeJSON(w, http.StatusCreated, out)
}

// checkToken checks the name and scope of a new token, returning the
// scope, and each refusal by field.
func checkToken(name, scope string) (store.Scope, map[string]string) {
	refused := map[string]string{}
	if err := store.ValidateTokenName(name); err != nil {
		refused["name"] = err.Error()
	}
	s, err := store.ParseScope(scope)
	if err != nil {
		refused["scope"] = err.Error()
	}
	return s, refused
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
	made := c.handoffs.take(w, r) // a token just made, shown this once
	v := web.TokensView{Form: web.NewForm(0), Shown: made.Secret, ShownName: made.SecretName}
	c.renderTokens(w, r, c.page(w, r, "", "", 0), v, http.StatusOK)
}

func (c *Console) renderTokens(w http.ResponseWriter, r *http.Request, p web.Page, v web.TokensView, code int) {
	ts, err := c.store.ListTokens(r.Context())
	if err != nil {
		c.serverError(w, r, "listing the API tokens", err)
		return
	}
	p.Title = "API tokens"
	for _, t := range ts {
		v.Rows = append(v.Rows, web.TokenRow{ID: t.ID, Name: t.Name, Owner: t.Owner, Scope: t.Scope.String(),
			Created: t.Created, LastUsed: t.LastUsed, Revoked: t.Revoked})
	}
	c.render(w, r, code, web.Tokens(p, v))
}

// createToken makes a token, and redirects to the TOKENS page, which shows
// it this once (handoffs: it is kept nowhere else).
func (c *Console) createToken(w http.ResponseWriter, r *http.Request) {
	f := web.NewForm(0)
	name, scopeName := r.PostFormValue("name"), r.PostFormValue("scope")
	f.Values["name"], f.Values["scope"] = name, scopeName
	scope, refused := checkToken(name, scopeName)
	if len(refused) > 0 {
		p := c.page(w, r, "", "", 0)
		if msg, ok := refused["name"]; ok {
			f.Errs["name"] = "Token name " + msg
		}
		if msg, ok := refused["scope"]; ok {
			f.Errs["scope"] = "Scope " + msg
		}
		p.Errors = []string{"Some values were refused: see the messages beside the fields."}
		c.renderTokens(w, r, p, web.TokensView{Form: f}, http.StatusUnprocessableEntity)
		return
	}
	t, text, err := c.store.CreateToken(r.Context(), userOf(r), name, scope)
	if err != nil {
		c.serverError(w, r, "making the API token", err)
		return
	}
	c.log.Info("API token created", "user", userOf(r), "token_id", t.ID, "name", t.Name, "scope", t.Scope)
	c.handoffs.give(w, r, "/tokens", handed{Secret: text, SecretName: t.Name})
	setFlash(w, r, fmt.Sprintf("Token %s (%s) created. Copy it now: it is not shown again.", t.Name, t.Scope))
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
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
