package handlers

// Roles: what a console user or an API token may do. A console user has a
// role (viewer, operator, admin: store.Scope values) and an API token the
// scope it was made with; both are the request's scope (requestScope).
//
// Two tables say what each route and method needs: pageRole for the
// console's pages and forms, apiScope for the API (relative to /api/v1).
// Two middlewares consult them before any handler runs:
// requirePageRole in front of the console's router, requireScope in front
// of the API's. A route added later cannot forget them, since a route
// missing from its table is refused to everyone (and
// TestEveryRouteHasARole fails). TestRolesWalk walks every route with a
// session and a token of each role against the README's table.
//
// Those tables refuse by route. What a change does is checked by the
// store, in its write path, against the same role (store.Allowed): an
// operator's ACCEPT on a real server, or APPLY of their pending changes,
// may change weights and states and nothing else, whatever the form
// sent.
//
// Whatever the role, a change that adds or alters a program the
// directors run as root needs a console session and the user's password,
// which the store enforces (store.ErrNeedsPassword); and a token cannot
// make a token.

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
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
		// Everyone's own tokens, up to their role (the store's rule);
		// an admin manages everyone's. A token never makes one.
		"GET /tokens", "POST /tokens":
		return store.ScopeRead, true
	case "POST /virtual/{vid}/real/{rid}/activate", "POST /virtual/{vid}/real/{rid}/deactivate",
		"POST /virtual/{vid}/real/{rid}/drain",
		"PUT /virtual/{vid}/real/{rid}", // its weight and state only: see store.Allowed
		// The caller's pending changes are writes in preparation, even to
		// read: the lowest scope that writes. An operator's draft holds
		// only what an operator may change (store.Allowed on each edit),
		// and APPLY checks the draft as a whole, since the token's owner
		// may have made it in the console.
		"GET /draft", "GET /draft/review", "DELETE /draft", "POST /draft/apply",
		"POST /confirm":
		return store.ScopeOperator, true
	case "PUT /config.cf", "PUT /global", "PUT /redundancy", "POST /redundancy/reset",
		"POST /virtual", "PUT /virtual/{vid}", "DELETE /virtual/{vid}",
		"POST /virtual/{vid}/activate", "POST /virtual/{vid}/deactivate", // a whole service
		"POST /virtual/{vid}/real", "DELETE /virtual/{vid}/real/{rid}",
		"POST /history/{serial}/restore",
		"DELETE /tokens/{tid}", // with a token: an admin's only
		"GET /audit":           // who did what: the admins'
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

// requestScope returns what the request's credential may do: its API
// token's scope, or the session's user's role as it is now; none without
// either.
func requestScope(r *http.Request) store.Scope {
	s, _ := r.Context().Value(scopeKey{}).(store.Scope)
	return s
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
					Error: fmt.Sprintf("%s %s needs the %s role (a token's scope %s) or above; yours is %s", r.Method, route,
						store.RoleName(need), need, store.RoleName(have)),
					Scope: need.String(), TokenScope: have.String(),
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// pageRole returns the role a console route needs: method and pattern as
// routeKey writes it. false: the route has no entry, and nobody may use
// it. A viewer reads every page; an operator also changes the state and
// weight of real servers and applies their own pending changes; an admin
// does everything else. HEAD is GET.
func pageRole(method, pattern string) (store.Scope, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	switch method + " " + pattern {
	case "GET /", "GET /account", "GET /control", "GET /control/stream", "GET /control/ipvs",
		"GET /global", "GET /redundancy",
		"GET /virtual", "GET /virtual/{vid}", "GET /virtual/{vid}/scripts",
		"GET /virtual/{vid}/real", "GET /virtual/{vid}/real/{rid}",
		"GET /review", "GET /history", "GET /history/{serial}", "GET /export", "GET /metrics",
		"POST /logout", "POST /account", // their own password
		"GET /tokens", "POST /tokens", "POST /tokens/{tid}/revoke": // their own tokens; an admin everyone's
		return store.ScopeRead, true
	case "POST /virtual/{vid}/real/{rid}", // weight and state only: store.Allowed
		"POST /virtual/{vid}/real/{rid}/activate", "POST /virtual/{vid}/real/{rid}/drain",
		"POST /virtual/{vid}/real/{rid}/drcheck",
		"POST /review/apply", "POST /review/discard", "POST /confirm":
		return store.ScopeOperator, true
	case "POST /global", "POST /redundancy", "POST /redundancy/reset", "POST /redundancy/secret",
		"GET /virtual/new", "POST /virtual/new", "POST /virtual/{vid}",
		"POST /virtual/{vid}/activate", "POST /virtual/{vid}/delete", "POST /virtual/{vid}/scripts",
		"GET /virtual/{vid}/real/new", "POST /virtual/{vid}/real/new", "POST /virtual/{vid}/real/{rid}/delete",
		"POST /virtual/{vid}/real/{rid}/hostkey/forget",
		"POST /history/{serial}/restore", "POST /import",
		"GET /audit", "GET /audit.jsonl",
		"GET /users", "POST /users", "POST /users/password",
		"POST /users/{name}/disable", "POST /users/{name}/enable", "POST /users/{name}/remove", "POST /users/{name}/role":
		return store.ScopeAdmin, true
	}
	return store.ScopeNone, false
}

// requirePageRole refuses, before its handler runs, a request to a
// console route that the user's role does not allow: 403 with a page that
// says which role it needs. The API (requireScope), the public paths and
// paths of no route go on.
func (c *Console) requirePageRole(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicPath(r.URL.Path) || apiPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		pattern := c.mux.Find(chi.NewRouteContext(), r.Method, r.URL.EscapedPath())
		if pattern == "" || strings.HasPrefix(pattern, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		route := routeKey(pattern)
		need, ok := pageRole(r.Method, route)
		if !ok {
			c.log.Error("a console route has no role: add it to pageRole", "method", r.Method, "route", route)
		}
		if have := requestScope(r); !ok || !have.Allows(need) {
			c.refuseRole(w, r, have, need, ok)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseRole answers 403 with a page that names the role needed.
func (c *Console) refuseRole(w http.ResponseWriter, r *http.Request, have, need store.Scope, known bool) {
	c.log.Warn("refused for the user's role", "user", userOf(r), "role", store.RoleName(have),
		"method", r.Method, "path", r.URL.Path, "need", store.RoleName(need))
	p := c.page(w, r, "Not allowed", "", 0)
	p.ErrorsHead = "Not allowed:"
	msg := fmt.Sprintf("this is for the %s role; you are %s. An admin can change your role.", store.RoleName(need), store.RoleName(have))
	if !known {
		msg = "this page has no role yet, so nobody may use it."
	}
	p.Errors = []string{msg}
	c.render(w, r, http.StatusForbidden, web.NotFound(p))
}
