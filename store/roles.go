package store

// Console users' roles (issue 17). A role is a Scope under another name:
// viewer = read, operator = operator, admin = admin, so that what a user
// may do and what a token may do are one scale.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNoUser is returned for a user name that is not a console user.
var ErrNoUser = errors.New("no such user")

// ErrLastAdmin is returned for a change that would leave no enabled admin:
// nobody could then manage users any more.
var ErrLastAdmin = errors.New("this is the last enabled admin: make another user admin first")

// ErrUserExists is returned by AddUser for a name already taken.
var ErrUserExists = errors.New("a user of that name exists already")

// RoleName is the name of the role of scope s: viewer, operator or admin.
func RoleName(s Scope) string {
	switch s {
	case ScopeRead:
		return "viewer"
	case ScopeOperator:
		return "operator"
	case ScopeAdmin:
		return "admin"
	}
	return "none"
}

// RoleNames lists the roles, from the least to the most.
func RoleNames() []string { return []string{"viewer", "operator", "admin"} }

// ParseRole reads a role by its name.
func ParseRole(name string) (Scope, error) {
	for _, s := range Scopes() {
		if name == RoleName(s) {
			return s, nil
		}
	}
	if name == "" {
		return ScopeNone, errors.New("role is required: choose viewer, operator or admin")
	}
	return ScopeNone, fmt.Errorf("role %q is not allowed: choose viewer, operator or admin", name)
}

// User is a console user as ListUsers returns it.
type User struct {
	Name     string
	Role     Scope
	Disabled bool
	Source   string    // SourceLocal or SourcePAM
	Created  time.Time // zero for users made before roles existed
	Changed  time.Time
}

// AddUser makes a console user with role and password; ErrUserExists if
// the name is taken. All of the arguments' errors are returned at once.
func (s *Store) AddUser(ctx context.Context, name string, role Scope, password string) error {
	var errs []error
	if err := ValidateUserName(name); err != nil {
		errs = append(errs, err)
	}
	if RoleName(role) == "none" {
		errs = append(errs, errors.New("role is required: choose viewer, operator or admin"))
	}
	if err := ValidatePassword(password); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	now := s.now().UTC().Format(time.RFC3339)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, role, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`, name, hash, RoleName(role), now, now)
		if err != nil {
			return fmt.Errorf("adding user %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", name, ErrUserExists)
		}
		return s.auditTx(ctx, tx, userEntry(name, "added", fmt.Sprintf("added %s as %s", name, RoleName(role)), RoleName(role)))
	})
}

// userEntry is the audit entry of a change of user name: change is one
// word (added, role, disabled, enabled, removed, password), detail the
// sentence, role the role after it.
func userEntry(name, change, detail, role string) AuditEntry {
	f := map[string]string{"user": name, "change": change}
	if role != "" {
		f["role"] = role
	}
	return AuditEntry{Kind: AuditUser, Detail: detail, Fields: f}
}

// ListUsers returns the console users by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT name, role, disabled, source, created_at, updated_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		var (
			u                User
			role             string
			created, changed string
		)
		if err := rows.Scan(&u.Name, &role, &u.Disabled, &u.Source, &created, &changed); err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		u.Role, _ = ParseRole(role) // the table's CHECK allows only roles
		u.Created, _ = time.Parse(time.RFC3339, created)
		u.Changed, _ = time.Parse(time.RFC3339, changed)
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return us, nil
}

// UserRole returns the role of an enabled user; ErrNoUser for an unknown or
// disabled one.
func (s *Store) UserRole(ctx context.Context, name string) (Scope, error) {
	var role string
	err := s.ro.QueryRowContext(ctx, `SELECT role FROM users WHERE name = ? AND disabled = 0`, name).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return ScopeNone, fmt.Errorf("user %s: %w", name, ErrNoUser)
	}
	if err != nil {
		return ScopeNone, fmt.Errorf("reading user %s: %w", name, err)
	}
	return ParseRole(role)
}

// SetRole changes a user's role. Demoting the last enabled admin is
// ErrLastAdmin. The user's API tokens of a scope above the new role are
// lowered to it, in the same transaction, rather than revoked: a script
// that needs no more than the new role goes on working, and none may do
// more than its owner (each lowering is in the audit trail).
func (s *Store) SetRole(ctx context.Context, name string, role Scope) error {
	if RoleName(role) == "none" {
		return errors.New("role is required: choose viewer, operator or admin")
	}
	to := RoleName(role)
	return s.changeUser(ctx, name, role != ScopeAdmin, func(from string, _ bool) *AuditEntry {
		if from == to {
			return nil // nothing changed: nothing to tell
		}
		e := userEntry(name, "role", fmt.Sprintf("role of %s: %s -> %s", name, from, to), to)
		e.Fields["from"] = from
		return &e
	}, `UPDATE users SET role = ?, updated_at = ? WHERE name = ?`, to, s.now().UTC().Format(time.RFC3339), name)
}

// DisableUser stops a user from logging in and ends their sessions; their
// API tokens stop working too. Disabling the last enabled admin is
// ErrLastAdmin.
func (s *Store) DisableUser(ctx context.Context, name string) error {
	return s.changeUser(ctx, name, true, func(role string, disabled bool) *AuditEntry {
		if disabled {
			return nil
		}
		e := userEntry(name, "disabled", "disabled "+name, role)
		return &e
	}, `UPDATE users SET disabled = 1, updated_at = ? WHERE name = ?`, s.now().UTC().Format(time.RFC3339), name)
}

// EnableUser lets a disabled user log in again.
func (s *Store) EnableUser(ctx context.Context, name string) error {
	return s.changeUser(ctx, name, false, func(role string, disabled bool) *AuditEntry {
		if !disabled {
			return nil
		}
		e := userEntry(name, "enabled", "enabled "+name, role)
		return &e
	}, `UPDATE users SET disabled = 0, updated_at = ? WHERE name = ?`, s.now().UTC().Format(time.RFC3339), name)
}

// RemoveUser deletes a user, their sessions and API tokens. Removing the
// last enabled admin is ErrLastAdmin.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	return s.changeUser(ctx, name, true, func(role string, _ bool) *AuditEntry {
		e := userEntry(name, "removed", fmt.Sprintf("removed %s (%s)", name, role), "")
		return &e
	}, `DELETE FROM users WHERE name = ?`, name)
}

// changeUser runs query (which changes user name) in a transaction. When
// losesAdmin, the change takes admin rights from name: it is refused if
// name is the last enabled admin, checked in the same transaction so that
// two admins removing each other cannot both succeed. The sessions of a
// user disabled by it end in the same transaction (a removed user's go
// with the row: ON DELETE CASCADE). audit says, from the user's role and
// state before the change, the entry the change writes to the audit
// trail, in the same transaction; nil: none (a change to what already was).
func (s *Store) changeUser(ctx context.Context, name string, losesAdmin bool, audit func(role string, disabled bool) *AuditEntry, query string, args ...any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var role string
		var disabled bool
		err := tx.QueryRowContext(ctx, `SELECT role, disabled FROM users WHERE name = ?`, name).Scan(&role, &disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", name, ErrNoUser)
		}
		if err != nil {
			return fmt.Errorf("reading user %s: %w", name, err)
		}
		if losesAdmin && role == "admin" && !disabled {
			var others int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name != ?`,
				name).Scan(&others); err != nil {
				return fmt.Errorf("counting admins: %w", err)
			}
			if others == 0 {
				return fmt.Errorf("user %s: %w", name, ErrLastAdmin)
			}
		}
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("changing user %s: %w", name, err)
		}
		if err := s.lowerTokensTx(ctx, tx, name); err != nil {
			return err
		}
		// A disabled or removed user is out at once: their sessions end
		// here, not at their next expiry.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ? AND user IN (SELECT name FROM users WHERE disabled = 1)`, name); err != nil {
			return fmt.Errorf("ending the sessions of %s: %w", name, err)
		}
		if e := audit(role, disabled); e != nil {
			return s.auditTx(ctx, tx, *e)
		}
		return nil
	})
}

