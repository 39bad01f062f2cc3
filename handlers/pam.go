package handlers

// Logins through the system's PAM (serve -pam-service): a name that is
// not a local console user's is checked by PAM, and the role is the one
// the user's system groups map to (serve -pam-roles). The store keeps a
// users row of source "pam" for them, which sessions, roles and tokens
// hang on as for a local user.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
)

// SystemAuth checks passwords with the system (PAM). serve gives
// *pamauth.Auth.
type SystemAuth interface {
	// Authenticate checks user's password and account and returns the
	// role user's system groups map to: an error wrapping
	// store.ErrBadPassword when the system refuses, store.ErrNoRole when
	// no group maps. It blocks, for seconds after a wrong password.
	Authenticate(user, password, client string) (store.Scope, error)
}

// pamTimeout bounds the wait for PAM's answer unless Options say: pam_unix
// waits about 2 s after a wrong password, a directory (sssd, LDAP) may
// take longer.
const pamTimeout = 15 * time.Second

// errPAMTimeout: PAM did not answer within pamTimeout.
var errPAMTimeout = errors.New("the system's authentication (PAM) did not answer in time")

// checkPassword checks user's password in a slot of the hash gate
// (errBusy when none comes free): the console's hash for a local user,
// PAM's answer for any other when PAM is on. pam says which checked.
func (c *Console) checkPassword(r *http.Request, user, password string) (pam bool, err error) {
	if !c.hashes.enter(r.Context()) {
		return false, errBusy
	}
	if pam, err = c.viaPAM(r.Context(), user); err != nil || pam {
		if err != nil {
			c.hashes.leave()
			return false, err
		}
		return true, c.pamLogin(r, user, password) // leaves the gate when PAM returns
	}
	defer c.hashes.leave()
	return false, c.passwords.CheckPassword(r.Context(), user, password)
}

// viaPAM reports whether user's password is checked by PAM: PAM is on and
// user is not a local console user (disabled or not).
func (c *Console) viaPAM(ctx context.Context, user string) (bool, error) {
	if c.sysAuth == nil {
		return false, nil
	}
	src, err := c.store.UserSource(ctx, user)
	switch {
	case errors.Is(err, store.ErrNoUser):
		return true, nil
	case err != nil:
		return false, err
	}
	return src == store.SourcePAM, nil
}

// pamLogin checks user's password with PAM, in a slot of the hash gate
// that the caller took and that is left when PAM returns (not when the
// wait ends: a PAM call cannot be stopped, and the gate counts it while
// it runs). On success the store records the user with the role PAM's
// groups map to; a user whose groups map to none is disabled (ending
// their sessions) and refused as a wrong password.
func (c *Console) pamLogin(r *http.Request, user, password string) error {
	type result struct {
		role store.Scope
		err  error
	}
	done := make(chan result, 1)
	client := clientIP(r)
	go func() {
		defer c.hashes.leave()
		role, err := c.sysAuth.Authenticate(user, password, client)
		done <- result{role, err}
	}()
	t := time.NewTimer(c.pamWait)
	defer t.Stop()
	var res result
	select {
	case res = <-done:
	case <-t.C:
		return errPAMTimeout
	case <-r.Context().Done():
		return r.Context().Err()
	}
	switch {
	case errors.Is(res.err, store.ErrNoRole):
		c.log.Warn("PAM login refused: the user's system groups map to no console role (serve -pam-roles)",
			"user", user, "client", client, "err", res.err)
		if err := c.store.PAMUnmapped(r.Context(), user); err != nil {
			return err
		}
		return &pamRefusal{reason: "no console role for the user's system groups", err: res.err}
	case errors.Is(res.err, store.ErrBadPassword):
		return &pamRefusal{reason: "wrong user name or password", err: res.err}
	case res.err != nil:
		return fmt.Errorf("PAM: %w", res.err)
	}
	err := c.store.PAMLogin(r.Context(), user, res.role)
	switch {
	case errors.Is(err, store.ErrDisabled):
		return &pamRefusal{reason: "user disabled in the console", err: err}
	case errors.Is(err, store.ErrLocalUser): // made while PAM ran
		return &pamRefusal{reason: "a local user of that name exists", err: err}
	}
	return err
}

// pamRefusal is PAM's no, or the console's to a PAM user: a wrong
// password to the throttle and to the client; reason is for the audit
// trail, err for the log.
type pamRefusal struct {
	reason string
	err    error
}

func (e *pamRefusal) Error() string        { return e.reason + ": " + e.err.Error() }
func (e *pamRefusal) Is(target error) bool { return target == store.ErrBadPassword }
func (e *pamRefusal) Unwrap() error        { return e.err }

// isPAMUser reports whether the logged-in user of r logs in through PAM.
func (c *Console) isPAMUser(r *http.Request) bool {
	src, err := c.store.UserSource(r.Context(), userOf(r))
	return err == nil && src == store.SourcePAM
}
