//go:build linux && cgo && !osusergo

package pamauth

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/msteinert/pam/v2"

	"github.com/lvsconsole/lvsconsole/store"
)

// Available reports whether this build has PAM.
const Available = true

// Auth checks passwords with PAM. Each call blocks for as long as the
// service's modules take (pam_unix waits about 2 s after a wrong password):
// the caller bounds how many run at once and how long it waits.
type Auth struct{ cfg Config }

// New returns the PAM checker of cfg. It checks that cfg names a service
// and some group; whether the service's file exists, PAM says at the
// first login (it falls back to /etc/pam.d/other).
func New(cfg Config) (*Auth, error) {
	if cfg.Service == "" {
		return nil, errors.New("PAM needs a service name (-pam-service)")
	}
	if len(cfg.Groups) == 0 {
		return nil, errors.New("-pam-service needs -pam-roles: which system groups are viewers, operators and admins")
	}
	if cfg.ConfDir != "" && !pam.CheckPamHasStartConfdir() {
		return nil, errors.New("this libpam has no pam_start_confdir (Linux-PAM 1.4 or later)")
	}
	return &Auth{cfg: cfg}, nil
}

// Authenticate checks user's password with PAM (pam_authenticate, then
// pam_acct_mgmt: an expired or locked account is refused) and returns
// the role user's system groups map to. A refusal of PAM's wraps
// store.ErrBadPassword; groups that map to no role, store.ErrNoRole.
// client is the client's address, for the modules (PAM_RHOST).
func (a *Auth) Authenticate(user, password, client string) (store.Scope, error) {
	// The whole transaction on one thread: modules may keep per-thread
	// state between the calls.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	conv := conversation(password)
	var (
		tx  *pam.Transaction
		err error
	)
	if a.cfg.ConfDir != "" {
		tx, err = pam.StartConfDir(a.cfg.Service, user, conv, a.cfg.ConfDir)
	} else {
		tx, err = pam.Start(a.cfg.Service, user, conv)
	}
	if err != nil {
		return store.ScopeNone, fmt.Errorf("pam_start %s: %w", a.cfg.Service, err)
	}
	defer tx.End()
	if client != "" {
		if err := tx.SetItem(pam.Rhost, client); err != nil {
			return store.ScopeNone, fmt.Errorf("pam_set_item PAM_RHOST: %w", err)
		}
	}
	if err := tx.Authenticate(pam.DisallowNullAuthtok); err != nil {
		return store.ScopeNone, refusal("pam_authenticate", err)
	}
	if err := tx.AcctMgmt(pam.DisallowNullAuthtok); err != nil {
		return store.ScopeNone, refusal("pam_acct_mgmt", err)
	}
	// A module may change the user (PAM_USER); the console knows only the
	// name typed, and would map the wrong user's groups.
	if got, err := tx.GetItem(pam.User); err != nil || got != user {
		return store.ScopeNone, fmt.Errorf("%w: PAM authenticated %q, not %q", store.ErrBadPassword, got, user)
	}
	return RoleOf(user, a.cfg.Groups)
}

// refusal is the error of a PAM call: PAM's no (wrong password, unknown
// user, account expired or locked, a prompt not answered) is a wrong
// password to the console; anything else (a module that cannot load, a
// directory that does not answer) is an error of the system.
func refusal(call string, err error) error {
	var pe pam.Error
	if errors.As(err, &pe) {
		switch pe {
		case pam.ErrAuth, pam.ErrUserUnknown, pam.ErrPermDenied, pam.ErrAcctExpired, pam.ErrNewAuthtokReqd,
			pam.ErrMaxtries, pam.ErrCredInsufficient, pam.ErrCredExpired, pam.ErrConv, pam.ErrAuthtokExpired:
			return fmt.Errorf("%w: %s: %v", store.ErrBadPassword, call, err)
		}
	}
	return fmt.Errorf("%s: %w", call, err)
}

// conversation answers PAM's prompts: the one password prompt and nothing
// else (no second password, no new password, no echoed question), so that
// what PAM may ask is bounded; messages are taken and dropped.
func conversation(password string) pam.ConversationFunc {
	answered := false
	return func(s pam.Style, msg string) (string, error) {
		switch s {
		case pam.PromptEchoOff:
			if answered {
				return "", fmt.Errorf("PAM asked %q after the password: not answered", msg)
			}
			answered = true
			return password, nil
		case pam.ErrorMsg, pam.TextInfo:
			return "", nil
		}
		return "", fmt.Errorf("PAM asked %q: only the password is answered", msg)
	}
}
