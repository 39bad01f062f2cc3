package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1
// lane), which keeps one login near 30 ms on these 2-core machines.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16

	// MinPasswordLen is the shortest password accepted.
	MinPasswordLen = 8
	maxPasswordLen = 1024
)

// ErrBadPassword is returned for an unknown user or a wrong password alike,
// so that a caller cannot tell which.
var ErrBadPassword = errors.New("wrong user name or password")

// ValidateUserName checks a console user name.
func ValidateUserName(name string) error {
	if !nameOK(name) {
		return fmt.Errorf("user name %q is not allowed: 1-32 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

func nameOK(name string) bool {
	if len(name) == 0 || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return true
}

// ValidatePassword checks a new password's length.
func ValidatePassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPasswordLen:
		return fmt.Errorf("the password is too short: at least %d characters", MinPasswordLen)
	case len(pw) > maxPasswordLen:
		return fmt.Errorf("the password is too long: at most %d bytes", maxPasswordLen)
	}
	return nil
}

// SetPassword creates user or replaces its password.
func (s *Store) SetPassword(ctx context.Context, user, password string) error {
	if err := ValidateUserName(user); err != nil {
		return err
	}
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.now().UTC().Format(time.RFC3339)
		// A PAM user's password is the system's: the row is left alone.
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, updated_at, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at
			WHERE users.source = 'local'`,
			user, hash, now, now)
		if err != nil {
			return fmt.Errorf("saving the password of %s: %w", user, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", user, ErrPAMUser)
		}
		// A new password ends the user's sessions: whoever knew the old
		// one is out.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, user); err != nil {
			return fmt.Errorf("ending the sessions of %s: %w", user, err)
		}
		return s.auditTx(ctx, tx, AuditEntry{Kind: AuditUser, Detail: "password set for " + user,
			Fields: map[string]string{"user": user, "change": "password"}})
	})
}

// CheckPassword returns nil when password is user's, else ErrBadPassword.
func (s *Store) CheckPassword(ctx context.Context, user, password string) error {
	var hash string
	err := s.ro.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE name = ? AND disabled = 0`, user).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as for a known user: timing must not tell
		// which user names exist (nor which are disabled).
		verifyPassword(dummyHash, password)
		return ErrBadPassword
	}
	if err != nil {
		return fmt.Errorf("reading user %s: %w", user, err)
	}
	if hash == "" { // a PAM user (serve checks them with PAM): as long as a hash
		verifyPassword(dummyHash, password)
		return ErrBadPassword
	}
	if !verifyPassword(hash, password) {
		return ErrBadPassword
	}
	return nil
}

// HasUsers reports whether any console user exists (else the console offers
// first-time setup).
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var n int
	if err := s.ro.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return false, fmt.Errorf("counting users: %w", err)
	}
	return n > 0, nil
}

// dummyHash is a valid hash of no one's password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// hashPassword returns the PHC string of an argon2id hash of pw.
func hashPassword(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("making a salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword checks pw against a PHC string, with the parameters it
// names, so that hashes made with older parameters still verify.
func verifyPassword(phc, pw string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var (
		version     int
		mem, passes uint32
		threads     uint8
	)
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &passes, &threads); err != nil || mem > 1<<20 || passes > 16 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, passes, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
