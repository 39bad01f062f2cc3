package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNoSecret is returned by PeerSecret before a secret was set.
var ErrNoSecret = errors.New("no peer secret is set: generate one on the REDUNDANCY tab (or with lvsconsole secret) and give it to both directors")

// MinSecret is the shortest secret SetPeerSecret accepts, in bytes.
const MinSecret = 16

// PeerSecret returns the secret both directors authenticate their
// heartbeats and configuration sync with, and when it was set.
func (s *Store) PeerSecret(ctx context.Context) ([]byte, time.Time, error) {
	var (
		secret []byte
		at     string
	)
	err := s.ro.QueryRowContext(ctx, `SELECT secret, set_at FROM peer_secret WHERE id = 1`).Scan(&secret, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, ErrNoSecret
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading the peer secret: %w", err)
	}
	t, _ := time.Parse(time.RFC3339Nano, at)
	return secret, t, nil
}

// SetPeerSecret replaces the peer secret. It is not part of the
// configuration: no revision records it, and export and sync leave it out.
func (s *Store) SetPeerSecret(ctx context.Context, secret []byte) error {
	if len(secret) < MinSecret {
		return fmt.Errorf("a peer secret of %d bytes is too short: it needs at least %d", len(secret), MinSecret)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO peer_secret (id, secret, set_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, set_at = excluded.set_at`,
			secret, s.now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		return s.auditTx(ctx, tx, AuditEntry{Kind: AuditSecret, Detail: "peer secret replaced"})
	})
	if err != nil {
		return fmt.Errorf("saving the peer secret: %w", err)
	}
	s.notify()
	return nil
}
