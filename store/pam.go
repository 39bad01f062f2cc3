package store

// Console users who log in through the system's PAM (serve -pam-service):
// a users row of source 'pam', without a password hash, whose role every
// PAM login maps again from the user's system groups. The row is what
// sessions, roles and API tokens hang on, as a local user's.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User sources: where a console user's password is checked.
const (
	SourceLocal = "local" // the store's argon2id hash
	SourcePAM   = "pam"   // the system's PAM
)

// ErrPAMUser is returned for a password change of a PAM user: their
// password is the system's.
var ErrPAMUser = errors.New("this user logs in through the system (PAM): change the password there")

// ErrLocalUser is returned by PAMLogin for a name that is a local console
// user: a local user is never logged in by PAM.
var ErrLocalUser = errors.New("a local console user of that name exists")

// ErrDisabled is returned by PAMLogin for a PAM user disabled in the
// console (lvsconsole user disable, the USERS page).
var ErrDisabled = errors.New("this user is disabled in the console")

// ErrNoRole is returned for a PAM user whose system groups map to no
// console role (serve -pam-roles): the password was right, the user is
// refused all the same.
var ErrNoRole = errors.New("the user's system groups map to no console role")

// UserSource returns where user's password is checked: SourceLocal or
// SourcePAM, disabled or not; ErrNoUser when there is no such row.
func (s *Store) UserSource(ctx context.Context, user string) (string, error) {
	var src string
	err := s.ro.QueryRowContext(ctx, `SELECT source FROM users WHERE name = ?`, user).Scan(&src)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("user %s: %w", user, ErrNoUser)
	}
	if err != nil {
		return "", fmt.Errorf("reading user %s: %w", user, err)
	}
	return src, nil
}

// PAMLogin records a PAM user that PAM has just authenticated, with the
// role their groups map to: it makes their row, or sets its role and
// enables it again if it was disabled for groups that did not map. It
// refuses a local user's name (ErrLocalUser) and a PAM user disabled in
// the console (ErrDisabled). A change of role is in the audit trail.
func (s *Store) PAMLogin(ctx context.Context, user string, role Scope) error {
	if err := ValidateUserName(user); err != nil {
		return err
	}
	if RoleName(role) == "none" {
		return errors.New("role is required: choose viewer, operator or admin")
	}
	now := s.now().UTC().Format(time.RFC3339)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			src, old           string
			disabled, unmapped bool
		)
		err := tx.QueryRowContext(ctx, `SELECT source, role, disabled, pam_unmapped FROM users WHERE name = ?`, user).
			Scan(&src, &old, &disabled, &unmapped)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, source, created_at, updated_at)
				VALUES (?, '', ?, 'pam', ?, ?)`, user, RoleName(role), now, now); err != nil {
				return fmt.Errorf("adding PAM user %s: %w", user, err)
			}
			return s.auditTx(ctx, tx, AuditEntry{Kind: AuditUser, Detail: "PAM user " + user + " added as " + RoleName(role),
				Fields: map[string]string{"user": user, "role": RoleName(role), "source": SourcePAM}})
		case err != nil:
			return fmt.Errorf("reading user %s: %w", user, err)
		case src != SourcePAM:
			return fmt.Errorf("user %s: %w", user, ErrLocalUser)
		case disabled && !unmapped:
			return fmt.Errorf("user %s: %w", user, ErrDisabled)
		}
		if old == RoleName(role) && !disabled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, disabled = 0, pam_unmapped = 0, updated_at = ? WHERE name = ?`,
			RoleName(role), now, user); err != nil {
			return fmt.Errorf("updating PAM user %s: %w", user, err)
		}
		return s.auditTx(ctx, tx, AuditEntry{Kind: AuditUser, Detail: "PAM user " + user + " is now " + RoleName(role) + " (system groups)",
			Fields: map[string]string{"user": user, "role": RoleName(role), "source": SourcePAM}})
	})
}

// PAMUnmapped disables a PAM user whose system groups no longer map to a
// role, ending their sessions (their API tokens stop working too). It does
// nothing for a name that is not a PAM user's. Unlike DisableUser it may
// disable the last enabled admin: the system, not the console, says who
// the PAM users are (a local admin, or lvsconsole user, can still manage).
func (s *Store) PAMUnmapped(ctx context.Context, user string) error {
	now := s.now().UTC().Format(time.RFC3339)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = 1, pam_unmapped = 1, updated_at = ?
			WHERE name = ? AND source = 'pam' AND disabled = 0`, now, user)
		if err != nil {
			return fmt.Errorf("disabling PAM user %s: %w", user, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, user); err != nil {
			return fmt.Errorf("ending the sessions of %s: %w", user, err)
		}
		return s.auditTx(ctx, tx, AuditEntry{Kind: AuditUser, Detail: "PAM user " + user + " disabled: their system groups map to no role",
			Fields: map[string]string{"user": user, "source": SourcePAM}})
	})
}
