package handlers

// Console users and their roles (issue 17): the USERS page, for admins.
// The standby director takes the active's users and API tokens with the
// configuration sync, so these changes are refused there
// (accountsWritable).
//
// The routes are the admins' (pageRole).

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// roleName is the logged-in user's role as the account page shows it.
func (c *Console) roleName(r *http.Request) string {
	return store.RoleName(requestScope(r))
}

func (c *Console) userRoutes(r chi.Router) {
	change := c.accountsWritable // the standby takes the active's
	r.Get("/users", c.usersPage)
	r.Post("/users", change(c.addUser))
	r.Post("/users/password", change(c.resetPassword))
	for _, action := range []string{"disable", "enable", "remove", "role"} {
		r.Post("/users/{name}/"+action, change(c.changeUser(action)))
	}
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) {
	c.renderUsers(w, r, c.page(w, r, "", "", 0), web.NewForm(0), web.NewForm(0), http.StatusOK)
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, p web.Page, add, reset *web.Form, code int) {
	us, err := c.store.ListUsers(r.Context())
	if err != nil {
		c.serverError(w, r, "listing the users", err)
		return
	}
	p.Title = "Users"
	v := web.UsersView{Form: add, Reset: reset}
	for _, u := range us {
		v.Rows = append(v.Rows, web.UserRow{Name: u.Name, Role: store.RoleName(u.Role), Disabled: u.Disabled,
			Changed: u.Changed, Self: u.Name == userOf(r), PAM: u.Source == store.SourcePAM})
	}
	c.render(w, r, code, web.Users(p, v))
}

// checkNewPassword checks the two password fields of f's form, noting
// refusals in f.
func checkNewPassword(f *web.Form, r *http.Request) string {
	pw := r.PostFormValue("password")
	if err := store.ValidatePassword(pw); err != nil {
		f.Errs["password"] = err.Error()
	} else if pw != r.PostFormValue("password2") {
		f.Errs["password2"] = "the two passwords differ"
	}
	return pw
}

func (c *Console) refuseUsers(w http.ResponseWriter, r *http.Request, add, reset *web.Form, code int, msgs ...string) {
	p := c.page(w, r, "", "", 0)
	if len(msgs) == 0 {
		msgs = []string{"Some values were refused: see the messages beside the fields."}
	}
	p.Errors = msgs
	c.renderUsers(w, r, p, add, reset, code)
}

// addUser makes a user with a role and an initial password.
func (c *Console) addUser(w http.ResponseWriter, r *http.Request) {
	f := web.NewForm(0)
	name, roleName := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("role")
	f.Values["name"], f.Values["role"] = name, roleName
	if err := store.ValidateUserName(name); err != nil {
		f.Errs["name"] = err.Error()
	}
	role, err := store.ParseRole(roleName)
	if err != nil {
		f.Errs["role"] = err.Error()
	}
	pw := checkNewPassword(f, r)
	if len(f.Errs) == 0 {
		err := c.store.AddUser(r.Context(), name, role, pw)
		switch {
		case errors.Is(err, store.ErrUserExists):
			f.Errs["name"] = fmt.Sprintf("a user named %s exists already", name)
		case err != nil:
			c.serverError(w, r, "adding the user", err)
			return
		}
	}
	if len(f.Errs) > 0 {
		c.refuseUsers(w, r, f, web.NewForm(0), http.StatusUnprocessableEntity)
		return
	}
	c.log.Info("user added", "by", userOf(r), "user", name, "role", roleName)
	setFlash(w, r, fmt.Sprintf("User %s added as %s.", name, roleName))
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// resetPassword sets another user's password (or the admin's own), which
// ends that user's sessions.
func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request) {
	f := web.NewForm(0)
	name := r.PostFormValue("user")
	f.Values["user"] = name
	us, err := c.store.ListUsers(r.Context())
	if err != nil {
		c.serverError(w, r, "listing the users", err)
		return
	}
	known := false
	for _, u := range us {
		known = known || u.Name == name
		if u.Name == name && u.Source == store.SourcePAM {
			f.Errs["user"] = name + " logs in through the system (PAM): their password is the system's"
		}
	}
	if !known {
		f.Errs["user"] = "choose one of the users"
	}
	pw := checkNewPassword(f, r)
	if len(f.Errs) > 0 {
		c.refuseUsers(w, r, web.NewForm(0), f, http.StatusUnprocessableEntity)
		return
	}
	if err := c.store.SetPassword(r.Context(), name, pw); err != nil {
		c.serverError(w, r, "setting the password", err)
		return
	}
	c.log.Info("password reset", "by", userOf(r), "user", name)
	if name == userOf(r) {
		// SetPassword ended every session of the user; this one starts afresh.
		if err := c.startSession(w, r, name); err != nil {
			c.serverError(w, r, "starting a session", err)
			return
		}
	}
	setFlash(w, r, fmt.Sprintf("Password of %s reset; their sessions ended.", name))
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// changeUser disables, enables, removes a user or changes their role.
func (c *Console) changeUser(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { c.changeUserBy(w, r, action) }
}

func (c *Console) changeUserBy(w http.ResponseWriter, r *http.Request, action string) {
	name := chi.URLParam(r, "name")
	if store.ValidateUserName(name) != nil {
		c.notFound(w, r)
		return
	}
	ctx := r.Context()
	var (
		err  error
		done string
	)
	switch action {
	case "disable":
		err, done = c.store.DisableUser(ctx, name), fmt.Sprintf("User %s disabled: their sessions ended.", name)
	case "enable":
		err, done = c.store.EnableUser(ctx, name), fmt.Sprintf("User %s enabled.", name)
	case "remove":
		err, done = c.store.RemoveUser(ctx, name), fmt.Sprintf("User %s removed, with their API tokens.", name)
	case "role":
		role, perr := store.ParseRole(r.PostFormValue("role"))
		if perr != nil {
			c.refuseUsers(w, r, web.NewForm(0), web.NewForm(0), http.StatusUnprocessableEntity, fmt.Sprintf("user %s: %v", name, perr))
			return
		}
		err, done = c.store.SetRole(ctx, name, role), fmt.Sprintf("User %s is now %s.", name, store.RoleName(role))
	}
	switch {
	case errors.Is(err, store.ErrNoUser):
		c.notFound(w, r)
		return
	case errors.Is(err, store.ErrLastAdmin):
		c.refuseUsers(w, r, web.NewForm(0), web.NewForm(0), http.StatusConflict,
			fmt.Sprintf("%s is the last enabled admin: make another user admin first.", name))
		return
	case err != nil:
		c.serverError(w, r, "changing the user", err)
		return
	}
	c.log.Info("user changed", "by", userOf(r), "user", name, "action", action, "role", r.PostFormValue("role"))
	setFlash(w, r, done)
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}
