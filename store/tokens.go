package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TokenPrefix starts every API token, so that a token is recognised in a
// script, a log or a secret scanner.
const TokenPrefix = "lvs_"

// tokenBytes is the randomness of a token: 256 bits.
const tokenBytes = 32

// tokenUseAudit is how often a token's use is written to the audit trail.
const tokenUseAudit = time.Hour

// MaxTokenName bounds the name of a token, in characters.
const MaxTokenName = 64

// ErrNoToken is returned for a token that is unknown or revoked, and by
// RevokeToken for an id that names no token.
var ErrNoToken = errors.New("no such API token")

// ErrTokenExpired is returned by LookupToken for a token whose expiry has
// passed, in an error that names the token and when.
var ErrTokenExpired = errors.New("expired")

// ErrScopeAboveRole is returned by CreateToken for a scope above the
// owner's role (see ScopeAboveRoleError).
var ErrScopeAboveRole = errors.New("token scope above its owner's role")

// ScopeAboveRoleError refuses a token whose scope is above the role of the
// user who makes it: a token never does more than its owner may.
type ScopeAboveRoleError struct {
	Scope, Role Scope
}

func (e *ScopeAboveRoleError) Error() string {
	var may []string
	for _, s := range Scopes() {
		if e.Role.Allows(s) {
			may = append(may, RoleName(s))
		}
	}
	allowed := "none"
	if len(may) > 0 {
		allowed = strings.Join(may, " or ")
	}
	return fmt.Sprintf("scope %s is above your role %s: choose %s", RoleName(e.Scope), RoleName(e.Role), allowed)
}

func (e *ScopeAboveRoleError) Unwrap() error { return ErrScopeAboveRole }

// Token is an API token as the console lists it; its text is shown once,
// when it is created, and not kept.
type Token struct {
	ID       int64
	Name     string
	Owner    string    // the console user the token acts as
	Scope    Scope     // what it may do
	Created  time.Time // when it was made
	LastUsed time.Time // zero: never used
	Revoked  time.Time // zero: in force
	Expires  time.Time // zero: never; from then on it opens nothing
}

// Expired reports whether the token's expiry has passed at now.
func (t Token) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// ValidateTokenName checks the name given to a new token.
func ValidateTokenName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		return errors.New("is required: say what the token is for, e.g. ci or monitoring")
	case n > MaxTokenName:
		return fmt.Errorf("is too long: at most %d characters", MaxTokenName)
	case !utf8.ValidString(name):
		return errors.New("is not valid UTF-8 text")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// CreateToken makes an API token that does not expire: CreateTokenUntil
// with no expiry.
func (s *Store) CreateToken(ctx context.Context, owner, name string, scope Scope) (Token, string, error) {
	return s.CreateTokenUntil(ctx, owner, name, scope, time.Time{})
}

