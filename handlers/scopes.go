package handlers

// Scopes: what a credential may do through the API. An API token has the
// scope it was made with (read < operator < admin); a console session is
// admin, until console users have roles.
//
// One table, apiScope, says what each route and method needs, and one
// middleware in front of every API route, requireScope, consults it before
// any handler runs: a route added later cannot forget it, since a route
// missing from the table is refused to everyone (and
// TestEveryAPIRouteHasAScope fails). The operator scope may use a PUT of a
// real server, but only to change its weight or state: that is checked on
// the change itself, inside the store's transaction (allowedChange), not
// on which fields the body had; the same for a change made to the caller's
// draft (?apply=draft), and for the draft as a whole at APPLY.
//
// Whatever the scope, a change that adds or alters a program the
// directors run as root needs a console session and the user's password,
// which the store enforces (store.ErrNeedsPassword); and a token cannot
// make a token.

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// apiScope returns the scope a route of the API needs: method and pattern
// as routeKey writes it, relative to /api/v1. false: the route has no
// entry, and nobody may use it.
func apiScope(method, pattern string) (store.Scope, bool) {
	switch method + " " + pattern {
	case "GET /config", "GET /config.cf", "GET /global", "GET /redundancy", "GET /status",
		"GET /virtual", "GET /virtual/{vid}", "GET /virtual/{vid}/real", "GET /virtual/{vid}/real/{rid}",
		"GET /virtual/{vid}/direct",
		"GET /history", "GET /history/{serial}", "GET /history/{serial}/config.cf",
		"GET /tokens":
		return store.ScopeRead, true
	case "POST /virtual/{vid}/activate", "POST /virtual/{vid}/deactivate",
		"POST /virtual/{vid}/real/{rid}/activate", "POST /virtual/{vid}/real/{rid}/deactivate",
		"POST /virtual/{vid}/real/{rid}/drain",
		"PUT /virtual/{vid}/real/{rid}", // its weight and state only: see allowedChange
		// The caller's pending changes are writes in preparation, even to
		// read: the lowest scope that writes. An operator's draft holds
		// only what an operator may change (allowedChange on each edit),
		// and APPLY checks the draft as a whole (allowedDraft), since the
		// token's owner may have made it in the console.
		"GET /draft", "GET /draft/review", "DELETE /draft", "POST /draft/apply",
		"POST /confirm":
		return store.ScopeOperator, true
	case "PUT /config.cf", "PUT /global", "PUT /redundancy", "POST /redundancy/reset",
		"POST /virtual", "PUT /virtual/{vid}", "DELETE /virtual/{vid}",
		"POST /virtual/{vid}/real", "DELETE /virtual/{vid}/real/{rid}",
		"POST /history/{serial}/restore",
		"POST /tokens", "DELETE /tokens/{tid}",
		"GET /audit": // who did what: the admins'
		return store.ScopeAdmin, true
	}
	return store.ScopeNone, false
}

// routeKey writes a route pattern as chi gives it the way apiScope lists
// it: parameters without their regular expressions, no trailing slash.
func routeKey(pattern string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(pattern, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(pattern[open:], '}')
		if end < 0 {
			break
		}
		name, _, _ := strings.Cut(pattern[open+1:open+end], ":")
		b.WriteString(pattern[:open] + "{" + name + "}")
		pattern = pattern[open+end+1:]
	}
	b.WriteString(pattern)
	key := b.String()
	if len(key) > 1 {
		key = strings.TrimSuffix(key, "/")
	}
	return key
}

type scopeKey struct{}

// requestScope returns what the request's credential may do: its API token's
// scope, admin for a console session, none without either.
func requestScope(r *http.Request) store.Scope {
	if s, ok := r.Context().Value(scopeKey{}).(store.Scope); ok {
		return s
	}
	if userOf(r) != "" {
		return store.ScopeAdmin
	}
	return store.ScopeNone
}

// withScope records the scope of the request's credential.
func withScope(ctx context.Context, s store.Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// requireScope refuses, before its handler runs, a request to a route of
// routes (the API's router) that its credential's scope does not allow:
// 403 in JSON, naming the scope needed and the credential's. A request
// for no route goes on, for the router's 404 or 405.
func (c *Console) requireScope(routes chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path := r.URL.EscapedPath()
			if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath != "" {
				path = rctx.RoutePath // the path below the API's prefix
			}
			pattern := routes.Find(chi.NewRouteContext(), r.Method, path)
			if pattern == "" {
				next.ServeHTTP(w, r)
				return
			}
			route := routeKey(pattern)
			need, ok := apiScope(r.Method, route)
			if !ok {
				c.log.Error("an API route has no scope: add it to apiScope", "method", r.Method, "route", route)
				writeJSON(w, http.StatusForbidden, apiError{Error: r.Method + " " + route + " has no scope yet, so no credential may use it"})
				return
			}
			if have := requestScope(r); !have.Allows(need) {
				writeJSON(w, http.StatusForbidden, apiError{
					Error: fmt.Sprintf("%s %s needs a token of scope %s or above; this one's scope is %s", r.Method, route, need, have),
					Scope: need.String(), TokenScope: have.String(),
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// scopeError refuses a change that goes beyond what the credential's scope
// allows.
type scopeError struct {
	have, need store.Scope
	changes    []string // what it would change beyond the scope, as config.Diff says it
}

func (e *scopeError) Error() string {
	allows := "reads only"
	if e.have == store.ScopeOperator {
		allows = "may only activate, deactivate, drain and change the weight of servers"
	}
	return fmt.Sprintf("a token of scope %s %s, and this change also makes: %s; that needs scope %s",
		e.have, allows, strings.Join(e.changes, "; "), e.need)
}

// allowedChange reports whether a credential of scope have may change old
// into next: admin anything, operator only the state (active, and a real
// server's drain) of virtual and real servers and the weight of real
// servers, read nothing.
func allowedChange(have store.Scope, old, next *config.Config) error {
	if have.Allows(store.ScopeAdmin) {
		return nil
	}
	rest := next.Clone()
	if have.Allows(store.ScopeOperator) {
		unchangeState(old, rest)
	}
	if reflect.DeepEqual(old, rest) {
		return nil
	}
	changes := config.Diff(old, rest)
	if len(changes) == 0 { // a difference Diff does not word, such as the serial
		changes = []string{"a change of the configuration"}
	}
	return &scopeError{have: have, need: store.ScopeAdmin, changes: changes}
}

// unchangeState gives next's virtual and real servers old's state and
// weights, entry by entry (by id), so that what is left to compare is
// what an operator may not change.
func unchangeState(old, next *config.Config) {
	for i := range next.Virtuals {
		vs := &next.Virtuals[i]
		_, prev := virtualByID(old, vs.ID)
		if vs.ID == 0 || prev == nil {
			continue
		}
		vs.Active = prev.Active
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if _, p := realByID(prev, rs.ID); rs.ID != 0 && p != nil {
				rs.Active, rs.Weight = p.Active, p.Weight
				rs.Draining, rs.DrainSince = p.Draining, p.DrainSince
			}
		}
	}
}
