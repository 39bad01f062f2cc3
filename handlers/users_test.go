package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/store"
)

// loginAs returns a client logged in as user.
func (e *testEnv) loginAs(t *testing.T, user, password string) *http.Client {
	t.Helper()
	c := e.client(t)
	if a := post(t, c, e.srv.URL+"/login", url.Values{"user": {user}, "password": {password}}); a.code != http.StatusSeeOther {
		t.Fatalf("login as %s answered %d", user, a.code)
	}
	return c
}

// TestUsersPage: an admin adds, disables, enables, demotes and removes users
// on the USERS page; refusals say why, all at once, and keep what was
// typed; the last admin stays; a non-admin gets 403.
func TestUsersPage(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	c := e.login(t)
	if a := get(t, c, e.srv.URL+"/account"); !strings.Contains(a.body, `id="your-role">admin<`) || !strings.Contains(a.body, `href="/users"`) {
		t.Errorf("the account page does not show the admin's role and the USERS link:\n%s", a.body)
	}
	if a := get(t, c, e.srv.URL+"/users"); a.code != http.StatusOK || !strings.Contains(a.body, `data-name="admin"`) {
		t.Fatalf("GET /users = %d", a.code)
	}

	// Every refusal at once; the name and role typed stay, the password not.
	a := post(t, c, e.srv.URL+"/users", url.Values{"name": {"bad name"}, "role": {"boss"}, "password": {"short"}, "password2": {"short"}})
	if a.code != http.StatusUnprocessableEntity ||
		!strings.Contains(fieldError(a.body, "name"), "is not allowed") ||
		!strings.Contains(fieldError(a.body, "role"), "choose viewer, operator or admin") ||
		!strings.Contains(fieldError(a.body, "password"), "at least 8") ||
		!strings.Contains(a.body, `value="bad name"`) || strings.Contains(a.body, `value="short"`) {
		t.Errorf("bad user = %d: name %q role %q password %q", a.code, fieldError(a.body, "name"), fieldError(a.body, "role"), fieldError(a.body, "password"))
	}
	a = post(t, c, e.srv.URL+"/users", url.Values{"name": {"ann"}, "role": {"viewer"}, "password": {"ann's password"}, "password2": {"another one"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(fieldError(a.body, "password2"), "differ") ||
		!strings.Contains(a.body, `id="role-viewer" value="viewer" checked`) {
		t.Errorf("mismatched passwords = %d, %q", a.code, fieldError(a.body, "password2"))
	}
	if us, _ := e.store.ListUsers(ctx); len(us) != 1 {
		t.Fatalf("refused forms made users: %+v", us)
	}

	a = post(t, c, e.srv.URL+"/users", url.Values{"name": {"ann"}, "role": {"viewer"}, "password": {"ann's password"}, "password2": {"ann's password"}})
	if a.code != http.StatusSeeOther || a.location != "/users" {
		t.Fatalf("add ann = %d %q: %s", a.code, a.location, a.body)
	}
	if a := get(t, c, e.srv.URL+"/users"); !strings.Contains(a.body, "User ann added as viewer") {
		t.Error("no message after adding ann")
	}
	a = post(t, c, e.srv.URL+"/users", url.Values{"name": {"ann"}, "role": {"admin"}, "password": {"ann's password"}, "password2": {"ann's password"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(fieldError(a.body, "name"), "exists already") {
		t.Errorf("ann twice = %d", a.code)
	}

	// A viewer is refused the page and its actions, and sees their role.
	ann := e.loginAs(t, "ann", "ann's password")
	if a := get(t, ann, e.srv.URL+"/account"); !strings.Contains(a.body, `id="your-role">viewer<`) || strings.Contains(a.body, `href="/users"`) {
		t.Error("ann's account page does not show her role, or links to USERS")
	}
	for _, r := range []struct{ method, path string }{{"GET", "/users"}, {"POST", "/users"}, {"POST", "/users/admin/remove"}, {"POST", "/users/ann/role"}, {"POST", "/users/password"}} {
		var a answer
		form := url.Values{"name": {"evil"}, "role": {"admin"}, "password": {"evil password"}, "password2": {"evil password"}, "user": {"admin"}}
		if r.method == "GET" {
			a = get(t, ann, e.srv.URL+r.path)
		} else {
			a = post(t, ann, e.srv.URL+r.path, form)
		}
		if a.code != http.StatusForbidden || !strings.Contains(a.body, "this is for the admin role; you are viewer") {
			t.Errorf("viewer %s %s = %d", r.method, r.path, a.code)
		}
	}
	if us, _ := e.store.ListUsers(ctx); len(us) != 2 || us[1].Role != store.ScopeRead {
		t.Fatalf("the viewer changed users: %+v", us)
	}
	if err := e.store.CheckPassword(ctx, "admin", testPassword); err != nil {
		t.Error("the viewer reset admin's password")
	}

	// The last admin can be neither demoted, disabled nor removed.
	for _, action := range []string{"role", "disable", "remove"} {
		a := post(t, c, e.srv.URL+"/users/admin/"+action, url.Values{"role": {"operator"}})
		if a.code != http.StatusConflict || !strings.Contains(a.body, "admin is the last enabled admin") {
			t.Errorf("%s the last admin = %d", action, a.code)
		}
	}
	if a := post(t, c, e.srv.URL+"/users/ann/role", url.Values{"role": {"root"}}); a.code != http.StatusUnprocessableEntity ||
		!strings.Contains(a.body, `role &#34;root&#34; is not allowed`) {
		t.Errorf("role root = %d: %s", a.code, a.body)
	}
	if a := post(t, c, e.srv.URL+"/users/nobody/disable", nil); a.code != http.StatusNotFound {
		t.Errorf("disable nobody = %d", a.code)
	}

	// Role change, disable (ann's session ends), enable, reset, remove.
	if a := post(t, c, e.srv.URL+"/users/ann/role", url.Values{"role": {"operator"}}); a.code != http.StatusSeeOther {
		t.Errorf("ann to operator = %d", a.code)
	}
	if r, _ := e.store.UserRole(ctx, "ann"); r != store.ScopeOperator {
		t.Errorf("ann is %v", r)
	}
	if a := post(t, c, e.srv.URL+"/users/ann/disable", nil); a.code != http.StatusSeeOther {
		t.Errorf("disable ann = %d", a.code)
	}
	if a := get(t, ann, e.srv.URL+"/account"); a.code != http.StatusSeeOther || !strings.HasPrefix(a.location, "/login") {
		t.Errorf("disabled ann's session still works: %d", a.code)
	}
	if a := post(t, e.client(t), e.srv.URL+"/login", url.Values{"user": {"ann"}, "password": {"ann's password"}}); a.code == http.StatusSeeOther {
		t.Error("disabled ann logs in")
	}
	if a := get(t, c, e.srv.URL+"/users"); !strings.Contains(a.body, ">disabled<") || !strings.Contains(a.body, "ENABLE</button>") {
		t.Error("the page does not show ann disabled")
	}
	if a := post(t, c, e.srv.URL+"/users/ann/enable", nil); a.code != http.StatusSeeOther {
		t.Errorf("enable ann = %d", a.code)
	}
	a = post(t, c, e.srv.URL+"/users/password", url.Values{"user": {"ann"}, "password": {"ann's new one"}, "password2": {"ann's new one"}})
	if a.code != http.StatusSeeOther {
		t.Errorf("reset ann's password = %d", a.code)
	}
	e.loginAs(t, "ann", "ann's new one")
	a = post(t, c, e.srv.URL+"/users/password", url.Values{"user": {"nobody"}, "password": {"x"}, "password2": {"y"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(fieldError(a.body, "user"), "choose one of the users") ||
		!strings.Contains(fieldError(a.body, "password"), "at least 8") {
		t.Errorf("reset of nobody = %d", a.code)
	}
	if a := post(t, c, e.srv.URL+"/users/ann/remove", nil); a.code != http.StatusSeeOther {
		t.Errorf("remove ann = %d", a.code)
	}
	if _, err := e.store.UserRole(ctx, "ann"); !errors.Is(err, store.ErrNoUser) {
		t.Errorf("ann after remove: %v", err)
	}
	if a := get(t, c, e.srv.URL+"/users"); !strings.Contains(a.body, "User ann removed") || strings.Contains(a.body, `data-name="ann"`) {
		t.Error("the page still shows ann")
	}
}