// CreateTokenUntil makes an API token for owner, a console user, with
// scope, that expires at expires (zero: never), and returns it with its
// text: "lvs_" and 32 random bytes in base64url. Only the text's SHA-256 is
// stored, so the text cannot be shown again.
//
// The scope may not be above the owner's role (a *ScopeAboveRoleError),
// checked here, in the transaction that saves the token, so that no route
// can forget it and a role changed meanwhile counts. An expiry must be to
// come. All of the arguments' errors are returned at once.
func (s *Store) CreateTokenUntil(ctx context.Context, owner, name string, scope Scope, expires time.Time) (Token, string, error) {
	now := s.now()
	var errs []error
	if err := ValidateTokenName(name); err != nil {
		errs = append(errs, fmt.Errorf("token name %w", err))
	}
	if !scope.Allows(ScopeRead) {
		errs = append(errs, fmt.Errorf("token scope %v is not one: choose viewer, operator or admin", scope))
	}
	if !expires.IsZero() && !expires.After(now) {
		errs = append(errs, fmt.Errorf("token expiry %s is not to come: give a later time, or none", expires.UTC().Format(time.RFC3339)))
	}
	if err := errors.Join(errs...); err != nil {
		return Token{}, "", err
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return Token{}, "", fmt.Errorf("making an API token: %w", err)
	}
	text := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	t := Token{Name: name, Owner: owner, Scope: scope, Created: time.Unix(now.Unix(), 0)}
	var expiresAt int64
	if !expires.IsZero() {
		// Whole seconds, rounded up: never earlier than asked.
		expiresAt = expires.Unix()
		if expires.Nanosecond() != 0 {
			expiresAt++
		}
		t.Expires = time.Unix(expiresAt, 0)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var roleName string
		err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE name = ? AND disabled = 0`, owner).Scan(&roleName)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", owner, ErrNoUser)
		}
		if err != nil {
			return err
		}
		role, err := ParseRole(roleName)
		if err != nil {
			return err
		}
		if !role.Allows(scope) {
			return fmt.Errorf("token %w", &ScopeAboveRoleError{Scope: scope, Role: role})
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO api_tokens (token_hash, owner, name, scope, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, hashToken(text), owner, name, scope.String(), now.Unix(), expiresAt).Scan(&t.ID)
		if err != nil {
			return err
		}
		detail, fields := fmt.Sprintf("token %d %q (%v) for %s", t.ID, name, scope, owner),
			map[string]string{"token": fmt.Sprint(t.ID), "name": name, "scope": scope.String(), "owner": owner}
		if expiresAt != 0 {
			exp := t.Expires.UTC().Format(time.RFC3339)
			detail += ", expires " + exp
			fields["expires"] = exp
		}
		return s.auditTx(ctx, tx, AuditEntry{Kind: AuditTokenCreated, Detail: detail, Fields: fields})
	})
	if err != nil {
		if errors.Is(err, ErrScopeAboveRole) {
			return Token{}, "", err
		}
		return Token{}, "", fmt.Errorf("saving an API token for %s: %w", owner, err)
	}
	return t, text, nil
}

const tokenColumns = `id, name, owner, scope, created_at, last_used, revoked_at, expires_at`

// scanToken reads a row of tokenColumns, and then extra.
func scanToken(row interface{ Scan(...any) error }, extra ...any) (Token, error) {
	var (
		t                      Token
		scope                  string
		created, used, revoked int64
		expires                int64
	)
	if err := row.Scan(append([]any{&t.ID, &t.Name, &t.Owner, &scope, &created, &used, &revoked, &expires}, extra...)...); err != nil {
		return t, err
	}
	var err error
	if t.Scope, err = ParseScope(scope); err != nil {
		return t, fmt.Errorf("token %d: scope %w", t.ID, err)
	}
	t.Created = time.Unix(created, 0)
	if used != 0 {
		t.LastUsed = time.Unix(used, 0)
	}
	if revoked != 0 {
		t.Revoked = time.Unix(revoked, 0)
	}
	if expires != 0 {
		t.Expires = time.Unix(expires, 0)
	}
	return t, nil
}

// LookupToken returns the token whose text is text, if it is in force, and
// records its use (at most once a minute, so that a request does not cost a
// write). An unknown or revoked token is ErrNoToken, an expired one
// ErrTokenExpired. The token's scope is never above its owner's role: a
// token its owner has been demoted under (SetRole lowers it too) does only
// what the owner may now. The text is never logged or kept: it is looked
// up by its hash.
func (s *Store) LookupToken(ctx context.Context, text string) (Token, error) {
	if !strings.HasPrefix(text, TokenPrefix) {
		return Token{}, ErrNoToken
	}
	var role sql.NullString // NULL: the owner is disabled
	t, err := scanToken(s.ro.QueryRowContext(ctx, `SELECT `+tokenColumns+`, (SELECT role FROM users WHERE users.name = api_tokens.owner AND disabled = 0)
		FROM api_tokens WHERE token_hash = ?`, hashToken(text)), &role)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNoToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("reading an API token: %w", err)
	}
	// A disabled user's tokens open nothing (a removed user's went with
	// the row).
	if !role.Valid || !t.Revoked.IsZero() {
		return Token{}, ErrNoToken
	}
	if r, err := ParseRole(role.String); err != nil || !r.Allows(ScopeRead) {
		return Token{}, ErrNoToken
	} else if t.Scope > r {
		t.Scope = r
	}
	if now := s.now(); t.Expired(now) {
		return Token{}, fmt.Errorf("API token %q %w at %s", t.Name, ErrTokenExpired, t.Expires.UTC().Format(time.RFC3339))
	}
	now := s.now()
	if now.Sub(t.LastUsed) >= touchEvery {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			// revoked_at = 0: a revocation that got in first stays.
			_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ? AND revoked_at = 0`, now.Unix(), t.ID)
			if err != nil || now.Sub(t.LastUsed) < tokenUseAudit {
				return err
			}
			// The first use in an hour, not each: the trail says a
			// token is in use without a line per request.
			return s.auditTx(ctx, tx, AuditEntry{Actor: "token " + t.Name, Client: ActorOf(ctx).Client, Kind: AuditTokenUsed,
				Detail: fmt.Sprintf("token %d %q of %s", t.ID, t.Name, t.Owner),
				Fields: map[string]string{"token": fmt.Sprint(t.ID), "owner": t.Owner}})
		})
		if err != nil {
			return Token{}, fmt.Errorf("recording an API token's use: %w", err)
		}
		t.LastUsed = time.Unix(now.Unix(), 0)
	}
	return t, nil
}

// Token returns the token with id, revoked or not.
func (s *Store) Token(ctx context.Context, id int64) (Token, error) {
	t, err := scanToken(s.ro.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("API token %d: %w", id, ErrNoToken)
	}
	if err != nil {
		return Token{}, fmt.Errorf("reading API token %d: %w", id, err)
	}
	return t, nil
}

// ListTokens returns every token, revoked ones too, newest first.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("listing API tokens: %w", err)
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing API tokens: %w", err)
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// RevokeToken ends the token with id for good, and returns it. Revoking a
// revoked token changes nothing; an unknown id is ErrNoToken.
func (s *Store) RevokeToken(ctx context.Context, id int64) (Token, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, s.now().Unix(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return s.auditTx(ctx, tx, AuditEntry{Kind: AuditTokenRevoked, Detail: fmt.Sprintf("token %d", id),
				Fields: map[string]string{"token": fmt.Sprint(id)}})
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM api_tokens WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("API token %d: %w", id, ErrNoToken)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNoToken) {
			return Token{}, err
		}
		return Token{}, fmt.Errorf("revoking API token %d: %w", id, err)
	}
	return s.Token(ctx, id)
}
