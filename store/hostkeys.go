package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The uptime load monitor's SSH host keys, trusted on first use: one pin
// per address (host:port), the key's SHA256 fingerprint. The store's
// methods Pinned and Pin are lvs/load/sshload's HostKeys; an admin's
// ForgetHostKey lets the next connection pin the key the server offers
// then (after a real server was reinstalled).

// ErrNoHostKey is returned by ForgetHostKey for an address with no pin.
var ErrNoHostKey = errors.New("no host key is pinned for that address")

// HostKeyConflictError is a Pin of another fingerprint than the one pinned
// already: the first pin wins, and the connection that offered the other
// key is refused.
type HostKeyConflictError struct {
	Host, Pinned, Offered string
}

func (e *HostKeyConflictError) Error() string {
	return fmt.Sprintf("host %s has key %s pinned, not %s", e.Host, e.Pinned, e.Offered)
}

// HostKey is one pin.
type HostKey struct {
	Host        string    `json:"host"`
	Fingerprint string    `json:"fingerprint"`
	Pinned      time.Time `json:"pinned"`
}

// Bounds of a pin, so that a hostile server's or a bad caller's text
// stays small.
const (
	maxHostKeyHost = 300 // host:port, a DNS name at most 253
	maxFingerprint = 100 // "SHA256:" and 43 characters of base64
)

// hostKeyTimeout bounds Pinned and Pin, which sshload calls without a
// context (inside the SSH handshake, itself bounded by the caller's).
const hostKeyTimeout = 10 * time.Second

// Pinned returns the fingerprint pinned for host, false if none is (or
// the database cannot say: Pin then refuses to overwrite what it missed).
func (s *Store) Pinned(host string) (fingerprint string, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), hostKeyTimeout)
	defer cancel()
	err := s.ro.QueryRowContext(ctx, `SELECT fingerprint FROM ssh_host_keys WHERE host = ?`, host).Scan(&fingerprint)
	if err != nil {
		return "", false
	}
	return fingerprint, true
}

// Pin records the fingerprint of a host seen for the first time, with an
// audit entry. It never replaces a pin: a second Pin of the same
// fingerprint is nil, of another a *HostKeyConflictError, so that of two
// concurrent first connections offering different keys only one is
// trusted.
func (s *Store) Pin(host, fingerprint string) error {
	if host == "" || len(host) > maxHostKeyHost || strings.ContainsAny(host, "\x00\n\r") {
		return fmt.Errorf("host key pin: the address %q is not host:port of at most %d bytes", clip(host, 40), maxHostKeyHost)
	}
	if !strings.HasPrefix(fingerprint, "SHA256:") || len(fingerprint) > maxFingerprint || strings.ContainsAny(fingerprint, " \x00\n\r") {
		return fmt.Errorf("host key pin of %s: the fingerprint %q is not SHA256:... as ssh-keygen -l prints it", host, clip(fingerprint, 40))
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostKeyTimeout)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var pinned string
		err := tx.QueryRowContext(ctx, `SELECT fingerprint FROM ssh_host_keys WHERE host = ?`, host).Scan(&pinned)
		switch {
		case err == nil && pinned == fingerprint:
			return nil
		case err == nil:
			return &HostKeyConflictError{Host: host, Pinned: pinned, Offered: fingerprint}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ssh_host_keys (host, fingerprint, pinned_ms) VALUES (?, ?, ?)`,
			host, fingerprint, s.now().UnixMilli()); err != nil {
			return err
		}
		return s.auditTx(ctx, tx, AuditEntry{Actor: SystemActor, Kind: AuditHostKeyPinned,
			Detail: "SSH host key of " + host + " pinned on first use (uptime load monitor)",
			Fields: map[string]string{"host": host, "fingerprint": fingerprint}})
	})
	var conflict *HostKeyConflictError
	if err != nil && !errors.As(err, &conflict) {
		return fmt.Errorf("pinning the host key of %s: %w", host, err)
	}
	return err
}

// HostKeys returns the pins, by address.
func (s *Store) HostKeys(ctx context.Context) ([]HostKey, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT host, fingerprint, pinned_ms FROM ssh_host_keys ORDER BY host`)
	if err != nil {
		return nil, fmt.Errorf("reading the host key pins: %w", err)
	}
	defer rows.Close()
	var keys []HostKey
	for rows.Next() {
		var (
			k  HostKey
			ms int64
		)
		if err := rows.Scan(&k.Host, &k.Fingerprint, &ms); err != nil {
			return nil, fmt.Errorf("reading the host key pins: %w", err)
		}
		k.Pinned = time.UnixMilli(ms)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the host key pins: %w", err)
	}
	return keys, nil
}

// ForgetHostKey removes host's pin, with an audit entry naming who (from
// ctx, store.WithActor) and the fingerprint forgotten: the next reading
// trusts the key the server offers then. ErrNoHostKey if none is pinned.
func (s *Store) ForgetHostKey(ctx context.Context, host string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var pinned string
		err := tx.QueryRowContext(ctx, `DELETE FROM ssh_host_keys WHERE host = ? RETURNING fingerprint`, host).Scan(&pinned)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoHostKey
		}
		if err != nil {
			return err
		}
		return s.auditTx(ctx, tx, AuditEntry{Kind: AuditHostKeyForgotten,
			Detail: "SSH host key of " + host + " forgotten: the next connection pins the key offered then",
			Fields: map[string]string{"host": host, "fingerprint": pinned}})
	})
	if err != nil && !errors.Is(err, ErrNoHostKey) {
		return fmt.Errorf("forgetting the host key of %s: %w", clip(host, 40), err)
	}
	return err
}