// lowerTokensTx lowers the scope of user's API tokens that are above the
// user's role to that role, and records each in the audit trail.
func (s *Store) lowerTokensTx(ctx context.Context, tx *sql.Tx, user string) error {
	rows, err := tx.QueryContext(ctx, `SELECT t.id, t.name, t.scope, u.role FROM api_tokens t JOIN users u ON u.name = t.owner
		WHERE t.owner = ? AND t.revoked_at = 0`, user)
	if err != nil {
		return fmt.Errorf("reading the API tokens of %s: %w", user, err)
	}
	type lowered struct {
		id         int64
		name       string
		was, scope Scope
	}
	var low []lowered
	for rows.Next() {
		var (
			l           lowered
			scope, role string
		)
		if err := rows.Scan(&l.id, &l.name, &scope, &role); err != nil {
			rows.Close()
			return fmt.Errorf("reading the API tokens of %s: %w", user, err)
		}
		l.was, _ = ParseScope(scope) // the tables' CHECKs allow only these
		l.scope, _ = ParseRole(role)
		if l.was > l.scope {
			low = append(low, l)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the API tokens of %s: %w", user, err)
	}
	for _, l := range low {
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET scope = ? WHERE id = ?`, l.scope.String(), l.id); err != nil {
			return fmt.Errorf("lowering API token %d of %s: %w", l.id, user, err)
		}
		err := s.auditTx(ctx, tx, AuditEntry{Kind: AuditUser,
			Detail: fmt.Sprintf("token %d %q of %s lowered from %s to %s, %s's role", l.id, l.name, user, RoleName(l.was), RoleName(l.scope), user),
			Fields: map[string]string{"token": fmt.Sprint(l.id), "name": l.name, "owner": user, "scope": l.scope.String(), "was": l.was.String()}})
		if err != nil {
			return err
		}
	}
	return nil
}
