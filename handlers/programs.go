package handlers

// The console's side of the rule for programs. A change that adds or
// alters a program the directors run as root (a sending program,
// active_cmd, inactive_cmd), whatever brings it in (a form, an lvs.cf, a
// restore), needs the user's password, re-entered in the same request: the
// store refuses it otherwise (store.ErrNeedsPassword). The forms that can
// make such a change have a "Your password" field; a refused form comes
// back with every value kept and the reason beside that field.
//
// A re-entered password is a guess like a login (Console.guess: the same
// throttle, counted before the hash, and the same limit on hashes at
// once), so that a stolen session is no way to guess the password it
// lacks.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// passwordField names the "Your password" field of a form.
const passwordField = "password"

// reauth checks the password re-entered in r's form, if any: elevated when
// it is the user's. A refusal (code) leaves its reason beside f's password
// field: a wrong password, or an address that must wait after too many,
// whose password is then not checked. Without a password there is nothing
// to refuse: the store says whether the change needed one.
func (c *Console) reauth(r *http.Request, f *web.Form) (elevated bool, code int, err error) {
	pw := r.PostFormValue(passwordField)
	if pw == "" {
		return false, 0, nil
	}
	user := userOf(r)
	err = c.guess(r, throttleName(user), func() error {
		_, err := c.checkPassword(r, user, pw) // a PAM user's is PAM's
		return err
	})
	var th *throttled
	switch {
	case errors.As(err, &th):
		f.Errs[passwordField] = th.message("password checks")
		return false, http.StatusTooManyRequests, nil
	case errors.Is(err, store.ErrBadPassword):
		c.log.Warn("wrong password re-entered", "user", user, "client", clientIP(r), "path", r.URL.Path)
		f.Errs[passwordField] = "This is not your password: enter the one you log in with."
		return false, http.StatusForbidden, nil
	case err != nil:
		return false, 0, err
	}
	return true, 0, nil
}

// reauthRefused is the page's summary of a refused password.
const reauthRefused = "Your password was not accepted: see beside the password field."

// placeProgramError puts a refusal for want of the password beside f's
// password field; false when err is not one.
func placeProgramError(err error, f *web.Form, p *web.Page) (int, bool) {
	var pe *store.ProgramError
	if !errors.As(err, &pe) {
		return 0, false
	}
	names := make([]string, len(pe.Programs))
	for i, prog := range pe.Programs {
		names[i] = prog.String()
	}
	what := "is a program"
	if len(names) > 1 {
		what = "are programs"
	}
	f.Errs[passwordField] = fmt.Sprintf("%s %s the directors run as root: enter your password to change it.", strings.Join(names, ", "), what)
	p.Errors = append(p.Errors, "A program run as root would change, which needs your password: see beside the password field.")
	return http.StatusForbidden, true
}
