package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// ErrNoSession is returned for a token that is unknown, expired or idle too
// long.
var ErrNoSession = errors.New("no such session")

// SessionPolicy says how long sessions live.
type SessionPolicy struct {
	Idle     time.Duration // ends a session unused this long
	Absolute time.Duration // ends any session this long after login
}

// touchEvery limits how often a session's last use is written: a page view
// should not cost a write each time.
const touchEvery = time.Minute

// Session is a logged-in user.
type Session struct {
	User    string
	Role    Scope // the user's role now, not at login
	Created time.Time
	Expires time.Time // absolute expiry
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateSession starts a session for user and returns its secret token.
func (s *Store) CreateSession(ctx context.Context, user string, p SessionPolicy) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Expired sessions are swept here, where a write happens anyway,
		// each in the audit trail.
		rows, err := tx.QueryContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ? RETURNING user`,
			now.Unix(), now.Add(-p.Idle).Unix())
		if err != nil {
			return err
		}
		var users []string
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return err
			}
			users = append(users, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, u := range users {
			if err := s.auditTx(ctx, tx, AuditEntry{Actor: u, Client: "", Kind: AuditSessionExpired,
				Detail: "session of " + u + " ended by the session policy (swept)"}); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user, created_at, last_seen, expires_at)
			VALUES (?, ?, ?, ?, ?)`, hashToken(token), user, now.Unix(), now.Unix(), now.Add(p.Absolute).Unix())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("starting a session for %s: %w", user, err)
	}
	return token, nil
}

// Session returns the session of token if it is still valid under p, and
// records its use.
func (s *Store) Session(ctx context.Context, token string, p SessionPolicy) (Session, error) {
	var (
		sess                  Session
		created, seen, expiry int64
		role                  string
	)
	h := hashToken(token)
	err := s.ro.QueryRowContext(ctx, `SELECT s.user, u.role, s.created_at, s.last_seen, s.expires_at
		FROM sessions s JOIN users u ON u.name = s.user WHERE s.token_hash = ? AND u.disabled = 0`, h).
		Scan(&sess.User, &role, &created, &seen, &expiry)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, ErrNoSession
	}
	if err != nil {
		return sess, fmt.Errorf("reading a session: %w", err)
	}
	if sess.Role, err = ParseRole(role); err != nil {
		return Session{}, fmt.Errorf("reading the session of %s: %w", sess.User, err)
	}
	now := s.now()
	sess.Created, sess.Expires = time.Unix(created, 0), time.Unix(expiry, 0)
	lastSeen := time.Unix(seen, 0)
	if !now.Before(sess.Expires) || now.Sub(lastSeen) >= p.Idle || now.Sub(sess.Created) >= p.Absolute {
		s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // another request met it first
			}
			return s.auditTx(ctx, tx, AuditEntry{Actor: sess.User, Client: ActorOf(ctx).Client, Kind: AuditSessionExpired,
				Detail: "session of " + sess.User + " ended by the session policy"})
		})
		return Session{}, ErrNoSession
	}
	if now.Sub(lastSeen) >= touchEvery {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE token_hash = ?`, now.Unix(), h)
			return err
		})
		if err != nil {
			return sess, fmt.Errorf("recording a session's use: %w", err)
		}
	}
	return sess, nil
}

// DeleteSession ends the session of token (logout).
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hashToken(token))
		return err
	})
}
